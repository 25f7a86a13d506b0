"""Bringing the whole system up on one machine: Prefect server and UI, deployments, worker, referral form, mail
catcher, and the housekeeping loop (timekeeper, stuck cases, mail).

``System`` is what ``hjemtilos up`` runs (start, serve until stopped, stop); ``worker_command`` is the worker's
command line for ``up`` and ``hjemtilos worker``; ``prefect_healthy`` is the one health probe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from hjemtilos.host.flow_process import SUPERVISOR_PID
from hjemtilos.host.lifelines import die_with_parent
from hjemtilos.host.run_user import RUN_USER, RunAs

if TYPE_CHECKING:
    import uvicorn
    from aiosmtpd.controller import Controller

    from hjemtilos.app import App
    from hjemtilos.host.embedded_pg import EmbeddedPostgres
    from hjemtilos.orchestration import Orchestrator
    from hjemtilos.timekeeper.housekeeping import Housekeeper
    from hjemtilos.timekeeper.timekeeping import TickReport

from hjemtilos.host.prefect_processes import (
    WORKER_LIMIT,
    Endpoints,
    check_binding,
    prefect_api,
    prefect_env,
    prefect_status,
    start_server,
    start_worker,
    stop,
    wait_healthy,
)

RESTART_LIMIT = 5  # restarts of one part within RESTART_PERIOD before `up` gives up on it
RESTART_PERIOD = 600.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class System:
    """The whole system on this machine, as ``hjemtilos up`` runs it: ``start()``, ``serve()`` until stopped (SIGTERM,
    Ctrl-C or a Prefect process ending), ``stop()``. ``report`` prints a line for people."""

    def __init__(self, app: App, *, workers: int = 1, worker_limit: int = WORKER_LIMIT, demo: bool = False,
                 report: Callable[[str], None] = print, warn: Callable[[str], None] = print,
                 warm: bool = True) -> None:
        self.app = app
        self.warm = warm
        self.settings = app.settings
        self.workers = workers
        self.worker_limit = worker_limit
        self.demo = demo
        self.report = report
        self.warn = warn
        self.endpoints = Endpoints(self.settings.prefect_host, self.settings.prefect_port)
        self.env = prefect_env(self.settings, self.endpoints)
        self.env[SUPERVISOR_PID] = str(os.getpid())  # flow processes end with this process (hjemtilos/host/flow_process.py)
        self.auth = self.env["PREFECT_API_AUTH_STRING"]
        self.processes: list[subprocess.Popen[bytes]] = []
        self._caddy: subprocess.Popen[bytes] | None = None
        self._workers: list[subprocess.Popen[bytes]] = []
        self.stopping = threading.Event()
        self.gave_up: str | None = None  # why `up` stopped itself (a part that could not be brought back)
        self._catcher: Controller | None = None
        self._form: uvicorn.Server | None = None
        self._postgres: EmbeddedPostgres | None = None
        self._form_thread: threading.Thread | None = None
        self.restarts: dict[str, list[float]] = {}  # part -> monotonic times of its restarts
        self._due: dict[str, float] = {}  # part -> when its pending restart may happen
        self.run_as: RunAs | None = None  # who runs the worker and its flow runs (root's `up`: hjemtilos-run)
        self.worker_env = self.env

    def start(self) -> None:
        """Migrate, start the catcher, the Prefect server, the deployments, the workers and the referral form."""
        from flows.deployments import deploy_all
        from hjemtilos.adapters.prefect import recover_orphaned_runs
        from hjemtilos.db.migrate import upgrade
        from hjemtilos.host.front_door import check_front_tls
        from hjemtilos.mail.catcher import start_catcher

        settings = self.settings
        check_binding(self.endpoints.host, self.env)
        check_front_tls(settings)
        self._prepare_data_folder()
        if settings.uses_embedded_postgres:
            from hjemtilos.host.embedded_pg import EmbeddedPostgres

            self.report("Starting the embedded PostgreSQL ...")
            self._postgres = EmbeddedPostgres(settings.embedded_pg_folder)
            self._postgres.start()
        upgrade(settings.effective_database_url)
        self._share_case_database()
        if self.workers > 1 and not settings.prefect_server_database_url:
            self.warn("Several workers on SQLite-backed Prefect: expect 503s under load (README: Running for many "
                      "offices).")
        self._catcher = start_catcher(settings.maildir, settings.mail_catcher_host, settings.mail_catcher_port)
        self.report("Starting the Prefect server ...")
        self.processes.append(start_server(self.env))
        wait_healthy(self.endpoints.api_url, server=self.processes[-1])
        with prefect_api(self.endpoints.api_url, self.auth):
            deploy_all()
            recovered = recover_orphaned_runs(include_running=True)  # no worker of ours runs yet
        if recovered:
            self.report(f"Rescheduled {len(recovered)} case run(s) left behind when the system stopped.")
        for _ in range(self.workers):
            self._workers.append(start_worker(self.worker_env, limit=self.worker_limit, warm=self.warm,
                                              run_as=self.run_as))
            self.processes.append(self._workers[-1])
        self._form = self._start_form()
        self._caddy = self._start_front_door()
        self._print_first_administrator_link()
        if self.demo:
            from hjemtilos.demo import load_demo

            load_demo(self.app, self.orchestrator)

    def _prepare_data_folder(self) -> None:
        """Databases, Prefect's home, caught mail: the system's user's alone; as root, the flow runs' user gets its
        own folder in it and nothing else (hjemtilos/host/run_user.py)."""
        from hjemtilos.host.run_user import CASES_FOLDER, RUN_SOCKETS, WORKER_HOME, close_data_folder, prepare_run_user

        settings = self.settings
        close_data_folder(settings.data_dir, shared={"pg", RUN_SOCKETS, WORKER_HOME, CASES_FOLDER})
        self.run_as = prepare_run_user(settings.data_dir)
        if self.run_as is not None and settings.effective_database_url.startswith("sqlite") and \
                Path(settings.effective_database_url.split("///", 1)[-1]) != settings.embedded_sqlite_path:
            raise SystemExit("Run as root, 'hjemtilos up' runs the flows as the system user hjemtilos-run, which "
                             "cannot share a SQLite file named in HJEMTILOS_DATABASE_URL: leave it unset (the "
                             "embedded database) or give a PostgreSQL URL.")

    def _share_case_database(self) -> None:
        """After the migrations: the flow runs' user reaches the case database and only that."""
        from hjemtilos.host.embedded_pg import run_user_url
        from hjemtilos.host.run_user import share_cases_folder

        settings = self.settings
        self.worker_env = self.env if self.run_as is None else self.run_as.environment(self.env)
        if self._postgres is not None:
            self._postgres.grant_case_tables()
            if self.run_as is not None and not settings.database_url:
                self.worker_env["HJEMTILOS_DATABASE_URL"] = run_user_url(settings.embedded_pg_folder)
        elif settings.effective_database_url.startswith("sqlite") and not settings.database_url:
            share_cases_folder(settings.embedded_sqlite_path.parent, self.run_as)

    def _start_front_door(self) -> subprocess.Popen[bytes]:
        from hjemtilos.host.front_door import caddyfile, start_caddy

        config = caddyfile(self.settings, self.auth, self.settings.prefect_port, self.settings.form_port)
        caddy = start_caddy(self.settings, config, die_with_parent(signal.SIGKILL))
        self.processes.append(caddy)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # up once it answers on its address
            if caddy.poll() is not None:
                raise SystemExit(f"The front door (Caddy) stopped at start (exit code {caddy.returncode}); its "
                                 "output is above.")
            try:
                import socket

                with socket.create_connection((self.settings.front_host, self.settings.front_port), timeout=1):
                    return caddy
            except OSError:
                time.sleep(0.2)
        raise SystemExit("The front door (Caddy) did not open its port in 20 s")

    def _print_first_administrator_link(self) -> None:
        from hjemtilos.workspace.accounts import first_administrator_link

        with self.app.session_factory.begin() as session:
            token = first_administrator_link(session, _utcnow())
        if token:
            self.report("")
            self.report("No one has an account yet. Open this one-time link to create the first administrator:")
            self.report(f"  {self.settings.workspace_url('/opret/' + token)}")

    def health(self) -> dict[str, str]:
        """The dashboard's row of parts: Prefect, each worker, the timekeeper (this process's loop), and how
        often `up` restarted each part lately."""
        parts = {"Prefect": prefect_status(self.endpoints.api_url)}
        for number, process in enumerate(self._workers):
            parts[f"Worker {number + 1}"] = "up" if process.poll() is None else "down"
        parts["Timekeeper and mail"] = "up" if not self.stopping.is_set() else "down"
        now = time.monotonic()
        for part, times in self.restarts.items():
            recent = [at for at in times if now - at < 24 * 3600]
            if recent:
                parts[f"Genstartet / restarted: {part}"] = f"{len(recent)}× (24 h)"
        return parts

    def _start_form(self) -> uvicorn.Server:
        """Serve the workspace and the referral form (under /henvisning) in a thread, on loopback behind the front
        door; a submitted referral starts its case run."""
        import uvicorn

        from hjemtilos.web.app import create_app
        from hjemtilos.workspace.app import create_workspace

        web = create_workspace(self.app, prefect_api=self.endpoints.api_url, prefect_auth=self.auth,
                               health=self.health, wake=self.wake, recorder=self._recorder(),
                               orchestrator=self.orchestrator)
        web.mount("/henvisning", create_app(self.app, self.orchestrator, root="/henvisning"))
        config = uvicorn.Config(web, host="127.0.0.1", port=self.settings.form_port, log_level="warning",
                                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
        server = uvicorn.Server(config)
        self._form_thread = threading.Thread(target=server.run, name="referral-form", daemon=True)
        self._form_thread.start()
        return server

    @contextmanager
    def orchestrator(self) -> Iterator[Orchestrator]:
        """Prefect, as the application sees it, on this system's server (for calls from any thread)."""
        from hjemtilos.adapters.prefect import PrefectOrchestrator

        with prefect_api(self.endpoints.api_url, self.auth):
            yield PrefectOrchestrator()

    def wake(self, flow_run_id: str) -> object:
        """Reschedule a case run at once (an early ending or a change recorded on the case page): the warm worker
        picks it up within a second; if this fails, the timekeeper's next tick carries the ending out."""
        with self.orchestrator() as orchestrator:
            return orchestrator.reschedule(flow_run_id)

    def _recorder(self) -> Callable[[str, str, str, bool], None] | None:
        """With HJEMTILOS_FRONT_DOOR_RECORD: every decision of the front door as a JSON line (recording a tour)."""
        path = self.settings.front_door_record
        if path is None:
            return None
        import json

        lock = threading.Lock()
        self.warn(f"Recording every Prefect call the front door decides to {path}")

        def record(role: str, method: str, uri: str, admitted: bool) -> None:
            line = json.dumps({"role": str(role), "method": method, "path": uri.split("?", 1)[0],
                               "admitted": admitted})
            with lock, path.open("a") as handle:
                handle.write(line + "\n")
        return record

    def banner(self, now: datetime | None = None) -> list[str]:
        """What ``up`` prints once everything runs (hjemtilos/host/banner.py)."""
        from hjemtilos.host.banner import banner

        return banner(self.settings, embedded_postgres=self._postgres is not None,
                      run_user=None if self.run_as is None else RUN_USER, now=now or _utcnow())

    def housekeeper(self) -> Housekeeper:
        from flows.timekeeper import publish_stuck_cases_now
        from hjemtilos.adapters.prefect import PrefectOrchestrator
        from hjemtilos.mail.sender import deliver_pending
        from hjemtilos.timekeeper.housekeeping import Housekeeper

        every = self.app.profile.timings.timekeeper_every
        tick_seconds = 3600.0 if every.months else max(every.seconds, 1.0)
        return Housekeeper(self.app, PrefectOrchestrator(), tick_seconds, publish=publish_stuck_cases_now,
                           deliver=lambda now: deliver_pending(self.app.session_factory, self.app.smtp, now),
                           report=self.warn,
                           silent_after=timedelta(seconds=self.app.profile.timings.silent_run_after.seconds))

    def serve(self, on_tick: Callable[[TickReport], None] = lambda _: None) -> None:
        """Run the housekeeping loop until ``stop_soon()`` (SIGTERM) or Ctrl-C, and supervise: a part that died
        (the Prefect server, a worker, the front door, the web server, the embedded PostgreSQL) is restarted with
        back-off; only a part that keeps dying (RESTART_LIMIT times within RESTART_PERIOD) stops the system, with
        the reason. The timekeeper ticks at the profile's pace (the scheduled deployment ticks hourly as well);
        mail goes out every 2 seconds."""
        housekeeper = self.housekeeper()
        with prefect_api(self.endpoints.api_url, self.auth):
            while not self.stopping.is_set():
                failed = self.supervise()
                if failed is not None:
                    self.warn(failed)
                    self.gave_up = failed
                    break
                report = housekeeper.step(_utcnow())
                if report is not None:
                    on_tick(report)
                self.stopping.wait(min(2.0, housekeeper.tick_seconds))

    def parts(self) -> dict[str, Callable[[], bool]]:
        """Each supervised part and whether it is alive."""
        alive: dict[str, Callable[[], bool]] = {}
        if self._postgres is not None:
            postgres = self._postgres
            alive["embedded PostgreSQL"] = lambda: postgres.process is not None and postgres.process.poll() is None
        server = self.processes[0] if self.processes else None
        alive["Prefect server"] = lambda: server is None or self._server().poll() is None
        for number in range(len(self._workers)):
            alive[f"worker {number + 1}"] = lambda n=number: self._workers[n].poll() is None  # type: ignore[misc]
        if self._caddy is not None:
            alive["front door (Caddy)"] = lambda: self._caddy is not None and self._caddy.poll() is None
        if self._form_thread is not None:
            alive["workspace and form (web server)"] = lambda: self._form_thread is not None and \
                self._form_thread.is_alive()
        return alive

    def _server(self) -> subprocess.Popen[bytes]:
        return self.processes[0]

    def supervise(self, clock: Callable[[], float] = time.monotonic) -> str | None:
        """Restart dead parts (back-off 1, 2, 4 … 60 s). Returns why the system must stop, else None."""
        for part, alive in self.parts().items():
            if alive():
                self._due.pop(part, None)
                continue
            now = clock()
            recent = [at for at in self.restarts.get(part, []) if now - at < RESTART_PERIOD]
            if len(recent) >= RESTART_LIMIT:
                return (f"The {part} died {RESTART_LIMIT} times within {RESTART_PERIOD / 60:.0f} minutes and "
                        "could not be brought back; shutting down (its log is above).")
            if part not in self._due:
                delay = min(2.0 ** len(recent), 60.0)
                self._due[part] = now + delay
                self.warn(f"The {part} stopped; restarting it in {delay:.0f} s (restart {len(recent) + 1}).")
                continue
            if now < self._due[part]:
                continue
            try:
                self._restart(part)
            except (SystemExit, Exception) as exc:  # noqa: BLE001 - counted as a failed restart; tried again
                self.warn(f"Restarting the {part} failed: {type(exc).__name__}: {str(exc)[:200]}")
            self.restarts[part] = [*recent, now]
            self._due.pop(part, None)
        return None

    def _restart(self, part: str) -> None:
        if part == "embedded PostgreSQL":
            assert self._postgres is not None
            self._postgres.start()
        elif part == "Prefect server":
            self.processes[0] = start_server(self.env)
            wait_healthy(self.endpoints.api_url, timeout=60, server=self.processes[0])
        elif part.startswith("worker "):
            number = int(part.split()[1]) - 1
            old = self._workers[number]
            self._workers[number] = start_worker(self.worker_env, limit=self.worker_limit, warm=self.warm,
                                                 run_as=self.run_as)
            self.processes[self.processes.index(old)] = self._workers[number]
        elif part == "front door (Caddy)":
            old_caddy = self._caddy
            self._caddy = None
            if old_caddy in self.processes:
                self.processes.remove(old_caddy)
            self._caddy = self._start_front_door()
        elif part == "workspace and form (web server)":
            self._form = self._start_form()
        self.warn(f"The {part} is running again.")

    def stop_soon(self, *_: object) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop_soon)

    def stop(self) -> None:
        from hjemtilos.adapters.prefect_private import drain_client_services

        try:  # first, while Prefect's server still answers: else the process waits at exit to send them
            with prefect_api(self.endpoints.api_url, self.auth):
                drain_client_services()
        except Exception as exc:  # noqa: BLE001 - stopping goes on; at worst the exit waits as before
            self.warn(f"Prefect's client did not drain ({type(exc).__name__})")
        if self._form is not None:
            self._form.should_exit = True
        for process in reversed(self.processes):
            stop(process)
        if self._catcher is not None:
            self._catcher.stop()
        self.app.engine.dispose()
        if self._postgres is not None:
            self._postgres.stop()
