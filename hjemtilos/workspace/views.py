"""What the workspace's pages show, read from the case database: the case list with its filters and search,
families, and the administrator's dashboard (a case's own page: ``case_view.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from casework import vocabulary as words
from casework.clock import local_date
from casework.eligibility import age_on
from casework.steps import FINISHED_CASE, MailStatus, Step
from hjemtilos.db.models import (
    Child,
    FamilyMember,
    HumanTask,
    Match,
    OutboxMail,
    Party,
    ReferralCase,
    StuckCase,
    UserAccount,
    VolunteerFamily,
)
from hjemtilos.queries import open_work, waiting_of

__all__ = ["CASE_STEPS", "WAITS", "CaseFilter", "CaseListRow", "case_list", "dashboard", "families", "family_page"]

CASE_STEPS = {step.value: words.STEPS.both(step) for step in Step}  # the case list's step filter
WAITS = {code: words.WAITS.both(code) for code in words.WAITS.words}  # ... and its waits-for filter


@dataclass(frozen=True)
class CaseFilter:
    step: str = ""
    waits_for: str = ""
    overdue: bool = False
    mine: bool = False
    closed: bool = False
    search: str = ""


@dataclass(frozen=True)
class CaseListRow:
    reference: str
    first_name: str
    age: int
    step: str
    step_da: str
    waits_for: str
    since: datetime
    next_due: datetime | None
    overdue: bool
    coordinator: str | None
    status: str


def _search(text: str) -> list[ColumnElement[bool]]:
    """Every word must be found in the reference, the child's name, a party's name (parents, contacts, the
    referrer) or the name of a family matched with the child."""
    conditions: list[ColumnElement[bool]] = []
    for word in text.lower().split()[:6]:
        term = f"%{word}%"
        conditions.append(or_(
            func.lower(ReferralCase.reference).like(term), func.lower(Child.first_name).like(term),
            func.lower(Child.last_name).like(term),
            exists().where(Party.case_id == ReferralCase.id, func.lower(Party.name).like(term)),
            exists().where(Match.case_id == ReferralCase.id, VolunteerFamily.id == Match.family_id,
                           func.lower(VolunteerFamily.name).like(term))))
    return conditions


def case_list(session: Session, now: datetime, user_id: int | None, filters: CaseFilter) -> list[CaseListRow]:
    query = select(ReferralCase).order_by(ReferralCase.reference.desc())
    if not filters.closed:
        query = query.where(ReferralCase.status.not_in(FINISHED_CASE))
    if filters.step:
        query = query.where(ReferralCase.current_step == filters.step)
    if filters.mine:
        query = query.where(ReferralCase.coordinator_id == user_id)
    if filters.search:
        query = query.join(Child, Child.case_id == ReferralCase.id).where(*_search(filters.search))
    cases = list(session.scalars(query.limit(500)))
    tasks, timers = open_work(session, (c.id for c in cases))
    names = dict(session.execute(select(UserAccount.id, UserAccount.display_name)).tuples().all())
    today = local_date(now)
    rows = []
    for case in cases:
        waiting = waiting_of(tasks.get(case.id), timers.get(case.id))
        waits, due = waiting.kind, waiting.due
        overdue = due is not None and due <= now
        if (filters.waits_for and waits != filters.waits_for) or (filters.overdue and not overdue):
            continue
        rows.append(CaseListRow(case.reference, case.child.first_name, age_on(case.child.birth_date, today),
                                case.current_step, words.STEPS.both(case.current_step),
                                words.WAITS.both(waits), case.step_since, due, overdue,
                                names.get(case.coordinator_id) if case.coordinator_id else None, case.status))
    return rows


@dataclass(frozen=True)
class FamilyRow:
    family: VolunteerFamily
    members: int
    active_matches: int


def families(session: Session) -> list[FamilyRow]:
    live = dict(session.execute(select(Match.family_id, func.count()).where(Match.status.in_(("agreed", "active")))
                                .group_by(Match.family_id)).tuples().all())
    counts = dict(session.execute(select(FamilyMember.family_id, func.count()).group_by(FamilyMember.family_id))
                  .tuples().all())
    return [FamilyRow(f, counts.get(f.id, 0), live.get(f.id, 0))
            for f in session.scalars(select(VolunteerFamily).order_by(VolunteerFamily.name))]


def family_page(session: Session, family_id: int, now: datetime) -> dict[str, Any] | None:
    family = session.get(VolunteerFamily, family_id)
    if family is None:
        return None
    today: date = local_date(now)
    members = [{"member": m, "age": age_on(m.birth_date, today)} for m in family.members]
    matches = [{"match": m, "reference": session.get(ReferralCase, m.case_id).reference}  # type: ignore[union-attr]
               for m in session.scalars(select(Match).where(Match.family_id == family.id).order_by(Match.proposed_at))]
    task = session.scalar(select(HumanTask).where(HumanTask.family_id == family.id, HumanTask.completed_at.is_(None))
                          .limit(1))
    return {"family": family, "members": members, "matches": matches, "open_task": task}


def dashboard(session: Session) -> dict[str, Any]:
    stuck = session.execute(select(StuckCase, ReferralCase.reference).join(
        ReferralCase, ReferralCase.id == StuckCase.case_id).where(StuckCase.resolved_at.is_(None))
        .order_by(StuckCase.since)).all()
    failed = list(session.scalars(select(OutboxMail).where(OutboxMail.status == MailStatus.FAILED)
                                  .order_by(OutboxMail.id.desc()).limit(50)))
    queued = session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.status.in_((MailStatus.PENDING, MailStatus.SENDING)))) or 0
    oldest = session.scalar(select(func.min(OutboxMail.created_at)).where(
        OutboxMail.status.in_((MailStatus.PENDING, MailStatus.SENDING))))
    references = dict(session.execute(select(ReferralCase.id, ReferralCase.reference)
                                      .where(ReferralCase.id.in_([m.case_id for m in failed if m.case_id])))
                      .tuples().all())
    return {"stuck": stuck, "failed": failed, "queued": queued, "oldest_queued": oldest, "references": references}
