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
    becomes Prefect's engine in one interpreter, tied to its owners (hjemtilos/host/flow_process.py). This checkout's
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


# An automation earlier versions created to mark silent runs Crashed. Removed at every start: it took suspended
# runs for dead ones after a server start (the reason: PrefectOrchestrator.crash_silent_runs, which replaces it).
RETIRED_AUTOMATION = "hjemtilos: crash silent runs"


def remove_retired_automation() -> bool:
    """Delete the retired "crash silent runs" automation if this server still has it. Idempotent."""
    from prefect.automations import Automation

    try:
        automation: Any = Automation.read(name=RETIRED_AUTOMATION)  # sync_compatible: the Automation here
    except (ValueError, ObjectNotFound):
        return False
    return bool(automation.delete())


def deploy_all(work_pool: str = WORK_POOL) -> dict[str, str]:
    """Deploy every deployment of prefect.yaml to the process work pool; returns name → deployment id.
    Also ensures the work pool (with our job template) and removes the retired silent-run automation."""
    ensure_work_pool(work_pool)
    remove_retired_automation()
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
