"""A volunteer family's screening, one approval run per family: the home visit and interview, then the
certificates of every member aged 15 or over, the e-learning course and the coordinator's approval. Uses the
approval machinery the referral cases use (``hjemtilos.approvals``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.durations import Duration
from casework.eligibility import age_on
from casework.families import needs_certificates
from casework.keys import approval_key, round_key
from casework.matching import family_reference
from casework.profiles import Timings
from casework.steps import FamilyStatus, StepOutcome
from hjemtilos.app import App
from hjemtilos.approvals import (
    Answer,
    ApprovalState,
    InvalidRequest,
    OptionalDate,
    StepHandler,
    SubmitResult,
    approval_state_of,
    get_family_task,
    open_task,
    optional_date,
    reject_input,
    skip,
    submit,
)
from hjemtilos.claims import banner_of, with_claim_banner
from hjemtilos.db.models import AuditEvent, FamilyMember, HumanTask, VolunteerFamily
from hjemtilos.volunteers.registry import load_family, members_of, status_of

__all__ = [
    "FAMILY_HANDLERS",
    "Certificate",
    "CertificateError",
    "FamilyAnswer",
    "FamilyApprovalAnswer",
    "FamilyApprovalView",
    "FamilyContext",
    "FamilyHandler",
    "FamilyStep",
    "HomeVisitAnswer",
    "answer_model",
    "prepare_family_approval",
    "record_certificate",
    "skip_family_round",
    "submit_family_approval",
]

NO_CERTIFICATE_TEXT = "Skriv ikke oplysninger fra straffeattester her."


class FamilyDecision(StrEnum):
    GO_ON = "go-on"  # continue the screening / save what arrived and wait
    APPROVE = "approve"
    REJECT = "reject"


DECISION_CHOICE: dict[str, FamilyDecision] = {"fortsæt screeningen": FamilyDecision.GO_ON,
                                              "gem og vent": FamilyDecision.GO_ON, "godkend": FamilyDecision.APPROVE,
                                              "afvis": FamilyDecision.REJECT}


class FamilyStep(StrEnum):
    HOME_VISIT = "home-visit"
    FAMILY_APPROVAL = "family-approval"


class Certificate(StrEnum):
    CHILD = "child_certificate"  # børneattest
    CRIMINAL_RECORD = "criminal_record"  # straffeattest


CERTIFICATE_LABEL = {Certificate.CHILD: "børneattest", Certificate.CRIMINAL_RECORD: "straffeattest"}


@dataclass(frozen=True)
class FamilyApprovalView:
    kind: FamilyStep
    state: ApprovalState
    description: str
    members_needing_certificates: tuple[int, ...]  # 1-based member numbers


class FamilyAnswer(Answer):
    reason: str = Field(default="", max_length=500, title="Begrundelse ved afvisning",
                        description=NO_CERTIFICATE_TEXT)


class HomeVisitAnswer(FamilyAnswer):
    decision: Literal["fortsæt screeningen", "afvis"] = Field(
        title="Beslutning", description="Fortsæt screeningen, eller afvis familien (skriv da en begrundelse).")
    home_visit_on: date = Field(title="Hjemmebesøg (dato)", description="Dagen for besøget hjemme hos familien.")
    interview_on: date = Field(title="Samtale (dato)", description="Dagen for samtalen med familien.")

    @property
    def choice(self) -> FamilyDecision:
        return DECISION_CHOICE[self.decision]


class FamilyApprovalAnswer(FamilyAnswer):
    """The e-learning date and the decision. Certificates are recorded on the family's page in the workspace
    (``record_certificate``), never in a Prefect form: Prefect keeps what is typed into its forms."""

    decision: Literal["gem og vent", "godkend", "afvis"] = Field(
        title="Beslutning", description="Gem og vent, godkend (kræver at alle attester er registreret på familiens "
                                        "side og e-læringen gennemført), eller afvis.")
    elearning_completed_on: OptionalDate = optional_date(
        "E-læringskursus gennemført (dato)", "Tom, hvis familien ikke har gennemført kurset endnu.")

    @property
    def choice(self) -> FamilyDecision:
        return DECISION_CHOICE[self.decision]


class CertificateError(ValueError):
    """A certificate entry that cannot be recorded: ``field`` and a message in Danish / English."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def record_certificate(session: Session, family_id: int, member_id: int, certificate: Certificate,
                       requested_on: date | None, received_on: date | None, clear: bool | None, actor: str,
                       now: datetime) -> FamilyMember:
    """Record one member's børneattest or straffeattest: dates and outcome only, never a copy (the workspace's
    family page; audited without the outcome)."""
    family = load_family(session, family_id)
    member = next((m for m in family.members if m.id == member_id), None)
    if member is None:
        raise CertificateError("member", "Ukendt medlem af familien. / Not a member of this family.")
    today = local_date(now)
    for name, value in (("requested_on", requested_on), ("received_on", received_on)):
        if value is not None and value > today:
            raise CertificateError(name, "Datoen ligger i fremtiden. / The date is in the future.")
    if requested_on and received_on and received_on < requested_on:
        raise CertificateError("received_on", "Modtaget før bestilt? / Received before it was requested?")
    if clear is not None and received_on is None and getattr(member, f"{certificate.value}_received_on") is None:
        raise CertificateError("outcome", "Et udfald kræver en modtagelsesdato. / An outcome needs the date it "
                                          "was received.")
    for suffix, value in (("requested_on", requested_on), ("received_on", received_on)):
        if value is not None:
            setattr(member, f"{certificate.value}_{suffix}", value)
    if clear is not None:
        setattr(member, f"{certificate.value}_clear", clear)
    session.add(AuditEvent(family_id=family.id, at=now, actor=actor, action="certificate-recorded",
                           step="volunteer-family-approval",
                           detail={"member_id": member.id, "certificate": certificate.value}))
    return member


@dataclass
class FamilyContext:
    """What a family step's handler works with: the family, its open task, the time, who answered."""

    session: Session
    family: VolunteerFamily
    task: HumanTask
    now: datetime
    family_page: str
    actor: str = "system"

    @property
    def today(self) -> date:
        return local_date(self.now)


F = TypeVar("F", bound=FamilyAnswer)


class FamilyHandler(StepHandler[FamilyContext, F]):
    """One step of a volunteer family's screening (``StepHandler`` says what each method is for)."""

    kind: ClassVar[FamilyStep]
    answer: ClassVar[type[FamilyAnswer]]

    @property
    def key(self) -> str:
        return approval_key(self.kind)

    @property
    def step(self) -> str:
        return f"volunteer-{self.kind}"

    def reminder_after(self, timings: Timings) -> Duration:
        return timings.screening_reminder_after

    def escalation_after(self, timings: Timings) -> Duration:
        return timings.approval_escalation_after

    def reject(self, ctx: FamilyContext, answer: FamilyAnswer) -> StepOutcome:
        reason = answer.reason.strip()
        if not reason:
            raise InvalidRequest("Skriv en begrundelse, når familien afvises.")
        ctx.family.status, ctx.family.rejected_reason = FamilyStatus.REJECTED, reason[:500]
        return StepOutcome.REJECTED


class HomeVisitHandler(FamilyHandler[HomeVisitAnswer]):
    kind = FamilyStep.HOME_VISIT
    outcomes = frozenset({StepOutcome.DONE, StepOutcome.REJECTED})
    title = "Hjemmebesøg og samtale med familien"
    answer = HomeVisitAnswer
    instructions = "Besøg familien hjemme og hold samtalen. Registrér datoerne og om screeningen fortsætter."

    def apply(self, ctx: FamilyContext, answer: HomeVisitAnswer) -> StepOutcome | None:
        if answer.choice is FamilyDecision.REJECT:
            return self.reject(ctx, answer)
        visit, interview = answer.home_visit_on, answer.interview_on
        if visit > ctx.today or interview > ctx.today:
            raise InvalidRequest("Datoerne kan ikke ligge i fremtiden.")
        ctx.family.home_visit_on, ctx.family.interview_on = visit, interview
        return StepOutcome.DONE


class FamilyApprovalHandler(FamilyHandler[FamilyApprovalAnswer]):
    kind = FamilyStep.FAMILY_APPROVAL
    outcomes = frozenset({StepOutcome.APPROVED, StepOutcome.REJECTED})
    title = "Attester, e-læring og godkendelse af familien"
    answer = FamilyApprovalAnswer

    def describe(self, ctx: FamilyContext) -> list[str]:
        family, today = ctx.family, ctx.today
        status = status_of(family, today)
        lines = ["Registrér attesterne (datoer og udfald) for hvert medlem på 15 år eller derover på familiens "
                 f"side i arbejdsrummet: {ctx.family_page}", "",
                 "Her: datoen for e-læringskurset og beslutningen. Godkendelse kræver, at alt er registreret.",
                 "", "| Medlem | Alder | Attester krævet |", "|---|---|---|"]
        for number, member in enumerate(members_of(family), start=1):
            lines.append(f"| {number} ({'frivillig' if member.is_volunteer else 'husstand'}) | "
                         f"{age_on(member.birth_date, today)} | "
                         f"{'ja' if needs_certificates(member.birth_date, today) else 'nej'} |")
        return [*lines, "", "**Mangler:** " + (", ".join(status.missing) if status.missing else "intet")]

    def apply(self, ctx: FamilyContext, answer: FamilyApprovalAnswer) -> StepOutcome | None:
        if answer.choice is FamilyDecision.REJECT:
            return self.reject(ctx, answer)
        family, today = ctx.family, ctx.today
        if answer.elearning_completed_on is not None:
            if answer.elearning_completed_on > today:
                raise InvalidRequest("Datoen for e-læringen ligger i fremtiden.")
            family.elearning_completed_on = answer.elearning_completed_on
        ctx.session.add(AuditEvent(family_id=family.id, at=ctx.now, actor=ctx.actor, action="screening-recorded",
                                   step="volunteer-family-approval", detail=None))
        ctx.session.flush()
        status = status_of(family, today)
        if answer.choice is FamilyDecision.APPROVE:
            if not status.complete:
                # which member's certificate has a remark stays on the family page: Prefect keeps this text
                problems = list(status.missing) + (["en attest kræver din vurdering (se familiens side)"]
                                                   if status.unclear_certificates else [])
                reject_input(ctx.session, ctx.task, "Kan ikke godkendes endnu. Mangler: " + ", ".join(problems) + ".",
                             ctx.now)
                return None
            family.status, family.approved_at = FamilyStatus.APPROVED, ctx.now
            return StepOutcome.APPROVED
        reject_input(ctx.session, ctx.task,
                     "Gemt. Mangler: " + (", ".join(status.missing) or "intet – klar til godkendelse") + ".", ctx.now)
        return None


FAMILY_HANDLERS: dict[FamilyStep, FamilyHandler[Any]] = {handler.kind: handler for handler in (
    HomeVisitHandler(), FamilyApprovalHandler())}


def answer_model(view: FamilyApprovalView) -> type[FamilyAnswer]:
    return FAMILY_HANDLERS[view.kind].answer


def _family_page(app: App, family_id: int) -> str:
    return app.settings.workspace_url(f"/familier/{family_id}")


def prepare_family_approval(app: App, family_id: int, kind: FamilyStep, now: datetime) -> FamilyApprovalView:
    handler, timings = FAMILY_HANDLERS[kind], app.profile.timings
    with app.session_factory.begin() as session:
        family = load_family(session, family_id)
        task, created = open_task(session, None, family_id=family.id, key=handler.key, step=handler.step,
                                  title=handler.title, now=now, timings=timings,
                                  reminder_after=handler.reminder_after(timings),
                                  escalation_after=handler.escalation_after(timings))
        ctx = FamilyContext(session, family, task, now, _family_page(app, family.id))
        if created:
            task.data = handler.open(ctx)
        today = local_date(now)
        needing = tuple(i for i, m in enumerate(members_of(family), start=1) if needs_certificates(m.birth_date, today))
        return FamilyApprovalView(kind, approval_state_of(task), _description(handler, ctx), needing)


def _description(handler: FamilyHandler[Any], ctx: FamilyContext) -> str:
    lines = [f"## {family_reference(ctx.family.id)}: {handler.title}", ""]
    if ctx.task.last_error:
        lines += [f"> **{ctx.task.last_error}**", ""]
    lines += [*handler.describe(ctx), "", f"Familien i arbejdsrummet: {ctx.family_page}"]
    return with_claim_banner("\n".join(lines), banner_of(ctx.session, ctx.task))


@dataclass(frozen=True)
class OpenForm:
    """The Resume dialog a family's run waits with now: its run, its round's key and what it should say."""

    flow_run_id: str
    pause_key: str
    description: str


def current_form(app: App, session: Session, family_id: int, now: datetime) -> OpenForm | None:
    """The family's open step's dialog as it should read now (its "Mangler" list after a certificate), or None."""
    family = load_family(session, family_id)
    task = session.scalar(select(HumanTask).where(HumanTask.family_id == family.id, HumanTask.completed_at.is_(None))
                          .order_by(HumanTask.id).limit(1))
    handler = next((h for h in FAMILY_HANDLERS.values() if task is not None and h.key == task.key), None)
    if task is None or handler is None or not family.flow_run_id:
        return None
    ctx = FamilyContext(session, family, task, now, _family_page(app, family.id))
    return OpenForm(family.flow_run_id, round_key(task.key, task.round), _description(handler, ctx))


def submit_family_approval(app: App, family_id: int, kind: FamilyStep, round_: int, answer: FamilyAnswer,
                           now: datetime) -> SubmitResult:
    handler = FAMILY_HANDLERS[kind]
    with app.session_factory.begin() as session:
        family = load_family(session, family_id)
        task = get_family_task(session, family.id, handler.key)
        if task is None:
            raise LookupError(f"no approval {kind} for family {family_id}")
        from hjemtilos.audit.access import UNATTRIBUTED, resumer_of

        actor = resumer_of(session, family.flow_run_id, since=task.created_at) or UNATTRIBUTED
        ctx = FamilyContext(session, family, task, now, _family_page(app, family.id), actor)
        return submit(session, task, round_, actor, now, lambda: handler.carry_out(ctx, answer),
                      answer.model_dump(mode="json"))


def skip_family_round(app: App, family_id: int, kind: FamilyStep, round_: int, now: datetime) -> None:
    with app.session_factory.begin() as session:
        skip(session, get_family_task(session, family_id, FAMILY_HANDLERS[kind].key), round_, now)
