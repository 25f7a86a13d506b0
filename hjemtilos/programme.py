"""The programme's steps as database operations: what opening, answering and passing each step does.

Every function here runs in one transaction and is idempotent, so a task that runs again after a crash,
or a flow that re-executes from the top, finds the work done and does nothing twice. The flow decides
the order; this module decides the effects (rows, mails, audit events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.eligibility import age_on
from casework.matching import ChildProfile, FamilyProfile, family_reference, rank_candidates
from casework.steps import CaseStatus, PlacementKind, Role, Step
from hjemtilos.app import App
from hjemtilos.db.models import CaseEnding, CircumstanceChange, Match, Party, ReferralCase, Timer, VolunteerFamily
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient, enqueue_mail
from hjemtilos.workflow import (
    ApprovalState,
    TimerState,
    approval_state_of,
    audit,
    cancel_open_waits,
    complete_task,
    ensure_timer,
    get_task,
    open_task,
    reject_input,
    set_step,
)

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
ACTIVE_MATCH = ("proposed", "agreed", "active")

# Approval kinds, in programme order. Kinds scoped by match attempt get the attempt in their key.
SCREENING = "screening"
STARTUP = "startup-meeting"
CONSENT = "consent"
MATCH_PROPOSAL = "match-proposal"
MATCH_ANSWERS = "match-answers"
FIRST_MEETING_PLAN = "first-meeting-plan"
FIRST_MEETING = "first-meeting"
FIRST_VISIT_FOLLOWUP = "first-visit-followup"
CHILD_VISIT = "child-visit"
FUTURE_AGREEMENT = "future-agreement"
EXTRA_CHILD_VISIT = "extra-child-visit"

UNSCOPED = {SCREENING, STARTUP, CONSENT}
TIMER_KINDS = (FIRST_VISIT_FOLLOWUP, CHILD_VISIT, FUTURE_AGREEMENT, "farewell")

TITLES = {
    SCREENING: "Screening af henvisningen: godkend, afvis eller bed om flere oplysninger",
    STARTUP: "Besøg hos barnet og opstartsmøde på børne-/ungehjemmet",
    CONSENT: "Registrér modtagne samtykkeerklæringer",
    MATCH_PROPOSAL: "Vælg en venskabsfamilie til matchforslaget",
    MATCH_ANSWERS: "Registrér familiens og forældrenes svar på matchforslaget",
    FIRST_MEETING_PLAN: "Planlæg det første møde hos familien",
    FIRST_MEETING: "Registrér ugedag og transport efter det første møde",
    FIRST_VISIT_FOLLOWUP: "Ring til forældre/kontaktperson efter første besøg",
    CHILD_VISIT: "Børnebesøg efter ca. 4 måneder",
    FUTURE_AGREEMENT: "Registrér aftalen om tiden efter året",
    EXTRA_CHILD_VISIT: "Ekstra børnebesøg efter familiens afslutning",
}
STEP_OF = {
    SCREENING: Step.SCREENING, STARTUP: Step.STARTUP_MEETING, CONSENT: Step.CONSENT,
    MATCH_PROPOSAL: Step.MATCH_PROPOSAL, MATCH_ANSWERS: Step.MATCH_PROPOSAL,
    FIRST_MEETING_PLAN: Step.FIRST_MEETING, FIRST_MEETING: Step.FIRST_MEETING,
    FIRST_VISIT_FOLLOWUP: Step.FIRST_VISIT_FOLLOWUP, CHILD_VISIT: Step.CHILD_VISIT,
    FUTURE_AGREEMENT: Step.FUTURE_AGREEMENT, EXTRA_CHILD_VISIT: Step.EXTRA_CHILD_VISIT,
}
TIMER_STEP = {FIRST_VISIT_FOLLOWUP: Step.FIRST_VISIT_FOLLOWUP, CHILD_VISIT: Step.CHILD_VISIT,
              FUTURE_AGREEMENT: Step.FUTURE_AGREEMENT, "farewell": Step.FAREWELL}

ENDED_BY = ("family", "parents", "child", "red-barnet", "bbu")


class InvalidRequest(ValueError):
    """A coordinator's request that cannot be carried out, with a message for the person."""


def approval_key(kind: str, scope: int | None) -> str:
    return f"approval-{kind}" if kind in UNSCOPED or scope is None else f"approval-{kind}-{scope}"


def timer_key(kind: str, attempt: int) -> str:
    return f"timer-{kind}-{attempt}"


# ---------------------------------------------------------------- snapshots returned to the flow


@dataclass(frozen=True)
class CaseInfo:
    case_id: int
    reference: str
    status: str
    residential: bool
    custody_holders: int
    match_attempt: int
    ending_pending: bool  # requested, not yet begun: waits stop and the run handles it
    ending_in_progress: bool  # requested and not finished (begun or not)


@dataclass(frozen=True)
class ApprovalView:
    kind: str
    scope: int | None
    state: ApprovalState
    description: str
    ending_pending: bool
    slots: int = 0  # consent: number of custody holders
    choices: tuple[str, ...] = ()  # match proposal: candidate family references
    initial: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitResult:
    accepted: bool
    outcome: str | None
    error: str | None


@dataclass(frozen=True)
class TimerView:
    kind: str
    state: TimerState
    ending_pending: bool


@dataclass(frozen=True)
class EndingPlan:
    ending_id: int
    extra_child_visit: bool


# ---------------------------------------------------------------- helpers


def _case(session: Session, case_id: int) -> ReferralCase:
    case = session.get(ReferralCase, case_id)
    if case is None:
        raise LookupError(f"no case with id {case_id}")
    return case


def _case_by_reference(session: Session, reference: str) -> ReferralCase:
    case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
    if case is None:
        raise InvalidRequest(f"Ingen sag med referencen {reference} / no case {reference}")
    return case


def _pending_ending(session: Session, case_id: int) -> CaseEnding | None:
    return session.scalar(select(CaseEnding).where(CaseEnding.case_id == case_id,
                                                   CaseEnding.handled_at.is_(None)).order_by(CaseEnding.id))


def _ending_not_begun(session: Session, case_id: int) -> bool:
    ending = _pending_ending(session, case_id)
    return ending is not None and ending.begun_at is None


def _parties(case: ReferralCase, role: str) -> list[Party]:
    return sorted((p for p in case.parties if p.role == role), key=lambda p: p.id)


def _recipient(party: Party) -> Recipient:
    return Recipient(party.role, party.name, party.email, party.language, key=str(party.id))


def _guardians(case: ReferralCase) -> list[Party]:
    """Who speaks for the child: the placement contact when placed out of home, else the custody holders."""
    if case.placement.kind != PlacementKind.HOME:
        contacts = _parties(case, Role.PLACEMENT_CONTACT)
        if contacts:
            return contacts
    return _parties(case, Role.CUSTODY_HOLDER)


def _referrer(case: ReferralCase) -> Party:
    return _parties(case, Role.REFERRER)[0]


def _coordinator(app: App) -> Recipient:
    s = app.settings
    return Recipient(Role.COORDINATOR, s.coordinator_name, str(s.coordinator_email), "da")


def _family_recipient(family: VolunteerFamily) -> Recipient:
    return Recipient(Role.VOLUNTEER_FAMILY, family.name, family.email, family.language, key=str(family.id))


def _mail(session: Session, app: App, case: ReferralCase, step: str, recipient: Recipient,
          context: mc.MailContext, now: datetime, occurrence: str | int) -> None:
    enqueue_mail(session, case_id=case.id, step=step, recipient=recipient, context=context,
                 programme=app.programme, now=now, occurrence=occurrence)


def _current_match(session: Session, case: ReferralCase, attempt: int | None = None) -> Match | None:
    return session.scalar(select(Match).where(Match.case_id == case.id,
                                              Match.attempt == (attempt or case.match_attempt)))


def _child_age(case: ReferralCase, now: datetime) -> int:
    return age_on(case.child.birth_date, now.astimezone(LOCAL_TZ).date())


def ui_link(app: App, case: ReferralCase) -> str:
    base = app.settings.ui_base
    if case.flow_run_id:
        return f"{base}/runs/flow-run/{case.flow_run_id}"
    return f"{base}/runs?state=Suspended&state=Paused"


def candidates_for(session: Session, case: ReferralCase, now: datetime) -> list[Any]:
    used = dict(session.execute(
        select(Match.family_id, func.count()).where(Match.status.in_(ACTIVE_MATCH)).group_by(Match.family_id)).all())
    declined = set(session.scalars(select(Match.family_id).where(Match.case_id == case.id)))
    families = session.scalars(select(VolunteerFamily).where(VolunteerFamily.status == "approved")).all()
    profiles = [
        FamilyProfile(f.id, family_reference(f.id), f.local_area, tuple(f.languages),
                      f.capacity - int(used.get(f.id, 0)), f.wish_age_min, f.wish_age_max, f.wish_gender,
                      tuple(f.competences))
        for f in families if f.id not in declined
    ]
    child = ChildProfile(_child_age(case, now), case.child.local_area, tuple(case.child.languages), case.child.gender,
                         tuple(case.child.wished_competences or ()))
    return rank_candidates(child, profiles)


# ---------------------------------------------------------------- the case run


def attach_run(app: App, case_id: int, flow_run_id: str | None, now: datetime) -> CaseInfo:
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        if flow_run_id and case.flow_run_id != flow_run_id:
            case.flow_run_id = flow_run_id
            audit(session, case.id, now, "system", "run-attached", case.current_step, {"flow_run_id": flow_run_id})
        return _info(session, case)


def case_run_key(reference: str, created_at: datetime) -> str:
    """Idempotency key of a case's run: the same case never gets two runs, even if asked twice."""
    return f"{reference}:{created_at.isoformat()}"


def record_run_started(app: App, case_id: int, flow_run_id: str, now: datetime) -> None:
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        if case.flow_run_id is None:
            case.flow_run_id = flow_run_id
            audit(session, case.id, now, "system", "run-started", case.current_step, {"flow_run_id": flow_run_id})


def case_info(app: App, case_id: int) -> CaseInfo:
    with app.session_factory() as session:
        return _info(session, _case(session, case_id))


def _info(session: Session, case: ReferralCase) -> CaseInfo:
    return CaseInfo(case.id, case.reference, case.status, case.placement.kind == PlacementKind.RESIDENTIAL_HOME,
                    len(_parties(case, Role.CUSTODY_HOLDER)), case.match_attempt,
                    _ending_not_begun(session, case.id), _pending_ending(session, case.id) is not None)


# ---------------------------------------------------------------- approvals


def prepare_approval(app: App, case_id: int, kind: str, scope: int | None, now: datetime) -> ApprovalView:
    """Open the approval (with its opening mails) unless it exists, and describe it for the form."""
    timings = app.profile.timings
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        ending = _ending_not_begun(session, case_id)
        key = approval_key(kind, scope)
        task = get_task(session, case.id, key)
        if task is None and not ending:
            data: dict[str, Any] | None = None
            reminder_role, reminder_after, escalation_after = Role.COORDINATOR, None, None
            if kind == CONSENT:
                reminder_role = Role.REFERRER
                reminder_after, escalation_after = timings.consent_reminder_after, timings.consent_escalation_after
                data = {"received": {}}
            if kind == MATCH_PROPOSAL:
                data = {"candidates": [{"reference": c.reference, "family_id": c.family_id, "score": c.score,
                                        "reasons": list(c.reasons)} for c in candidates_for(session, case, now)]}
            task, _ = open_task(session, case, key=key, step=STEP_OF[kind], title=TITLES[kind], now=now,
                                timings=timings, reminder_role=reminder_role, reminder_after=reminder_after,
                                escalation_after=escalation_after, data=data)
            _on_open(session, app, case, kind, scope, now)
        if task is None:
            return ApprovalView(kind, scope, ApprovalState(key, False, None, None, 0, None), "", True)
        slots = len(_parties(case, Role.CUSTODY_HOLDER)) if kind == CONSENT else 0
        choices = tuple(c["reference"] for c in (task.data or {}).get("candidates", ()))
        return ApprovalView(kind, scope, approval_state_of(task), _describe(case, kind, task, app), ending,
                            slots=slots, choices=choices, initial=_initial(session, case, kind, scope, now, app))


def _initial(session: Session, case: ReferralCase, kind: str, scope: int | None, now: datetime,
             app: App) -> dict[str, Any]:
    if kind == FIRST_MEETING:
        match = _current_match(session, case, scope)
        if match is not None and match.first_meeting_at is not None:
            start = app.profile.timings.visits_start_after_first_meeting.after(match.first_meeting_at)
            return {"start_date": start.astimezone(LOCAL_TZ).date()}
    return {}


INSTRUCTIONS = {
    STARTUP: "Barnet bor på børne- eller ungehjem: besøg barnet og hold opstartsmøde med leder, kontaktperson, "
             "den kommunale rådgiver og evt. forældre. Registrér datoerne her.",
    MATCH_ANSWERS: "Forslaget er sendt til familien og til forældrene/kontaktpersonen. Registrér begge svar, når de "
                   "foreligger. Et nej sender sagen tilbage til et nyt matchforslag.",
    FIRST_MEETING_PLAN: "Aftal det første møde hjemme hos familien. Invitationen sendes til begge parter, når du har "
                        "angivet tidspunktet.",
    FIRST_MEETING: "Efter det første møde: registrér den faste ugedag, hvem der bringer og henter barnet, og "
                   "startdatoen for besøgene (som standard ugen efter mødet).",
    FIRST_VISIT_FOLLOWUP: "Ring til forældrene eller kontaktpersonen og hør, hvordan det første besøg gik.",
    CHILD_VISIT: "Besøg barnet ca. 4 måneder inde i forløbet og registrér besøget.",
    FUTURE_AGREEMENT: "Familien og forældrene/kontaktpersonen er spurgt, om og hvordan besøgene fortsætter efter "
                      "året. Registrér aftalen.",
    EXTRA_CHILD_VISIT: "Familien har afsluttet forløbet. Besøg barnet, så det ikke giver sig selv skylden, og hør, "
                       "om det ønsker en ny familie.",
}


def _describe(case: ReferralCase, kind: str, task: Any, app: App) -> str:
    """Markdown for the Resume dialog: the case reference and what to do. No names, no special-category data."""
    lines = [f"## {case.reference}: {TITLES[kind]}", ""]
    if task.last_error:
        lines += [f"> **Formularen blev ikke godkendt:** {task.last_error}", ""]
    if kind == SCREENING:
        lines.append("Læs henvisningen i sagsdatabasen (`hjemtilos cases`) og vælg en beslutning.")
        if case.review_flags:
            lines.append("")
            lines.append("**Markeret til koordinatorens vurdering:** " + ", ".join(case.review_flags)
                         + " (detaljer står kun i sagsdatabasen).")
    elif kind == CONSENT:
        received = (task.data or {}).get("received", {})
        lines.append("Hver forældremyndighedsindehaver skal underskrive to samtykkeerklæringer (BBU og Red Barnet), "
                     "som sendes til BBU-kontaktpersonen. Registrér datoen for hver modtaget erklæring. "
                     "Du kan registrere dem efterhånden: sagen venter, til alle er modtaget.")
        if received:
            lines.append("")
            lines.append("Allerede registreret: " + ", ".join(sorted(received)))
    elif kind == MATCH_PROPOSAL:
        candidates = (task.data or {}).get("candidates", [])
        lines.append("Vælg den familie, der skal have forslaget. Kandidaterne er godkendte familier med plads, "
                     "sorteret efter point:")
        lines.append("")
        lines.append("| Familie | Point | Hvorfor |")
        lines.append("|---|---|---|")
        for c in candidates:
            lines.append(f"| {c['reference']} | {c['score']} | {'; '.join(c['reasons'])} |")
    else:
        lines.append(INSTRUCTIONS[kind])
    lines += ["", f"Sagen: `hjemtilos cases` · Prefect: {ui_link(app, case)}"]
    return "\n".join(lines)


def _on_open(session: Session, app: App, case: ReferralCase, kind: str, scope: int | None, now: datetime) -> None:
    """Mails and rows that belong to opening an approval (same transaction)."""
    step = STEP_OF[kind]
    child = case.child.first_name
    if kind == STARTUP:
        if case.placement.child_has_parent_contact:
            for holder in _parties(case, Role.CUSTODY_HOLDER):
                _mail(session, app, case, step, _recipient(holder),
                      mc.ParentsInformed(recipient_name=holder.name, child_first_name=child), now, "informed")
        for party in _parties(case, Role.PLACEMENT_CONTACT) + [_referrer(case)]:
            _mail(session, app, case, step, _recipient(party),
                  mc.StartupMeeting(recipient_name=party.name, case_reference=case.reference, child_first_name=child,
                                    institution_name=case.placement.institution_name or "børnehjemmet"), now, "startup")
    elif kind == CONSENT:
        bbu = _parties(case, Role.BBU_CONTACT)[0]
        for holder in _parties(case, Role.CUSTODY_HOLDER):
            _mail(session, app, case, step, _recipient(holder),
                  mc.ConsentRequest(recipient_name=holder.name, case_reference=case.reference, child_first_name=child,
                                    bbu_contact_name=bbu.name, bbu_contact_email=bbu.email), now, "request")
    elif kind == FIRST_VISIT_FOLLOWUP:
        match = _current_match(session, case, scope)
        contact = _guardians(case)[0]
        first_visit = (match.started_at if match and match.started_at else now).astimezone(LOCAL_TZ).date()
        coordinator = _coordinator(app)
        _mail(session, app, case, step, coordinator,
              mc.FirstVisitFollowup(recipient_name=coordinator.name, case_reference=case.reference,
                                    contact_name=contact.name, contact_phone=contact.phone or contact.email,
                                    first_visit_on=first_visit), now, scope or 1)
    elif kind == CHILD_VISIT:
        for guardian in _guardians(case):
            _mail(session, app, case, step, _recipient(guardian),
                  mc.ChildVisitNotice(recipient_name=guardian.name, child_first_name=child,
                                      coordinator_name=app.settings.coordinator_name), now, scope or 1)
    elif kind == FUTURE_AGREEMENT:
        match = _current_match(session, case, scope)
        assert match is not None and match.started_at is not None
        family = session.get(VolunteerFamily, match.family_id)
        assert family is not None
        year_ends = app.profile.timings.farewell_after.after(match.started_at).astimezone(LOCAL_TZ).date()
        _mail(session, app, case, step, _family_recipient(family),
              mc.FutureAgreementRequest(recipient_name=family.name, child_first_name=child, other_party=child,
                                        year_ends_on=year_ends), now, scope or 1)
        for guardian in _guardians(case):
            _mail(session, app, case, step, _recipient(guardian),
                  mc.FutureAgreementRequest(recipient_name=guardian.name, child_first_name=child,
                                            other_party=f"familien {family.name}", year_ends_on=year_ends),
                  now, scope or 1)


def submit_approval(app: App, case_id: int, kind: str, scope: int | None, round_: int, data: dict[str, Any],
                    now: datetime) -> SubmitResult:
    """Validate and record a submitted form. Idempotent: a repeated submit of a finished round changes nothing."""
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        task = get_task(session, case.id, approval_key(kind, scope))
        if task is None:
            raise LookupError(f"no approval {kind} on case {case_id}")
        if task.completed_at is not None:
            return SubmitResult(True, task.outcome, None)
        if task.round != round_:
            return SubmitResult(False, None, task.last_error)
        actor = str(data.get("coordinator") or "coordinator")[:200]
        try:
            outcome = _apply(session, app, case, task, kind, scope, data, now, actor)
        except InvalidRequest as exc:
            reject_input(session, task, str(exc), now)
            return SubmitResult(False, None, str(exc))
        if outcome is None:  # recorded, but the step is not finished (partial consent, more information)
            return SubmitResult(False, None, task.last_error)
        complete_task(session, task, outcome=outcome, data=_jsonable(data), actor=actor, now=now)
        return SubmitResult(True, outcome, None)


def skip_round(app: App, case_id: int, kind: str, scope: int | None, round_: int, now: datetime) -> None:
    """The run was resumed without the form's input: ask again under the next suspension key."""
    with app.session_factory.begin() as session:
        task = get_task(session, case_id, approval_key(kind, scope))
        if task is not None and task.completed_at is None and task.round == round_:
            reject_input(session, task, "Formularen kom ikke med. Udfyld den igen.", now)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        out[key] = value.isoformat() if isinstance(value, (date, datetime)) else value
    return out


def as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    else:
        result = datetime.fromisoformat(str(value))
    if result.tzinfo is None:
        result = result.replace(tzinfo=LOCAL_TZ)
    return result


def _apply(session: Session, app: App, case: ReferralCase, task: Any, kind: str, scope: int | None,
           data: dict[str, Any], now: datetime, actor: str) -> str | None:
    step = STEP_OF[kind]
    child = case.child.first_name
    referrer = _referrer(case)
    if kind == SCREENING:
        decision = data.get("decision")
        reason = str(data.get("reason") or "").strip()
        if decision == "afvis":
            if not reason:
                raise InvalidRequest("Skriv en begrundelse, når henvisningen afvises.")
            case.status, case.closed_at, case.close_reason = CaseStatus.REJECTED, now, "rejected at screening"
            set_step(session, case, Step.CLOSED, now)
            _mail(session, app, case, step, _recipient(referrer),
                  mc.ReferralRejected(recipient_name=referrer.name, case_reference=case.reference,
                                      child_first_name=child, reason=reason), now, "rejected")
            return "rejected"
        if decision == "mere information":
            if not reason:
                raise InvalidRequest("Skriv hvilke oplysninger, du mangler.")
            _mail(session, app, case, step, _recipient(referrer),
                  mc.MoreInformationRequest(recipient_name=referrer.name, case_reference=case.reference,
                                            child_first_name=child, question=reason), now, f"question-{task.round}")
            reject_input(session, task, "Venter på flere oplysninger fra henviser. Træf beslutningen, når de er her.",
                         now)
            return None
        if decision == "godkend":
            case.status = CaseStatus.ACTIVE
            return "approved"
        raise InvalidRequest("Vælg en beslutning.")
    if kind == STARTUP:
        if not data.get("child_visit_on") or not data.get("startup_meeting_on"):
            raise InvalidRequest("Angiv datoen for besøget hos barnet og for opstartsmødet.")
        return "held"
    if kind == CONSENT:
        received: dict[str, str] = dict((task.data or {}).get("received", {}))
        holders = _parties(case, Role.CUSTODY_HOLDER)
        missing = []
        for index, _holder in enumerate(holders, start=1):
            for form in ("bbu", "redbarnet"):
                value = as_date(data.get(f"parent_{index}_{form}"))
                label = f"forælder {index} ({'BBU' if form == 'bbu' else 'Red Barnet'})"
                if value is not None:
                    if value > now.astimezone(LOCAL_TZ).date():
                        raise InvalidRequest(f"Datoen for {label} ligger i fremtiden.")
                    received.setdefault(label, value.isoformat())
                elif label not in received:
                    missing.append(label)
        task.data = {**(task.data or {}), "received": received}
        audit(session, case.id, now, actor, "consent-recorded", step, {"received": sorted(received)})
        if missing:
            reject_input(session, task, "Mangler stadig: " + ", ".join(missing) + ".", now)
            return None
        return "received"
    if kind == MATCH_PROPOSAL:
        choice = data.get("family")
        candidates = {c["reference"]: c for c in (task.data or {}).get("candidates", [])}
        if choice not in candidates:
            raise InvalidRequest("Vælg en af de foreslåede familier.")
        family = session.get(VolunteerFamily, candidates[choice]["family_id"])
        assert family is not None and scope is not None
        if _current_match(session, case, scope) is None:
            session.add(Match(case_id=case.id, family_id=family.id, attempt=scope, status="proposed", proposed_at=now))
        _mail(session, app, case, step, _family_recipient(family),
              mc.MatchProposalFamily(recipient_name=family.name, child_first_name=child,
                                     child_age=_child_age(case, now), child_local_area=case.child.local_area),
              now, scope)
        for guardian in _guardians(case):
            _mail(session, app, case, step, _recipient(guardian),
                  mc.MatchProposalParents(recipient_name=guardian.name, child_first_name=child,
                                          family_name=family.name, family_local_area=family.local_area), now, scope)
        return "proposed"
    if kind == MATCH_ANSWERS:
        match = _current_match(session, case, scope)
        assert match is not None
        family_answer, parents_answer = data.get("family_answer"), data.get("parents_answer")
        if family_answer not in ("ja", "nej") or parents_answer not in ("ja", "nej"):
            raise InvalidRequest("Registrér både familiens og forældrenes svar (ja eller nej).")
        match.family_answer, match.parents_answer = family_answer, parents_answer
        match.family_answered_on = as_date(data.get("family_answered_on")) or now.date()
        match.parents_answered_on = as_date(data.get("parents_answered_on")) or now.date()
        if family_answer == "nej" or parents_answer == "nej":
            match.status = "declined"
            case.match_attempt = (scope or case.match_attempt) + 1
            set_step(session, case, Step.MATCH_PROPOSAL, now)
            return "declined"
        match.status = "agreed"
        family = session.get(VolunteerFamily, match.family_id)
        assert family is not None
        _mail(session, app, case, step, _recipient(referrer),
              mc.MatchAgreed(recipient_name=referrer.name, case_reference=case.reference, child_first_name=child,
                             family_local_area=family.local_area), now, scope or 1)
        return "agreed"
    if kind == FIRST_MEETING_PLAN:
        if not data.get("meeting_at"):
            raise InvalidRequest("Angiv dato og klokkeslæt for mødet.")
        meeting_at = _as_datetime(data["meeting_at"])
        match = _current_match(session, case, scope)
        assert match is not None
        family = session.get(VolunteerFamily, match.family_id)
        assert family is not None
        match.first_meeting_at = meeting_at
        address = family.address or family.local_area
        recipients = [_family_recipient(family)] + [_recipient(g) for g in _guardians(case)]
        for recipient in recipients:
            _mail(session, app, case, step, recipient,
                  mc.FirstMeetingInvitation(recipient_name=recipient.name, child_first_name=child,
                                            family_name=family.name, meeting_at=meeting_at, address=address),
                  now, scope or 1)
        return "planned"
    if kind == FIRST_MEETING:
        for name in ("weekday", "brings", "fetches"):
            if not data.get(name):
                raise InvalidRequest("Angiv ugedag, og hvem der bringer og henter barnet.")
        match = _current_match(session, case, scope)
        assert match is not None
        start_date = as_date(data.get("start_date"))
        if start_date is not None and start_date > now.astimezone(LOCAL_TZ).date():
            started_at = datetime.combine(start_date, time(0, 0), tzinfo=LOCAL_TZ)
        else:
            started_at = app.profile.timings.visits_start_after_first_meeting.after(now)
        match.weekday, match.transport_to, match.transport_from = data["weekday"], data["brings"], data["fetches"]
        match.start_date = started_at.astimezone(LOCAL_TZ).date()
        match.started_at = started_at
        match.status = "active"
        audit(session, case.id, now, actor, "visits-start", step, {"started_at": started_at.isoformat()})
        return "recorded"
    if kind in (FIRST_VISIT_FOLLOWUP, CHILD_VISIT):
        field_name = "call_held_on" if kind == FIRST_VISIT_FOLLOWUP else "visit_held_on"
        if not data.get(field_name):
            raise InvalidRequest("Angiv datoen.")
        return "held"
    if kind == FUTURE_AGREEMENT:
        if not data.get("continuation"):
            raise InvalidRequest("Vælg hvad parterne har aftalt.")
        return str(data["continuation"])
    if kind == EXTRA_CHILD_VISIT:
        if not data.get("visit_held_on") or data.get("child_wants_rematch") not in ("ja", "nej"):
            raise InvalidRequest("Angiv datoen for besøget, og om barnet ønsker en ny familie.")
        return "rematch" if data["child_wants_rematch"] == "ja" else "no-rematch"
    raise InvalidRequest(f"unknown approval {kind}")


# ---------------------------------------------------------------- timers and waits


def _timer_due(app: App, match: Match, kind: str) -> datetime:
    timings = app.profile.timings
    assert match.started_at is not None
    delay = {FIRST_VISIT_FOLLOWUP: timings.first_visit_followup_after, CHILD_VISIT: timings.child_visit_after,
             FUTURE_AGREEMENT: timings.future_agreement_after, "farewell": timings.farewell_after}[kind]
    return delay.after(match.started_at)


def prepare_timer(app: App, case_id: int, kind: str, attempt: int, now: datetime) -> TimerView:
    """Ensure the timer row; if it is due (or fired), mark it consumed. Otherwise take a new suspension round."""
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        ending = _ending_not_begun(session, case_id)
        key = timer_key(kind, attempt)
        if ending:
            return TimerView(kind, TimerState(key, now, False, 0), True)
        match = _current_match(session, case, attempt)
        assert match is not None
        timer = ensure_timer(session, case, key=key, step=TIMER_STEP[kind], due_at=_timer_due(app, match, kind),
                             now=now)
        return _advance_timer(session, case, timer, now)


def _advance_timer(session: Session, case: ReferralCase, timer: Timer, now: datetime) -> TimerView:
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
        case = _case(session, case_id)
        key = f"wait-family-{attempt}"
        if _ending_not_begun(session, case_id):
            return TimerView(key, TimerState(key, now, False, 0), True)
        timer = session.scalar(select(Timer).where(Timer.case_id == case.id, Timer.key == key))
        already_past = (timer is not None and timer.consumed_at is not None) or \
            _current_match(session, case, attempt) is not None
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
        case = _case(session, case_id)
        if case.status == CaseStatus.CLOSED:
            return
        match = _current_match(session, case, attempt)
        assert match is not None
        family = session.get(VolunteerFamily, match.family_id)
        assert family is not None
        child = case.child.first_name
        step = Step.FAREWELL
        _mail(session, app, case, step, _family_recipient(family),
              mc.FarewellFamily(recipient_name=family.name, child_first_name=child), now, attempt)
        for guardian in _guardians(case):
            _mail(session, app, case, step, _recipient(guardian),
                  mc.FarewellParents(recipient_name=guardian.name, child_first_name=child, family_name=family.name),
                  now, attempt)
        referrer = _referrer(case)
        _mail(session, app, case, step, _recipient(referrer),
              mc.CourseEnded(recipient_name=referrer.name, case_reference=case.reference, child_first_name=child),
              now, attempt)
        match.status, match.ended_at, match.ended_by = "completed", now, "anniversary"
        case.status, case.closed_at, case.close_reason = CaseStatus.CLOSED, now, "year completed"
        set_step(session, case, Step.CLOSED, now)
        audit(session, case.id, now, "system", "case-closed", Step.FAREWELL, {"reason": "year completed"})


# ---------------------------------------------------------------- early ending and changes


def request_ending(app: App, reference: str, *, ended_by: str, reason: str, rematch: bool, actor: str,
                   now: datetime) -> tuple[int, str | None]:
    """Record a coordinator's early ending. Returns (case id, flow run id) so the caller can wake the run."""
    if ended_by not in ENDED_BY:
        raise InvalidRequest(f"ended_by must be one of {', '.join(ENDED_BY)}")
    with app.session_factory.begin() as session:
        case = _case_by_reference(session, reference)
        if case.status in (CaseStatus.CLOSED, CaseStatus.REJECTED):
            raise InvalidRequest(f"Sagen {reference} er allerede afsluttet / the case is already closed")
        if _pending_ending(session, case.id) is not None:
            raise InvalidRequest(f"Sagen {reference} er allerede ved at blive afsluttet / an ending is in progress")
        match = session.scalar(select(Match).where(Match.case_id == case.id, Match.status.in_(ACTIVE_MATCH))
                               .order_by(Match.attempt.desc()))
        session.add(CaseEnding(case_id=case.id, match_id=match.id if match else None, requested_at=now,
                               requested_by=actor, ended_by=ended_by, reason=reason, rematch_wanted=rematch))
        cancel_open_waits(session, case.id, now, actor)
        set_step(session, case, Step.EARLY_ENDING, now)
        audit(session, case.id, now, actor, "ending-requested", Step.EARLY_ENDING,
              {"ended_by": ended_by, "reason": reason, "rematch": rematch})
        return case.id, case.flow_run_id


def begin_ending(app: App, case_id: int, now: datetime) -> EndingPlan | None:
    """Send the early-ending notices and open the extra child visit when the family ended it."""
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        ending = _pending_ending(session, case_id)
        if ending is None:
            return None
        match = session.get(Match, ending.match_id) if ending.match_id else None
        extra = ending.ended_by == "family" and match is not None
        if ending.begun_at is None:
            ending.begun_at = now
            child = case.child.first_name
            step = Step.EARLY_ENDING
            rematch_possible = match is not None and ending.rematch_wanted
            recipients = [_recipient(_referrer(case))] + [_recipient(g) for g in _guardians(case)]
            if match is not None:
                match.status, match.ended_at, match.ended_by, match.end_reason = "ended", now, ending.ended_by, ending.reason
                family = session.get(VolunteerFamily, match.family_id)
                assert family is not None
                recipients.append(_family_recipient(family))
            for recipient in recipients:
                _mail(session, app, case, step, recipient,
                      mc.EarlyEndingNotice(recipient_name=recipient.name, child_first_name=child,
                                           rematch=rematch_possible or extra), now, f"ending-{ending.id}")
            audit(session, case.id, now, "system", "ending-begun", step, {"ending": ending.id})
        return EndingPlan(ending.id, extra)


def finish_ending(app: App, case_id: int, ending_id: int, now: datetime) -> str:
    """Close the case or send it back to matching. Returns ``rematch`` or ``closed``."""
    with app.session_factory.begin() as session:
        case = _case(session, case_id)
        ending = session.get(CaseEnding, ending_id)
        assert ending is not None
        if ending.handled_at is not None:
            return str(ending.outcome)
        rematch = ending.rematch_wanted and ending.match_id is not None
        if ending.ended_by == "family" and ending.match_id is not None:
            visit = get_task(session, case.id, approval_key(EXTRA_CHILD_VISIT, ending.id))
            rematch = visit is not None and visit.outcome == "rematch"
        ending.handled_at, ending.outcome = now, "rematch" if rematch else "closed"
        if rematch:
            case.match_attempt += 1
            set_step(session, case, Step.MATCH_PROPOSAL, now)
        else:
            case.status, case.closed_at, case.close_reason = CaseStatus.CLOSED, now, f"ended early by {ending.ended_by}"
            set_step(session, case, Step.CLOSED, now)
        audit(session, case.id, now, "system", "ending-finished", Step.EARLY_ENDING, {"outcome": ending.outcome})
        return str(ending.outcome)


CHANGE_TEXT = {
    "moving": ("barnet er flyttet", "the child has moved"),
    "illness": ("sygdom i familien", "illness in the family"),
    "divorce": ("forældrene er gået fra hinanden", "the parents have separated"),
    "placement": ("barnet er blevet anbragt eller har skiftet anbringelsessted", "the child's placement has changed"),
    "other": ("andre ændrede forhold", "other changed circumstances"),
}


def record_change(app: App, reference: str, kind: str, actor: str, now: datetime) -> int:
    """Record a change of circumstances and inform the active family and the coordinator."""
    if kind not in CHANGE_TEXT:
        raise InvalidRequest(f"kind must be one of {', '.join(CHANGE_TEXT)}")
    with app.session_factory.begin() as session:
        case = _case_by_reference(session, reference)
        change = CircumstanceChange(case_id=case.id, kind=kind, recorded_at=now, recorded_by=actor)
        session.add(change)
        session.flush()
        audit(session, case.id, now, actor, "circumstances-changed", case.current_step, {"kind": kind})
        child = case.child.first_name
        match = session.scalar(select(Match).where(Match.case_id == case.id, Match.status.in_(ACTIVE_MATCH)))
        recipients = [_coordinator(app)]
        if match is not None:
            family = session.get(VolunteerFamily, match.family_id)
            assert family is not None
            recipients.append(_family_recipient(family))
        for recipient in recipients:
            da, en = CHANGE_TEXT[kind]
            _mail(session, app, case, case.current_step, recipient,
                  mc.CircumstancesChanged(recipient_name=recipient.name, child_first_name=child,
                                          change=en if recipient.language == "en" else da), now, f"change-{change.id}")
        return change.id

