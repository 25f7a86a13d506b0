"""A volunteer family's screening, one approval run per family: the home visit and interview, then the
certificates of every member aged 15 or over, the e-learning course and the coordinator's approval. Uses the
approval machinery the referral cases use (``hjemtilos.approvals``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.eligibility import age_on
from casework.families import needs_certificates
from casework.matching import family_reference
from casework.steps import FamilyStatus
from hjemtilos.app import App
from hjemtilos.approvals import (
    ApprovalState,
    InvalidRequest,
    SubmitResult,
    approval_state_of,
    get_family_task,
    open_task,
    reject_input,
    skip,
    submit,
)
from hjemtilos.db.models import AuditEvent, HumanTask, VolunteerFamily
from hjemtilos.volunteers.registry import load_family, members_of, status_of

__all__ = ["FamilyApprovalAnswer", "FamilyApprovalView", "FamilyStep", "HomeVisitAnswer", "answer_model",
           "prepare_family_approval", "skip_family_round", "submit_family_approval"]

NO_CERTIFICATE_TEXT = "Skriv ikke oplysninger fra straffeattester her."
CLEAR = "uden anmærkning"
OUTCOME = Literal["uden anmærkning", "med anmærkning"]


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
TITLES = {FamilyStep.HOME_VISIT: "Hjemmebesøg og samtale med familien",
          FamilyStep.FAMILY_APPROVAL: "Attester, e-læring og godkendelse af familien"}


@dataclass(frozen=True)
class FamilyApprovalView:
    kind: FamilyStep
    state: ApprovalState
    description: str
    members_needing_certificates: tuple[int, ...]  # 1-based member numbers


class FamilyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, title="Begrundelse ved afvisning",
                        description=NO_CERTIFICATE_TEXT)


class HomeVisitAnswer(FamilyAnswer):
    decision: Literal["fortsæt screeningen", "afvis"] = Field(title="Beslutning")
    home_visit_on: date = Field(title="Hjemmebesøg (dato)")
    interview_on: date = Field(title="Samtale (dato)")

    @property
    def choice(self) -> FamilyDecision:
        return DECISION_CHOICE[self.decision]


@dataclass(frozen=True)
class CertificateEntry:
    requested_on: date | None
    received_on: date | None
    clear: bool | None


class FamilyApprovalAnswer(FamilyAnswer):
    """What arrived: per member and certificate ``member_<n>_<certificate>_{requested_on,received_on,outcome}``
    (built per family), the e-learning date and the decision."""

    decision: Literal["gem og vent", "godkend", "afvis"] = Field(
        title="Beslutning", description="Gem det modtagne og vent, godkend (kræver at alt er modtaget), eller afvis.")
    elearning_completed_on: date | None = Field(default=None, title="E-læringskursus gennemført (dato)")

    @property
    def choice(self) -> FamilyDecision:
        return DECISION_CHOICE[self.decision]

    def certificates(self) -> dict[tuple[int, Certificate], CertificateEntry]:
        values = dict(self)
        out: dict[tuple[int, Certificate], CertificateEntry] = {}
        for name in values:
            if name.startswith("member_") and name.endswith("_outcome"):
                number, certificate = name.removeprefix("member_").removesuffix("_outcome").split("_", 1)
                prefix = f"member_{number}_{certificate}"
                outcome = values[f"{prefix}_outcome"]
                out[int(number), Certificate(certificate)] = CertificateEntry(
                    values[f"{prefix}_requested_on"], values[f"{prefix}_received_on"],
                    None if outcome is None else outcome == CLEAR)
        return out


def answer_model(view: FamilyApprovalView) -> type[FamilyAnswer]:
    if view.kind is FamilyStep.HOME_VISIT:
        return HomeVisitAnswer
    fields: dict[str, Any] = {}
    for number in view.members_needing_certificates:
        for certificate in Certificate:
            label, prefix = CERTIFICATE_LABEL[certificate], f"member_{number}_{certificate.value}"
            fields[f"{prefix}_requested_on"] = (date | None, Field(default=None,
                                                                   title=f"Medlem {number}: {label} bestilt (dato)"))
            fields[f"{prefix}_received_on"] = (date | None, Field(default=None,
                                                                  title=f"Medlem {number}: {label} modtaget (dato)"))
            fields[f"{prefix}_outcome"] = (OUTCOME | None, Field(default=None,
                                                                 title=f"Medlem {number}: {label} udfald"))
    model: type[FamilyAnswer] = create_model("FamilyApprovalAnswer", __base__=FamilyApprovalAnswer, **fields)
    return model


def _key(kind: FamilyStep) -> str:
    return f"approval-{kind}"


def prepare_family_approval(app: App, family_id: int, kind: FamilyStep, now: datetime) -> FamilyApprovalView:
    timings = app.profile.timings
    with app.session_factory.begin() as session:
        family = load_family(session, family_id)
        task, _ = open_task(session, None, family_id=family.id, key=_key(kind), step=f"volunteer-{kind}",
                            title=TITLES[kind], now=now, timings=timings,
                            reminder_after=timings.screening_reminder_after)
        today = local_date(now)
        needing = tuple(i for i, m in enumerate(members_of(family), start=1) if needs_certificates(m.birth_date, today))
        return FamilyApprovalView(kind, approval_state_of(task), _describe(family, kind, task, today), needing)


def _describe(family: VolunteerFamily, kind: FamilyStep, task: HumanTask, today: date) -> str:
    lines = [f"## {family_reference(family.id)}: {TITLES[kind]}", ""]
    if task.last_error:
        lines += [f"> **{task.last_error}**", ""]
    if kind is FamilyStep.HOME_VISIT:
        lines.append("Besøg familien hjemme og hold samtalen. Registrér datoerne og om screeningen fortsætter.")
    else:
        status = status_of(family, today)
        lines += ["Registrér attester (dato for bestilling og modtagelse; kun udfald, aldrig kopier) for hvert "
                  "medlem på 15 år eller derover i dag, og datoen for e-læringskurset. Godkendelse kræver, at "
                  "alt er modtaget.", "", "| Medlem | Alder | Attester krævet |", "|---|---|---|"]
        for number, member in enumerate(members_of(family), start=1):
            lines.append(f"| {number} ({'frivillig' if member.is_volunteer else 'husstand'}) | "
                         f"{age_on(member.birth_date, today)} | "
                         f"{'ja' if needs_certificates(member.birth_date, today) else 'nej'} |")
        lines += ["", "**Mangler:** " + (", ".join(status.missing) if status.missing else "intet")]
    lines += ["", "Familien: `hjemtilos family list`"]
    return "\n".join(lines)


def submit_family_approval(app: App, family_id: int, kind: FamilyStep, round_: int, answer: FamilyAnswer,
                           now: datetime) -> SubmitResult:
    with app.session_factory.begin() as session:
        family = load_family(session, family_id)
        task = get_family_task(session, family.id, _key(kind))
        if task is None:
            raise LookupError(f"no approval {kind} for family {family_id}")
        from hjemtilos.workspace.access import UNATTRIBUTED, resumer_of

        actor = resumer_of(session, family.flow_run_id, since=task.created_at) or UNATTRIBUTED
        return submit(session, task, round_, actor, now,
                      lambda: _apply(session, family, task, answer, now, actor), answer.model_dump(mode="json"))


def _reject(family: VolunteerFamily, answer: FamilyAnswer) -> str:
    reason = answer.reason.strip()
    if not reason:
        raise InvalidRequest("Skriv en begrundelse, når familien afvises.")
    family.status, family.rejected_reason = FamilyStatus.REJECTED, reason[:500]
    return "rejected"


def _apply(session: Session, family: VolunteerFamily, task: HumanTask, answer: FamilyAnswer,
           now: datetime, actor: str) -> str | None:
    today = local_date(now)
    if isinstance(answer, HomeVisitAnswer):
        if answer.choice is FamilyDecision.REJECT:
            return _reject(family, answer)
        visit, interview = answer.home_visit_on, answer.interview_on
        if visit > today or interview > today:
            raise InvalidRequest("Datoerne kan ikke ligge i fremtiden.")
        family.home_visit_on, family.interview_on = visit, interview
        return "done"
    if not isinstance(answer, FamilyApprovalAnswer):
        raise InvalidRequest("Ukendt formular / unknown form")
    if answer.choice is FamilyDecision.REJECT:
        return _reject(family, answer)
    members = members_of(family)
    for (number, certificate), entry in sorted(answer.certificates().items()):
        if not 1 <= number <= len(members):
            continue
        member = members[number - 1]
        for suffix, value in (("requested_on", entry.requested_on), ("received_on", entry.received_on)):
            if value is not None:
                if value > today:
                    raise InvalidRequest(f"Medlem {number}: datoen ligger i fremtiden.")
                setattr(member, f"{certificate.value}_{suffix}", value)
        if entry.clear is not None:
            setattr(member, f"{certificate.value}_clear", entry.clear)
    if answer.elearning_completed_on is not None:
        family.elearning_completed_on = answer.elearning_completed_on
    session.add(AuditEvent(family_id=family.id, at=now, actor=actor, action="screening-recorded",
                           step="volunteer-family-approval", detail=None))
    session.flush()
    status = status_of(family, today)
    if answer.choice is FamilyDecision.APPROVE:
        if not status.complete:
            problems = list(status.missing) + list(status.unclear_certificates)
            reject_input(session, task, "Kan ikke godkendes endnu. Mangler: " + ", ".join(problems) + ".", now)
            return None
        family.status, family.approved_at = FamilyStatus.APPROVED, now
        return "approved"
    reject_input(session, task, "Gemt. Mangler: " + (", ".join(status.missing) or "intet – klar til godkendelse") + ".",
                 now)
    return None


def skip_family_round(app: App, family_id: int, kind: FamilyStep, round_: int, now: datetime) -> None:
    with app.session_factory.begin() as session:
        skip(session, get_family_task(session, family_id, _key(kind)), round_, now)
