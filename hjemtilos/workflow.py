"""Durable waits in the case database: approvals (human tasks) and timers.

The flow asks these functions what is done before it suspends, so a flow that re-executes from the top
skips every wait the database already records as finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.profiles import Timings
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase, Timer


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
        return f"{self.key}-r{self.round}"


@dataclass(frozen=True)
class TimerState:
    key: str
    due_at: datetime
    passed: bool
    round: int

    @property
    def suspend_key(self) -> str:
        return f"{self.key}-r{self.round}"


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
    assignee_role: str = "coordinator",
    reminder_role: str = "coordinator",
    reminder_after: Any = None,
    escalation_after: Any = None,
    data: dict[str, Any] | None = None,
) -> tuple[HumanTask, bool]:
    """Create the human task ``key`` of a case (or of a family's screening) unless it exists."""
    task = get_task(session, case.id, key) if case is not None else get_family_task(session, family_id or 0, key)
    if task is not None:
        return task, False
    reminder_after = reminder_after or timings.approval_reminder_after
    escalation_after = escalation_after or timings.approval_escalation_after
    task = HumanTask(
        case_id=case.id if case else None, family_id=family_id, key=key, step=step, title=title, assignee_role=assignee_role, reminder_role=reminder_role,
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


def reject_input(session: Session, task: HumanTask, error: str, now: datetime) -> None:
    """The form was submitted but is not acceptable: ask again under a new suspension key."""
    task.round += 1
    task.last_error = error[:500]
    session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor="system",
                           action="form-returned", step=task.step, detail={"key": task.key, "error": error[:200]}))


def cancel_open_waits(session: Session, case_id: int, now: datetime, actor: str) -> None:
    """Close every open task and timer of a case (early ending)."""
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case_id,
                                                        HumanTask.completed_at.is_(None))):
        task.completed_at, task.outcome, task.decided_by = now, "cancelled", actor
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
