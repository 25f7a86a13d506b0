"""Benchmark 10 (issue 16): the warm worker (the default: Prefect's process worker beside a zygote that forks each
flow run) against Prefect's process worker alone (`hjemtilos up --cold`: a new interpreter a step), in the same
run, on the same machine, alternating:

- approval latency: resumes one at a time, from `resume_flow_run(..., run_input=...)` to the screening decision in
  the case database, p50 and p95, on SQLite and on PostgreSQL;
- CPU seconds a step: the worker's whole tree (client, zygote and forked runs, or flow processes) over those steps;
- the burst: many resumes at once, until every next step ran;
- the fast-profile year of the cases (steps a minute, wall);
- memory of the idle worker (PSS of its processes: with the zygote, or alone).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks import year
from benchmarks.harness import (
    cpu_seconds,
    drive_many,
    intake,
    median_memory,
    percentile,
    pg_database,
    set_pool_paused,
    up_system,
)
from benchmarks.office import burst, latency
from hjemtilos.db.migrate import upgrade

MODES = (("process worker", True), ("warm worker", False))
# pick-up: the worker polls Prefect every second (PREFECT_WORKER_QUERY_SECONDS); what a faster poll buys
POLL_VARIANT = ("warm worker, poll 0.25 s", False, {"PREFECT_WORKER_QUERY_SECONDS": "0.25"})


def office(database: str, cold: bool, latency_count: int, burst_count: int,
           env: dict[str, str] | None = None) -> dict[str, Any]:
    import time

    with ExitStack() as stack:
        options: dict[str, Any] = {"cold": cold}
        if database == "PostgreSQL":
            options["prefect_database_url"] = stack.enter_context(pg_database("prefect_bench_warm"))
            case_url = stack.enter_context(pg_database("hjemtilos_bench_warm"))
            upgrade(case_url)
            options["case_database_url"] = case_url
            extra = dict(env or {})
        else:
            extra = {"HJEMTILOS_EMBEDDED_DATABASE": "sqlite", **(env or {})}
        with up_system("warm", extra_env={"PREFECT_SERVER_LOGGING_LEVEL": "INFO", **extra}, **options) as system:
            app = system.app()
            time.sleep(8)
            worker = system.worker_pids()[0]
            idle = median_memory([worker])
            set_pool_paused(True)
            cases = intake(app, latency_count + burst_count)
            keys = drive_many(system, [run_id for _, _, run_id in cases])
            assert set(keys) == {"approval-screening-r1"}, set(keys)
            set_pool_paused(False)
            time.sleep(3)
            before = cpu_seconds(worker)
            seconds = latency(app, cases[:latency_count])
            time.sleep(3)  # the last step's process finishes its exit
            cpu = cpu_seconds(worker) - before
            crowd = burst(app, cases[latency_count:], Path(system.data_dir) / "up.log")
    result = {"idle_worker": asdict(idle), "latency": {"count": len(seconds), "p50": percentile(seconds, 50),
                                                        "p95": percentile(seconds, 95), "max": max(seconds)},
              "cpu_per_step": cpu / max(1, len(seconds)), "burst": crowd}
    print(f"10. {database}, {'process' if cold else 'warm'} worker {env or ''}: latency p50 {result['latency']['p50']:.2f} s "
          f"p95 {result['latency']['p95']:.2f} s, {result['cpu_per_step']:.2f} CPU s a step, burst of "
          f"{crowd['count']} {crowd['all_next_steps_s']:.1f} s (failed/crashed {crowd['failed_or_crashed_states']}), "
          f"idle worker {idle.processes} processes {idle.pss_mb:.0f} MB", flush=True)
    return result


def main(latency_count: int = 30, burst_count: int = 50, year_cases: int = 20,
         databases: tuple[str, ...] = ("SQLite", "PostgreSQL"), poll_variant: bool = True) -> dict[str, Any]:
    results: dict[str, Any] = {"office": {}, "year": {}}
    for database in databases:
        results["office"][database] = {}
        variants = [(name, cold, None) for name, cold in MODES]
        if poll_variant and database == "PostgreSQL":
            variants.append(POLL_VARIANT)
        for name, cold, env in variants:
            try:
                results["office"][database][name] = office(database, cold, latency_count, burst_count, env)
            except Exception as exc:
                results.setdefault("errors", []).append(f"{database}, {name}: {exc.__class__.__name__}: {exc}")
                print(f"10. {database}, {name}: failed: {exc}", flush=True)
    for name, cold in MODES:
        try:
            figures = year.main(cases=year_cases, bare=0, cold=cold)
        except Exception as exc:
            results.setdefault("errors", []).append(f"year, {name}: {exc.__class__.__name__}: {exc}")
            continue
        results["year"][name] = {k: figures[k] for k in ("cases", "seconds", "steps", "steps_per_minute",
                                                        "cpu_per_step", "programme_exact") if k in figures}
        print(f"10. year of {year_cases} cases, {name}: {figures['seconds']:.0f} s, "
              f"{figures['steps_per_minute']:.1f} steps a minute, {figures['cpu_per_step']:.2f} CPU s a step",
              flush=True)
    return results
