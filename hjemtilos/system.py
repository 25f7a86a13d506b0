"""Bringing the whole system up on one machine: Prefect server and UI, deployments, worker, mail catcher.

Used by ``hjemtilos up`` (everything, in the foreground) and ``hjemtilos worker`` (the worker alone).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hjemtilos import PROJECT_ROOT
from hjemtilos.settings import Settings

PREFECT_BIN = str(Path(sys.executable).with_name("prefect"))
WORK_POOL = "hjemtilos"
HEARTBEAT_SECONDS = 60
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
    env.update({
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": endpoints.api_url,
        "PREFECT_UI_API_URL": endpoints.api_url,
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
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        "HJEMTILOS_DATA_DIR": str(settings.data_dir),
        "HJEMTILOS_PROFILE": settings.profile,
        "HJEMTILOS_PREFECT_UI_URL": endpoints.ui_url,
    })
    if settings.database_url:
        env["HJEMTILOS_DATABASE_URL"] = settings.database_url
    if settings.prefect_server_database_url:
        env.update({
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": settings.prefect_server_database_url,
            "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": str(settings.prefect_db_pool_size),
            "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": str(settings.prefect_db_max_overflow),
            # flow processes report every 60 s; the "crash silent runs" automation (flows/deployments.py),
            # deployed with PostgreSQL-backed Prefect, marks a run Crashed after 5 silent minutes
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
        })
    return env


def check_binding(host: str, env: dict[str, str]) -> None:
    if host not in ("127.0.0.1", "localhost", "::1") and not env.get("PREFECT_SERVER_API_AUTH_STRING"):
        raise SystemExit(f"Refusing to bind Prefect to {host}: set PREFECT_SERVER_API_AUTH_STRING (and "
                         "PREFECT_API_AUTH_STRING for clients) first, or bind to 127.0.0.1.")


def start_server(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PREFECT_BIN, "server", "start", "--host",
                             env["PREFECT_SERVER_API_HOST"], "--port", env["PREFECT_SERVER_API_PORT"]],
                            env=env, cwd=PROJECT_ROOT, start_new_session=True)


def wait_healthy(api_url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=3) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"The Prefect server at {api_url} did not become healthy in {timeout:.0f} s")


def start_worker(env: dict[str, str], limit: int = WORKER_LIMIT, pool: str = WORK_POOL) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PREFECT_BIN, "worker", "start", "--pool", pool, "--type", "process",
                             "--limit", str(limit), "--prefetch-seconds", "1"],
                            env=env, cwd=PROJECT_ROOT, start_new_session=True)


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
