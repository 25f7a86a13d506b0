"""Benchmarks 1, 2, 3 and 7 on one running system (`hjemtilos up`, production profile, SQLite-backed Prefect as
shipped by default):

1. waiting cost: memory and processes of the whole system idle, with N cases waiting, and the naive design
   (`pause_flow_run`, a process per waiting case) measured in the same run;
2. intake: referrals through the real intake path against the server's raw flow-run-creation rate;
3. approval latency: resumes one at a time, from `resume_flow_run(..., run_input=...)` to the next step's side
   effect in the case database;
7. burst: many resumes at once; time until every next step ran, and whether any run failed or crashed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run
from sqlalchemy import func, select

from benchmarks.harness import (
    TreeMemory,
    drive_many,
    intake,
    median_memory,
    percentile,
    pg_database,
    set_pool_paused,
    tree,
    up_system,
    wait_until,
)
from hjemtilos import PROJECT_ROOT
from hjemtilos.db.migrate import upgrade
from hjemtilos.db.models import AuditEvent

NAIVE_FLOW = """
from prefect import flow
from prefect.flow_runs import pause_flow_run

@flow(name="naive-wait")
def naive_wait():
    pause_flow_run(timeout=3600, poll_interval=10, key="approval")

naive_wait()
"""


def breakdown(pid: int) -> dict[str, float]:
    """PSS per process of the system: the `up` process (timekeeper, form, mail), server, worker(s)."""
    result: dict[str, float] = {}
    for process in tree(pid):
        try:
            cmd = " ".join(process.cmdline())
            pss = process.memory_full_info().pss / 2**20
        except Exception:
            continue
        name = "server" if "server start" in cmd else "worker" if "worker start" in cmd else \
            "up (timekeeper, form, mail)" if " up" in cmd else cmd[:40]
        result[name] = result.get(name, 0.0) + pss
    return result


def deployment_id() -> UUID:
    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name("referral-case/referral-case").id


def raw_creation_rate(count: int) -> float:
    """Flow runs per second the server creates for the referral-case deployment, nothing else done."""
    dep = deployment_id()
    created = []
    with get_client(sync_client=True) as client:
        start = time.perf_counter()
        for index in range(count):
            created.append(client.create_flow_run_from_deployment(
                dep, parameters={"case_id": 0}, name=f"raw-{index}", tags=["benchmark"]).id)
        elapsed = time.perf_counter() - start
        for run_id in created:  # never to be executed
            client.delete_flow_run(run_id)
    return count / elapsed


def bench_intake(app: Any, count: int) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
    raw_before = raw_creation_rate(count // 2)
    start = time.perf_counter()
    cases = intake(app, count)
    intake_rate = count / (time.perf_counter() - start)
    raw_after = raw_creation_rate(count // 2)
    floor = statistics.mean([raw_before, raw_after])
    return {"count": count, "intake_per_s": intake_rate, "raw_per_s": floor,
            "raw_runs": (raw_before, raw_after), "ratio": floor / intake_rate}, cases


def naive_processes(system: Any, count: int) -> TreeMemory:
    """The naive design: `count` flow processes, each holding one case with pause_flow_run."""
    script = Path(system.data_dir) / "naive_wait.py"
    script.write_text(NAIVE_FLOW)
    env = dict(system.env, PREFECT_API_URL=system.api_url, PREFECT_HOME=str(Path(system.data_dir) / "prefect"))
    processes = [subprocess.Popen([sys.executable, str(script)], env=env, cwd=PROJECT_ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]
    try:
        def all_paused() -> bool:
            from prefect.client.schemas.filters import (
                FlowFilter,
                FlowFilterName,
                FlowRunFilter,
                FlowRunFilterState,
                FlowRunFilterStateType,
            )
            from prefect.client.schemas.objects import StateType

            with get_client(sync_client=True) as client:
                runs = client.read_flow_runs(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=["naive-wait"])),
                    flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.PAUSED]))), limit=count + 10)
            return len(runs) >= count

        wait_until(all_paused, 600, f"{count} naive paused processes")
        time.sleep(3)
        return median_memory([p.pid for p in processes], samples=3)
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=30)


def latency(app: Any, cases: list[tuple[int, str, str]]) -> list[float]:
    """Resume one case at a time; seconds from the resume call to the screening decision in the case DB."""
    seconds = []
    for case_id, _reference, run_id in cases:
        resumed_at = datetime.now(UTC)
        resume_flow_run(UUID(run_id), run_input={"decision": "godkend"})

        def decided(case_id: int = case_id) -> bool:
            with app.session_factory() as session:
                return session.scalar(select(func.count()).select_from(AuditEvent).where(
                    AuditEvent.case_id == case_id, AuditEvent.action == "task-completed")) > 0

        wait_until(decided, 120, "the next step", every=0.05)
        with app.session_factory() as session:
            at = session.scalar(select(AuditEvent.at).where(AuditEvent.case_id == case_id,
                                                            AuditEvent.action == "task-completed"))
        seconds.append((at - resumed_at).total_seconds())
    return seconds


def burst(app: Any, cases: list[tuple[int, str, str]], server_log: Path) -> dict[str, Any]:
    """Resume all at once; time until every case reached consent; runs that failed or crashed; 503s logged."""
    from prefect.client.schemas.objects import StateType

    ids = [case_id for case_id, _, _ in cases]
    log_before = server_log.read_bytes().count(b'" 503')
    start = time.perf_counter()
    for _case_id, _reference, run_id in cases:
        resume_flow_run(UUID(run_id), run_input={"decision": "godkend"})
    resumed = time.perf_counter() - start

    def all_decided() -> bool:
        with app.session_factory() as session:
            return session.scalar(select(func.count(func.distinct(AuditEvent.case_id))).where(
                AuditEvent.case_id.in_(ids), AuditEvent.action == "task-completed")) == len(ids)

    wait_until(all_decided, 900, "every resumed case's next step", every=0.2)
    all_done = time.perf_counter() - start

    def all_waiting_again() -> bool:
        with get_client(sync_client=True) as client:
            states = [client.read_flow_run(UUID(run_id)).state for _, _, run_id in cases]
        return all(s is not None and s.is_paused() and s.state_details.pause_key == "approval-consent-r1"
                   for s in states)

    wait_until(all_waiting_again, 900, "every burst case to wait on consent")
    settled = time.perf_counter() - start
    with get_client(sync_client=True) as client:
        bad = sum(1 for _, _, run_id in cases for s in client.read_flow_run_states(UUID(run_id))
                  if s.type in (StateType.CRASHED, StateType.FAILED))
    return {"count": len(cases), "resume_calls_s": resumed, "all_next_steps_s": all_done, "settled_s": settled,
            "failed_or_crashed_states": bad, "server_503_lines": server_log.read_bytes().count(b'" 503') - log_before}


def main(waiting: tuple[int, ...] = (200, 1000), naive: int = 20, intake_count: int = 1000,
         latency_count: int = 50, burst_count: int = 50, postgresql: bool = False,
         embedded: bool = False) -> dict[str, Any]:
    """``postgresql``: the Prefect server and the case database on an external PostgreSQL (scratch databases);
    ``embedded``: on the embedded PostgreSQL `hjemtilos up` runs (the default); neither: on SQLite."""
    with ExitStack() as stack:
        options: dict[str, Any] = {}
        if postgresql:
            options["prefect_database_url"] = stack.enter_context(pg_database("prefect_bench"))
            case_url = stack.enter_context(pg_database("hjemtilos_bench"))
            upgrade(case_url)
            options["case_database_url"] = case_url
        elif not embedded:
            options["extra_env"] = {"HJEMTILOS_EMBEDDED_DATABASE": "sqlite"}
        label = "embedded PostgreSQL" if embedded else "PostgreSQL" if postgresql else "SQLite"
        print(f"# office benchmarks, Prefect and case database on {label}", flush=True)
        return _run(label, waiting, naive, intake_count, latency_count, burst_count, options)


def _run(label: str, waiting: tuple[int, ...], naive: int, intake_count: int, latency_count: int,
         burst_count: int, options: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {"database": label}
    # the server logs requests so that 503s can be counted
    extra_env = {"PREFECT_SERVER_LOGGING_LEVEL": "INFO", **options.pop("extra_env", {})}
    with up_system("office", extra_env=extra_env, **options) as system:
        app = system.app()
        time.sleep(10)
        idle = median_memory([system.pid])
        results["idle"] = asdict(idle)
        print(f"idle system: {idle.processes} processes, {idle.pss_mb:.0f} MB", flush=True)
        print("   " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in breakdown(system.pid).items()))

        set_pool_paused(True)
        needed = max([*waiting, latency_count + burst_count])
        print(f"2. intake: {max(intake_count, needed)} referrals ...", flush=True)
        results["intake"], cases = bench_intake(app, max(intake_count, needed))
        print("   intake {intake_per_s:.1f}/s, raw flow-run creation {raw_per_s:.1f}/s, ratio {ratio:.2f}".format(
            **results["intake"]), flush=True)

        results["waiting"] = {}
        driven = 0
        start = time.perf_counter()
        for n in sorted(waiting):
            keys = drive_many(system, [run_id for _, _, run_id in cases[driven:n]])
            assert set(keys) == {"approval-screening-r1"}, set(keys)
            driven = n
            memory = median_memory([system.pid])
            results["waiting"][n] = asdict(memory)
            print("   " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in breakdown(system.pid).items()))
            print(f"1. {n} cases waiting: {memory.processes} processes, {memory.pss_mb:.0f} MB "
                  f"({memory.pss_mb / idle.pss_mb:.3f}x idle; driven in {time.perf_counter() - start:.0f} s)",
                  flush=True)
        results["drive_seconds_per_case"] = (time.perf_counter() - start) / max(driven, 1)
        if naive and waiting:
            naive_memory = naive_processes(system, naive)
            per_case = naive_memory.pss_mb / naive
            results["naive"] = {"measured": naive, "pss_mb": naive_memory.pss_mb, "per_case_mb": per_case,
                                "ratios": {n: (idle.pss_mb + n * per_case) / idle.pss_mb for n in waiting}}
            print(f"   naive: {naive} pause_flow_run processes {naive_memory.pss_mb:.0f} MB ({per_case:.0f} MB a "
                  "case)", flush=True)

        set_pool_paused(False)
        time.sleep(3)
        if not latency_count:
            return results
        print(f"3. approval latency over {latency_count} resumes ...", flush=True)
        seconds = latency(app, cases[:latency_count])
        results["latency"] = {"count": len(seconds), "p50": percentile(seconds, 50), "p95": percentile(seconds, 95),
                              "max": max(seconds)}
        print("   p50 {p50:.2f} s, p95 {p95:.2f} s, max {max:.2f} s".format(**results["latency"]), flush=True)

        print(f"7. burst of {burst_count} resumes ...", flush=True)
        server_log = Path(system.data_dir) / "up.log"
        results["burst"] = burst(app, cases[latency_count:latency_count + burst_count], server_log)
        print("   all next steps after {all_next_steps_s:.1f} s, settled {settled_s:.1f} s, failed/crashed "
              "{failed_or_crashed_states}, 503 lines {server_503_lines}".format(**results["burst"]), flush=True)
    return results


if __name__ == "__main__":
    quick = os.environ.get("BENCH_QUICK") == "1"
    pg = os.environ.get("BENCH_PG") == "1"
    main(waiting=(20, 50), naive=5, intake_count=60, latency_count=5, burst_count=10, postgresql=pg) if quick \
        else main(postgresql=pg)
