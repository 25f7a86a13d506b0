"""The approval-and-timer machinery shared by referral cases and volunteer families.

Durable waits live in the case database: an approval is a ``HumanTask`` (with its reminder and escalation times
and its suspension rounds), a timer is a ``Timer`` row. The flow asks these functions what is done before it
suspends, so a flow that re-executes from the top skips every wait the database already records as finished.
``submit`` is the one way an answer is recorded: a repeated submit of a finished round changes nothing, a stale
round is refused, an answer that cannot be accepted opens the next round with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.durations import Duration
from casework.keys import round_key
from casework.profiles import Timings
from casework.steps import Role, StepOutcome
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase, Timer

__all__ = ["CANCELLED", "Answer", "ApprovalState", "InvalidRequest", "OptionalDate", "StepHandler", "SubmitResult", "TimerState",
           "approval_state_of", "audit", "cancel_open_waits", "complete_task", "ensure_timer", "get_family_task",
           "get_task", "open_task", "optional_date", "reject_input", "set_step", "skip", "submit"]


CANCELLED = StepOutcome.CANCELLED  # the outcome of an approval closed by an early ending


class InvalidRequest(ValueError):
    """An answer or request that cannot be carried out, with a message for the person (Danish / English)."""


class Answer(BaseModel):
    """The base of every coordinator's answer, to a case's step or a volunteer family's. Labels and help texts are
    Danish: they are the form. Who answered is not a field: it is the signed-in user whose Resume the front door
    recorded (hjemtilos/audit/access.py)."""

    model_config = ConfigDict(extra="forbid")


# A date the coordinator may leave empty, shown as a plain date field: Prefect's form would render ``date | None``
# as a choice between a date and "None".
OptionalDate = Annotated[date | None, WithJsonSchema({"type": "string", "format": "date"})]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # an empty field is left out of the answer (None), never sent as null


def optional_date(title: str, description: str = "") -> Any:
    """The field of an ``OptionalDate``: empty unless the form's initial data fills it."""
    return Field(default=None, title=title, description=description or None, json_schema_extra=_no_default)


S = TypeVar("S")  # what a step works on: a case's context (hjemtilos.cases) or a family's (hjemtilos.volunteers)
A = TypeVar("A", bound=Answer)


class StepHandler(Generic[S, A]):
    """One programme step that waits for a coordinator, whatever its subject: its typed answer model (the Resume
    form is built from it), its title, what opening it does, how it is described and what an answer does.
    ``hjemtilos.cases.Handler`` (a referral case's steps) and ``hjemtilos.volunteers.FamilyHandler`` (a volunteer
    family's screening) are its two kinds; each step is a subclass in its subject's table."""

    title: ClassVar[str]
    answer: ClassVar[type[Answer]]
    outcomes: ClassVar[frozenset[StepOutcome]]  # every outcome ``apply`` may give: what flows and reports branch on
    instructions: ClassVar[str] = ""

    def reminder_after(self, timings: Timings) -> Duration:
        return timings.approval_reminder_after

    def escalation_after(self, timings: Timings) -> Duration:
        return timings.approval_escalation_after

    def open(self, ctx: S) -> dict[str, Any] | None:
        """Rows and mails that belong to opening the step (same transaction); returns the task's data."""
        return None

    def describe(self, ctx: S) -> list[str]:
        """Markdown lines for the Resume dialog: what to do. No names, no special-category data."""
        return [self.instructions]

    def initial(self, ctx: S) -> dict[str, Any]:
        """Values the form starts with."""
        return {}

    def apply(self, ctx: S, answer: A) -> StepOutcome | None:
        """Carry out an answer: returns the outcome, or None when recorded but not finished (the handler has opened
        the next round). Raises InvalidRequest when the answer cannot be accepted."""
        raise NotImplementedError

    def carry_out(self, ctx: S, answer: A) -> StepOutcome | None:
        """``apply``, held to the outcomes the step declares (a new outcome is declared where the flow sees it)."""
        outcome = self.apply(ctx, answer)
        if outcome is not None and outcome not in self.outcomes:
            raise ValueError(f"{type(self).__name__} gave {outcome!r}, which it does not declare")
        return outcome


@dataclass(frozen=True)
class SubmitResult:
    accepted: bool
    outcome: str | None
    error: str | None


@dataclass(frozen=True)
class ApprovalState:
    key: str
    completed: bool
    outcome: str | None
    data: dict[str, Any] | None
    round: int
    last_error: str | None

    @property
    def suspend_key(self) -> str:
        return round_key(self.key, self.round)


@dataclass(frozen=True)
class TimerState:
    key: str
    due_at: datetime
    passed: bool
    round: int

    @property
    def suspend_key(self) -> str:
        return round_key(self.key, self.round)


def approval_state_of(task: HumanTask) -> ApprovalState:
    return ApprovalState(task.key, task.completed_at is not None, task.outcome, task.data, task.round,
                         task.last_error)


def get_task(session: Session, case_id: int, key: str) -> HumanTask | None:
    return session.scalar(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.key == key))


def get_family_task(session: Session, family_id: int, key: str) -> HumanTask | None:
    return session.scalar(select(HumanTask).where(HumanTask.family_id == family_id, HumanTask.key == key))


def set_step(session: Session, case: ReferralCase, step: str, now: datetime) -> None:
    if case.current_step != step:
        case.current_step = step
        case.step_since = now
    case.updated_at = now


def audit(session: Session, case_id: int | None, now: datetime, actor: str, action: str, step: str | None,
          detail: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(case_id=case_id, at=now, actor=actor, action=action, step=step, detail=detail))


def open_task(
    session: Session,
    case: ReferralCase | None,
    *,
    family_id: int | None = None,
    key: str,
    step: str,
    title: str,
    now: datetime,
    timings: Timings,
    assignee_role: str = Role.COORDINATOR,
    reminder_role: str = Role.COORDINATOR,
    reminder_after: Duration | None = None,
    escalation_after: Duration | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[HumanTask, bool]:
    """Create the human task ``key`` of a case (or of a family's screening) unless it exists."""
    task = get_task(session, case.id, key) if case is not None else get_family_task(session, family_id or 0, key)
    if task is not None:
        return task, False
    reminder_after = reminder_after or timings.approval_reminder_after
    escalation_after = escalation_after or timings.approval_escalation_after
    task = HumanTask(
        case_id=case.id if case else None, family_id=family_id, key=key, step=step, title=title,
        assignee_role=assignee_role, reminder_role=reminder_role,
        created_at=now, due_at=escalation_after.after(now), reminder_at=reminder_after.after(now),
        escalation_at=escalation_after.after(now), reminders_sent=0, round=1, data=data,
    )
    session.add(task)
    if case is not None:
        set_step(session, case, step, now)
    session.add(AuditEvent(case_id=case.id if case else None, family_id=family_id, at=now, actor="system",
                           action="task-opened", step=step, detail={"key": key}))
    session.flush()
    return task, True


def complete_task(session: Session, task: HumanTask, *, outcome: str, data: dict[str, Any], actor: str,
                  now: datetime) -> None:
    task.completed_at = now
    task.outcome = outcome
    task.decided_by = actor
    task.data = {**(task.data or {}), "input": data}
    task.last_error = None
    session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor=actor,
                           action="task-completed", step=task.step, detail={"key": task.key, "outcome": outcome}))


FORM_RETURNED = "form-returned"  # the answer could not be used: nothing of it was recorded
FORM_PARTLY_RECORDED = "form-partly-recorded"  # the answer was recorded, the step needs more (partial consent)


def reject_input(session: Session, task: HumanTask, error: str, now: datetime, action: str = FORM_RETURNED) -> None:
    """The form was submitted but the step is not done: ask again under a new suspension key, with ``error``."""
    task.round += 1
    task.last_error = error[:500]
    session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor="system",
                           action=action, step=task.step, detail={"key": task.key, "error": error[:200]}))


def cancel_open_waits(session: Session, case_id: int, now: datetime, actor: str) -> None:
    """Close every open task and timer of a case (early ending)."""
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case_id,
                                                        HumanTask.completed_at.is_(None))):
        task.completed_at, task.outcome, task.decided_by = now, CANCELLED, actor
    for timer in session.scalars(select(Timer).where(Timer.case_id == case_id, Timer.consumed_at.is_(None))):
        timer.consumed_at = now


def ensure_timer(session: Session, case: ReferralCase, *, key: str, step: str, due_at: datetime,
                 now: datetime) -> Timer:
    timer = session.scalar(select(Timer).where(Timer.case_id == case.id, Timer.key == key))
    if timer is None:
        timer = Timer(case_id=case.id, key=key, step=step, due_at=due_at, created_at=now, round=0)
        session.add(timer)
        set_step(session, case, step, now)
        audit(session, case.id, now, "system", "timer-set", step, {"key": key, "due_at": due_at.isoformat()})
        session.flush()
    return timer


def submit(session: Session, task: HumanTask, round_: int, actor: str, now: datetime,
           apply: Callable[[], str | None], record: dict[str, Any]) -> SubmitResult:
    """Record an answer to ``task`` for suspension round ``round_``.

    ``apply`` carries out the answer (rows, mails) and returns the outcome, or None when the answer is recorded
    but the step is not finished (partial consent, a question to the referrer): it has then opened the next
    round itself. It raises InvalidRequest when the answer cannot be accepted: nothing of it is kept (a
    savepoint is rolled back) and the next round opens with the reason."""
    if task.completed_at is not None:
        return SubmitResult(True, task.outcome, None)
    if task.round != round_:
        return SubmitResult(False, None, task.last_error)
    try:
        with session.begin_nested():
            outcome = apply()
    except InvalidRequest as exc:
        reject_input(session, task, str(exc), now)
        return SubmitResult(False, None, str(exc))
    if outcome is None:
        return SubmitResult(False, None, task.last_error)
    complete_task(session, task, outcome=outcome, data=record, actor=actor, now=now)
    return SubmitResult(True, outcome, None)


def skip(session: Session, task: HumanTask | None, round_: int, now: datetime) -> None:
    """The run was resumed without the form's input: ask again under the next suspension key."""
    if task is not None and task.completed_at is None and task.round == round_:
        reject_input(session, task, "Formularen kom ikke med. Udfyld den igen. / The form did not arrive: "
                                    "fill it in again.", now)
