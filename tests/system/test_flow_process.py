"""A flow run's process ends with the processes that own it: its worker, and the `hjemtilos up` that started the
worker (HJEMTILOS_SUPERVISOR_PID), also when they die by SIGKILL (hjemtilos/host/flow_process.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from hjemtilos import PROJECT_ROOT
from hjemtilos.host.flow_process import SUPERVISOR_PID
from tests.system.test_up_dies_whole import alive

GUARDED = ("import time\nfrom hjemtilos.host.flow_process import die_with_owners\nprint(die_with_owners(), flush=True)\n"
           "time.sleep(120)\n")


def test_a_flow_process_ends_when_the_supervisor_is_killed() -> None:
    supervisor = subprocess.Popen(["sleep", "600"])
    child = subprocess.Popen([sys.executable, "-c", GUARDED], env=dict(os.environ, **{SUPERVISOR_PID: str(supervisor.pid)}),
                             cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        watched = child.stdout.readline().decode()
        assert str(supervisor.pid) in watched and str(os.getpid()) in watched
        time.sleep(0.5)
        assert child.poll() is None  # nothing happens while its owners live
        supervisor.kill()
        supervisor.wait()
        assert child.wait(timeout=10) == -signal.SIGKILL  # no server left to tell of the crash: at once
    finally:
        for process in (supervisor, child):
            if process.poll() is None:
                process.kill()


def test_a_flow_process_ends_when_its_worker_is_killed() -> None:
    # The worker stands in as a process that starts the flow process in a session of its own, as Prefect's does.
    worker_code = ("import subprocess, sys, time\n"
                   f"child = subprocess.Popen([sys.executable, '-c', {GUARDED!r}], start_new_session=True, "
                   "stdout=subprocess.PIPE)\n"
                   "child.stdout.readline()\nprint(child.pid, flush=True)\ntime.sleep(120)\n")
    env = {k: v for k, v in os.environ.items() if k != SUPERVISOR_PID}
    worker = subprocess.Popen([sys.executable, "-c", worker_code], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
    assert worker.stdout is not None
    child_pid = int(worker.stdout.readline())
    try:
        assert alive(child_pid)
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 10
        while alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child_pid)
    finally:
        try:
            os.kill(child_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
