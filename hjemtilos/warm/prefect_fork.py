"""Everything the warm worker needs from Prefect beyond its public surface, in one place (Prefect 3.9): what the
zygote imports ahead, and how a forked child becomes a flow-run process. tests/unit/test_warm_prefect_surface.py
fails loudly when a Prefect upgrade moves any of it.

A forked child must not inherit what Prefect computed in the zygote from the zygote's environment: it rebuilds the
global settings context from its own (the worker's) environment, runs ``prefect.engine``'s ``__main__`` block as
``python -m prefect.engine`` would (the engine reads ``PREFECT__FLOW_RUN_ID`` and the control channel's variables),
drains Prefect's log and event workers so that every log line and event reaches the server, and leaves with
``os._exit`` instead of interpreter shutdown, which would join the flow heartbeat thread and wait out its sleep.
"""

from __future__ import annotations

import importlib
import os
import runpy
import traceback
import warnings
from typing import Any

__all__ = ["PRELOADED", "PRELOAD_ENV", "preload", "run_engine"]

PRELOAD_ENV = "HJEMTILOS_WARM_PRELOAD"

# imported by the zygote once; the flows (loaded from their entrypoints for every run) find their imports warm
PRELOADED = ("prefect", "prefect.engine", "prefect.flow_engine", "prefect.task_engine", "prefect.flows",
             "prefect.input.run_input", "prefect.logging.handlers", "prefect.events.worker",
             "prefect.client.orchestration", "prefect.runner.storage", "prefect._internal.control_listener",
             "prefect._internal.metrics", "sqlalchemy", "sqlalchemy.orm", "psycopg", "jinja2", "emails",
             "flows.referral_case", "flows.volunteer_approval", "flows.end_case", "flows.timekeeper")


def preload() -> list[str]:
    """Import what every flow run needs (and the modules ``HJEMTILOS_WARM_PRELOAD`` names, comma-separated);
    returns the modules imported."""
    names = [*PRELOADED, *(n.strip() for n in os.environ.get(PRELOAD_ENV, "").split(",") if n.strip())]
    for name in names:
        importlib.import_module(name)
    return names


def refresh_settings() -> None:
    """Prefect's global settings, rebuilt from this process's environment (the fork inherited the zygote's)."""
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()


def drain() -> None:
    """Send what Prefect's background workers still hold (logs, events) before the process leaves."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # noqa: BLE001 - a failed drain must not change the run's exit code
            pass


def record_pid() -> None:
    """Name this forked process as the run's infrastructure (Prefect's worker recorded the client's PID: the
    process it started). Best effort: a run must not fail over its label."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(os.environ["PREFECT__FLOW_RUN_ID"]), infrastructure_pid=str(os.getpid()))
    except Exception:  # noqa: BLE001 - the client's PID stays on the run; its signals reach this process anyway
        pass


def run_engine() -> int:
    """Run the flow run named by ``PREFECT__FLOW_RUN_ID`` on this thread; returns the engine's exit code."""
    refresh_settings()
    record_pid()
    code: Any = 0
    try:
        with warnings.catch_warnings():  # runpy's note that prefect.engine was imported (by the zygote, on purpose)
            warnings.filterwarnings("ignore", category=RuntimeWarning, message=".*found in sys.modules")
            runpy.run_module("prefect.engine", run_name="__main__", alter_sys=False)
    except SystemExit as exc:  # the engine exits 0 for a pause or an abort, 1 for an unexpected error
        code = exc.code
    except BaseException:  # noqa: BLE001 - what the engine re-raises (it has logged it): the run crashed
        traceback.print_exc()
        code = 1
    finally:
        drain()
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
