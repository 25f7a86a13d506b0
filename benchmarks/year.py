"""Benchmark 5: what a step costs, and a programme year for many cases at once in the fast profile.

On one `hjemtilos up --profile fast` system: first Prefect's bare process-per-run rate (a flow that does nothing,
on the same worker), then N cases from referral to farewell with a coordinator robot answering every form in the
Prefect API as soon as it appears. Reports wall time, steps executed (flow-run executions), CPU per step, server
CPU, and every mail: the programme's mails must be exactly 14 per case, and each reminder, escalation and
stuck-case alert must match what the case database recorded."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from sqlalchemy import func, select

from benchmarks.harness import cpu_seconds, intake, percentile, robot_answer, run_schema, tree, up_system, wait_until
from hjemtilos import PROJECT_ROOT
from hjemtilos.db.models import HumanTask, OutboxMail, ReferralCase, StuckCase, VolunteerFamily

# one case that goes well: (template, count) — the same list the lifecycle test asserts for one case
PROGRAMME_MAILS = Counter({
    "referral-receipt": 1, "consent-request": 1, "match-proposal-family": 1, "match-proposal-parents": 1,
    "match-agreed": 1, "first-meeting-invitation": 2, "first-visit-followup": 1, "child-visit-notice": 1,
    "future-agreement-request": 2, "farewell-family": 1, "farewell-parents": 1, "course-ended": 1,
})


def add_families(app: Any, count: int) -> None:
    now = datetime.now(UTC)
    with app.session_factory.begin() as session:
        for index in range(count):
            session.add(VolunteerFamily(name=f"Familie {index + 1}", email=f"familie{index + 1}@example.dk",
                                        local_area="Nørrebro", address="Nørrebro, København", languages=["da"],
                                        capacity=1, status="approved", approved_at=now, created_at=now))


def bare_rate(system: Any, count: int, name: str = "bare",
              job_variables: dict[str, Any] | None = None) -> dict[str, float]:
    """Prefect's floor: `count` runs of a flow that does nothing, through the same worker (``job_variables``: e.g.
    the command the worker runs for each)."""
    from prefect import Flow

    flow: Flow[Any, Any] = Flow.from_source(str(PROJECT_ROOT), "benchmarks/bare.py:bare")  # type: ignore[assignment]
    deployment_id = flow.deploy(name=name, work_pool_name="hjemtilos", build=False, push=False,
                                job_variables=job_variables or {}, print_next_steps=False, ignore_warnings=True)
    worker = system.worker_pids()[0]
    cpu_before = cpu_seconds(worker)
    start = time.perf_counter()
    with get_client(sync_client=True) as client:
        ids = [client.create_flow_run_from_deployment(deployment_id).id for _ in range(count)]

        def done() -> bool:
            return all(client.read_flow_run(i).state.is_final() for i in ids)  # type: ignore[union-attr]

        wait_until(done, 1800, "the bare runs", every=1.0)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(worker) - cpu_before
        starts = [t for i in ids for t in step_times(client.read_flow_run_states(i))["process_start"]]
    return {"runs": count, "seconds": elapsed, "per_minute": count / elapsed * 60, "cpu_per_run": cpu / count,
            "process_start_median": statistics.median(starts)}


def step_times(states: list[Any]) -> dict[str, list[float]]:
    """Per execution of one run, from its state history: the worker's pick-up (Scheduled → first Pending), the
    new process's start (first Pending → Running; Prefect records Pending twice, from the worker and from the
    engine) and the step itself (Running → Suspended, Paused or Completed)."""
    times: dict[str, list[float]] = {"pickup": [], "process_start": [], "execution": []}
    scheduled = pending = running = None
    for state in sorted(states, key=lambda s: s.timestamp):
        if running is not None:
            times["execution"].append((state.timestamp - running).total_seconds())
            running = None
        if state.type == StateType.SCHEDULED:
            scheduled, pending = state.timestamp, None
        elif state.type == StateType.PENDING and pending is None:
            pending = state.timestamp
            if scheduled is not None:
                times["pickup"].append((pending - scheduled).total_seconds())
        elif state.type == StateType.RUNNING:
            if pending is not None:
                times["process_start"].append((state.timestamp - pending).total_seconds())
            scheduled = pending = None
            running = state.timestamp
    return times


def robot_round(answered: Counter[str], too_early: Counter[str]) -> int:
    """Answer every approval form that waits now; returns how many were answered. A run suspended before its
    form's schema is stored (Prefect's order) is counted in `too_early` and left for the next round."""
    count = 0
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(
            any_=["referral-case"])), limit=200)
        for run in runs:
            state = run.state
            if state is None or not state.is_paused():
                continue
            key = state.state_details.pause_key or ""
            if not key.startswith("approval-") or answered[f"{run.id}:{key}"]:
                continue
            schema = run_schema(client, run)
            if schema is None:
                too_early[f"{run.id}:{key}"] += 1
                continue
            try:
                resume_flow_run(run.id, run_input=robot_answer(key, schema))
            except Exception as exc:  # reported, the next round tries again
                print(f"   robot: {run.name} {key}: {exc.__class__.__name__}: {str(exc)[:300]}", flush=True)
                continue
            answered[f"{run.id}:{key}"] += 1
            count += 1
    return count


def main(cases: int = 20, bare: int = 40, cold: bool = False) -> dict[str, Any]:
    """``cold``: under Prefect's process worker alone (`up --cold`) instead of the warm worker; ``bare``: runs of
    the empty flow measured first (0: none)."""
    results: dict[str, Any] = {"cases": cases, "worker": "process" if cold else "warm"}
    with up_system("year", profile="fast", cold=cold) as system:
        app = system.app()
        time.sleep(5)
        if bare:
            results["bare"] = bare_rate(system, bare)
            print("5. bare process-per-run: {runs} runs in {seconds:.0f} s = {per_minute:.1f} runs/min, "
                  "{cpu_per_run:.2f} CPU s a run, Pending to Running {process_start_median:.2f} s (median)"
                  .format(**results["bare"]), flush=True)

        add_families(app, cases)
        worker = system.worker_pids()[0]
        server = system.server_pid()
        worker_cpu, server_cpu = cpu_seconds(worker), cpu_seconds(server)
        start = time.perf_counter()
        cases_started = intake(app, cases)
        answered: Counter[str] = Counter()
        too_early: Counter[str] = Counter()

        def all_closed() -> bool:
            robot_round(answered, too_early)
            with app.session_factory() as session:
                return session.scalar(select(func.count()).select_from(ReferralCase).where(
                    ReferralCase.status == "closed")) == cases

        wait_until(all_closed, 3600, "every case to reach its farewell", every=0.5)
        elapsed = time.perf_counter() - start
        worker_cpu, server_cpu = cpu_seconds(worker) - worker_cpu, cpu_seconds(server) - server_cpu

        per_step = step_times([])
        with get_client(sync_client=True) as client:
            histories = [client.read_flow_run_states(UUID(run_id)) for _, _, run_id in cases_started]
        steps = sum(1 for states in histories for s in states if s.type == StateType.RUNNING)
        for states in histories:
            for name, values in step_times(states).items():
                per_step[name] += values

        def outbox_drained() -> bool:
            with app.session_factory() as session:
                return session.scalar(select(func.count()).select_from(OutboxMail).where(
                    OutboxMail.status != "sent")) == 0

        wait_until(outbox_drained, 120, "the outbox to drain")
        time.sleep(3)
        caught = Counter(m.message["X-Hjemtilos-Template"] for m in system.mails_caught())
        with app.session_factory() as session:
            sent = Counter(dict(session.execute(select(OutboxMail.template, func.count()).where(
                OutboxMail.status == "sent").group_by(OutboxMail.template)).all()))
            reminders = session.scalar(select(func.coalesce(func.sum(HumanTask.reminders_sent), 0)))
            escalations = session.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.escalated_at.is_not(None)))
            stuck = session.scalar(select(func.count()).select_from(StuckCase))
            # a stuck episode is its case, reason and since; a case that is not stuck for one check and then is
            # again gets a second row for the same episode, and the outbox key sends that episode one mail
            episodes = session.scalar(select(func.count()).select_from(
                select(StuckCase.case_id, StuckCase.reason, StuckCase.since).distinct().subquery()))
        programme = Counter({t: n for t, n in caught.items() if t in PROGRAMME_MAILS})
        expected_programme = Counter({t: n * cases for t, n in PROGRAMME_MAILS.items()})
        reminder_mails = sum(n for t, n in caught.items() if t.endswith("-reminder"))
        results.update({
            "seconds": elapsed, "steps": steps, "steps_per_minute": steps / elapsed * 60,
            "cpu_per_step": worker_cpu / steps, "server_cpu_percent": server_cpu / elapsed * 100,
            "worker_cpu_seconds": worker_cpu, "server_cpu_seconds": server_cpu,
            "mails_caught": sum(caught.values()), "mails_sent_outbox": sum(sent.values()),
            "programme_mails": sum(programme.values()), "programme_expected": sum(expected_programme.values()),
            "programme_exact": programme == expected_programme, "caught_equals_outbox": caught == sent,
            "reminder_mails": reminder_mails, "reminders_recorded": reminders,
            "escalation_mails": caught.get("coordinator-escalation", 0), "escalations_recorded": escalations,
            "stuck_alerts": caught.get("stuck-case-alert", 0), "stuck_recorded": stuck, "stuck_episodes": episodes,
            "supervision_mails": caught.get("supervision-invitation", 0), "robot_answers": sum(answered.values()),
            "robot_rounds_form_not_stored_yet": sum(too_early.values()),
            "step_seconds": {name: {"median": statistics.median(values), "p95": percentile(values, 95)}
                             for name, values in per_step.items() if values},
            "processes_at_end": len(tree(system.pid)),
        })
        print("   {cases} cases, referral to farewell: {seconds:.0f} s, {steps} steps ({steps_per_minute:.1f}/min), "
              "{cpu_per_step:.2f} CPU s a step, server {server_cpu_percent:.0f}% of a core".format(**results),
              flush=True)
        print("   a step, median / p95: " + ", ".join(f"{name} {v['median']:.2f} / {v['p95']:.2f} s" for name, v
                                                   in results["step_seconds"].items()), flush=True)
        print("   mails: {mails_caught} caught = {mails_sent_outbox} sent by the outbox ({caught_equals_outbox}); "
              "programme {programme_mails}/{programme_expected} exact={programme_exact}; reminders "
              "{reminder_mails} (recorded {reminders_recorded}), escalations {escalation_mails} (recorded "
              "{escalations_recorded}), stuck alerts {stuck_alerts} (episodes {stuck_episodes}, rows "
              "{stuck_recorded}), supervision {supervision_mails}".format(**results), flush=True)
        if not results["programme_exact"]:
            print(f"   programme mails differ: {programme - expected_programme} / {expected_programme - programme}")
    return results


if __name__ == "__main__":
    import os

    main(cases=3, bare=6) if os.environ.get("BENCH_QUICK") == "1" else main()
