"""Early ending and changes of circumstances: a coordinator's request, the notices, the extra child visit when the
family ended it, and closing the case or sending it back to matching."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.steps import (
    FINISHED_CASE,
    LIVE_MATCH,
    ApprovalKind,
    CaseStatus,
    ChangeKind,
    EndedBy,
    MatchStatus,
    Role,
    Step,
    StepOutcome,
    VisitKind,
)
from hjemtilos.app import App
from hjemtilos.approvals import InvalidRequest, cancel_open_waits, get_task
from hjemtilos.cases.context import CaseContext, family_recipient, load_case
from hjemtilos.cases.handler import Answer, Handler
from hjemtilos.cases.records import not_in_future, record_visit
from hjemtilos.db.models import CaseEnding, CircumstanceChange, Match, ReferralCase
from hjemtilos.mail import contexts as mc

__all__ = ["CHANGE_TEXT", "EndingPlan", "ExtraChildVisitAnswer", "ExtraChildVisitHandler", "begin_ending",
           "case_by_reference", "ending_not_begun", "finish_ending", "pending_ending", "record_change",
           "request_ending"]

CHANGE_TEXT: dict[ChangeKind, tuple[str, str]] = {
    ChangeKind.MOVING: ("barnet er flyttet", "the child has moved"),
    ChangeKind.ILLNESS: ("sygdom i familien", "illness in the family"),
    ChangeKind.DIVORCE: ("forældrene er gået fra hinanden", "the parents have separated"),
    ChangeKind.PLACEMENT: ("barnet er blevet anbragt eller har skiftet anbringelsessted",
                           "the child's placement has changed"),
    ChangeKind.OTHER: ("andre ændrede forhold", "other changed circumstances"),
}

# The coordinator's choices (Danish) for an early ending and a change of circumstances: the end-case and
# record-change deployments and the workspace's case page offer the same.
ENDED_BY = {"venskabsfamilien": EndedBy.FAMILY, "forældrene": EndedBy.PARENTS, "barnet": EndedBy.CHILD,
            "Red Barnet": EndedBy.RED_BARNET, "BBU": EndedBy.BBU}
REASONS = Literal["familiens situation", "barnet ønsker ikke at fortsætte", "forældrene ønsker ikke at fortsætte",
                  "flytning", "samarbejdet fungerer ikke", "andet"]
CHANGES = {"flytning": ChangeKind.MOVING, "sygdom": ChangeKind.ILLNESS, "skilsmisse": ChangeKind.DIVORCE,
           "anbringelse": ChangeKind.PLACEMENT, "andet": ChangeKind.OTHER}



@dataclass(frozen=True)
class EndingPlan:
    ending_id: int
    extra_child_visit: bool


class ExtraChildVisitAnswer(Answer):
    visit_held_on: date = Field(title="Ekstra børnebesøg holdt (dato)",
                                description="Dagen, du besøgte barnet efter den tidlige afslutning.")
    child_wants_rematch: Literal["ja", "nej"] = Field(
        title="Ønsker barnet en ny venskabsfamilie?",
        description="Ja: sagen går tilbage til et nyt matchforslag. Nej: sagen afsluttes.")

    @property
    def wants_rematch(self) -> bool:
        return self.child_wants_rematch == "ja"


class ExtraChildVisitHandler(Handler[ExtraChildVisitAnswer]):
    kind = ApprovalKind.EXTRA_CHILD_VISIT
    outcomes = frozenset({StepOutcome.REMATCH, StepOutcome.NO_REMATCH})
    step = Step.EXTRA_CHILD_VISIT
    title = "Ekstra børnebesøg efter familiens afslutning"
    answer = ExtraChildVisitAnswer
    instructions = ("Familien har afsluttet forløbet. Besøg barnet, så det ikke giver sig selv skylden, og hør, "
                    "om det ønsker en ny familie.")

    def apply(self, ctx: CaseContext, answer: ExtraChildVisitAnswer) -> StepOutcome | None:
        not_in_future(ctx, answer.visit_held_on)
        record_visit(ctx, VisitKind.EXTRA_CHILD_VISIT, answer.visit_held_on)
        return StepOutcome.REMATCH if answer.wants_rematch else StepOutcome.NO_REMATCH


def case_by_reference(session: Session, reference: str) -> ReferralCase:
    case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
    if case is None:
        raise InvalidRequest(f"Ingen sag med referencen {reference} / no case {reference}")
    return case


def pending_ending(session: Session, case_id: int) -> CaseEnding | None:
    return session.scalar(select(CaseEnding).where(CaseEnding.case_id == case_id, CaseEnding.handled_at.is_(None))
                          .order_by(CaseEnding.id))


def ending_not_begun(session: Session, case_id: int) -> bool:
    ending = pending_ending(session, case_id)
    return ending is not None and ending.begun_at is None


def request_ending(app: App, reference: str, *, ended_by: EndedBy, reason: str, rematch: bool, actor: str,
                   now: datetime) -> tuple[int, str | None]:
    """Record a coordinator's early ending. Returns (case id, flow run id) so the caller can wake the run."""
    if ended_by is EndedBy.ANNIVERSARY:
        raise InvalidRequest("ended_by must be who ended it, not the anniversary")
    with app.session_factory.begin() as session:
        case = case_by_reference(session, reference)
        if case.status in FINISHED_CASE:
            raise InvalidRequest(f"Sagen {reference} er allerede afsluttet / the case is already closed")
        if pending_ending(session, case.id) is not None:
            raise InvalidRequest(f"Sagen {reference} er allerede ved at blive afsluttet / an ending is in progress")
        match = session.scalar(select(Match).where(Match.case_id == case.id, Match.status.in_(LIVE_MATCH))
                               .order_by(Match.attempt.desc()))
        session.add(CaseEnding(case_id=case.id, match_id=match.id if match else None, requested_at=now,
                               requested_by=actor, ended_by=ended_by, reason=reason, rematch_wanted=rematch))
        cancel_open_waits(session, case.id, now, actor)
        ctx = CaseContext(session, app, case, now, actor=actor)
        ctx.set_step(Step.EARLY_ENDING)
        ctx.audit("ending-requested", Step.EARLY_ENDING,
                  {"ended_by": ended_by.value, "reason": reason, "rematch": rematch})
        return case.id, case.flow_run_id


def begin_ending(app: App, case_id: int, now: datetime) -> EndingPlan | None:
    """Send the early-ending notices and open the extra child visit when the family ended it."""
    with app.session_factory.begin() as session:
        ending = pending_ending(session, case_id)
        if ending is None:
            return None
        ctx = CaseContext(session, app, load_case(session, case_id), now)
        match = session.get(Match, ending.match_id) if ending.match_id else None
        extra = ending.ended_by is EndedBy.FAMILY and match is not None
        if ending.begun_at is None:
            ending.begun_at = now
            rematch_possible = match is not None and ending.rematch_wanted
            recipients = [ctx.referrer_recipient(), *(ctx.party_recipient(g) for g in ctx.guardians())]
            if match is not None:
                match.status, match.ended_at = MatchStatus.ENDED, now
                match.ended_by, match.end_reason = ending.ended_by, ending.reason
                recipients.append(family_recipient(ctx.family(match)))
            # the notice follows the decision: no promise of a new family before the child has been asked
            next_step = "child-visit" if extra else "rematch" if rematch_possible else "closing"
            for to in recipients:
                ctx.mail(Step.EARLY_ENDING, to, mc.EarlyEndingNotice(
                    recipient_name=to.name, child_first_name=ctx.child_name, next_step=next_step,
                    after_child_visit=False, to_family=to.role == Role.VOLUNTEER_FAMILY), f"ending-{ending.id}")
            ctx.audit("ending-begun", Step.EARLY_ENDING, {"ending": ending.id})
        return EndingPlan(ending.id, extra)


def finish_ending(app: App, case_id: int, ending_id: int, now: datetime) -> str:
    """Close the case or send it back to matching. Returns ``rematch`` or ``closed``."""
    with app.session_factory.begin() as session:
        case = load_case(session, case_id)
        ending = session.get(CaseEnding, ending_id)
        if ending is None:
            raise LookupError(f"no ending {ending_id} on case {case_id}")
        if ending.handled_at is not None:
            return str(ending.outcome)
        rematch = ending.rematch_wanted and ending.match_id is not None
        ctx = CaseContext(session, app, case, now)
        if ending.ended_by is EndedBy.FAMILY and ending.match_id is not None:
            visit = get_task(session, case.id, ExtraChildVisitHandler().key(ending.id))
            rematch = visit is not None and visit.outcome == StepOutcome.REMATCH
            # the first notice promised nothing: now the referrer and the parents hear what the child visit decided
            for to in [ctx.referrer_recipient(), *(ctx.party_recipient(g) for g in ctx.guardians())]:
                ctx.mail(Step.EARLY_ENDING, to, mc.EarlyEndingNotice(
                    recipient_name=to.name, child_first_name=ctx.child_name,
                    next_step="rematch" if rematch else "closing", after_child_visit=True, to_family=False),
                    f"ending-{ending.id}-decided")
        ending.handled_at, ending.outcome = now, StepOutcome.REMATCH if rematch else StepOutcome.CLOSED
        if rematch:
            case.match_attempt += 1
            ctx.set_step(Step.MATCH_PROPOSAL)
        else:
            case.status, case.closed_at = CaseStatus.CLOSED, now
            case.close_reason = f"ended early by {ending.ended_by.value}"
            ctx.set_step(Step.CLOSED)
        ctx.audit("ending-finished", Step.EARLY_ENDING, {"outcome": ending.outcome})
        return str(ending.outcome)


def record_change(app: App, reference: str, kind: ChangeKind, actor: str, now: datetime) -> int:
    """Record a change of circumstances and inform the active family and the coordinator."""
    with app.session_factory.begin() as session:
        case = case_by_reference(session, reference)
        change = CircumstanceChange(case_id=case.id, kind=kind.value, recorded_at=now, recorded_by=actor)
        session.add(change)
        session.flush()
        ctx = CaseContext(session, app, case, now, actor=actor)
        ctx.audit("circumstances-changed", case.current_step, {"kind": kind.value})
        match = session.scalar(select(Match).where(Match.case_id == case.id, Match.status.in_(LIVE_MATCH)))
        recipients = [ctx.coordinator()]
        if match is not None:
            recipients.append(family_recipient(ctx.family(match)))
        da, en = CHANGE_TEXT[kind]
        for to in recipients:
            ctx.mail(case.current_step, to, mc.CircumstancesChanged(
                recipient_name=to.name, child_first_name=ctx.child_name, change=en if to.language == "en" else da),
                f"change-{change.id}")
        return change.id
