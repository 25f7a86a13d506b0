"""The zygote: ``python -m hjemtilos.warm.zygote SOCKET [--max-children N]``. It imports Prefect, SQLAlchemy and
the flows once, opens no connection and starts no thread, and forks one child per flow run asked for on its Unix
socket (hjemtilos/warm/client.py describes the protocol). The parent stays single-threaded: it only accepts,
forks, reaps and reports, so a fork never copies a lock some other thread held (the deadlock that makes Prefect
itself spawn instead of fork: PrefectHQ/prefect#16802).

- At most ``--max-children`` runs at once; a request beyond that waits until a run ends.
- A client that disconnects (its worker killed it) gets its run stopped with SIGTERM, as a cold flow process
  would be by its worker.
- Before every fork it checks that the code it imported is unchanged (modification times of every module of this
  project it loaded). When any changed, it answers ``cold`` (the client runs the new code in a new interpreter),
  stops listening, lets its running children finish and exits; its supervisor starts a new zygote with the new
  code (hjemtilos/warm/supervisor.py).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

from hjemtilos.warm import prefect_fork

READY = "hjemtilos-zygote-ready"


def fingerprint() -> dict[str, int]:
    """The modification time of every loaded module that is not part of Python or an installed package: this
    project's flows, tasks and case code, and whatever ``HJEMTILOS_WARM_PRELOAD`` added."""
    installed = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in sys.path if "-packages" in p)})
    found: dict[str, int] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and not path.startswith(installed):
            try:
                found[path] = os.stat(path).st_mtime_ns
            except OSError:
                found[path] = -1
    return found


def changed(known: dict[str, int]) -> bool:
    for path, mtime in known.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


@dataclass
class Request:
    connection: socket.socket
    env: dict[str, str]
    cwd: str
    fds: list[int]


@dataclass
class Zygote:
    path: str
    max_children: int
    code: dict[str, int] = field(default_factory=dict)
    children: dict[int, socket.socket] = field(default_factory=dict)  # pid → its client's connection
    waiting: list[Request] = field(default_factory=list)
    draining: bool = False

    def serve(self) -> None:
        self.code = fingerprint()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(self.path):
            os.unlink(self.path)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        listener.listen(64)
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        os.set_blocking(wake_read, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, "accept")
        selector.register(wake_read, selectors.EVENT_READ, "wake")
        if threading.active_count() != 1:  # a fork copies only the forking thread: another's locks stay held
            raise RuntimeError(f"the zygote must not start threads: {[t.name for t in threading.enumerate()]}")
        print(READY, os.getpid(), flush=True)
        self._listener, self._selector, self._wake = listener, selector, (wake_read, wake_write)
        while not (self.draining and not self.children):
            for key, _ in selector.select(timeout=5):
                if key.data == "accept":
                    self._accept(listener)
                elif key.data == "wake":
                    try:
                        os.read(wake_read, 4096)
                    except BlockingIOError:
                        pass
                elif isinstance(key.data, int):  # a child's client connection: it should stay silent
                    self._client_spoke(key.data, key.fileobj)  # type: ignore[arg-type]
            self._reap()
            while self.waiting and len(self.children) < self.max_children and not self.draining:
                self._fork(self.waiting.pop(0))

    def _stop(self, *_: object) -> None:
        self._drain()
        for pid in list(self.children):
            _kill(pid, signal.SIGTERM)

    def _drain(self) -> None:
        if self.draining:
            return
        self.draining = True
        self._selector.unregister(self._listener)
        self._listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        for request in self.waiting:
            self._answer(request.connection, {"cold": "the zygote is restarting"})
            _close_fds(request)
        self.waiting.clear()

    def _accept(self, listener: socket.socket) -> None:
        connection, _ = listener.accept()
        connection.settimeout(10)
        try:
            fds: list[int] = []
            data = b""
            while not data.endswith(b"\n"):
                chunk, ancillary, _flags, _ = connection.recvmsg(1 << 20, socket.CMSG_SPACE(3 * 4))
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += [int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, len(payload), 4)]
                if not chunk:
                    break
                data += chunk
            message = json.loads(data)
            request = Request(connection, {str(k): str(v) for k, v in message["env"].items()}, str(message["cwd"]),
                              fds)
        except (OSError, ValueError, KeyError):
            connection.close()
            return
        connection.settimeout(None)
        if len(request.fds) != 3:
            self._answer(connection, {"cold": "no standard streams were passed"})
            _close_fds(request)
            return
        if changed(self.code):
            self._answer(connection, {"cold": "the code changed since the zygote started"})
            _close_fds(request)
            self._drain()
            return
        self.waiting.append(request)

    def _fork(self, request: Request) -> None:
        pid = os.fork()
        if pid == 0:
            self._become_run(request)  # never returns
        _close_fds(request)
        self.children[pid] = request.connection
        self._selector.register(request.connection, selectors.EVENT_READ, pid)
        self._answer(request.connection, {"pid": pid})

    def _become_run(self, request: Request) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(number, signal.SIG_DFL if number != signal.SIGINT else signal.default_int_handler)
            self._selector.close()
            if not self.draining:
                self._listener.close()
            for fd in self._wake:
                os.close(fd)
            for connection in self.children.values():
                connection.close()
            for other in self.waiting:
                other.connection.close()
                _close_fds(other)
            for target, fd in enumerate(request.fds):
                os.dup2(fd, target)
                os.close(fd)
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
            os.environ.clear()
            os.environ.update(request.env)
            os.chdir(request.cwd)
            sys.argv = [sys.argv[0]]
            code = prefect_fork.run_engine()
        except BaseException:  # noqa: BLE001 - whatever happens, the run's process ends here with a code
            import traceback

            traceback.print_exc()
        finally:
            try:
                self._answer(request.connection, {"result": code})
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _client_spoke(self, pid: int, connection: socket.socket) -> None:
        try:
            data = connection.recv(4096)
        except OSError:
            data = b""
        if not data:  # the client is gone (killed with its worker): stop the run, as for a cold process
            self._selector.unregister(connection)
            _kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.children.pop(pid, None)
            if connection is None:
                continue
            if os.WIFSIGNALED(status):
                self._answer(connection, {"signal": os.WTERMSIG(status)})
            else:
                self._answer(connection, {"exit": os.waitstatus_to_exitcode(status)})
            try:
                self._selector.unregister(connection)
            except (KeyError, ValueError):
                pass
            connection.close()

    @staticmethod
    def _answer(connection: socket.socket, message: dict[str, object]) -> None:
        try:
            connection.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            pass


def _kill(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _close_fds(request: Request) -> None:
    for fd in request.fds:
        try:
            os.close(fd)
        except OSError:
            pass
    request.fds = []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hjemtilos.warm.zygote")
    parser.add_argument("socket")
    parser.add_argument("--max-children", type=int, default=20)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    prefect_fork.preload()
    print(f"hjemtilos zygote: imported in {time.perf_counter() - started:.1f} s", flush=True)
    Zygote(args.socket, max(1, args.max_children)).serve()


if __name__ == "__main__":
    main()
