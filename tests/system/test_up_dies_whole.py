"""`hjemtilos up` killed with SIGKILL in the middle of an SMTP conversation takes its embedded PostgreSQL, its Prefect
server, its worker and their flow processes with it (they run in sessions of their own, so no process-group signal reaches them); started
again, it sends the interrupted mail once, and every other mail once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, select

from hjemtilos import PROJECT_ROOT
from hjemtilos.db.models import OutboxMail
from hjemtilos.settings import Settings
from tests.support import RecordingHandler, SmtpServer, descendants, free_port, up_env


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class HoldingHandler(RecordingHandler):
    """Holds the first conversation after its RCPT TO until ``release`` (the sender is killed meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if not self.entered.is_set():
            self.entered.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"  # nobody is listening any more
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def start_up(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    before = log_path.read_bytes().count(b"Running. Ctrl-C") if log_path.exists() else 0
    up = subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "up"], env=env, cwd=PROJECT_ROOT,
                          stdout=log_path.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while log_path.read_bytes().count(b"Running. Ctrl-C") <= before:
        assert up.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
        time.sleep(0.5)
    return up


def test_up_killed_mid_smtp_conversation_stops_whole_and_sends_each_mail_once(tmp_path: Path) -> None:
    handler = HoldingHandler()
    smtp = SmtpServer()
    smtp.handler = handler
    smtp.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HJEMTILOS_"))}
    env.update(HJEMTILOS_DATA_DIR=str(tmp_path / "var"), HJEMTILOS_PREFECT_PORT=str(free_port()),
               HJEMTILOS_FORM_PORT=str(free_port()), HJEMTILOS_MAIL_CATCHER_PORT=str(free_port()),
               HJEMTILOS_SMTP_PORT=str(smtp.port), HJEMTILOS_SMTP_TIMEOUT="5", HJEMTILOS_MAIL_CLAIM_SECONDS="15",
               HJEMTILOS_PROFILE="fast", **up_env())
    started: list[int] = []
    up = start_up(env, tmp_path / "up.log")
    try:
        refer = subprocess.run([sys.executable, "-m", "hjemtilos.cli", "refer", "examples/referral-standard.json"],
                               env=env, cwd=PROJECT_ROOT, capture_output=True, timeout=120)
        assert refer.returncode == 0, refer.stderr
        assert handler.entered.wait(30), "up never started to deliver the receipt"
        data = (tmp_path / "var").stat()
        if os.geteuid() == 0:  # the system users (PostgreSQL's, the flow runs') may pass through to their folders
            import grp

            assert (data.st_mode & 0o777, grp.getgrgid(data.st_gid).gr_name) == (0o710, "hjemtilos")
        else:
            assert data.st_mode & 0o777 == 0o700
        started = descendants(up.pid)
        commands = [(Path("/proc") / str(pid) / "cmdline").read_bytes() for pid in started if alive(pid)]
        up.send_signal(signal.SIGKILL)  # between RCPT TO and its reply: the mail is not accepted
        up.wait(timeout=10)
        assert any(b"server" in c for c in commands) and any(b"worker" in c for c in commands), commands
        assert any(b"bin/postgres" in c for c in commands), commands  # the embedded database is up's child too
        killed = time.monotonic()
        while any(alive(pid) for pid in started) and time.monotonic() < killed + 2.0:  # no survivor after 2 s
            time.sleep(0.1)
        left = [(pid, (Path("/proc") / str(pid) / "cmdline").read_bytes()[:120]) for pid in started if alive(pid)]
        assert left == [], f"alive {time.monotonic() - killed:.1f} s after up was killed: {left}"
        handler.release.set()

        up = start_up(env, tmp_path / "up.log")
        engine = create_engine(Settings(data_dir=tmp_path / "var").effective_database_url)  # the embedded PostgreSQL
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                statuses = connection.execute(select(OutboxMail.message_id, OutboxMail.status)
                                              .order_by(OutboxMail.id)).tuples().all()
            if statuses and all(status == "sent" for _, status in statuses):
                break
            time.sleep(0.5)
        assert statuses and all(status == "sent" for _, status in statuses), statuses
        time.sleep(3)  # a second delivery round would have sent anything twice by now
        with engine.connect() as connection:
            sent = connection.scalars(select(OutboxMail.message_id).where(OutboxMail.status == "sent")
                                      .order_by(OutboxMail.id)).all()
        received = Counter(str(r.message["Message-ID"]) for r in smtp.received)
        assert set(sent) <= set(received) and set(received.values()) == {1}, received  # each mail once
        assert received[statuses[0][0]] == 1  # the one whose conversation was cut, too
        engine.dispose()
    finally:
        for pid in [up.pid, *started, *descendants(up.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        smtp.stop()
