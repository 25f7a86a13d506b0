"""Read models for people: what an open case waits for (one rule, for the workspace's case list and for
``hjemtilos cases``), the case overview behind ``hjemtilos cases``, and the coordinators' task list (Opgaver)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.keys import FAMILY_WAIT
from casework.matching import family_reference
from casework.steps import FINISHED_CASE, Role
from hjemtilos.db.models import Child, HumanTask, ReferralCase, Timer, UserAccount, VolunteerFamily

__all__ = ["CaseRow", "Show", "TaskRow", "Waiting", "case_overview", "open_work", "task_list", "waiting_of"]


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


class Show(StrEnum):
    """The task list's filters: ``mine`` (claimed by me, or nobody's on a case I coordinate), ``unassigned``
    (claimed by nobody), ``all``."""

    MINE = "mine"
    UNASSIGNED = "unassigned"
    ALL = "all"


@dataclass(frozen=True)
class TaskRow:
    """One open step on the task list: what, for which case or family, since when, due, who works on it."""

    task_id: int
    title: str
    step: str
    key: str
    waits_for: str  # coordinator, family, parents (casework.vocabulary.WAITS)
    reference: str  # the case's reference or the family's (VF-…)
    name: str  # the child's first name, or the family's name
    page: str  # the workspace path of the case or the family
    flow_run_id: str | None
    since: datetime
    due: datetime | None
    overdue: bool
    claimed_by: str | None
    claimed_at: datetime | None
    mine: bool  # claimed by the reader
    last_error: str | None
    follow_up_on: date | None  # when whoever works on it looks at it again
    follow_up_due: bool  # that day has come


def _row(task: HumanTask, now: datetime, user_id: int | None, names: dict[int, str],
         case: tuple[str, str, str | None] | None, family: tuple[str, str | None] | None) -> TaskRow:
    waiting = waiting_of(task, None)
    if case is not None:
        reference, name, run = case
        page = f"/sager/{reference}"
    else:
        family_name, run = family or ("–", None)
        reference, name, page = family_reference(task.family_id or 0), family_name, f"/familier/{task.family_id}"
    claimed = names.get(task.claimed_by_id) if task.claimed_by_id else None
    return TaskRow(task.id, task.title, task.step, task.key, waiting.kind, reference, name, page, run,
                   task.created_at, waiting.due, waiting.due is not None and waiting.due <= now, claimed,
                   task.claimed_at, task.claimed_by_id is not None and task.claimed_by_id == user_id, task.last_error,
                   task.follow_up_on, task.follow_up_on is not None and task.follow_up_on <= local_date(now))


def task_list(session: Session, now: datetime, user_id: int | None, show: Show = Show.ALL) -> list[TaskRow]:
    """Every open step of every open case and family, sorted by due date (none last), then by age."""
    tasks = list(session.scalars(select(HumanTask).where(HumanTask.completed_at.is_(None))))
    case_ids = {t.case_id for t in tasks if t.case_id is not None}
    cases = {cid: (ref, first, run, coordinator) for cid, ref, first, run, coordinator in session.execute(
        select(ReferralCase.id, ReferralCase.reference, Child.first_name, ReferralCase.flow_run_id,
               ReferralCase.coordinator_id).join(Child, Child.case_id == ReferralCase.id)
        .where(ReferralCase.id.in_(case_ids), ReferralCase.status.not_in(FINISHED_CASE)))}
    families = {fid: (name, run) for fid, name, run in session.execute(
        select(VolunteerFamily.id, VolunteerFamily.name, VolunteerFamily.flow_run_id)
        .where(VolunteerFamily.id.in_({t.family_id for t in tasks if t.family_id is not None})))}
    names = dict(session.execute(select(UserAccount.id, UserAccount.display_name)).tuples().all())
    rows = []
    for task in tasks:
        case = cases.get(task.case_id) if task.case_id is not None else None
        if task.case_id is not None and case is None:
            continue  # a finished case's leftovers are nobody's work
        if show is Show.UNASSIGNED and task.claimed_by_id is not None:
            continue
        if show is Show.MINE and not (task.claimed_by_id == user_id or (
                task.claimed_by_id is None and case is not None and case[3] == user_id)):
            continue
        rows.append(_row(task, now, user_id, names, case[:3] if case else None, families.get(task.family_id or 0)))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda row: (row.due or far, row.since, row.task_id))
