"""Benchmark 8: what one flow-run execution costs with each way the worker can start it (issue 16, item 1).

The same `hjemtilos up` system and worker run the bare flow (it does nothing) under two deployments: Prefect's
default command (`python -m prefect.runner._workspace_supervisor`, which then starts `python -m prefect.engine`:
two interpreters) and ours (`python -m hjemtilos.host.flow_process`: Prefect's engine in one interpreter, tied to its
owners). Alternating batches, so both see the same machine.

Since issue 25 the work pool's template fixes the command (a run's job_variables cannot choose it), so both
deployments now run our command: to measure Prefect's default again, run this against a pool created with
Prefect's own template (``prefect work-pool create --type process``) and a worker on it."""

from __future__ import annotations

from typing import Any

from benchmarks.harness import up_system
from benchmarks.year import bare_rate


def main(count: int = 20, rounds: int = 2) -> dict[str, Any]:
    from flows.deployments import flow_run_command

    commands = {"prefect-default": {}, "flow-process": {"command": flow_run_command()}}
    results: dict[str, Any] = {name: [] for name in commands}
    with up_system("launch", profile="fast") as system:
        for _ in range(rounds):
            for name, variables in commands.items():
                figures = bare_rate(system, count // rounds, name=f"bare-{name}", job_variables=variables)
                results[name].append(figures)
                print(f"8. {name}: {figures['cpu_per_run']:.2f} CPU s a run, {figures['per_minute']:.1f} runs/min, "
                      f"process start median {figures['process_start_median']:.2f} s", flush=True)
    summary: dict[str, Any] = {}
    for name, batches in results.items():
        runs = sum(b["runs"] for b in batches)
        summary[name] = {
            "runs": runs,
            "cpu_per_run": sum(b["cpu_per_run"] * b["runs"] for b in batches) / runs,
            "per_minute": sum(b["per_minute"] * b["runs"] for b in batches) / runs,
            "process_start_median": sorted(b["process_start_median"] for b in batches)[len(batches) // 2],
        }
    return summary
