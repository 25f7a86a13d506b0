"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable) and a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.migrate import upgrade
from hjemtilos.db.models import Base
from tests.support import SmtpServer, pg_database, require_pg


@pytest.fixture(scope="session")
def pg_scratch_url() -> Iterator[str]:
    """A scratch PostgreSQL database for this test run, dropped at the end."""
    require_pg()
    with pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def pg_migrated_url(pg_scratch_url: str) -> str:
    upgrade(pg_scratch_url)
    return pg_scratch_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated, empty case database: a fresh SQLite file, or the scratch PostgreSQL database truncated."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_migrated_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_migrated_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cases') / 'cases.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def rollback_app(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    """The application on a database migrated once per test run, every test inside one outer transaction that is
    rolled back afterwards: each service call's own transaction becomes a savepoint (SQLite and PostgreSQL)."""
    from hjemtilos.app import App
    from hjemtilos.settings import Settings

    url = request.getfixturevalue("sqlite_migrated_url" if request.param == "sqlite" else "pg_migrated_url")
    engine = make_engine(url)
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    settings = Settings(database_url=url, data_dir=tmp_path, profile="production")
    yield App(settings=settings, profile=settings.load_profile(), engine=engine, session_factory=factory)
    outer.rollback()
    connection.close()
    engine.dispose()
