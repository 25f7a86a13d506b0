"""Benchmark 4: one timekeeper tick over 10,000 open cases with realistic due dates (synthetic rows),
on SQLite and on PostgreSQL: time per tick (median of repeats) and SQL statements issued.

Prefect is replaced by a counting stand-in that answers "paused on this key" for every due timer, so the
figure is the case-database side of the tick plus the number of Prefect calls it would make; the Prefect
side of a resume is measured by the approval-latency benchmark (benchmarks/office.py)."""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, insert
from sqlalchemy.exc import OperationalError

from hjemtilos.app import App
from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.migrate import upgrade
from hjemtilos.db.models import Child, HumanTask, Party, Placement, ReferralCase, Timer
from hjemtilos.db.scratch import scratch_database
from hjemtilos.orchestration import FormStatus, RunState
from hjemtilos.settings import Settings
from hjemtilos.timekeeper.timekeeping import tick

CASES = int(os.environ.get("BENCH_CASES", "10000"))
REPEATS = 5
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class CountingOrchestrator:
    def __init__(self) -> None:
        self.calls = 0

    def run_state(self, flow_run_id: str) -> RunState | None:
        self.calls += 1
        return RunState("RUNNING", "Running", None)  # nothing to resume: the DB side alone is measured

    def resume(self, flow_run_id: str) -> bool:
        self.calls += 1
        return True

    def start_case(self, case_id: int, reference: str, run_key: str) -> str:
        self.calls += 1
        return str(uuid.uuid4())

    def start_family(self, family_id: int, reference: str, run_key: str) -> str:
        self.calls += 1
        return str(uuid.uuid4())

    def troubled_runs(self, now: datetime) -> dict[str, RunState]:
        self.calls += 1
        return {}

    def form_status(self, flow_run_id: str, pause_key: str) -> FormStatus:
        self.calls += 1
        return FormStatus.STORED

    def reschedule(self, flow_run_id: str) -> bool:
        self.calls += 1
        return True


def populate(url: str, now: datetime) -> None:
    """10,000 open cases spread over the year: most wait on a timer months away, ~1% are due now,
    ~10% wait on an approval (a few past their reminder)."""
    engine = make_engine(url)
    rng = random.Random(7)
    cases, children, placements, parties, timers, tasks = [], [], [], [], [], []
    for i in range(1, CASES + 1):
        created = now - timedelta(days=rng.randint(1, 300))
        cases.append(dict(id=i, reference=f"HTO-2026-{i:05d}", status="active", current_step="child-visit",
                          step_since=created, track="standard", needs_review=False, review_flags=[],
                          flow_run_id=str(uuid.uuid4()), match_attempt=1, created_at=created, updated_at=created))
        children.append(dict(case_id=i, first_name="Barn", last_name="Test", birth_date=date(2017, 1, 1),
                             languages=["da"], local_area="Valby", wants_volunteer_family=True,
                             has_resources_to_start=True, wished_competences=[], concern_severe_acting_out=False,
                             concern_severe_psychiatric_diagnosis=False, concern_suicide_risk_or_self_harm=False))
        placements.append(dict(case_id=i, kind="home", child_has_parent_contact=False, parents_back_referral=True))
        parties.append(dict(case_id=i, role="referrer", name="Henviser", email=f"h{i}@bbu.kk.dk", language="da"))
        if i % 10 == 0:
            opened = now - timedelta(days=rng.randint(0, 20))
            tasks.append(dict(case_id=i, key="approval-child-visit-1", step="child-visit", title="Børnebesøg",
                              assignee_role="coordinator", reminder_role="coordinator", round=1, created_at=opened,
                              due_at=opened + timedelta(days=14), reminder_at=opened + timedelta(days=7),
                              escalation_at=opened + timedelta(days=14), reminders_sent=0))
        else:
            due = now - timedelta(hours=rng.randint(0, 3)) if i % 100 == 1 else now + timedelta(days=rng.randint(1, 300))
            timers.append(dict(case_id=i, key="timer-child-visit-1", step="child-visit", due_at=due, created_at=created,
                               round=1))
    with make_session_factory(engine).begin() as session:
        for model, rows in ((ReferralCase, cases), (Child, children), (Placement, placements), (Party, parties),
                            (Timer, timers), (HumanTask, tasks)):
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start:start + 2000])
    engine.dispose()


def measure(url: str, label: str) -> dict[str, float]:
    now = datetime.now(UTC)
    upgrade(url)
    t0 = time.perf_counter()
    populate(url, now)
    load_seconds = time.perf_counter() - t0
    settings = Settings(database_url=url, profile="production")
    engine = make_engine(url)
    statements = {"n": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):  # type: ignore[no-untyped-def]
        statements["n"] += 1

    app = App(settings=settings, profile=settings.load_profile(), engine=engine,
              session_factory=make_session_factory(engine))
    times, counts, calls = [], [], []
    for repeat in range(REPEATS):
        orchestrator = CountingOrchestrator()
        statements["n"] = 0
        start = time.perf_counter()
        tick(app, now + timedelta(seconds=repeat), orchestrator, deliver=False)
        times.append(time.perf_counter() - start)
        counts.append(statements["n"])
        calls.append(orchestrator.calls)
    engine.dispose()
    result = {"first": times[0], "median": statistics.median(times[1:]), "statements_first": counts[0],
              "statements_median": statistics.median(counts[1:]), "prefect_calls_first": calls[0],
              "load_seconds": load_seconds}
    print(f"{label:<11} first tick {times[0]*1000:8.1f} ms  later ticks (median) {result['median']*1000:8.1f} ms  "
          f"SQL statements {counts[0]} / {result['statements_median']:.0f}  Prefect calls {calls[0]}")
    return result


def main() -> dict[str, dict[str, float]]:
    print(f"4. timekeeper tick over {CASES} open cases ({os.cpu_count()} cores, {platform.python_version()})")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure(f"sqlite:///{tmp}/bench.db", "SQLite")
    try:
        with scratch_database(PG_ADMIN, "hjemtilos_bench") as url:
            results["PostgreSQL"] = measure(url, "PostgreSQL")
    except OperationalError as exc:  # pragma: no cover - no PostgreSQL here
        print(f"PostgreSQL  skipped: {exc.__class__.__name__}")
    return results
