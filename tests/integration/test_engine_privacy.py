"""The case database keeps personal data to itself: SQL parameters never appear in exception text (Prefect copies it
into states and logs), and the SQLite file is readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hjemtilos.db.engine import make_engine


def test_exception_text_carries_no_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE person (email VARCHAR(100) PRIMARY KEY)"))
            connection.execute(text("INSERT INTO person VALUES (:email)"), {"email": "maria.hansen@example.dk"})
            with pytest.raises(IntegrityError) as raised:
                connection.execute(text("INSERT INTO person VALUES (:email)"), {"email": "maria.hansen@example.dk"})
        message = str(raised.value)
        assert "[SQL parameters hidden due to hide_parameters=True]" in message
        assert "{'email'" not in message and "('maria.hansen" not in message  # no parameter list
        if database_url.startswith("sqlite"):
            assert "maria.hansen" not in message, message
        # PostgreSQL's own DETAIL line still names the key ("Key (email)=(...) already exists"): tasks replace
        # such errors before Prefect sees them (tasks/runtime.py; tests/flows/test_prefect_keeps_no_answers.py)
    finally:
        engine.dispose()


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "hjemtilos.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n int)"))
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
