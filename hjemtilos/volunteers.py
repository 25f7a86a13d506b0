"""Volunteer families in the case database: registration, screening (one approval run per family),
reminders, and the programme-wide supervision invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.durations import Duration
from casework.families import (
    CompositionError,
    FamilyRegistration,
    MemberRecord,
    ScreeningStatus,
    composition_errors,
    needs_certificates,
    screening_status,
)
from casework.matching import family_reference
from casework.steps import Role
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, FamilyMember, HumanTask, Match, VolunteerFamily
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient, enqueue_mail
from hjemtilos.programme import InvalidRequest, SubmitResult, as_date
from hjemtilos.workflow import ApprovalState, approval_state_of, complete_task, get_family_task, open_task, reject_input

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
HOME_VISIT = "home-visit"
FAMILY_APPROVAL = "family-approval"
TITLES = {HOME_VISIT: "Hjemmebesøg og samtale med familien",
          FAMILY_APPROVAL: "Attester, e-læring og godkendelse af familien"}
SUPERVISION_ANCHOR = datetime(2026, 1, 5, 17, 0, tzinfo=timezone.utc)  # a Monday; rounds count from here


class FamilyRejected(Exception):
    def __init__(self, errors: list[CompositionError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.en}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class StoredFamily:
    family_id: int
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class FamilyInfo:
    family_id: int
    reference: str
    status: str


@dataclass(frozen=True)
class FamilyApprovalView:
    kind: str
    state: ApprovalState
    description: str
    members_needing_certificates: tuple[int, ...]  # 1-based member numbers


def family_run_key(reference: str, created_at: datetime) -> str:
    return f"{reference}:{created_at.isoformat()}"


def register_family(session: Session, registration: FamilyRegistration, now: datetime,
                    actor: str = "intake") -> StoredFamily:
    errors = composition_errors(registration, now.astimezone(LOCAL_TZ).date())
    if errors:
        raise FamilyRejected(errors)
    family = VolunteerFamily(
        name=registration.name, email=str(registration.email), phone=registration.phone,
        language=registration.language, address=registration.address, local_area=registration.local_area,
        languages=list(registration.languages), capacity=registration.capacity,
        wish_age_min=registration.wish_age_min, wish_age_max=registration.wish_age_max,
        wish_gender=registration.wish_gender, competences=list(registration.competences), status="screening",
        created_at=now,
        members=[FamilyMember(name=m.name, birth_date=m.birth_date, is_volunteer=m.role == "volunteer",
                              lives_at_home=m.lives_at_home) for m in registration.members],
    )
    session.add(family)
    session.flush()
    session.add(AuditEvent(family_id=family.id, at=now, actor=actor, action="family-registered", step="screening",
                           detail={"reference": family_reference(family.id), "members": len(registration.members)}))
    return StoredFamily(family.id, family_reference(family.id), now)


def record_family_run(app: App, family_id: int, flow_run_id: str) -> None:
    with app.session_factory.begin() as session:
        family = session.get(VolunteerFamily, family_id)
        if family is not None and family.flow_run_id is None:
            family.flow_run_id = flow_run_id


def family_info(app: App, family_id: int) -> FamilyInfo:
    with app.session_factory() as session:
        family = _family(session, family_id)
        return FamilyInfo(family.id, family_reference(family.id), family.status)


def _family(session: Session, family_id: int) -> VolunteerFamily:
    family = session.get(VolunteerFamily, family_id)
    if family is None:
        raise LookupError(f"no volunteer family with id {family_id}")
    return family


def _members(family: VolunteerFamily) -> list[FamilyMember]:
    return sorted(family.members, key=lambda m: m.id)


def status_of(family: VolunteerFamily, today: date) -> ScreeningStatus:
    records = [MemberRecord(i, m.birth_date, m.child_certificate_received_on is not None,
                            m.criminal_record_received_on is not None,
                            m.child_certificate_clear is not False and m.criminal_record_clear is not False)
               for i, m in enumerate(_members(family), start=1)]
    return screening_status(records, family.home_visit_on is not None, family.elearning_completed_on is not None,
                            today)


def _today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def prepare_family_approval(app: App, family_id: int, kind: str, now: datetime) -> FamilyApprovalView:
    timings = app.profile.timings
    with app.session_factory.begin() as session:
        family = _family(session, family_id)
        key = f"approval-{kind}"
        task, _ = open_task(session, None, family_id=family.id, key=key, step=f"volunteer-{kind}",
                            title=TITLES[kind], now=now, timings=timings,
                            reminder_after=timings.screening_reminder_after)
        today = _today(now)
        needing = tuple(i for i, m in enumerate(_members(family), start=1) if needs_certificates(m.birth_date, today))
        return FamilyApprovalView(kind, approval_state_of(task), _describe(family, kind, task, today), needing)


def _describe(family: VolunteerFamily, kind: str, task: HumanTask, today: date) -> str:
    reference = family_reference(family.id)
    lines = [f"## {reference}: {TITLES[kind]}", ""]
    if task.last_error:
        lines += [f"> **{task.last_error}**", ""]
    if kind == HOME_VISIT:
        lines.append("Besøg familien hjemme og hold samtalen. Registrér datoerne og om screeningen fortsætter.")
    else:
        status = status_of(family, today)
        lines.append("Registrér attester (dato for bestilling og modtagelse; kun udfald, aldrig kopier) for hvert "
                     "medlem på 15 år eller derover i dag, og datoen for e-læringskurset. Godkendelse kræver, at "
                     "alt er modtaget.")
        lines.append("")
        members = _members(family)
        lines.append("| Medlem | Alder | Attester krævet |")
        lines.append("|---|---|---|")
        for index, member in enumerate(members, start=1):
            age = today.year - member.birth_date.year - ((today.month, today.day) < (member.birth_date.month,
                                                                                      member.birth_date.day))
            lines.append(f"| {index} ({'frivillig' if member.is_volunteer else 'husstand'}) | {age} | "
                         f"{'ja' if needs_certificates(member.birth_date, today) else 'nej'} |")
        lines.append("")
        lines.append("**Mangler:** " + (", ".join(status.missing) if status.missing else "intet"))
    lines += ["", "Familien: `hjemtilos family list`"]
    return "\n".join(lines)


def submit_family_approval(app: App, family_id: int, kind: str, round_: int, data: dict[str, Any],
                           now: datetime) -> SubmitResult:
    with app.session_factory.begin() as session:
        family = _family(session, family_id)
        task = get_family_task(session, family.id, f"approval-{kind}")
        if task is None:
            raise LookupError(f"no approval {kind} for family {family_id}")
        if task.completed_at is not None:
            return SubmitResult(True, task.outcome, None)
        if task.round != round_:
            return SubmitResult(False, None, task.last_error)
        actor = str(data.get("coordinator") or "coordinator")[:200]
        try:
            outcome = _apply(session, app, family, task, kind, data, now, actor)
        except InvalidRequest as exc:
            reject_input(session, task, str(exc), now)
            return SubmitResult(False, None, str(exc))
        if outcome is None:
            return SubmitResult(False, None, task.last_error)
        complete_task(session, task, outcome=outcome,
                      data={k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()},
                      actor=actor, now=now)
        return SubmitResult(True, outcome, None)


def _apply(session: Session, app: App, family: VolunteerFamily, task: HumanTask, kind: str, data: dict[str, Any],
           now: datetime, actor: str) -> str | None:
    today = _today(now)
    if data.get("decision") == "afvis":
        reason = str(data.get("reason") or "").strip()
        if not reason:
            raise InvalidRequest("Skriv en begrundelse, når familien afvises.")
        family.status, family.rejected_reason = "rejected", reason[:500]
        return "rejected"
    if kind == HOME_VISIT:
        visit, interview = as_date(data.get("home_visit_on")), as_date(data.get("interview_on"))
        if visit is None or interview is None:
            raise InvalidRequest("Angiv datoen for hjemmebesøget og for samtalen.")
        if visit > today or interview > today:
            raise InvalidRequest("Datoerne kan ikke ligge i fremtiden.")
        family.home_visit_on, family.interview_on = visit, interview
        return "done"
    # family-approval: record what arrived, then approve only when nothing is missing
    members = _members(family)
    for index, member in enumerate(members, start=1):
        for certificate in ("child_certificate", "criminal_record"):
            for suffix in ("requested_on", "received_on"):
                value = as_date(data.get(f"member_{index}_{certificate}_{suffix}"))
                if value is not None:
                    if value > today:
                        raise InvalidRequest(f"Medlem {index}: datoen ligger i fremtiden.")
                    setattr(member, f"{certificate}_{suffix}", value)
            clear = data.get(f"member_{index}_{certificate}_outcome")
            if clear in ("uden anmærkning", "med anmærkning"):
                setattr(member, f"{certificate}_clear", clear == "uden anmærkning")
    elearning = as_date(data.get("elearning_completed_on"))
    if elearning is not None:
        family.elearning_completed_on = elearning
    session.add(AuditEvent(family_id=family.id, at=now, actor=actor, action="screening-recorded",
                           step="volunteer-family-approval", detail=None))
    session.flush()
    status = status_of(family, today)
    if data.get("decision") == "godkend":
        if not status.complete:
            problems = list(status.missing) + list(status.unclear_certificates)
            reject_input(session, task, "Kan ikke godkendes endnu. Mangler: " + ", ".join(problems) + ".", now)
            return None
        family.status, family.approved_at = "approved", now
        return "approved"
    reject_input(session, task, "Gemt. Mangler: " + (", ".join(status.missing) or "intet – klar til godkendelse") + ".",
                 now)
    return None


def skip_family_round(app: App, family_id: int, kind: str, round_: int, now: datetime) -> None:
    with app.session_factory.begin() as session:
        task = get_family_task(session, family_id, f"approval-{kind}")
        if task is not None and task.completed_at is None and task.round == round_:
            reject_input(session, task, "Formularen kom ikke med. Udfyld den igen.", now)


def family_reminder(session: Session, app: App, task: HumanTask, now: datetime) -> list[tuple[Recipient, mc.MailContext]]:
    """Reminders for a family's open screening task: e-learning to the family, certificates to the coordinator."""
    family = _family(session, task.family_id or 0)
    reference = family_reference(family.id)
    coordinator = Recipient(Role.COORDINATOR, app.settings.coordinator_name, str(app.settings.coordinator_email), "da")
    if task.key != f"approval-{FAMILY_APPROVAL}":
        return [(coordinator, mc.CoordinatorReminder(recipient_name=coordinator.name, case_reference=reference,
                                                     task_title=task.title, waiting_since=task.created_at,
                                                     link=app.settings.ui_base + "/runs?state=Suspended&state=Paused"))]
    status = status_of(family, _today(now))
    mails: list[tuple[Recipient, mc.MailContext]] = []
    if not status.elearning_done:
        mails.append((Recipient(Role.VOLUNTEER_FAMILY, family.name, family.email, family.language, str(family.id)),
                      mc.VolunteerElearningReminder(recipient_name=family.name,
                                                    course_link=app.settings.elearning_url)))
    if status.missing_certificates:
        mails.append((coordinator, mc.VolunteerCertificatesReminder(recipient_name=coordinator.name,
                                                                    family_reference=reference,
                                                                    missing=status.missing_certificates)))
    return mails


def supervision_round(every: Duration, now: datetime) -> tuple[int, datetime]:
    """The programme-wide supervision round ``now`` falls in, and when it started."""
    if every.months:
        months = (now.year - SUPERVISION_ANCHOR.year) * 12 + now.month - SUPERVISION_ANCHOR.month
        number = max(months // every.months, 0)
        start = Duration(months=number * every.months).after(SUPERVISION_ANCHOR)
        if start > now and number > 0:
            number -= 1
            start = Duration(months=number * every.months).after(SUPERVISION_ANCHOR)
        return number, start
    seconds = max((now - SUPERVISION_ANCHOR).total_seconds(), 0.0)
    number = int(seconds // every.seconds)
    return number, SUPERVISION_ANCHOR + timedelta(seconds=number * every.seconds)


def send_supervision_invitations(app: App, now: datetime) -> int:
    """Invite every family with an active match to this round's group supervision, once per round."""
    every = app.profile.timings.supervision_every
    number, start = supervision_round(every, now)
    session_at = start + timedelta(days=14) if every.months else start + timedelta(seconds=every.seconds / 2)
    sent = 0
    with app.session_factory.begin() as session:
        families = session.scalars(select(VolunteerFamily).where(VolunteerFamily.id.in_(
            select(Match.family_id).where(Match.status == "active")))).all()
        for family in families:
            recipient = Recipient(Role.VOLUNTEER_FAMILY, family.name, family.email, family.language, str(family.id))
            before = session.scalar(select(AuditEvent.id).where(
                AuditEvent.family_id == family.id, AuditEvent.action == "supervision-invited",
                AuditEvent.step == f"supervision-{number}"))
            if before is not None:
                continue
            enqueue_mail(session, case_id=None, step="supervision", recipient=recipient,
                         context=mc.SupervisionInvitation(recipient_name=family.name, session_at=session_at,
                                                          join_link=app.settings.supervision_url),
                         programme=app.programme, now=now, occurrence=f"round-{number}")
            session.add(AuditEvent(family_id=family.id, at=now, actor="timekeeper", action="supervision-invited",
                                   step=f"supervision-{number}", detail=None))
            sent += 1
    return sent
