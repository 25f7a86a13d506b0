"""Engine and session factories. Nothing is created at import time: call these at an entry point."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _private_file(path: Path) -> None:
    """The SQLite file created readable by its owner only (SQLite gives its -wal and -shm files the same mode);
    one of ours that others could read is closed to them (a group it was shared with keeps its share:
    hjemtilos/host/run_user.py)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    status = path.stat()
    if status.st_uid == os.geteuid() and status.st_mode & 0o007:
        path.chmod(status.st_mode & 0o770)


def make_engine(url: str) -> Engine:
    """An engine that never puts SQL parameters (names, addresses, mail bodies) into exception text or logs:
    Prefect copies exception text into states and retry logs."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            _private_file(Path(database))
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling is off) and take the
            # write lock at BEGIN, so that read-then-write steps serialize instead of failing.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
