"""What a case's page shows, in words: the referral, the parties, consent, matches, notes and a timeline where
every code is said in Danish (with the English beside it), and reminders and escalations are one row per step
("3 påmindelser, seneste 12.03.2027") instead of a row each."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import vocabulary as words
from casework.clock import format_local, local_date
from casework.eligibility import age_on
from casework.keys import wait_kind_of
from casework.steps import Role
from hjemtilos.cases.notes import notes_of
from hjemtilos.db.models import (
    AuditEvent,
    CaseEnding,
    CaseNote,
    CaseVisit,
    CircumstanceChange,
    ConsentReceipt,
    HumanTask,
    Match,
    OutboxMail,
    Party,
    ReferralCase,
    Timer,
    UserAccount,
    VolunteerFamily,
)

__all__ = ["CasePage", "TimelineItem", "case_page"]

GROUPED = ("reminder-sent", "escalated")  # one row per step, not one per mail


@dataclass
class TimelineItem:
    at: datetime
    what: str  # Danish
    what_en: str
    who: str
    step: str | None = None  # the step in words
    note: bool = False


@dataclass
class CasePage:
    case: ReferralCase
    age: int
    concerns: list[str]
    parties: list[Party]
    consent: list[dict[str, Any]]
    matches: list[dict[str, Any]]
    open_task: HumanTask | None
    claimed_by: str | None
    timeline: list[TimelineItem]
    mails: list[OutboxMail]
    notes: list[CaseNote]
    coordinator: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def _subject(detail: dict[str, Any], tasks: dict[str, HumanTask]) -> tuple[str, str]:
    """The step or date an event is about, in Danish and English."""
    key = str(detail.get("key", ""))
    if key in tasks:
        return tasks[key].title, tasks[key].title
    if key.startswith(("timer-", "wait-")):
        kind = wait_kind_of(key)
        return words.TIMERS.da(kind), words.TIMERS.en(kind)
    return "", ""


def _event(event: AuditEvent, tasks: dict[str, HumanTask]) -> TimelineItem:
    detail = event.detail or {}
    what_da, what_en = words.ACTIONS.da(event.action), words.ACTIONS.en(event.action)
    subject_da, subject_en = _subject(detail, tasks)
    if subject_da:
        what_da, what_en = f"{what_da}: {subject_da}", f"{what_en}: {subject_en}"
    if "outcome" in detail:
        what_da += f" – {words.OUTCOMES.da(str(detail['outcome']))}"
        what_en += f" – {words.OUTCOMES.en(str(detail['outcome']))}"
    if "due_at" in detail:
        due = format_local(datetime.fromisoformat(str(detail["due_at"])))
        what_da, what_en = f"{what_da} ({due})", f"{what_en} ({due})"
    return TimelineItem(event.at, what_da, what_en, event.actor, words.STEPS.da(event.step) if event.step else None)


def _grouped(key: str, events: list[AuditEvent], tasks: dict[str, HumanTask]) -> TimelineItem:
    reminders = [e.at for e in events if e.action == "reminder-sent"]
    escalated = [e.at for e in events if e.action == "escalated"]
    title = tasks[key].title if key in tasks else key
    parts_da, parts_en = [], []
    if reminders:
        last = format_local(max(reminders))
        parts_da.append(f"{len(reminders)} påmindelse{'r' if len(reminders) > 1 else ''}, seneste {last}")
        parts_en.append(f"{len(reminders)} reminder{'s' if len(reminders) > 1 else ''}, latest {last}")
    if escalated:
        parts_da.append(f"eskaleret {format_local(max(escalated))}")
        parts_en.append(f"escalated {format_local(max(escalated))}")
    step = events[-1].step
    return TimelineItem(max(e.at for e in events), f"{title}: {', '.join(parts_da)}", f"{title}: {', '.join(parts_en)}",
                        "system", words.STEPS.da(step) if step else None)


def _records(session: Session, case: ReferralCase, now: datetime, notes: list[CaseNote]) -> list[TimelineItem]:
    """Timers ahead and passed, visits, changes, endings and notes: rows of their own, not audit events."""
    items = []
    for timer in session.scalars(select(Timer).where(Timer.case_id == case.id)):
        state = ("passeret", "passed") if timer.consumed_at else (
            ("udløbet", "due") if timer.due_at <= now else ("venter", "ahead"))
        kind = wait_kind_of(timer.key)
        items.append(TimelineItem(timer.due_at, f"{words.TIMERS.da(kind)} ({state[0]})",
                                  f"{words.TIMERS.en(kind)} ({state[1]})", "system", words.STEPS.da(timer.step)))
    for visit in session.scalars(select(CaseVisit).where(CaseVisit.case_id == case.id)):
        items.append(TimelineItem(visit.recorded_at, f"{words.VISITS.da(visit.kind)} holdt {visit.held_on:%d.%m.%Y}",
                                  f"{words.VISITS.en(visit.kind)} held {visit.held_on:%d.%m.%Y}", visit.recorded_by))
    for change in session.scalars(select(CircumstanceChange).where(CircumstanceChange.case_id == case.id)):
        items.append(TimelineItem(change.recorded_at, f"Ændrede forhold: {words.CHANGES.da(change.kind)}",
                                  f"Change of circumstances: {words.CHANGES.en(change.kind)}", change.recorded_by))
    for ending in session.scalars(select(CaseEnding).where(CaseEnding.case_id == case.id)):
        items.append(TimelineItem(ending.requested_at, f"Tidlig afslutning ({words.ENDED_BY.da(ending.ended_by)}: "
                                                       f"{ending.reason})",
                                  f"Early ending ({words.ENDED_BY.en(ending.ended_by)}: {ending.reason})",
                                  ending.requested_by))
    for note in notes:
        items.append(TimelineItem(note.written_at, f"Notat – {words.NOTE_KINDS.da(note.kind)} "
                                                   f"({note.occurred_on:%d.%m.%Y}): {note.text}",
                                  f"Note – {words.NOTE_KINDS.en(note.kind)}", note.written_by, note=True))
    return items


def _timeline(session: Session, case: ReferralCase, now: datetime, notes: list[CaseNote]) -> list[TimelineItem]:
    tasks = {t.key: t for t in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))}
    items: list[TimelineItem] = []
    grouped: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)):
        if event.action in GROUPED:
            grouped[str((event.detail or {}).get("key", ""))].append(event)
        elif event.action != "note-written":  # the note is its own row
            items.append(_event(event, tasks))
    items += [_grouped(key, events, tasks) for key, events in grouped.items()]
    items += _records(session, case, now, notes)
    return sorted(items, key=lambda item: item.at)


def case_page(session: Session, reference: str, now: datetime) -> CasePage | None:
    case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
    if case is None:
        return None
    child = case.child
    concerns = [words.CONCERNS.both(column) for column in words.CONCERNS.words if getattr(child, column)]
    receipts = list(session.scalars(select(ConsentReceipt).where(ConsentReceipt.case_id == case.id)))
    holders = [p for p in case.parties if p.role in (Role.CUSTODY_HOLDER, Role.PLACEMENT_CONTACT)]
    consent = [{"party": p, "forms": {r.form.value: r for r in receipts if r.party_id == p.id}} for p in holders]
    matches = [{"match": match, "family": session.get(VolunteerFamily, match.family_id)}
               for match in session.scalars(select(Match).where(Match.case_id == case.id).order_by(Match.attempt))]
    open_task = session.scalar(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.completed_at.is_(None))
                               .order_by(HumanTask.id).limit(1))
    names = dict(session.execute(select(UserAccount.id, UserAccount.display_name)).tuples().all())
    claimed_by = names.get(open_task.claimed_by_id) if open_task and open_task.claimed_by_id else None
    notes = notes_of(session, case.id)
    mails = list(session.scalars(select(OutboxMail).where(OutboxMail.case_id == case.id).order_by(OutboxMail.id)))
    return CasePage(case, age_on(child.birth_date, local_date(now)), concerns, list(case.parties), consent, matches,
                    open_task, claimed_by, _timeline(session, case, now, notes), mails, notes,
                    names.get(case.coordinator_id) if case.coordinator_id else None)
