"""The Prefect processes ``hjemtilos up`` starts, and how the host reaches Prefect: the environment of every
Prefect process (``prefect_env``), the server (``start_server``, its health: ``prefect_status``), the worker's
command line (``worker_command``, for ``up`` and ``hjemtilos worker``) and start (``start_worker``, as the run
user when given), and Prefect's client settings for calls from the CLI (``prefect_api``)."""


from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hjemtilos import PROJECT_ROOT
from hjemtilos.host.lifelines import die_with_parent
from hjemtilos.host.run_user import RunAs
from hjemtilos.settings import Settings

if TYPE_CHECKING:

    pass

PREFECT_BIN = str(Path(sys.executable).with_name("prefect"))
WORK_POOL = "hjemtilos"
HEARTBEAT_SECONDS = 30  # Prefect's least; a case run is Running only for the seconds of a step, so this is cheap
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
    from hjemtilos.host.front_door import prefect_auth_string

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
        # flow processes report every 30 s; the housekeeper marks a Running run Crashed after the profile's
        # silent_run_after without one (its worker died) and then continues it (hjemtilos/timekeeper/housekeeping.py)
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
    from hjemtilos.host.front_door import AUTH_FILE

    given = os.environ.get("PREFECT_API_AUTH_STRING")
    if given:
        return given
    try:
        return (Settings().data_dir / AUTH_FILE).read_text().strip() or None
    except (OSError, ValueError):
        return None


