"""Screening of the referral, and for a child in a residential home the visit and the start-up meeting."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from casework.steps import ApprovalKind, CaseStatus, Role, Step, StepOutcome, VisitKind
from hjemtilos.approvals import InvalidRequest
from hjemtilos.cases.context import CaseContext
from hjemtilos.cases.handler import NO_SENSITIVE, Answer, Handler
from hjemtilos.cases.records import not_in_future, record_visit
from hjemtilos.mail import contexts as mc

__all__ = ["ScreeningAnswer", "ScreeningDecision", "ScreeningHandler", "StartupMeetingAnswer", "StartupMeetingHandler"]


class ScreeningDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    MORE_INFORMATION = "more-information"


DECISION_CHOICE: dict[str, ScreeningDecision] = {
    "godkend": ScreeningDecision.APPROVE, "afvis": ScreeningDecision.REJECT,
    "mere information": ScreeningDecision.MORE_INFORMATION,
}


# Why a referral was rejected, as a code the programme reports count (the free-text reason goes to the referrer)
REJECTION_REASONS: dict[str, str] = {
    "uden for målgruppen": "outside-target-group", "barnet ønsker det ikke": "child-does-not-want",
    "forældrene bakker ikke op": "parents-not-backing", "ikke overskud til at starte nu": "not-ready-now",
    "et andet tilbud passer bedre": "other-offer", "andet": "other",
}
RejectionChoice = Literal["uden for målgruppen", "barnet ønsker det ikke", "forældrene bakker ikke op",
                          "ikke overskud til at starte nu", "et andet tilbud passer bedre", "andet"]


class ScreeningAnswer(Answer):
    decision: Literal["godkend", "afvis", "mere information"] = Field(
        title="Beslutning", description="Godkend henvisningen, afvis den, eller bed henviser om flere oplysninger.")
    reason: str = Field(default="", title="Begrundelse eller spørgsmål", max_length=1000,
                        description="Kræves ved afvisning og ved spørgsmål. Sendes til henviser. " + NO_SENSITIVE)
    rejection_reason: RejectionChoice = Field(
        default="andet", title="Afvisningsgrund",
        description="Kun ved afvisning: tælles i programmets statistik (uden navn).")

    @property
    def choice(self) -> ScreeningDecision:
        return DECISION_CHOICE[self.decision]


class ScreeningHandler(Handler[ScreeningAnswer]):
    kind = ApprovalKind.SCREENING
    outcomes = frozenset({StepOutcome.REJECTED, StepOutcome.APPROVED})
    step = Step.SCREENING
    title = "Screening af henvisningen: godkend, afvis eller bed om flere oplysninger"
    answer = ScreeningAnswer
    scoped = False

    def describe(self, ctx: CaseContext) -> list[str]:
        page = ctx.app.settings.workspace_url(f"/sager/{ctx.case.reference}")
        lines = [f"Læs henvisningen på sagens side i arbejdsrummet ({page}) og vælg en beslutning."]
        if ctx.case.review_flags:  # which flags, and why, stays on the case page: Prefect keeps this text
            lines += ["", f"**Markeret til din vurdering:** se sagens side ({page})."]
        return lines

    def apply(self, ctx: CaseContext, answer: ScreeningAnswer) -> StepOutcome | None:
        reason = answer.reason.strip()
        referrer = ctx.referrer()
        to = ctx.referrer_recipient()
        if answer.choice is ScreeningDecision.REJECT:
            if not reason:
                raise InvalidRequest("Skriv en begrundelse, når henvisningen afvises.")
            case = ctx.case
            case.status, case.closed_at, case.close_reason = CaseStatus.REJECTED, ctx.now, "rejected at screening"
            case.rejection_reason = REJECTION_REASONS[answer.rejection_reason]
            ctx.set_step(Step.CLOSED)
            ctx.mail(self.step, to, mc.ReferralRejected(recipient_name=referrer.name, case_reference=case.reference,
                                                        child_first_name=ctx.child_name, reason=reason), "rejected")
            return StepOutcome.REJECTED
        if answer.choice is ScreeningDecision.MORE_INFORMATION:
            if not reason:
                raise InvalidRequest("Skriv hvilke oplysninger, du mangler.")
            ctx.mail(self.step, to, mc.MoreInformationRequest(
                recipient_name=referrer.name, case_reference=ctx.case.reference, child_first_name=ctx.child_name,
                question=reason), f"question-{ctx.round}")
            ctx.ask_again("Venter på flere oplysninger fra henviser. Træf beslutningen, når de er her.")
            return None
        ctx.case.status = CaseStatus.ACTIVE
        return StepOutcome.APPROVED


class StartupMeetingAnswer(Answer):
    child_visit_on: date = Field(title="Besøg hos barnet (dato)",
                                 description="Dagen, du besøgte barnet på anbringelsesstedet.")
    startup_meeting_on: date = Field(title="Opstartsmøde (dato)",
                                     description="Dagen for opstartsmødet med barnet og kontaktpersonen.")
    parents: Literal["forældrene er orienteret", "barnet har ikke kontakt med forældrene"] = Field(
        title="Forældrene", description="Er forældrene orienteret og inddraget?")


class StartupMeetingHandler(Handler[StartupMeetingAnswer]):
    kind = ApprovalKind.STARTUP_MEETING
    outcomes = frozenset({StepOutcome.HELD})
    step = Step.STARTUP_MEETING
    title = "Besøg hos barnet og opstartsmøde på børne-/ungehjemmet"
    answer = StartupMeetingAnswer
    scoped = False
    instructions = ("Barnet bor på børne- eller ungehjem: besøg barnet og hold opstartsmøde med leder, "
                    "kontaktperson, den kommunale rådgiver og evt. forældre. Registrér datoerne her.")

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        # parents are informed when the child has contact with them: by mail only in a language they read; the
        # others through the referrer, as the referral says (a mail in Danish to a parent who reads neither is
        # no information)
        by_referrer: list[str] = []
        if ctx.case.placement.child_has_parent_contact:
            for holder in ctx.parties(Role.CUSTODY_HOLDER):
                if holder.communicates_in_danish_or_english is False:
                    by_referrer.append(holder.name)
                    continue
                ctx.mail(self.step, ctx.party_recipient(holder),
                         mc.ParentsInformed(recipient_name=holder.name, child_first_name=ctx.child_name), "informed")
        institution = ctx.case.placement.institution_name or "børnehjemmet"
        referrer = ctx.referrer()
        for party in [*ctx.parties(Role.PLACEMENT_CONTACT), referrer]:
            ctx.mail(self.step, ctx.party_recipient(party),
                     mc.StartupMeeting(recipient_name=party.name, case_reference=ctx.case.reference,
                                       child_first_name=ctx.child_name, institution_name=institution,
                                       parents_to_inform=tuple(by_referrer) if party is referrer else ()),
                     "startup")
        return None

    def apply(self, ctx: CaseContext, answer: StartupMeetingAnswer) -> StepOutcome | None:
        not_in_future(ctx, answer.child_visit_on, answer.startup_meeting_on)
        record_visit(ctx, VisitKind.CHILD_VISIT_AT_STARTUP, answer.child_visit_on)
        record_visit(ctx, VisitKind.STARTUP_MEETING, answer.startup_meeting_on)
        return StepOutcome.HELD
