"""The case run's operations on the case database. Each runs in one transaction and is idempotent, so a task
that runs again after a crash, or a flow that re-executes from the top, finds the work done and does nothing
twice. The flow decides the order; the handlers decide the effects (rows, mails, audit events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.steps import ApprovalKind, PlacementKind, Role
from hjemtilos.app import App
from hjemtilos.approvals import (
    CANCELLED,
    FORM_PARTLY_RECORDED,
    FORM_RETURNED,
    ApprovalState,
    SubmitResult,
    approval_state_of,
    audit,
    get_task,
    open_task,
    skip,
    submit,
)
from hjemtilos.audit.access import UNATTRIBUTED, resumer_of
from hjemtilos.cases.context import CaseContext, load_case
from hjemtilos.cases.ending import ending_not_begun, pending_ending
from hjemtilos.cases.handler import Answer, FormSpec
from hjemtilos.cases.steps import handler_for
from hjemtilos.claims import banner_of, with_claim_banner
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase, Timer

__all__ = ["ApprovalView", "CaseInfo", "attach_run", "case_info", "case_run_key", "prepare_approval",
           "record_run_started", "skip_round", "submit_approval"]


@dataclass(frozen=True)
class CaseInfo:
    case_id: int
    reference: str
    status: str
    residential: bool
    custody_holders: int
    match_attempt: int
    ending_pending: bool  # requested, not yet begun: waits stop and the run handles it
    ending_in_progress: bool  # requested and not finished (begun or not)
    # what a re-executed run can skip without asking again: approvals answered (key -> outcome; not those cancelled
    # by an ending) and timers and family waits passed. Done stays done, so a snapshot is safe to act on.
    answered: dict[str, str] = field(default_factory=dict)
    passed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ApprovalView:
    """What the flow needs to suspend for an approval: its state, the form and the dialog's text."""

    kind: ApprovalKind
    scope: int | None
    state: ApprovalState
    description: str
    ending_pending: bool
    form: FormSpec
    initial: dict[str, Any] = field(default_factory=dict)


def case_run_key(reference: str, created_at: datetime) -> str:
    """Idempotency key of a case's run: the same case never gets two runs, even if asked twice."""
    return f"{reference}:{created_at.isoformat()}"


def _info(session: Session, case: ReferralCase) -> CaseInfo:
    holders = sum(1 for p in case.parties if p.role == Role.CUSTODY_HOLDER)
    answered = {key: outcome for key, outcome in session.execute(select(HumanTask.key, HumanTask.outcome).where(
        HumanTask.case_id == case.id, HumanTask.completed_at.is_not(None), HumanTask.outcome != CANCELLED))
        if outcome is not None}
    passed = frozenset(session.scalars(select(Timer.key).where(
        Timer.case_id == case.id, Timer.consumed_at.is_not(None), Timer.fired_at.is_not(None))))
    return CaseInfo(case.id, case.reference, case.status, case.placement.kind == PlacementKind.RESIDENTIAL_HOME,
                    holders, case.match_attempt, ending_not_begun(session, case.id),
                    pending_ending(session, case.id) is not None, answered, passed)


def attach_run(app: App, case_id: int, flow_run_id: str | None, now: datetime) -> CaseInfo:
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        if flow_run_id and case.flow_run_id != flow_run_id:
            case.flow_run_id = flow_run_id
            audit(session, case.id, now, "system", "run-attached", case.current_step, {"flow_run_id": flow_run_id})
        return _info(session, case)


def record_run_started(app: App, case_id: int, flow_run_id: str, now: datetime) -> None:
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        if case.flow_run_id is None:
            case.flow_run_id = flow_run_id
            audit(session, case.id, now, "system", "run-started", case.current_step, {"flow_run_id": flow_run_id})


def case_info(app: App, case_id: int) -> CaseInfo:
    with app.session_factory() as session:
        return _info(session, load_case(session, case_id))


def prepare_approval(app: App, case_id: int, kind: ApprovalKind, scope: int | None, now: datetime) -> ApprovalView:
    """Open the approval (with its opening mails) unless it exists, and describe it for the form."""
    handler = handler_for(kind)
    timings = app.profile.timings
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        ctx = CaseContext(session, app, case, now, scope=scope)
        ending = ending_not_begun(session, case_id)
        key = handler.key(scope)
        task = get_task(session, case.id, key)
        if task is None and not ending:
            task, _ = open_task(session, case, key=key, step=handler.step, title=handler.title, now=now,
                                timings=timings, reminder_role=handler.reminder_role,
                                reminder_after=handler.reminder_after(timings),
                                escalation_after=handler.escalation_after(timings))
            ctx.task = task
            task.data = handler.open(ctx)
        if task is None:
            return ApprovalView(kind, scope, ApprovalState(key, False, None, None, 0, None), "", True, FormSpec(kind))
        ctx.task = task
        lines = [f"## {case.reference}: {handler.title}", ""]
        if task.last_error:
            last = session.scalar(select(AuditEvent.action).where(
                AuditEvent.case_id == case.id, AuditEvent.step == task.step,
                AuditEvent.action.in_((FORM_RETURNED, FORM_PARTLY_RECORDED))).order_by(AuditEvent.id.desc()).limit(1))
            heading = "Dit svar er registreret" if last == FORM_PARTLY_RECORDED else "Formularen blev ikke godkendt"
            lines += [f"> **{heading}:** {task.last_error}", ""]
        lines += handler.describe(ctx)
        lines += ["", f"Læs sagen i arbejdsrummet / read the case: {app.settings.workspace_url('/sager/' + case.reference)}"]
        description = with_claim_banner("\n".join(lines), banner_of(session, task))
        return ApprovalView(kind, scope, approval_state_of(task), description, ending, handler.spec(ctx),
                            handler.initial(ctx))


def submit_approval(app: App, case_id: int, kind: ApprovalKind, scope: int | None, round_: int, answer: Answer,
                    now: datetime) -> SubmitResult:
    """Validate and record a submitted form. Idempotent: a repeated submit of a finished round changes nothing."""
    handler = handler_for(kind)
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        task = get_task(session, case.id, handler.key(scope))
        if task is None:
            raise LookupError(f"no approval {kind} on case {case_id}")
        # the approver is who pressed Resume through the front door (the access log)
        actor = resumer_of(session, case.flow_run_id, since=task.created_at) or UNATTRIBUTED
        ctx = CaseContext(session, app, case, now, scope=scope, task=task, actor=actor)
        return submit(session, task, round_, ctx.actor, now, lambda: handler.carry_out(ctx, answer),
                      answer.model_dump(mode="json"))


def skip_round(app: App, case_id: int, kind: ApprovalKind, scope: int | None, round_: int, now: datetime) -> None:
    """The run was resumed without the form's input: ask again under the next suspension key."""
    with app.session_factory.begin() as session:
        skip(session, get_task(session, case_id, handler_for(kind).key(scope)), round_, now)
