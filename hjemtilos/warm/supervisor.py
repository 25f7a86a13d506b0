"""``python -m hjemtilos.warm.supervisor --limit N -- WORKER COMMAND...``: the warm worker as one process for
``hjemtilos up`` and ``hjemtilos worker``. It starts the zygote on a private Unix socket (a 0700 folder of its
own), waits until it is ready, then runs Prefect's process worker with ``HJEMTILOS_WARM_SOCKET`` naming it, so
the deployments' flow-run command (hjemtilos/warm/client.py) has its runs forked there. It restarts the zygote
whenever it exits (killed, or drained after a code change), restarts Prefect's worker with back-off when it dies,
stops both on SIGTERM, and kills both at once when its own parent is gone (``hjemtilos up`` killed with -9).
The Prefect worker never forks: it starts the small client as it would start any flow process."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hjemtilos.host.lifelines import die_with_parent
from hjemtilos.warm.client import SOCKET_ENV

POLL_SECONDS = 0.2
READY_TIMEOUT = 60.0


def start_zygote(path: str, limit: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    zygote = subprocess.Popen([sys.executable, "-m", "hjemtilos.warm.zygote", path, "--max-children", str(limit)],
                              env=env, preexec_fn=die_with_parent())
    deadline = time.monotonic() + READY_TIMEOUT
    while not os.path.exists(path):  # it binds the socket once everything is imported
        if zygote.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return zygote


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("usage: python -m hjemtilos.warm.supervisor --limit N -- WORKER COMMAND...", file=sys.stderr)
        return 2
    cut = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m hjemtilos.warm.supervisor")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv[:cut])
    command = argv[cut + 1:]
    folder = Path(tempfile.mkdtemp(prefix="hjemtilos-warm-"))
    os.chmod(folder, 0o700)
    path = str(folder / "zygote.sock")
    env = dict(os.environ)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.getppid()
    zygote = start_zygote(path, args.limit, env)

    def start_worker() -> subprocess.Popen[bytes]:
        # SIGKILL if this supervisor dies first: a worker left alone would shut down gracefully for up to 20 s
        return subprocess.Popen(command, env={**env, SOCKET_ENV: path}, preexec_fn=die_with_parent(signal.SIGKILL))

    worker = start_worker()
    restarts = worker_restarts = 0
    next_worker_start = 0.0
    try:
        while not stopping:
            if os.getppid() != parent:  # whoever started us is gone (kill -9 of hjemtilos up): end at once
                break
            if worker.poll() is not None:
                # Prefect's worker died (kill -9, a crash): start a new one with back-off; the runs it had
                # started live on in the zygote's children, and the timekeeper continues any that died
                if next_worker_start == 0.0:
                    worker_restarts += 1
                    delay = min(2.0 ** (worker_restarts - 1), 60.0)
                    next_worker_start = time.monotonic() + delay
                    print(f"hjemtilos warm worker: Prefect's worker exited ({worker.returncode}); starting a new "
                          f"one in {delay:.0f} s (restart {worker_restarts})", file=sys.stderr, flush=True)
                elif time.monotonic() >= next_worker_start:
                    worker, next_worker_start = start_worker(), 0.0
            if zygote.poll() is not None:
                restarts += 1
                if os.path.exists(path):  # a killed zygote leaves its socket: refuse no one while it restarts
                    os.unlink(path)
                print(f"hjemtilos warm worker: the zygote exited ({zygote.returncode}); starting a new one "
                      f"(restart {restarts})", file=sys.stderr, flush=True)
                zygote = start_zygote(path, args.limit, env)
            time.sleep(POLL_SECONDS)
    finally:
        orphaned = os.getppid() != parent
        for process in (worker, zygote):
            if process.poll() is None:
                process.kill() if orphaned else process.terminate()
        for process in (worker, zygote):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if stopping else 1


if __name__ == "__main__":
    raise SystemExit(main())
