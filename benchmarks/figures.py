"""Benchmark 9: the programme reports over 10,000 cases (synthetic rows: every outcome, matches, endings,
tasks, 300 families with members), on SQLite and PostgreSQL: the whole year's report (median of repeats), its
charts drawn to SVG and its CSV files, beside a baseline measured in the same run: one plain SELECT of every case
row with its child loaded as ORM objects (the ordinary way of reading the cases)."""

from __future__ import annotations

import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError

from casework.clock import local_date
from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.migrate import upgrade
from hjemtilos.db.models import (
    CaseEnding,
    Child,
    FamilyMember,
    HumanTask,
    Match,
    Party,
    Placement,
    ReferralCase,
    VolunteerFamily,
)
from hjemtilos.db.scratch import scratch_database
from hjemtilos.reports.exports import table_csv, table_svg
from hjemtilos.reports.figures import build_report
from hjemtilos.reports.periods import parse_period

CASES = int(os.environ.get("BENCH_CASES", "10000"))
FAMILIES = 300
REPEATS = 5
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def populate(url: str, now: datetime, cases_count: int) -> None:
    engine = make_engine(url)
    rng = random.Random(19)
    rows: dict[Any, list[dict[str, Any]]] = {m: [] for m in (VolunteerFamily, FamilyMember, ReferralCase, Child,
                                                             Placement, Party, HumanTask, Match, CaseEnding)}
    for f in range(1, FAMILIES + 1):
        rows[VolunteerFamily].append(dict(id=f, name=f"Familie {f}", email=f"f{f}@example.dk", language="da",
                                          local_area=rng.choice(["Valby", "Nørrebro", "Amager Øst", "Brønshøj"]),
                                          languages=["da"], capacity=rng.choice([1, 1, 2]), competences=[],
                                          status=rng.choice(["approved"] * 4 + ["screening"]),
                                          created_at=now - timedelta(days=rng.randint(1, 1000)),
                                          elearning_completed_on=date(2025, 1, 1) + timedelta(days=rng.randint(0, 600))))
        for m in range(2):
            rows[FamilyMember].append(dict(family_id=f, name=f"Voksen {m}", birth_date=date(1980, 1, 1),
                                           is_volunteer=True, lives_at_home=True,
                                           child_certificate_received_on=date(2024, 6, 1) + timedelta(days=rng.randint(0, 800)),
                                           child_certificate_clear=True,
                                           criminal_record_received_on=date(2024, 6, 1) + timedelta(days=rng.randint(0, 800)),
                                           criminal_record_clear=True))
    match_id = 0
    for i in range(1, cases_count + 1):
        created = now - timedelta(days=rng.randint(1, 900), hours=rng.randint(0, 23))
        fate = rng.random()
        status = "rejected" if fate < 0.2 else "screening" if fate < 0.25 else "closed" if fate < 0.7 else "active"
        rows[ReferralCase].append(dict(
            id=i, reference=f"HTO-B-{i:05d}", status=status, current_step="child-visit", step_since=created,
            track=rng.choice(["standard"] * 4 + ["youth"]), needs_review=rng.random() < 0.2, review_flags=[],
            match_attempt=1, created_at=created, updated_at=created,
            closed_at=created + timedelta(days=200) if status in ("closed", "rejected") else None,
            rejection_reason=rng.choice(["outside-target-group", "parents-not-backing", "other"])
            if status == "rejected" else None))
        rows[Child].append(dict(case_id=i, first_name="Barn", last_name="Test",
                                birth_date=date(2010, 1, 1) + timedelta(days=rng.randint(0, 3500)), languages=["da"],
                                local_area=rng.choice(["Valby", "Nørrebro", "Amager Øst", "Brønshøj", "Vesterbro"]),
                                wants_volunteer_family=True, has_resources_to_start=True, wished_competences=[],
                                concern_severe_acting_out=False, concern_severe_psychiatric_diagnosis=False,
                                concern_suicide_risk_or_self_harm=False))
        rows[Placement].append(dict(case_id=i, kind=rng.choice(["home", "home", "foster_family", "residential_home"]),
                                    child_has_parent_contact=True, parents_back_referral=True))
        rows[Party].append(dict(case_id=i, role="referrer", name="Henviser", email=f"h{i}@bbu.kk.dk", language="da",
                                unit=rng.choice(["BBU Nørrebro", "BBU Valby", "BBU Amager", None])))

        def task(key: str, step: str, done: datetime | None, outcome: str | None, case_id: int = i,
                 created: datetime = created) -> None:
            rows[HumanTask].append(dict(case_id=case_id, key=key, step=step, title=step, assignee_role="coordinator",
                                        reminder_role="coordinator", round=1, created_at=created, completed_at=done,
                                        outcome=outcome, reminders_sent=0))
        if status == "screening":
            task("approval-screening", "screening", None, None)
            continue
        task("approval-screening", "screening", created + timedelta(days=2),
             "rejected" if status == "rejected" else "approved")
        if status == "rejected":
            continue
        consent = created + timedelta(days=rng.randint(3, 40))
        task("approval-consent", "consent", consent, "received")
        agreed = consent + timedelta(days=rng.randint(5, 120))
        task("approval-match-answers-1", "match-proposal", agreed, "agreed")
        match_id += 1
        started = agreed + timedelta(days=10)
        ended = status == "closed"
        early = ended and rng.random() < 0.3
        rows[Match].append(dict(id=match_id, case_id=i, family_id=rng.randint(1, FAMILIES), attempt=1,
                                status="ended" if early else "completed" if ended else "active", proposed_at=consent,
                                first_meeting_at=agreed + timedelta(days=3), started_at=started,
                                ended_at=started + timedelta(days=rng.randint(30, 200) if early else 365)
                                if ended else None, ended_by=rng.choice(["family", "parents", "child"]) if early
                                else "anniversary" if ended else None))
        if early:
            rows[CaseEnding].append(dict(case_id=i, match_id=match_id, requested_at=started + timedelta(days=30),
                                         requested_by="tina", ended_by=rng.choice(["family", "parents", "child"]),
                                         reason=rng.choice(["flytning", "familiens situation", "andet"]),
                                         rematch_wanted=False, handled_at=started + timedelta(days=31),
                                         outcome="closed"))
        elif ended:
            task("approval-future-agreement-1", "future-agreement", started + timedelta(days=300),
                 rng.choice(["weekly", "less-often", "stops", "undecided"]))
    with make_session_factory(engine).begin() as session:
        for model, batch in rows.items():
            for start in range(0, len(batch), 2000):
                session.execute(insert(model), batch[start:start + 2000])
    engine.dispose()


def measure(url: str, label: str, cases_count: int) -> dict[str, float]:
    now = datetime.now(UTC)
    upgrade(url)
    populate(url, now, cases_count)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    period = parse_period(str(local_date(now).year), "", "", local_date(now))
    baseline, built, drawn, written = [], [], [], []
    for _ in range(REPEATS):
        with factory() as session:
            start = time.perf_counter()
            session.execute(select(ReferralCase, Child).join(Child, Child.case_id == ReferralCase.id)).all()
            baseline.append(time.perf_counter() - start)
        with factory() as session:
            start = time.perf_counter()
            report = build_report(session, period, now)
            built.append(time.perf_counter() - start)
    for table in report.tables:
        start = time.perf_counter()
        table_csv(table)
        written.append(time.perf_counter() - start)
        if table.chart:
            start = time.perf_counter()
            table_svg(table)
            drawn.append(time.perf_counter() - start)
    engine.dispose()
    result = {"cases": cases_count, "baseline": statistics.median(baseline), "report": statistics.median(built),
              "charts": sum(drawn), "chart_count": len(drawn), "csv": sum(written)}
    print(f"{label:<11} report {result['report'] * 1000:7.0f} ms (median of {REPEATS})  baseline: SELECT every case "
          f"{result['baseline'] * 1000:6.0f} ms  ratio {result['report'] / result['baseline']:.1f}×  "
          f"{len(drawn)} charts {result['charts'] * 1000:5.0f} ms  CSV {result['csv'] * 1000:4.0f} ms")
    return result


def main(cases: int = CASES) -> dict[str, dict[str, float]]:
    print(f"9. programme reports over {cases} cases ({os.cpu_count()} cores, {platform.python_version()})")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure(f"sqlite:///{tmp}/bench.db", "SQLite", cases)
    try:
        with scratch_database(PG_ADMIN, "hjemtilos_bench_figures") as url:
            results["PostgreSQL"] = measure(url, "PostgreSQL", cases)
    except OperationalError as exc:  # pragma: no cover - no PostgreSQL here
        print(f"PostgreSQL  skipped: {exc.__class__.__name__}")
    return results
