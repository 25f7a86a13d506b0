"""Tasks of the volunteer-approval flow."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from hjemtilos import programme, volunteers
from tasks.runtime import get_app, utcnow

DB_TASK = dict(retries=3, retry_delay_seconds=[1, 5, 15], cache_policy=NO_CACHE, persist_result=False)


@task(name="read_family_info", **DB_TASK)  # type: ignore[call-overload]
def read_family_info(family_id: int, flow_run_id: str | None) -> volunteers.FamilyInfo:
    app = get_app()
    if flow_run_id:
        volunteers.record_family_run(app, family_id, flow_run_id)
    return volunteers.family_info(app, family_id)


@task(name="open_family_approval", **DB_TASK)  # type: ignore[call-overload]
def open_family_approval(family_id: int, kind: str) -> volunteers.FamilyApprovalView:
    return volunteers.prepare_family_approval(get_app(), family_id, kind, utcnow())


@task(name="record_family_approval", **DB_TASK)  # type: ignore[call-overload]
def record_family_approval(family_id: int, kind: str, round_: int, data: dict[str, Any]) -> programme.SubmitResult:
    return volunteers.submit_family_approval(get_app(), family_id, kind, round_, data, utcnow())


@task(name="skip_family_round", **DB_TASK)  # type: ignore[call-overload]
def skip_family_round(family_id: int, kind: str, round_: int) -> None:
    volunteers.skip_family_round(get_app(), family_id, kind, round_, utcnow())
