"""Register the deployments declared in prefect.yaml from this checkout (idempotent: re-running updates them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from hjemtilos import PROJECT_ROOT

WORK_POOL = "hjemtilos"


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


def ensure_work_pool(name: str = WORK_POOL) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def deploy_all(work_pool: str = WORK_POOL) -> dict[str, str]:
    """Deploy every deployment of prefect.yaml to the process work pool; returns name → deployment id."""
    ensure_work_pool(work_pool)
    ids: dict[str, str] = {}
    for spec in read_specs():
        flow: Flow[Any, Any] = Flow.from_source(str(PROJECT_ROOT), spec.entrypoint)  # type: ignore[assignment]
        interval = spec.interval_seconds
        deployment_id = flow.deploy(
            name=spec.name, work_pool_name=work_pool, tags=list(spec.tags), description=spec.description,
            interval=interval, build=False, push=False, print_next_steps=False, ignore_warnings=True,
        )
        ids[spec.name] = str(deployment_id)
    return ids
