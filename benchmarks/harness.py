"""What the system benchmarks share: the real system (`hjemtilos up`) in a scratch data directory, process-tree
memory and CPU figures, an in-process driver that brings case runs to their first wait, and a coordinator robot
that answers every form the way a coordinator would."""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil

from casework.clock import LOCAL_TZ
from hjemtilos import PROJECT_ROOT
from hjemtilos.db.scratch import scratch_database

BENCH_AUTH = "auth-string-of-the-benchmarks"  # Prefect's auth string for the `hjemtilos up` a benchmark starts

PG_ADMIN = os.environ.get("HJEMTILOS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PREFECT_BIN = str(Path(sys.executable).with_name("prefect"))


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- process trees -------------------------------------------------------------------------------------------

def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass(frozen=True)
class TreeMemory:
    processes: int
    pss_mb: float  # proportional set size: shared pages counted once across the tree


def tree_memory(pids: list[int]) -> TreeMemory:
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        for process in tree(pid):
            seen[process.pid] = process
    total = 0
    count = 0
    for process in seen.values():
        try:
            total += process.memory_full_info().pss
            count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return TreeMemory(count, total / 2**20)


def median_memory(pids: list[int], samples: int = 5, every: float = 2.0) -> TreeMemory:
    taken = []
    for index in range(samples):
        taken.append(tree_memory(pids))
        if index < samples - 1:
            time.sleep(every)
    return TreeMemory(int(statistics.median(t.processes for t in taken)), statistics.median(t.pss_mb for t in taken))


def cpu_seconds(pid: int, children_too: bool = True) -> float:
    """CPU seconds of a process, its live descendants, and (``children_too``) the children each of them reaped
    (the worker's flow processes; the warm worker's zygote reaps its forked runs itself)."""
    total = 0.0
    for process in tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if children_too:
            total += times.children_user + times.children_system
    return total


# --- databases -----------------------------------------------------------------------------------------------

def pg_database(prefix: str):  # type: ignore[no-untyped-def]
    return scratch_database(PG_ADMIN, prefix)


# --- the system under test -----------------------------------------------------------------------------------

@dataclass
class UpSystem:
    """`hjemtilos up` in a scratch data directory on free ports: server, UI, worker(s), timekeeper, mail."""

    data_dir: Path
    profile: str = "production"
    workers: int = 1
    worker_limit: int = 20
    case_database_url: str | None = None
    prefect_database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    cold: bool = False  # Prefect's process worker alone (`up --cold`), not the warm worker
    process: subprocess.Popen[bytes] | None = None
    port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    form_port: int = field(default_factory=free_port)
    front_port: int = field(default_factory=free_port)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HJEMTILOS_"))}
        env.update(HJEMTILOS_DATA_DIR=str(self.data_dir), HJEMTILOS_PROFILE=self.profile,
                   HJEMTILOS_PREFECT_PORT=str(self.port), HJEMTILOS_FORM_PORT=str(self.form_port),
                   HJEMTILOS_MAIL_CATCHER_PORT=str(self.smtp_port), HJEMTILOS_SMTP_PORT=str(self.smtp_port),
                   HJEMTILOS_FRONT_PORT=str(self.front_port), PREFECT_API_AUTH_STRING=BENCH_AUTH)
        if self.case_database_url:
            env["HJEMTILOS_DATABASE_URL"] = self.case_database_url
        if self.prefect_database_url:
            env["HJEMTILOS_PREFECT_DATABASE_URL"] = self.prefect_database_url
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.data_dir / "up.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hjemtilos.cli", "up", "--workers", str(self.workers),
             "--worker-limit", str(self.worker_limit), *(["--cold"] if self.cold else [])], env=self.env,
            cwd=PROJECT_ROOT,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: b"Running. Ctrl-C" in self.log.read_bytes() or self.process.poll() is not None, 300,
                   "hjemtilos up")
        if self.process.poll() is not None:
            raise RuntimeError("hjemtilos up stopped:\n" + self.log.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """Each worker's top process: the warm worker's supervisor (its Prefect worker and zygote below it), or
        Prefect's process worker."""
        found = [p for p in tree(self.pid) if "worker" in " ".join(self._cmdline(p)) and
                 p.pid != self.pid and "start" in self._cmdline(p)]
        pids = {p.pid for p in found}
        return [p.pid for p in found if p.ppid() not in pids]

    def server_pid(self) -> int:
        return next(p.pid for p in tree(self.pid) if "server" in self._cmdline(p) and "start" in self._cmdline(p))

    @staticmethod
    def _cmdline(process: psutil.Process) -> list[str]:
        try:
            return process.cmdline()
        except psutil.NoSuchProcess:
            return []

    def use_settings(self) -> None:
        """Make this process's HJEMTILOS_* settings the system's (and only those: none left from another one)."""
        for key in [k for k in os.environ if k.startswith("HJEMTILOS_")]:
            del os.environ[key]
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("HJEMTILOS_")})

    def app(self):  # type: ignore[no-untyped-def]
        """The case database the system uses, opened from this process."""
        self.use_settings()
        from tasks.runtime import get_app

        get_app.cache_clear()
        return get_app()

    def mails_caught(self) -> list[Any]:
        from hjemtilos.mail.catcher import list_caught

        return list_caught(self.data_dir / "mailcatcher")


@contextmanager
def up_system(name: str, **options: Any) -> Iterator[UpSystem]:
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        system = UpSystem(Path(tmp) / "var", **options)
        try:
            system.start()
            # this process talks to it too
            with temporary_settings(updates={PREFECT_API_URL: system.api_url, PREFECT_API_AUTH_STRING: BENCH_AUTH}):
                yield system
        finally:
            system.stop()
            log = system.data_dir / "up.log"
            if log.exists():  # kept for a look at what the system did
                import shutil

                shutil.copy(log, Path(tempfile.gettempdir()) / f"bench-{name}-up.log")


def set_pool_paused(paused: bool, pool: str = "hjemtilos") -> None:
    """A paused work pool hands no runs to its workers (used while runs are prepared in-process)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    with get_client(sync_client=True) as client:
        client.update_work_pool(pool, WorkPoolUpdate(is_paused=paused))


# --- cases ---------------------------------------------------------------------------------------------------

def referral(index: int) -> Any:
    """The standard example referral, one child per index (distinct names are not needed: the case id is)."""
    from casework.referral import Referral
    from hjemtilos.paths import EXAMPLES

    data = json.loads((EXAMPLES / "referral-standard.json").read_text())
    return Referral.model_validate(data)


def intake(app: Any, count: int) -> list[tuple[int, str, str]]:
    """The real intake path, as the form and the CLI use it: validate, store, start the run.
    Returns (case id, reference, flow run id)."""
    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.referrals.intake import register_referral
    from hjemtilos.runs import start_case_run

    cases = []
    orchestrator = PrefectOrchestrator()
    for index in range(count):
        now = datetime.now(UTC)
        with app.session_factory.begin() as session:
            stored = register_referral(session, referral(index), now, app.programme, actor="benchmark")
        run_id = start_case_run(app, orchestrator, stored.case_id, stored.reference, stored.created_at, now)
        cases.append((stored.case_id, stored.reference, run_id))
    return cases


def drive_to_first_wait(run_id: str) -> str | None:
    """Execute a scheduled case run in this process until it suspends (as a worker's flow process would)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import Pause
    from prefect.flow_engine import run_flow

    from flows.referral_case import referral_case

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(run_id))
        try:
            run_flow(referral_case, flow_run=flow_run)
        except Pause:
            pass
        state = client.read_flow_run(UUID(run_id)).state
    return state.state_details.pause_key if state is not None and state.is_paused() else None


def _drive_all(run_ids: list[str]) -> list[str | None]:
    return [drive_to_first_wait(run_id) for run_id in run_ids]


def drive_many(system: UpSystem, run_ids: list[str], processes: int = 4) -> list[str | None]:
    """Drive runs to their first wait in a few fresh driver processes (each run spends about a second suspending,
    mostly waiting on the server, so a few in parallel use the machine better than one)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    system.use_settings()
    os.environ["PREFECT_API_URL"] = system.api_url  # read by the spawned drivers when they import prefect
    os.environ["PREFECT_API_AUTH_STRING"] = BENCH_AUTH
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    chunks = [run_ids[index::processes] for index in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_drive_all, [c for c in chunks if c]))
    return [key for chunk in results for key in chunk]


# --- the coordinator robot -----------------------------------------------------------------------------------

MEETING_AHEAD = timedelta(seconds=20)  # the answer is applied well within this, even on a loaded machine


def meeting_soon(ahead: timedelta = MEETING_AHEAD) -> dict[str, str]:
    """The first-meeting plan's answer for a meeting a little ahead (it must lie ahead), to the second, in
    Copenhagen time: in the fast profile the year counts from it."""
    at = datetime.now(UTC).astimezone(LOCAL_TZ) + ahead
    return {"meeting_on": at.date().isoformat(), "meeting_clock": at.strftime("%H:%M:%S")}


def robot_answer(pause_key: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """What a coordinator enters in the Resume dialog for each approval of a case that goes well."""
    today = date.today().isoformat()
    answers: dict[str, dict[str, Any]] = {
        "approval-screening": {"decision": "godkend"},
        "approval-consent": {"parent_1_bbu": today, "parent_1_redbarnet": today},
        "approval-family-answer": {"family_answer": "ja"},
        "approval-match-answers": {"parents_answer": "ja"},
        "approval-first-meeting-plan": meeting_soon(),
        "approval-first-meeting": {"weekday": "onsdag", "brings": "forælder/kontaktperson",
                                   "fetches": "venskabsfamilien"},
        "approval-first-visit-followup": {"call_held_on": today},
        "approval-child-visit": {"visit_held_on": today, "how_it_goes": "godt"},
        "approval-future-agreement": {"continuation": "fortsætter ugentligt"},
    }
    if pause_key.startswith("approval-match-proposal"):
        family = (schema or {}).get("properties", {}).get("family", {})
        choices = family.get("enum") or [family.get("const")]
        return {"family": choices[0]}
    for prefix in sorted(answers, key=len, reverse=True):
        if pause_key.startswith(prefix):
            return {**answers[prefix]}
    raise KeyError(f"the robot has no answer for {pause_key}")


def run_schema(client: Any, run: Any) -> dict[str, Any] | None:
    keyset = run.state.state_details.run_input_keyset if run.state is not None else None
    if not keyset:
        return None
    try:
        value = client.read_flow_run_input(run.id, keyset["schema"])
    except Exception:
        return None
    return json.loads(value) if isinstance(value, str) else value
