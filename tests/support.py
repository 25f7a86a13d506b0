"""Helpers several test modules share (test modules never import each other)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from casework.referral import Referral
from hjemtilos.app import App
from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.migrate import upgrade
from hjemtilos.db.models import ReferralCase
from hjemtilos.db.scratch import scratch_database
from hjemtilos.paths import EXAMPLES
from hjemtilos.referrals.intake import register_referral
from hjemtilos.settings import Settings

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the workspace (``create_workspace(clock=...)``): starts at the real now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def example_referral(name: str = "referral-standard.json") -> Referral:
    return Referral.model_validate(json.loads((EXAMPLES / name).read_text()))


def make_app(database_url: str, data_dir: object, profile: str = "production") -> App:
    settings = Settings(database_url=database_url, data_dir=data_dir, profile=profile, retention_daily=False)
    engine = make_engine(database_url)
    return App(settings=settings, profile=settings.load_profile(), engine=engine,
               session_factory=make_session_factory(engine))


def new_case(app: App, run_id: str | None = None, now: datetime = NOW,
             example: str = "referral-standard.json") -> int:
    """A registered case (its receipt queued), optionally with a flow run id."""
    with app.session_factory.begin() as session:
        stored = register_referral(session, example_referral(example), now, app.programme)
        case = session.get(ReferralCase, stored.case_id)
        if case is not None:
            case.flow_run_id = run_id
    return stored.case_id


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


UP_AUTH = "auth-string-of-the-tests"  # Prefect's auth string for the `hjemtilos up` the system tests start
AUTH_HEADER = {"Authorization": "Basic " + __import__("base64").b64encode(UP_AUTH.encode()).decode()}


def up_env() -> dict[str, str]:
    """What every `hjemtilos up` of the tests needs besides its ports: a free front door and a known auth string."""
    return {"HJEMTILOS_FRONT_PORT": str(free_port()), "PREFECT_API_AUTH_STRING": UP_AUTH}


def up_process_env(data: Path, **extra: str) -> dict[str, str]:
    """The environment of a `hjemtilos up` a test starts: its own data folder and free ports, the fast profile,
    none of this process's Prefect or hjemtilos settings; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HJEMTILOS_"))}
    smtp = str(free_port())
    env.update(HJEMTILOS_DATA_DIR=str(data), HJEMTILOS_PREFECT_PORT=str(free_port()),
               HJEMTILOS_FORM_PORT=str(free_port()), HJEMTILOS_MAIL_CATCHER_PORT=smtp, HJEMTILOS_SMTP_PORT=smtp,
               HJEMTILOS_PROFILE="fast", **up_env())
    env.update(extra)
    return env


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


def case_app(tmp_path, monkeypatch: pytest.MonkeyPatch, smtp_port: int, **extra_env: str):  # type: ignore[no-untyped-def]
    """Environment, migrated SQLite case database and App for tests whose flows read settings themselves."""
    from hjemtilos.app import build_app
    from hjemtilos.settings import Settings
    from tasks.runtime import get_app

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    env = {"HJEMTILOS_DATABASE_URL": url, "HJEMTILOS_PROFILE": "fast", "HJEMTILOS_DATA_DIR": str(tmp_path / "data"),
           "HJEMTILOS_SMTP_HOST": "127.0.0.1", "HJEMTILOS_SMTP_PORT": str(smtp_port),
           "HJEMTILOS_RETENTION_DAILY": "false",  # synthetic clocks would skip years
           "HJEMTILOS_REFERRER_VERIFICATION": "false", **extra_env}  # the form's own tests verify referrers
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    upgrade(url)
    get_app.cache_clear()
    return build_app(Settings())


def stop_up(up: subprocess.Popen[bytes]) -> None:
    """Stop a `hjemtilos up` a test started in its own session: SIGTERM, then SIGKILL after a minute."""
    os.killpg(up.pid, signal.SIGTERM)
    try:
        up.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        up.wait(timeout=10)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    from pathlib import Path

    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and every descendant: a power cut."""
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)
