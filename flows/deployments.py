"""Register the deployments declared in prefect.yaml from this checkout (idempotent: re-running updates them)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import yaml
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from hjemtilos import PROJECT_ROOT

WORK_POOL = "hjemtilos"


def flow_run_command() -> str:
    """What the worker runs for each flow run: the warm worker's client (hjemtilos/warm/client.py, standard library
    only, so ``-I -S``), which has the run forked by the zygote of a warm worker; under a plain process worker it
    becomes Prefect's engine in one interpreter, tied to its owners (hjemtilos/flow_process.py). This checkout's
    Python either way."""
    from prefect.utilities.processutils import command_to_string

    from hjemtilos.warm import client

    return command_to_string([sys.executable, "-I", "-S", client.__file__])


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str
    tags: tuple[str, ...]
    description: str
    interval_seconds: float | None


def read_specs() -> list[DeploymentSpec]:
    config = yaml.safe_load((PROJECT_ROOT / "prefect.yaml").read_text())
    specs = []
    for item in config["deployments"]:
        schedules = item.get("schedules") or []
        interval = schedules[0].get("interval") if schedules else None
        specs.append(DeploymentSpec(item["name"], item["entrypoint"], tuple(item.get("tags", [])),
                                    item.get("description", ""), interval))
    return specs


def base_job_template() -> dict[str, Any]:
    """Prefect's process-worker template with what a run could choose about its own execution taken out: the
    command is fixed to ours (``flow_run_command``), the environment and working folder are the worker's, so a
    run's ``job_variables`` (from the API, a deployment or a browser) cannot make the worker run anything else.
    What is left to vary: the process name, labels and whether output is streamed."""
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["job_configuration"].update(command=flow_run_command(), env={}, working_dir=None)
    properties = template["variables"]["properties"]
    for fixed in ("command", "env", "working_dir"):
        properties.pop(fixed, None)
    template["variables"]["required"] = [name for name in template["variables"].get("required", [])
                                         if name in properties]
    return template


def ensure_work_pool(name: str = WORK_POOL) -> None:
    """Create the process work pool, or put our job template on an existing one (idempotent)."""
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate

    template = base_job_template()
    with get_client(sync_client=True) as client:
        try:
            pool = client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
            return
        if pool.base_job_template != template:
            client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))


CRASH_SILENT_RUNS = "hjemtilos: crash silent runs"
SILENT_AFTER_SECONDS = 300  # five missed heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY=60, hjemtilos/system.py)
# Every state a run can leave Running for: a run that stops heartbeating in one of these is not silent.
_LEFT_RUNNING = ("Completed", "Failed", "Cancelled", "Crashed", "Cancelling", "Suspended", "Paused", "Scheduled",
                 "Resuming", "Pending", "AwaitingRetry")


def ensure_crash_silent_runs() -> str:
    """Prefect's zombie-run automation: a case run whose process stopped heartbeating (its worker or machine
    died) is marked Crashed; the timekeeper then reschedules it. With several workers no worker may reschedule
    Running runs at start, so this is how their orphans are found. Idempotent (looked up by name)."""
    from datetime import timedelta

    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        # sync_compatible: called outside an event loop it returns the Automation, not a coroutine
        return str(Automation.read(name=CRASH_SILENT_RUNS).id)  # type: ignore[attr-defined]
    except (ValueError, ObjectNotFound):
        pass
    automation = Automation(
        name=CRASH_SILENT_RUNS,
        description="Marks a flow run Crashed when its process stopped sending heartbeats (a dead worker).",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{state}" for state in _LEFT_RUNNING)},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=SILENT_AFTER_SECONDS),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed",
                                    message="No heartbeat: its worker or machine stopped.")],
    )
    return str(automation.create().id)  # type: ignore[union-attr]  # sync_compatible, as above


def deploy_all(work_pool: str = WORK_POOL, crash_silent_runs: bool = False) -> dict[str, str]:
    """Deploy every deployment of prefect.yaml to the process work pool; returns name → deployment id.
    Also ensures the work pool and, with ``crash_silent_runs`` (several workers, PostgreSQL-backed Prefect), the
    automation that marks runs of dead workers Crashed. Not on SQLite: evaluating it on every flow-run event made
    the SQLite server answer 503 to 40% of flow-run creations (benchmarks/RESULTS.md, intake)."""
    ensure_work_pool(work_pool)
    if crash_silent_runs:
        ensure_crash_silent_runs()
    ids: dict[str, str] = {}
    for spec in read_specs():
        flow: Flow[Any, Any] = Flow.from_source(str(PROJECT_ROOT), spec.entrypoint)  # type: ignore[assignment]  # sync_compatible
        interval = spec.interval_seconds
        deployment_id = flow.deploy(
            name=spec.name, work_pool_name=work_pool, tags=list(spec.tags), description=spec.description,
            interval=interval, build=False, push=False,
            print_next_steps=False, ignore_warnings=True,
        )
        ids[spec.name] = str(deployment_id)
    return ids
