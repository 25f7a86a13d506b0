"""Read models for people: the case overview behind ``hjemtilos cases``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.keys import FAMILY_WAIT
from hjemtilos.db.models import HumanTask, ReferralCase, Timer


@dataclass(frozen=True)
class CaseRow:
    reference: str
    status: str
    step: str
    waiting_for: str
    waiting_since: datetime
    next_due: datetime | None


def case_overview(session: Session, include_closed: bool = False) -> list[CaseRow]:
    open_task_due = (
        select(HumanTask.case_id, func.min(func.coalesce(HumanTask.escalation_at, HumanTask.due_at)).label("due"))
        .where(HumanTask.completed_at.is_(None))
        .group_by(HumanTask.case_id)
        .subquery()
    )
    open_task = (
        select(HumanTask.case_id, func.min(HumanTask.key).label("task_key"))
        .where(HumanTask.completed_at.is_(None))
        .group_by(HumanTask.case_id)
        .subquery()
    )
    timer_due = (
        select(Timer.case_id, func.min(Timer.due_at).label("due"), func.min(Timer.key).label("timer_key"))
        .where(Timer.consumed_at.is_(None))
        .group_by(Timer.case_id)
        .subquery()
    )
    query = (
        select(ReferralCase, open_task.c.task_key, open_task_due.c.due, timer_due.c.due, timer_due.c.timer_key)
        .outerjoin(open_task, open_task.c.case_id == ReferralCase.id)
        .outerjoin(open_task_due, open_task_due.c.case_id == ReferralCase.id)
        .outerjoin(timer_due, timer_due.c.case_id == ReferralCase.id)
        .order_by(ReferralCase.reference)
    )
    if not include_closed:
        query = query.where(ReferralCase.status.not_in(("closed", "rejected")))
    rows = []
    for case, task_key, task_due, timer_due_at, timer_key in session.execute(query):
        dues = [d for d in (task_due, timer_due_at) if d is not None]
        if task_key:
            waiting_for = f"coordinator: {task_key}"
        elif timer_key and timer_key.startswith(FAMILY_WAIT):
            waiting_for = "an approved family"
            dues = [d for d in dues if d is not timer_due_at]
        elif timer_key:
            waiting_for = f"timer: {timer_key}"
        else:
            waiting_for = "-"
        rows.append(CaseRow(case.reference, case.status, case.current_step, waiting_for, case.step_since,
                            min(dues) if dues else None))
    return rows
