"""The case's timed waits: the year's timers (counted from the start of the visits), waiting for an approved family
with room, and the anniversary that closes the year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.keys import family_wait_key, timer_key
from casework.steps import CaseStatus, EndedBy, MatchStatus, Step, TimerKind
from hjemtilos.app import App
from hjemtilos.approvals import TimerState, audit, ensure_timer, set_step
from hjemtilos.cases.context import CaseContext, candidates_for, family_recipient, load_case
from hjemtilos.cases.ending import ending_not_begun
from hjemtilos.db.models import Match, ReferralCase, Timer
from hjemtilos.mail import contexts as mc

__all__ = ["TIMER_STEP", "TimerView", "family_wait_key", "finish_year", "prepare_family_wait", "prepare_timer",
           "timer_key"]

TIMER_STEP = {TimerKind.FIRST_VISIT_FOLLOWUP: Step.FIRST_VISIT_FOLLOWUP, TimerKind.CHILD_VISIT: Step.CHILD_VISIT,
              TimerKind.FUTURE_AGREEMENT: Step.FUTURE_AGREEMENT, TimerKind.FAREWELL: Step.FAREWELL}


@dataclass(frozen=True)
class TimerView:
    key: str
    state: TimerState
    ending_pending: bool


def _due(app: App, match: Match, kind: TimerKind) -> datetime:
    timings = app.profile.timings
    if match.started_at is None:
        raise LookupError(f"match {match.id}: the visits have not started")
    delay = {TimerKind.FIRST_VISIT_FOLLOWUP: timings.first_visit_followup_after,
             TimerKind.CHILD_VISIT: timings.child_visit_after,
             TimerKind.FUTURE_AGREEMENT: timings.future_agreement_after,
             TimerKind.FAREWELL: timings.farewell_after}[kind]
    return delay.after(match.started_at)


def _passed(key: str, now: datetime) -> TimerView:
    return TimerView(key, TimerState(key, now, False, 0), True)


def prepare_timer(app: App, case_id: int, kind: TimerKind, attempt: int, now: datetime) -> TimerView:
    """Ensure the timer row; if it is due (or fired), mark it consumed. Otherwise take a new suspension round."""
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        key = timer_key(kind, attempt)
        if ending_not_begun(session, case_id):
            return _passed(key, now)
        match = CaseContext(session, app, case, now, scope=attempt).current_match()
        timer = ensure_timer(session, case, key=key, step=TIMER_STEP[kind], due_at=_due(app, match, kind), now=now)
        return _advance(session, case, timer, now)


def _advance(session: Session, case: ReferralCase, timer: Timer, now: datetime) -> TimerView:
    if timer.consumed_at is not None or timer.fired_at is not None or timer.due_at <= now:
        if timer.fired_at is None:
            timer.fired_at = now
        if timer.consumed_at is None:
            timer.consumed_at = now
            audit(session, case.id, now, "system", "timer-passed", timer.step, {"key": timer.key})
        return TimerView(timer.key, TimerState(timer.key, timer.due_at, True, timer.round), False)
    timer.round += 1
    return TimerView(timer.key, TimerState(timer.key, timer.due_at, False, timer.round), False)


def prepare_family_wait(app: App, case_id: int, attempt: int, now: datetime) -> TimerView:
    """Pass when an approved family with free capacity exists; otherwise wait (the timekeeper wakes the run)."""
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        key = family_wait_key(attempt)
        if ending_not_begun(session, case_id):
            return _passed(key, now)
        timer = session.scalar(select(Timer).where(Timer.case_id == case.id, Timer.key == key))
        ctx = CaseContext(session, app, case, now, scope=attempt)
        already_past = (timer is not None and timer.consumed_at is not None) or ctx.match(attempt) is not None
        if already_past or candidates_for(session, case, now):
            if timer is not None and timer.consumed_at is None:
                timer.fired_at = timer.fired_at or now
                timer.consumed_at = now
            return TimerView(key, TimerState(key, now, True, timer.round if timer else 0), False)
        if timer is None:
            timer = ensure_timer(session, case, key=key, step=Step.AWAITING_FAMILY, due_at=now, now=now)
        timer.fired_at = None  # not passed: the timekeeper fires it when a family is available
        timer.round += 1
        set_step(session, case, Step.AWAITING_FAMILY, now)
        return TimerView(key, TimerState(key, timer.due_at, False, timer.round), False)


def finish_year(app: App, case_id: int, attempt: int, now: datetime) -> None:
    """The anniversary: farewell mails to the family and the parents/contact, course-ended to the referrer."""
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        if case.status == CaseStatus.CLOSED:
            return
        ctx = CaseContext(session, app, case, now, scope=attempt)
        match = ctx.current_match()
        family = ctx.family(match)
        step = Step.FAREWELL
        ctx.mail(step, family_recipient(family),
                 mc.FarewellFamily(recipient_name=family.name, child_first_name=ctx.child_name), attempt)
        for guardian in ctx.guardians():
            ctx.mail(step, ctx.party_recipient(guardian),
                     mc.FarewellParents(recipient_name=guardian.name, child_first_name=ctx.child_name,
                                        family_name=family.name), attempt)
        referrer = ctx.referrer()
        ctx.mail(step, ctx.party_recipient(referrer),
                 mc.CourseEnded(recipient_name=referrer.name, case_reference=case.reference,
                                child_first_name=ctx.child_name), attempt)
        match.status, match.ended_at, match.ended_by = MatchStatus.COMPLETED, now, EndedBy.ANNIVERSARY
        case.status, case.closed_at, case.close_reason = CaseStatus.CLOSED, now, "year completed"
        ctx.set_step(Step.CLOSED)
        ctx.audit("case-closed", Step.FAREWELL, {"reason": "year completed"})
