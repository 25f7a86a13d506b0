"""Tasks of the volunteer-approval flow."""

from __future__ import annotations

from hjemtilos import volunteers
from hjemtilos.approvals import SubmitResult
from hjemtilos.volunteers.screening import FamilyAnswer
from tasks.runtime import db_task, get_app, utcnow


@db_task
def read_family_info(family_id: int, flow_run_id: str | None) -> volunteers.FamilyInfo:
    app = get_app()
    if flow_run_id:
        volunteers.record_family_run(app, family_id, flow_run_id)
    return volunteers.family_info(app, family_id)


@db_task
def open_family_approval(family_id: int, kind: volunteers.FamilyStep) -> volunteers.FamilyApprovalView:
    return volunteers.prepare_family_approval(get_app(), family_id, kind, utcnow())


@db_task
def record_family_approval(family_id: int, kind: volunteers.FamilyStep, round_: int,
                           answer: FamilyAnswer) -> SubmitResult:
    return volunteers.submit_family_approval(get_app(), family_id, kind, round_, answer, utcnow())


@db_task
def skip_family_round(family_id: int, kind: volunteers.FamilyStep, round_: int) -> None:
    volunteers.skip_family_round(get_app(), family_id, kind, round_, utcnow())
