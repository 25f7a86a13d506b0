"""`hjemtilos up` killed with SIGKILL takes its Prefect server and its worker with it: nothing of the system is
left running (its children run in sessions of their own, so no process-group signal reaches them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hjemtilos import PROJECT_ROOT
from tests.support import descendants, free_port


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_up_alone_stops_the_server_and_the_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HJEMTILOS_"))}
    smtp_port = free_port()
    env.update(HJEMTILOS_DATA_DIR=str(tmp_path / "var"), HJEMTILOS_PREFECT_PORT=str(free_port()),
               HJEMTILOS_FORM_PORT=str(free_port()), HJEMTILOS_MAIL_CATCHER_PORT=str(smtp_port),
               HJEMTILOS_SMTP_PORT=str(smtp_port))
    log_path = tmp_path / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "up"], env=env, cwd=PROJECT_ROOT,
                          stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    started: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while b"Running. Ctrl-C" not in log_path.read_bytes():
            assert up.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        started = descendants(up.pid)
        commands = [(Path("/proc") / str(pid) / "cmdline").read_bytes() for pid in started if alive(pid)]
        assert any(b"server" in c for c in commands) and any(b"worker" in c for c in commands), commands
        up.send_signal(signal.SIGKILL)
        up.wait(timeout=10)
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [(pid, (Path("/proc") / str(pid) / "cmdline").read_bytes()[:120]) for pid in started if alive(pid)]
        assert left == []
    finally:
        for pid in [up.pid, *started]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
