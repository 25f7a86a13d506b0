"""Run as root, `up` shares the embedded SQLite case database with the flow runs' system user through its folder
(hjemtilos/host/run_user.py): that user can write the database (WAL included), and reaches nothing else in the data
folder. The same on the embedded PostgreSQL is tested through a real `up` (tests/system/test_never_stranded.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from hjemtilos.db.engine import make_engine
from hjemtilos.host.run_user import CASES_FOLDER, WORKER_HOME, close_data_folder, prepare_run_user, share_cases_folder

PROBE = r"""
import sqlite3, sys, os
database = sys.argv[1]
connection = sqlite3.connect(database, timeout=10)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("INSERT INTO t VALUES (2)")
connection.commit()
print(connection.execute("SELECT count(*) FROM t").fetchone()[0])
try:
    os.listdir(os.path.dirname(os.path.dirname(database)))
    print("listed")
except PermissionError:
    print("refused")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run the flows as another user")
def test_the_run_user_writes_the_shared_sqlite_database_and_lists_nothing_else(tmp_path: Path) -> None:
    data = tmp_path / "var"
    close_data_folder(data, shared={WORKER_HOME, CASES_FOLDER})
    run = prepare_run_user(data)
    assert run is not None
    database = data / CASES_FOLDER / "hjemtilos.db"
    database.parent.mkdir()
    engine = make_engine(f"sqlite:///{database}")  # as `up` does: root makes it (0600), then shares the folder
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n int)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    share_cases_folder(database.parent, run)
    done = subprocess.run([sys.executable, "-c", PROBE, str(database)], capture_output=True, text=True, cwd="/",
                          timeout=60, **run.popen_kwargs())  # type: ignore[call-overload]
    assert done.stdout.split() == ["2", "refused"], done.stderr
    engine = make_engine(f"sqlite:///{database}")  # root reads what the run user wrote, and the share survives
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()
    assert oct(database.stat().st_mode & 0o777) == oct(0o660)
