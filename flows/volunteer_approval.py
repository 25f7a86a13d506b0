"""The volunteer-approval flow: one run per family, from home visit to the coordinator's approval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow
from prefect.context import FlowRunContext

from casework.steps import FamilyStatus, StepOutcome
from flows.approvals import await_answer
from hjemtilos.approvals import SubmitResult
from hjemtilos.volunteers.screening import FamilyAnswer, FamilyApprovalView, FamilyStep, answer_model
from tasks.case_tasks import tag_waiting_run
from tasks.family_tasks import open_family_approval, read_family_info, record_family_approval, skip_family_round
from tasks.timekeeper_tasks import wake_family_waits


@dataclass(frozen=True)
class FamilyApproval:
    """A family's screening step as its run waits on it (``flows.approvals.AwaitedStep``)."""

    family_id: int
    kind: FamilyStep
    run_id: str | None

    def open(self) -> FamilyApprovalView:
        return open_family_approval(self.family_id, self.kind)

    def form_model(self, current: FamilyApprovalView) -> type[FamilyAnswer]:
        return answer_model(current)

    def initial(self, current: FamilyApprovalView) -> dict[str, Any]:
        return {}

    def record(self, round_: int, answer: FamilyAnswer) -> SubmitResult:
        return record_family_approval(self.family_id, self.kind, round_, answer)

    def skip(self, round_: int) -> None:
        skip_family_round(self.family_id, self.kind, round_)

    def before_suspend(self, current: FamilyApprovalView) -> None:
        if self.run_id:
            tag_waiting_run(self.run_id, f"volunteer-{self.kind}", "coordinator", family=True)


def await_family_approval(family_id: int, kind: FamilyStep, run_id: str | None) -> str | None:
    return await_answer(FamilyApproval(family_id, kind, run_id)).outcome


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
