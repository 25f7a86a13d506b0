"""What the workspace's pages show, read from the case database: the case list with its filters, a case as a
whole (referral, parties, consent, matches, timeline, mails), families, and the administrator's dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.eligibility import age_on
from casework.steps import FINISHED_CASE, MailStatus, Role
from hjemtilos.db.models import (
    AuditEvent,
    CaseEnding,
    CaseVisit,
    CircumstanceChange,
    ConsentReceipt,
    FamilyMember,
    HumanTask,
    Match,
    OutboxMail,
    Party,
    ReferralCase,
    StuckCase,
    Timer,
    UserAccount,
    VolunteerFamily,
)
from hjemtilos.queries import open_work, waiting_of

__all__ = ["CaseFilter", "CaseListRow", "case_list", "case_page", "dashboard", "families", "family_page"]

STEP_DA = {"screening": "Visitation", "startup-meeting": "Opstartsmøde", "consent": "Samtykke",
           "parents-informed": "Forældre orienteret", "awaiting-family": "Venter på familie",
           "match-proposal": "Matchforslag", "first-meeting": "Første møde",
           "first-visit-followup": "Opfølgning efter første besøg", "child-visit": "Børnebesøg",
           "concern-followup": "Opfølgning på bekymring", "future-agreement": "Fremtidsaftale",
           "farewell": "Afsked", "early-ending": "Tidlig afslutning", "extra-child-visit": "Ekstra børnebesøg",
           "closed": "Afsluttet"}
WAITS_DA = {"coordinator": "koordinator", "family": "familie", "parents": "forældre", "timer": "tidspunkt",
            "new-family": "en godkendt familie", "": "–"}
CONCERNS_DA = {"concern_severe_acting_out": "Svær udadreagerende adfærd",
               "concern_severe_psychiatric_diagnosis": "Svær psykiatrisk diagnose",
               "concern_suicide_risk_or_self_harm": "Selvmordsrisiko eller selvskade"}


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


def case_list(session: Session, now: datetime, user_id: int | None, filters: CaseFilter) -> list[CaseListRow]:
    query = select(ReferralCase).order_by(ReferralCase.reference.desc())
    if not filters.closed:
        query = query.where(ReferralCase.status.not_in(FINISHED_CASE))
    if filters.step:
        query = query.where(ReferralCase.current_step == filters.step)
    if filters.mine:
        query = query.where(ReferralCase.coordinator_id == user_id)
    if filters.search:
        term = f"%{filters.search.strip().lower()}%"
        from hjemtilos.db.models import Child

        query = query.join(Child, Child.case_id == ReferralCase.id).where(or_(
            func.lower(ReferralCase.reference).like(term), func.lower(Child.first_name).like(term),
            func.lower(Child.last_name).like(term)))
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
                                case.current_step, STEP_DA.get(case.current_step, case.current_step),
                                WAITS_DA.get(waits, waits), case.step_since, due, overdue,
                                names.get(case.coordinator_id) if case.coordinator_id else None, case.status))
    return rows


@dataclass
class TimelineItem:
    at: datetime
    what: str
    who: str
    step: str | None = None


@dataclass
class CasePage:
    case: ReferralCase
    age: int
    concerns: list[str]
    parties: list[Party]
    consent: list[dict[str, Any]]
    matches: list[dict[str, Any]]
    open_task: HumanTask | None
    timeline: list[TimelineItem]
    mails: list[OutboxMail]
    coordinator: str | None
    extra: dict[str, Any] = field(default_factory=dict)


ACTION_DA = {"referral-received": "Henvisning modtaget", "task-opened": "Trin åbnet", "task-completed": "Trin afgjort",
             "timer-set": "Tidspunkt sat", "form-returned": "Formular sendt tilbage",
             "form-partly-recorded": "Svar delvist registreret", "reminder-sent": "Påmindelse sendt",
             "escalated": "Eskaleret", "case-closed": "Sagen afsluttet", "coordinator-assigned": "Koordinator tildelt"}


def case_page(session: Session, reference: str, now: datetime) -> CasePage | None:
    case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
    if case is None:
        return None
    child = case.child
    concerns = [label for column, label in CONCERNS_DA.items() if getattr(child, column)]
    receipts = list(session.scalars(select(ConsentReceipt).where(ConsentReceipt.case_id == case.id)))
    holders = [p for p in case.parties if p.role in (Role.CUSTODY_HOLDER, Role.PLACEMENT_CONTACT)]
    consent = [{"party": p, "forms": {r.form.value: r for r in receipts if r.party_id == p.id}} for p in holders]
    matches = []
    for match in session.scalars(select(Match).where(Match.case_id == case.id).order_by(Match.attempt)):
        family = session.get(VolunteerFamily, match.family_id)
        matches.append({"match": match, "family": family})
    open_task = session.scalar(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.completed_at.is_(None))
                               .order_by(HumanTask.id).limit(1))
    timeline = [TimelineItem(e.at, ACTION_DA.get(e.action, e.action) + _detail(e), e.actor, e.step)
                for e in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id))]
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id)):
        if task.completed_at and task.decided_by:
            timeline.append(TimelineItem(task.completed_at, f"{task.title}: {task.outcome}", task.decided_by,
                                         task.step))
        if task.escalated_at:
            timeline.append(TimelineItem(task.escalated_at, f"Eskaleret: {task.title}", "system", task.step))
    for timer in session.scalars(select(Timer).where(Timer.case_id == case.id)):
        label = "passeret" if timer.consumed_at else ("udløbet" if timer.due_at <= now else "venter")
        timeline.append(TimelineItem(timer.due_at, f"Tidspunkt {timer.key} ({label})", "system", timer.step))
    for visit in session.scalars(select(CaseVisit).where(CaseVisit.case_id == case.id)):
        timeline.append(TimelineItem(visit.recorded_at, f"Besøg {visit.kind.value} holdt {visit.held_on}",
                                     visit.recorded_by))
    for change in session.scalars(select(CircumstanceChange).where(CircumstanceChange.case_id == case.id)):
        timeline.append(TimelineItem(change.recorded_at, f"Ændrede forhold: {change.kind}", change.recorded_by))
    for ending in session.scalars(select(CaseEnding).where(CaseEnding.case_id == case.id)):
        timeline.append(TimelineItem(ending.requested_at, f"Tidlig afslutning ({ending.ended_by.value}, "
                                                          f"{ending.reason})", ending.requested_by))
    timeline.sort(key=lambda item: item.at)
    mails = list(session.scalars(select(OutboxMail).where(OutboxMail.case_id == case.id).order_by(OutboxMail.id)))
    coordinator = session.get(UserAccount, case.coordinator_id) if case.coordinator_id else None
    return CasePage(case, age_on(child.birth_date, local_date(now)), concerns, list(case.parties), consent, matches,
                    open_task, timeline, mails, coordinator.display_name if coordinator else None)


def _detail(event: AuditEvent) -> str:
    detail = event.detail or {}
    parts = [str(detail[k]) for k in ("key", "outcome") if k in detail]
    return f" ({', '.join(parts)})" if parts else ""


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
