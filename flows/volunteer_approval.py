"""The volunteer-approval flow: one run per family, from home visit to the coordinator's approval."""

from __future__ import annotations

from prefect import flow
from prefect.context import FlowRunContext

from casework.steps import FamilyStatus, StepOutcome
from flows.approvals import await_answer
from hjemtilos.volunteers import FamilyApprovalView, FamilyStep, answer_model
from tasks.case_tasks import tag_waiting_run
from tasks.family_tasks import open_family_approval, read_family_info, record_family_approval, skip_family_round
from tasks.timekeeper_tasks import wake_family_waits


def await_family_approval(family_id: int, kind: FamilyStep, run_id: str | None) -> str | None:
    def before_suspend(_: FamilyApprovalView) -> None:
        if run_id:
            tag_waiting_run(run_id, f"volunteer-{kind}", "coordinator", family=True)

    return await_answer(lambda: open_family_approval(family_id, kind), answer_model, lambda _: {},
                        lambda round_, answer: record_family_approval(family_id, kind, round_, answer),
                        lambda round_: skip_family_round(family_id, kind, round_), before_suspend).outcome


@flow(name="volunteer-approval", persist_result=False, log_prints=False)
def volunteer_approval(family_id: int) -> str:
    """Screen one volunteer family. The only parameter is the family id."""
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    info = read_family_info(family_id, run_id)
    if info.status in (FamilyStatus.APPROVED, FamilyStatus.REJECTED):
        return info.status.value
    if await_family_approval(family_id, FamilyStep.HOME_VISIT, run_id) == StepOutcome.REJECTED:
        return "rejected"
    outcome = await_family_approval(family_id, FamilyStep.FAMILY_APPROVAL, run_id)
    if outcome == StepOutcome.APPROVED:
        wake_family_waits()  # cases waiting for a family can go on at once
    return outcome or "unknown"
