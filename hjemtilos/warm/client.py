"""The flow-run command of the warm worker, run as ``python -I -S client.py`` (the standard library only, so it
starts in milliseconds): it hands its environment, working directory and standard streams to the zygote named in
``HJEMTILOS_WARM_SOCKET``, which forks the flow run; it forwards SIGTERM and SIGINT to that run, and exits as the
run exited (the same code, or killed by the same signal), so Prefect's worker sees it as it would see its own
flow process. When its worker or the ``hjemtilos up`` that owns it dies, it stops the run (SIGTERM).

Without a zygote (none configured, none listening, or one that is draining after a code change) it becomes the
cold flow process instead: ``python -m hjemtilos.host.flow_process`` in this same process (``exec``).

Protocol (one Unix stream connection per run; JSON lines): the client sends ``{"env", "cwd"}`` with its fds 0, 1
and 2 attached (SCM_RIGHTS); the zygote answers ``{"pid"}`` once the run is forked (or ``{"cold": reason}``), the
run itself sends ``{"result": code}`` before it exits, and the zygote sends ``{"exit": code}`` or
``{"signal": number}`` once it has reaped the run.
"""

from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import sys
import time
from typing import NoReturn

SOCKET_ENV = "HJEMTILOS_WARM_SOCKET"
SUPERVISOR_PID = "HJEMTILOS_SUPERVISOR_PID"
COLD = ["-m", "hjemtilos.host.flow_process"]
ZYGOTE_WAIT = 5.0  # seconds a restarting zygote may take to answer (it imports in about 2 s)


def go_cold(reason: str) -> NoReturn:
    """Become the cold flow process (never returns)."""
    sys.stderr.write(f"hjemtilos warm client: running cold ({reason})\n")
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *COLD])


def _owners() -> tuple[list[int], int, bool]:
    """pidfds of the processes whose death ends the run (the worker, our parent, and the supervisor), the one of
    ``hjemtilos up`` (-1 if not watched), and whether one of them is gone already."""
    supervisor = os.environ.get(SUPERVISOR_PID, "")
    up = int(supervisor) if supervisor.isdigit() else 0
    fds, up_fd, gone = [], -1, False
    for pid in {os.getppid(), up}:
        if pid > 1:
            try:
                fds.append(os.pidfd_open(pid))
                if pid == up:
                    up_fd = fds[-1]
            except ProcessLookupError:
                gone = True
            except OSError:  # no pidfds here: nothing is watched
                pass
    return fds, up_fd, gone


def _connect(path: str) -> socket.socket:
    """Connect to the zygote; one being restarted (its socket missing or refusing) gets ZYGOTE_WAIT seconds, a
    fork is worth more than a new interpreter. Goes cold when there is none."""
    deadline = time.monotonic() + ZYGOTE_WAIT
    while True:
        opened = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            opened.connect(path)
            return opened
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            opened.close()
            if time.monotonic() > deadline:
                go_cold(f"no zygote at {path}: {exc.__class__.__name__}")
            time.sleep(0.1)
        except OSError as exc:
            opened.close()
            go_cold(f"no zygote at {path}: {exc.__class__.__name__}")


def _exit_like(message: dict[str, int]) -> None:
    if "signal" in message:
        number = message["signal"]
        if number not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)  # a signal that does not kill (it should not happen)
    os._exit(message.get("exit", message.get("result", 1)))


class _Run:
    """The client's side of one run: the zygote's connection, the forked run's pid (0 until the zygote names it),
    the signals that arrived before it, the result the run reported, and the owners whose death stops it."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection: socket.socket | None = connection
        self.child = 0
        self.pending: list[int] = []
        self.buffer = b""
        self.result: int | None = None
        self.child_fd = -1  # a pidfd of the run once the zygote is gone
        self.owners, self.up_fd, self.orphaned = _owners()
        self.stop_with = signal.SIGTERM

    def forward(self, number: int, _frame: object = None) -> None:
        if not self.child:
            self.pending.append(number)
            return
        try:
            os.kill(self.child, number)
        except ProcessLookupError:
            pass

    def finish(self) -> None:
        _exit_like({"result": self.result} if self.result is not None else {"exit": 1})

    def step(self) -> None:
        """One wait for whatever comes next: an owner's death, the run's end, or the zygote's words."""
        if self.orphaned and self.child:  # the worker or the supervisor died: the run stops with them
            # SIGTERM lets Prefect's engine mark the run Crashed; with `hjemtilos up` gone there is no server to
            # tell, so the run ends at once (the next `up` reschedules what it finds Running)
            self.forward(self.stop_with)
            self.orphaned = False
        watched = [*self.owners, *([self.connection.fileno()] if self.connection is not None else []),
                   *([self.child_fd] if self.child_fd >= 0 else [])]
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            return
        for fd in [fd for fd in self.owners if fd in ready]:
            self.owners.remove(fd)
            self.orphaned = True
            if fd == self.up_fd:
                self.stop_with = signal.SIGKILL
        if self.child_fd in ready:  # the zygote is gone and now the run has ended too
            self.finish()
        if self.connection is not None and self.connection.fileno() in ready:
            self._read(self.connection)

    def _read(self, connection: socket.socket) -> None:
        data = connection.recv(65536)
        if not data:  # the zygote went away: wait for the run itself (it reports its result before it exits)
            connection.close()
            self.connection = None
            if not self.child:
                go_cold("the zygote closed the connection")
            try:
                self.child_fd = os.pidfd_open(self.child)
            except ProcessLookupError:
                self.finish()
            return
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            self._heard(connection, json.loads(line))

    def _heard(self, connection: socket.socket, message: dict[str, int]) -> None:
        if "cold" in message:
            connection.close()
            go_cold(str(message["cold"]))
        if "pid" in message:
            self.child = int(message["pid"])
            for number in self.pending:
                self.forward(number)
            self.pending.clear()
        if "result" in message:
            self.result = int(message["result"])
        if "exit" in message or "signal" in message:
            _exit_like(message)


def main() -> None:
    path = os.environ.get(SOCKET_ENV, "")
    if not path:
        go_cold("no zygote configured")
    opened = _connect(path)
    try:
        request = json.dumps({"env": dict(os.environ), "cwd": os.getcwd()}).encode() + b"\n"
        opened.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
    except OSError as exc:
        opened.close()
        go_cold(f"the zygote at {path} took no request: {exc.__class__.__name__}")
    run = _Run(opened)
    signal.signal(signal.SIGTERM, run.forward)
    signal.signal(signal.SIGINT, run.forward)
    while True:
        run.step()


if __name__ == "__main__":
    main()
