"""Benchmark 6: idle CPU of the Prefect server holding many suspended runs, with Prefect's default service loops
against the project's settings (the pause-expiration loop every 3600 s: no suspension here has a timeout; late
runs, recent deployments and worker liveness every 30 s; cancellation cleanup and lease repossession every 60 s).
Same database, same machine, one run after the other; CPU in windows from the server's start."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import cpu_seconds, free_port
from hjemtilos.host import prefect_processes as system
from hjemtilos.settings import Settings

LOOPS = "PREFECT_SERVER_SERVICES_"  # the service loops `up` sets (hjemtilos.host.prefect_processes.prefect_env)


async def _suspend_many(deployment_id: str, count: int, concurrency: int = 2) -> int:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.states import Suspended

    created = 0
    async with get_client() as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            nonlocal created
            async with semaphore:
                await client.create_flow_run_from_deployment(
                    UUID(deployment_id), parameters={"case_id": 0}, name=f"idle-{index:05d}",
                    state=Suspended(timeout_seconds=None, pause_key="approval-screening-r1"))
                created += 1

        await asyncio.gather(*(one(i) for i in range(count)))
    return created


def _server(env: dict[str, str], port: int) -> Any:
    process = system.start_server(env)
    system.wait_healthy(f"http://127.0.0.1:{port}/api")
    return process


def _cpu_windows(pid: int, total: float, window: float) -> list[float]:
    """The server's CPU (% of a core) in consecutive windows from its start: startup work shows in the first."""
    windows = []
    before = cpu_seconds(pid)
    for _ in range(int(total // window)):
        time.sleep(window)
        after = cpu_seconds(pid)
        windows.append((after - before) / window * 100)
        before = after
    return windows


def main(runs: int = 5000, seconds: float = 60.0, settle: float = 60.0, window: float = 20.0) -> dict[str, Any]:
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    results: dict[str, Any] = {"runs": runs, "seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        endpoints = system.Endpoints("127.0.0.1", free_port())
        env = system.prefect_env(settings, endpoints)
        server = _server(env, endpoints.port)
        try:
            with temporary_settings(updates={PREFECT_API_URL: endpoints.api_url,
                                             PREFECT_API_AUTH_STRING: env["PREFECT_API_AUTH_STRING"]}):
                from flows.deployments import deploy_all

                deployment_id = deploy_all()["referral-case"]
                start = time.perf_counter()
                created = asyncio.run(_suspend_many(deployment_id, runs))
                print(f"6. {created} suspended runs created in {time.perf_counter() - start:.0f} s", flush=True)
        finally:
            system.stop(server)
        for label, project in (("Prefect defaults", False), ("project settings", True)):
            variant = {k: v for k, v in env.items() if project or not k.startswith(LOOPS)}
            server = _server(variant, endpoints.port)
            try:
                windows = _cpu_windows(server.pid, settle + seconds, window)
            finally:
                system.stop(server)
            steady = windows[int(settle // window):]
            results[label] = sum(steady) / len(steady)
            results[f"{label}, windows"] = windows
            print(f"   idle server CPU, {label}: {results[label]:.1f}% of a core after {settle:.0f} s "
                  f"(each {window:.0f} s from start: {', '.join(f'{w:.1f}' for w in windows)})", flush=True)
        results["settle"] = settle
        results["window"] = window
    return results


if __name__ == "__main__":
    import os

    main(runs=300, seconds=20, settle=20, window=10) if os.environ.get("BENCH_QUICK") == "1" else main()
