"""The referral-case flow: one run per referral walks the programme year.

Its steps write their mails to the outbox in the step's own transaction; ``hjemtilos up`` delivers them (within a
couple of seconds), never the flow process, so a worker killed mid-step cannot leave a mail half-sent.

The run re-executes from the top whenever it resumes; every step asks the case database whether it is
done, so finished work is skipped. Approvals suspend the run with a form; timers suspend it until the
timekeeper resumes it. No flow-level retries (a flow retry would start over without the suspend keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run

from casework.steps import FINISHED_CASE, ApprovalKind, StepOutcome, TimerKind
from flows.approvals import await_answer
from hjemtilos import cases
from hjemtilos.cases.timers import family_wait_key, timer_key
from tasks.case_tasks import (
    attach_case_run,
    begin_early_ending,
    check_family_available,
    check_timer,
    close_year,
    finish_early_ending,
    open_approval,
    read_case_info,
    record_approval,
    skip_approval_round,
    tag_waiting_run,
)

YEAR_STEPS = ((TimerKind.FIRST_VISIT_FOLLOWUP, ApprovalKind.FIRST_VISIT_FOLLOWUP),
              (TimerKind.CHILD_VISIT, ApprovalKind.CHILD_VISIT),
              (TimerKind.FUTURE_AGREEMENT, ApprovalKind.FUTURE_AGREEMENT))


class EndedEarly(Exception):
    """A coordinator ended the case early; the run handles it at once."""


def _run_id() -> str | None:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def _tag(kind: str, waits_for: str) -> None:
    run_id = _run_id()
    if run_id:
        tag_waiting_run(run_id, kind, waits_for)


@dataclass(frozen=True)
class CaseApproval:
    """A case's approval as its run waits on it (``flows.approvals.AwaitedStep``)."""

    case_id: int
    kind: ApprovalKind
    scope: int | None

    def open(self) -> cases.ApprovalView:
        current = open_approval(self.case_id, self.kind, self.scope)
        if current.ending_pending:
            raise EndedEarly
        return current

    def form_model(self, current: cases.ApprovalView) -> type[cases.Answer]:
        return cases.handler_for(self.kind).answer_model(current.form)

    def initial(self, current: cases.ApprovalView) -> dict[str, Any]:
        return current.initial

    def record(self, round_: int, answer: cases.Answer) -> cases.SubmitResult:
        return record_approval(self.case_id, self.kind, self.scope, round_, answer)

    def skip(self, round_: int) -> None:
        skip_approval_round(self.case_id, self.kind, self.scope, round_)

    def before_suspend(self, current: cases.ApprovalView) -> None:
        _tag(self.kind, "coordinator")


def await_approval(case_id: int, kind: ApprovalKind, scope: int | None = None,
                   done: cases.CaseInfo | None = None) -> cases.SubmitResult:
    """``done``: the case as this execution found it; what it records as answered is skipped without a task, so a
    re-executed run catches up in one query instead of one task per step it has passed."""
    outcome = done.answered.get(cases.handler_for(kind).key(scope)) if done else None
    if outcome is not None:
        return cases.SubmitResult(True, outcome, None)
    return await_answer(CaseApproval(case_id, kind, scope))


def await_timer(case_id: int, kind: TimerKind, attempt: int, done: cases.CaseInfo | None = None) -> None:
    if done and timer_key(kind, attempt) in done.passed:
        return
    while True:
        view = check_timer(case_id, kind, attempt)
        if view.ending_pending:
            raise EndedEarly
        if view.state.passed:
            return
        _tag(kind, "timer")
        suspend_flow_run(key=view.state.suspend_key, timeout=None)


def await_family(case_id: int, attempt: int, done: cases.CaseInfo | None = None) -> None:
    if done and family_wait_key(attempt) in done.passed:
        return
    while True:
        view = check_family_available(case_id, attempt)
        if view.ending_pending:
            raise EndedEarly
        if view.state.passed:
            return
        _tag("awaiting-family", "family")
        suspend_flow_run(key=view.state.suspend_key, timeout=None)


def run_programme(case_id: int, info: cases.CaseInfo) -> str:
    if await_approval(case_id, ApprovalKind.SCREENING, None, info).outcome == StepOutcome.REJECTED:
        return "rejected"
    await_approval(case_id, ApprovalKind.STARTUP_MEETING if info.residential else ApprovalKind.CONSENT, None, info)
    attempt = info.match_attempt
    while True:
        await_family(case_id, attempt, info)
        proposal = await_approval(case_id, ApprovalKind.MATCH_PROPOSAL, attempt, info).outcome
        if proposal in (StepOutcome.NO_FAMILY, StepOutcome.NONE_FITS):
            attempt = read_case_info(case_id).match_attempt
            continue  # nobody left with room, or none of them fits the child: wait for a (new) family
        if await_approval(case_id, ApprovalKind.FAMILY_ANSWER, attempt, info).outcome == StepOutcome.DECLINED:
            attempt = read_case_info(case_id).match_attempt
            continue  # the parents never heard of this family
        if await_approval(case_id, ApprovalKind.MATCH_ANSWERS, attempt, info).outcome == StepOutcome.AGREED:
            break
        attempt = read_case_info(case_id).match_attempt
    await_approval(case_id, ApprovalKind.FIRST_MEETING_PLAN, attempt, info)
    await_approval(case_id, ApprovalKind.FIRST_MEETING, attempt, info)
    for timer, approval in YEAR_STEPS:
        await_timer(case_id, timer, attempt, info)
        if await_approval(case_id, approval, attempt, info).outcome == StepOutcome.CONCERN:
            await_approval(case_id, ApprovalKind.CONCERN_FOLLOWUP, attempt, info)
    await_timer(case_id, TimerKind.FAREWELL, attempt, info)
    close_year(case_id, attempt)
    return "completed"


def handle_early_ending(case_id: int) -> str:
    plan = begin_early_ending(case_id)
    if plan is None:
        return "none"
    if plan.extra_child_visit:
        await_approval(case_id, ApprovalKind.EXTRA_CHILD_VISIT, plan.ending_id)
    return finish_early_ending(case_id, plan.ending_id)


@flow(name="referral-case", persist_result=False, log_prints=False)
def referral_case(case_id: int) -> str:
    """One referral through the programme year. The only parameter is the case id."""
    info = attach_case_run(case_id, _run_id())
    while info.status not in FINISHED_CASE:
        try:
            if info.ending_in_progress:
                raise EndedEarly
            return run_programme(case_id, info)
        except EndedEarly:
            if handle_early_ending(case_id) == "closed":
                return "ended early"
        info = read_case_info(case_id)
    return info.status
