"""Read models for people: what an open case waits for (one rule, for the workspace's case list and for
``hjemtilos cases``), and the case overview behind ``hjemtilos cases``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.keys import FAMILY_WAIT
from casework.steps import FINISHED_CASE, Role
from hjemtilos.db.models import HumanTask, ReferralCase, Timer

__all__ = ["CaseRow", "Waiting", "case_overview", "open_work", "waiting_of"]


@dataclass(frozen=True)
class Waiting:
    """What a case waits for: ``kind`` is ``coordinator``, ``family``, ``parents`` (an open task, by whom it is
    answered), ``new-family`` (a family with room), ``timer`` or ``""`` (nothing); ``key`` the task's or timer's
    key; ``due`` when it is due (a task: its escalation, else its due date; a timer: when it fires; a family:
    never)."""

    kind: str
    key: str | None
    due: datetime | None


def waiting_of(task: HumanTask | None, timer: Timer | None) -> Waiting:
    """The one rule: an open task comes first, then a timer."""
    if task is not None:
        role = task.assignee_role
        kind = {"volunteer_family": "family", Role.CUSTODY_HOLDER.value: "parents"}.get(role, "coordinator")
        return Waiting(kind, task.key, task.escalation_at or task.due_at)
    if timer is not None and timer.key.startswith(FAMILY_WAIT):
        return Waiting("new-family", timer.key, None)
    if timer is not None:
        return Waiting("timer", timer.key, timer.due_at)
    return Waiting("", None, None)


def open_work(session: Session, case_ids: Iterable[int]) -> tuple[dict[int, HumanTask], dict[int, Timer]]:
    """Each case's first open task (the oldest) and its next open timer."""
    ids = list(case_ids)
    tasks: dict[int, HumanTask] = {}
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id.in_(ids), HumanTask.completed_at.is_(None))
                                .order_by(HumanTask.id)):
        tasks.setdefault(task.case_id or 0, task)
    timers: dict[int, Timer] = {}
    for timer in session.scalars(select(Timer).where(Timer.case_id.in_(ids), Timer.consumed_at.is_(None))
                                 .order_by(Timer.due_at)):
        timers.setdefault(timer.case_id, timer)
    return tasks, timers


@dataclass(frozen=True)
class CaseRow:
    reference: str
    status: str
    step: str
    waiting_for: str
    waiting_since: datetime
    next_due: datetime | None


def case_overview(session: Session, include_closed: bool = False) -> list[CaseRow]:
    query = select(ReferralCase).order_by(ReferralCase.reference)
    if not include_closed:
        query = query.where(ReferralCase.status.not_in(FINISHED_CASE))
    cases = list(session.scalars(query))
    tasks, timers = open_work(session, (case.id for case in cases))
    rows = []
    for case in cases:
        waiting = waiting_of(tasks.get(case.id), timers.get(case.id))
        label = {"": "-", "new-family": "an approved family"}.get(waiting.kind, f"{waiting.kind}: {waiting.key}")
        rows.append(CaseRow(case.reference, case.status, case.current_step, label, case.step_since, waiting.due))
    return rows
