"""Bringing the whole system up on one machine: Prefect server and UI, deployments, worker, referral form, mail
catcher, and the housekeeping loop (timekeeper, stuck cases, mail).

``System`` is what ``hjemtilos up`` runs (start, serve until stopped, stop); ``worker_command`` is the worker's
command line for ``up`` and ``hjemtilos worker``; ``prefect_healthy`` is the one health probe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hjemtilos import PROJECT_ROOT
from hjemtilos.flow_process import SUPERVISOR_PID
from hjemtilos.lifelines import die_with_parent
from hjemtilos.run_user import RunAs
from hjemtilos.settings import Settings

if TYPE_CHECKING:
    import uvicorn
    from aiosmtpd.controller import Controller

    from hjemtilos.app import App
    from hjemtilos.embedded_pg import EmbeddedPostgres
    from hjemtilos.housekeeping import Housekeeper
    from hjemtilos.timekeeping import TickReport

PREFECT_BIN = str(Path(sys.executable).with_name("prefect"))
WORK_POOL = "hjemtilos"
HEARTBEAT_SECONDS = 30  # Prefect's least; a case run is Running only for the seconds of a step, so this is cheap
SILENT_AFTER = timedelta(seconds=4 * HEARTBEAT_SECONDS)  # four missed heartbeats: the run's process is gone
RESTART_LIMIT = 5  # restarts of one part within RESTART_PERIOD before `up` gives up on it
RESTART_PERIOD = 600.0
WORKER_LIMIT = 20  # well below the SQLite server's request cap (ARCHITECTURE.md: ~48 live flow processes hung it)


@dataclass(frozen=True)
class Endpoints:
    host: str
    port: int

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def prefect_env(settings: Settings, endpoints: Endpoints) -> dict[str, str]:
    """Environment for every Prefect process we start (server, worker and the flow runs it spawns)."""
    env = dict(os.environ)
    prefect_home = settings.data_dir / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    from hjemtilos.front_door import prefect_auth_string

    auth = prefect_auth_string(settings)
    env.update({
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": endpoints.api_url,
        # the UI in the browser talks to the API through the front door, which signs people in and adds the auth
        # string upstream; the worker, flow processes and the timekeeper hold the auth string themselves
        "PREFECT_UI_API_URL": f"{settings.front_origin}/api",
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_API_AUTH_STRING": auth,
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": settings.front_origin,
        "PREFECT_SERVER_API_HOST": endpoints.host,
        "PREFECT_SERVER_API_PORT": str(endpoints.port),
        # no suspension here has a timeout: the expiration loop only costs CPU (ARCHITECTURE.md)
        "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS": "3600",
        # loops we need less often than every 5-20 s: the idle server's CPU 3.1% -> 2.5% of a core (benchmark 6);
        # a run is marked Late within 45 s instead of 20, new schedules are picked up within 30 s, a stale
        # worker is marked offline within 30 s, cancellations stuck in Cancelling and expired slot leases are
        # cleaned up within a minute
        "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "30",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "30",
        "PREFECT_SERVER_SERVICES_FOREMAN_LOOP_SECONDS": "30",
        "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "60",
        "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "60",
        "PREFECT_WORKER_QUERY_SECONDS": os.environ.get("PREFECT_WORKER_QUERY_SECONDS", "1"),  # benchmark 10 tries less
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # flow processes report every 30 s; the housekeeper marks a Running run Crashed after SILENT_AFTER without
        # one (its worker died) and then continues it (hjemtilos/housekeeping.py)
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
        "PREFECT_UI_ENABLED": "true",
        "HJEMTILOS_DATA_DIR": str(settings.data_dir),
        "HJEMTILOS_PROFILE": settings.profile,
        "HJEMTILOS_PREFECT_UI_URL": settings.ui_base,
    })
    env["HJEMTILOS_DATABASE_URL"] = settings.effective_database_url  # flow processes use the same database
    if settings.prefect_server_database_url:
        env.update({
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": settings.prefect_server_database_url,
            "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": str(settings.prefect_db_pool_size),
            "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": str(settings.prefect_db_max_overflow),
        })
    return env


def check_binding(host: str, env: dict[str, str]) -> None:
    """Refuse to serve Prefect off loopback without an auth string (SystemExit with the reason)."""
    if host not in ("127.0.0.1", "localhost", "::1") and not env.get("PREFECT_SERVER_API_AUTH_STRING"):
        raise SystemExit(f"Refusing to bind Prefect to {host}: set PREFECT_SERVER_API_AUTH_STRING (and "
                         "PREFECT_API_AUTH_STRING for clients) first, or bind to 127.0.0.1.")


def start_server(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # SIGKILL if `hjemtilos up` dies first (kill -9): nothing of ours may outlive it for seconds
    return subprocess.Popen([PREFECT_BIN, "server", "start", "--host",
                             env["PREFECT_SERVER_API_HOST"], "--port", env["PREFECT_SERVER_API_PORT"]],
                            env=env, cwd=PROJECT_ROOT, start_new_session=True,
                            preexec_fn=die_with_parent(signal.SIGKILL))


def prefect_healthy(api_url: str, timeout: float = 3.0) -> bool:
    """Whether the Prefect API answers its health check within ``timeout`` seconds."""
    return prefect_status(api_url, timeout) == "up"


def prefect_status(api_url: str, timeout: float = 2.0) -> str:
    """``up`` (its health check answered within ``timeout``), ``slow`` (it accepted the connection but did not
    answer in time, or answered with an error) or ``down`` (nothing listens there)."""
    import socket

    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return "up" if response.status == 200 else "slow"
    except urllib.error.HTTPError:
        return "slow"
    except urllib.error.URLError as exc:
        return "slow" if isinstance(exc.reason, (TimeoutError, socket.timeout)) else "down"
    except TimeoutError:
        return "slow"
    except OSError:
        return "down"


def wait_healthy(api_url: str, timeout: float = 120.0, server: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if prefect_healthy(api_url):
            return
        if server is not None and server.poll() is not None:
            raise SystemExit(f"The Prefect server stopped at start (exit code {server.returncode}); its output "
                             "is above.")
        time.sleep(0.5)
    raise SystemExit(f"The Prefect server at {api_url} did not become healthy in {timeout:.0f} s")


def worker_command(limit: int = WORKER_LIMIT, pool: str = WORK_POOL, warm: bool = True) -> list[str]:
    """The worker's command line: a process worker on the pool, polling every second (PREFECT_WORKER_QUERY_SECONDS),
    taking runs due within a second; ``warm`` (the default): beside a zygote that forks its flow runs
    (hjemtilos/warm/), else Prefect's process worker alone, every run a new interpreter."""
    prefect = [PREFECT_BIN, "worker", "start", "--pool", pool, "--type", "process", "--limit", str(limit),
               "--prefetch-seconds", "1"]
    if not warm:
        return prefect
    return [sys.executable, "-m", "hjemtilos.warm.supervisor", "--limit", str(limit), "--", *prefect]


def start_worker(env: dict[str, str], limit: int = WORKER_LIMIT, pool: str = WORK_POOL,
                 warm: bool = True, run_as: RunAs | None = None) -> subprocess.Popen[bytes]:
    """The worker (with its zygote and every flow run it starts) as ``run_as`` when given (``up`` as root)."""
    account: dict[str, Any] = {} if run_as is None else run_as.popen_kwargs()
    process: subprocess.Popen[bytes] = subprocess.Popen(
        worker_command(limit, pool, warm), env=env, cwd=PROJECT_ROOT, start_new_session=True,
        preexec_fn=die_with_parent(), **account)
    return process


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


@contextmanager
def prefect_api(api_url: str, auth: str | None = None) -> Iterator[None]:
    """Prefect's client settings pointed at ``api_url`` for the calls inside, with the auth string (given, from
    the environment, or the one `hjemtilos up` keeps in the data folder)."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    auth = auth or known_auth_string()
    updates: dict[Any, Any] = {PREFECT_API_URL: api_url}
    if auth:
        updates[PREFECT_API_AUTH_STRING] = auth
    with temporary_settings(updates=updates):
        yield


def known_auth_string() -> str | None:
    from hjemtilos.front_door import AUTH_FILE

    given = os.environ.get("PREFECT_API_AUTH_STRING")
    if given:
        return given
    try:
        return (Settings().data_dir / AUTH_FILE).read_text().strip() or None
    except (OSError, ValueError):
        return None


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
        self.env[SUPERVISOR_PID] = str(os.getpid())  # flow processes end with this process (hjemtilos/flow_process.py)
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
        from hjemtilos.front_door import check_front_tls
        from hjemtilos.mail.catcher import start_catcher

        settings = self.settings
        check_binding(self.endpoints.host, self.env)
        check_front_tls(settings)
        self._prepare_data_folder()
        if settings.uses_embedded_postgres:
            from hjemtilos.embedded_pg import EmbeddedPostgres

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

            with prefect_api(self.endpoints.api_url, self.auth):
                load_demo(self.app)

    def _prepare_data_folder(self) -> None:
        """Databases, Prefect's home, caught mail: the system's user's alone; as root, the flow runs' user gets its
        own folder in it and nothing else (hjemtilos/run_user.py)."""
        from hjemtilos.run_user import CASES_FOLDER, RUN_SOCKETS, WORKER_HOME, close_data_folder, prepare_run_user

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
        from hjemtilos.embedded_pg import run_user_url
        from hjemtilos.run_user import share_cases_folder

        settings = self.settings
        self.worker_env = self.env if self.run_as is None else self.run_as.environment(self.env)
        if self._postgres is not None:
            self._postgres.grant_case_tables()
            if self.run_as is not None and not settings.database_url:
                self.worker_env["HJEMTILOS_DATABASE_URL"] = run_user_url(settings.embedded_pg_folder)
        elif settings.effective_database_url.startswith("sqlite") and not settings.database_url:
            share_cases_folder(settings.embedded_sqlite_path.parent, self.run_as)

    def _start_front_door(self) -> subprocess.Popen[bytes]:
        from hjemtilos.front_door import caddyfile, start_caddy

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

        from hjemtilos.adapters.prefect import PrefectOrchestrator
        from hjemtilos.intake import StoredCase
        from hjemtilos.runs import start_case_run
        from hjemtilos.web.app import create_app
        from hjemtilos.workspace.app import create_workspace

        def start_run(stored: StoredCase) -> str | None:
            with prefect_api(self.endpoints.api_url, self.auth):
                try:
                    return start_case_run(self.app, PrefectOrchestrator(), stored.case_id, stored.reference,
                                          stored.created_at, _utcnow())
                except Exception:  # noqa: BLE001 - the case is stored; the timekeeper starts runs for cases without one
                    return None

        web = create_workspace(self.app, prefect_api=self.endpoints.api_url, prefect_auth=self.auth,
                               health=self.health, wake=self.wake, recorder=self._recorder())
        web.mount("/henvisning", create_app(self.app, start_run, root="/henvisning"))
        config = uvicorn.Config(web, host="127.0.0.1", port=self.settings.form_port, log_level="warning",
                                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
        server = uvicorn.Server(config)
        self._form_thread = threading.Thread(target=server.run, name="referral-form", daemon=True)
        self._form_thread.start()
        return server

    def wake(self, flow_run_id: str) -> object:
        """Reschedule a case run at once (an early ending or a change recorded on the case page): the warm worker
        picks it up within a second; if this fails, the timekeeper's next tick carries the ending out."""
        from hjemtilos.adapters.prefect import PrefectOrchestrator

        with prefect_api(self.endpoints.api_url, self.auth):
            return PrefectOrchestrator().reschedule(flow_run_id)

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
        """What ``up`` prints once everything runs: where each part is, where mail really goes, and when it
        started (Copenhagen time)."""
        from casework.clock import format_local

        ui, settings = self.settings.ui_base, self.settings
        catcher = f"smtp://{settings.mail_catcher_host}:{settings.mail_catcher_port}"
        to_catcher = (settings.smtp_host, settings.smtp_port) in {
            (settings.mail_catcher_host, settings.mail_catcher_port), ("localhost", settings.mail_catcher_port)}
        if to_catcher:
            mail = f"to the local mail catcher {catcher}, nobody receives it (read it with 'hjemtilos mail list')"
        else:
            mail = (f"to smtp://{settings.smtp_host}:{settings.smtp_port} ({settings.effective_smtp_security.value}): "
                    f"REAL recipients; the catcher at {catcher} receives nothing")
        database = (f"embedded PostgreSQL in {settings.embedded_pg_folder}" if self._postgres is not None
                    else "as configured (see above)")
        return [
            f"Workspace (sign in):   {settings.workspace_url()}",
            f"Coordinators' inbox:   {settings.inbox_url()}",
            f"All waiting runs:      {settings.inbox_url(tag=None)}",
            f"Prefect UI:            {ui}  (through the front door: sign in first)",
            f"Artifacts:             {ui}/artifacts  (stuck cases: stuck-cases)",
            f"Referral form:         {settings.referral_form_url}",
            f"Mail goes:             {mail}",
            f"Databases:             {database}",
            f"Profile:               {settings.profile}",
            f"Started:               {format_local(now or _utcnow(), '%Y-%m-%d %H:%M %Z')} (Copenhagen time)",
            "Stop:                  Ctrl-C, or SIGTERM to this process (pid " + str(os.getpid()) + ")",
        ]

    def housekeeper(self) -> Housekeeper:
        from flows.timekeeper import publish_stuck_cases_now
        from hjemtilos.adapters.prefect import PrefectOrchestrator
        from hjemtilos.housekeeping import Housekeeper
        from hjemtilos.mail.sender import deliver_pending

        every = self.app.profile.timings.timekeeper_every
        tick_seconds = 3600.0 if every.months else max(every.seconds, 1.0)
        return Housekeeper(self.app, PrefectOrchestrator(), tick_seconds, publish=publish_stuck_cases_now,
                           deliver=lambda now: deliver_pending(self.app.session_factory, self.app.smtp, now),
                           report=self.warn, silent_after=SILENT_AFTER)

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
        if self._form is not None:
            self._form.should_exit = True
        for process in reversed(self.processes):
            stop(process)
        if self._catcher is not None:
            self._catcher.stop()
        self.app.engine.dispose()
        if self._postgres is not None:
            self._postgres.stop()
