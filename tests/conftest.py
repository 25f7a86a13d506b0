"""Shared fixtures: real databases (SQLite always, PostgreSQL when reachable) and a real SMTP server on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.migrate import upgrade
from hjemtilos.db.models import Base
from hjemtilos.db.scratch import scratch_database

PG_ADMIN_URL = os.environ.get("HJEMTILOS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("HJEMTILOS_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def require_pg() -> None:
    if not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")


def pg_database(prefix: str = "hjemtilos_test"):  # type: ignore[no-untyped-def]
    """A scratch PostgreSQL database (psycopg URL), dropped afterwards."""
    return scratch_database(PG_ADMIN_URL, prefix)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class RecordingHandler:
    """Keeps every message; refuses recipients listed in ``reject`` with 550."""

    received: list[Received] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.reject:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 2.0.0 Queued as test"


class SmtpServer:
    """A real aiosmtpd server on loopback that a test can stop and start again on the same port."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, decode_data=False)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def case_app(tmp_path, monkeypatch: pytest.MonkeyPatch, smtp_port: int, **extra_env: str):  # type: ignore[no-untyped-def]
    """Environment, migrated SQLite case database and App for tests whose flows read settings themselves."""
    from hjemtilos.app import build_app
    from hjemtilos.settings import Settings
    from tasks.runtime import get_app

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    env = {"HJEMTILOS_DATABASE_URL": url, "HJEMTILOS_PROFILE": "fast", "HJEMTILOS_DATA_DIR": str(tmp_path / "data"),
           "HJEMTILOS_SMTP_HOST": "127.0.0.1", "HJEMTILOS_SMTP_PORT": str(smtp_port), **extra_env}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    upgrade(url)
    get_app.cache_clear()
    return build_app(Settings())


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
