"""The programme year's coordinator steps: the follow-up call after the first visit, the child visit at about four
months (a concern opens a follow-up task of its own), and the future agreement at about ten months."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field

from casework.clock import local_date
from casework.steps import ApprovalKind, Continuation, Step, StepOutcome, VisitAssessment, VisitKind
from hjemtilos.cases.context import CaseContext, family_recipient
from hjemtilos.cases.handler import Answer, Handler
from hjemtilos.cases.records import not_in_future, record_visit
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.render import family_phrase

__all__ = ["ChildVisitAnswer", "ChildVisitHandler", "ConcernFollowupAnswer", "ConcernFollowupHandler",
           "FirstVisitFollowupAnswer", "FirstVisitFollowupHandler", "FutureAgreementAnswer", "FutureAgreementHandler"]

HOW_IT_GOES: dict[str, VisitAssessment] = {"godt": VisitAssessment.GOOD, "blandet": VisitAssessment.MIXED,
                                           "bekymring: følg op": VisitAssessment.CONCERN}
FOLLOWUP_RESULT: dict[str, VisitAssessment] = {"bekymringen er afklaret": VisitAssessment.RESOLVED,
                                               "fortsat opmærksomhed": VisitAssessment.WATCH}
CONTINUATION: dict[str, Continuation] = {
    "fortsætter ugentligt": Continuation.WEEKLY, "fortsætter sjældnere": Continuation.LESS_OFTEN,
    "stopper efter året": Continuation.STOPS, "ikke afklaret": Continuation.UNDECIDED,
}


class FirstVisitFollowupAnswer(Answer):
    call_held_on: date = Field(title="Opfølgningsopkald holdt (dato)",
                               description="Dagen, du ringede til familien og forældrene efter det første besøg.")


class FirstVisitFollowupHandler(Handler[FirstVisitFollowupAnswer]):
    kind = ApprovalKind.FIRST_VISIT_FOLLOWUP
    outcomes = frozenset({StepOutcome.HELD})
    step = Step.FIRST_VISIT_FOLLOWUP
    title = "Ring til forældre/kontaktperson efter første besøg"
    answer = FirstVisitFollowupAnswer
    instructions = "Ring til forældrene eller kontaktpersonen og hør, hvordan det første besøg gik."

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        match = ctx.match()
        contact = ctx.guardians()[0]
        first_visit = local_date(match.started_at if match and match.started_at else ctx.now)
        coordinator = ctx.coordinator()
        ctx.mail(self.step, coordinator,
                 mc.FirstVisitFollowup(recipient_name=coordinator.name, case_reference=ctx.case.reference,
                                       contact_name=contact.name, contact_phone=contact.phone or "",
                                       contact_email=contact.email,
                                       first_visit_on=first_visit), ctx.attempt)
        return None

    def apply(self, ctx: CaseContext, answer: FirstVisitFollowupAnswer) -> StepOutcome | None:
        not_in_future(ctx, answer.call_held_on)
        record_visit(ctx, VisitKind.FIRST_VISIT_CALL, answer.call_held_on)
        return StepOutcome.HELD


class ChildVisitAnswer(Answer):
    visit_held_on: date = Field(title="Børnebesøg holdt (dato)",
                                description="Dagen, du besøgte barnet (efter ca. 4 måneder).")
    how_it_goes: Literal["godt", "blandet", "bekymring: følg op"] = Field(
        title="Hvordan går det?", description="Vælg \"bekymring: følg op\", så åbnes en opfølgning med påmindelser.")

    @property
    def assessment(self) -> VisitAssessment:
        return HOW_IT_GOES[self.how_it_goes]


class ChildVisitHandler(Handler[ChildVisitAnswer]):
    kind = ApprovalKind.CHILD_VISIT
    outcomes = frozenset({StepOutcome.HELD, StepOutcome.CONCERN})
    step = Step.CHILD_VISIT
    title = "Børnebesøg efter ca. 4 måneder"
    answer = ChildVisitAnswer
    instructions = "Besøg barnet ca. 4 måneder inde i forløbet og registrér besøget."

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        for guardian in ctx.guardians():
            ctx.mail(self.step, ctx.party_recipient(guardian),
                     mc.ChildVisitNotice(recipient_name=guardian.name, child_first_name=ctx.child_name,
                                         coordinator_name=ctx.app.settings.coordinator_name), ctx.attempt)
        return None

    def apply(self, ctx: CaseContext, answer: ChildVisitAnswer) -> StepOutcome | None:
        not_in_future(ctx, answer.visit_held_on)
        record_visit(ctx, VisitKind.CHILD_VISIT, answer.visit_held_on, answer.assessment)
        return StepOutcome.CONCERN if answer.assessment is VisitAssessment.CONCERN else StepOutcome.HELD


class ConcernFollowupAnswer(Answer):
    followed_up_on: date = Field(title="Fulgt op (dato)", description="Hvornår du fulgte op på bekymringen.")
    result: Literal["bekymringen er afklaret", "fortsat opmærksomhed"] = Field(
        title="Resultat", description="Er bekymringen afklaret, eller skal der fortsat holdes øje?")


class ConcernFollowupHandler(Handler[ConcernFollowupAnswer]):
    kind = ApprovalKind.CONCERN_FOLLOWUP
    outcomes = frozenset({StepOutcome.HELD})
    step = Step.CONCERN_FOLLOWUP
    title = "Følg op på bekymringen fra børnebesøget"
    answer = ConcernFollowupAnswer
    instructions = ("Ved børnebesøget blev der registreret en bekymring. Følg op (med barnet, forældrene eller "
                    "kontaktpersonen og familien) og registrér det her; detaljer noteres i sagsdatabasen. Skal "
                    "forløbet afsluttes, brug `end-case`.")

    def apply(self, ctx: CaseContext, answer: ConcernFollowupAnswer) -> StepOutcome | None:
        not_in_future(ctx, answer.followed_up_on)
        record_visit(ctx, VisitKind.CONCERN_FOLLOWUP, answer.followed_up_on, FOLLOWUP_RESULT[answer.result])
        return StepOutcome.HELD


class FutureAgreementAnswer(Answer):
    continuation: Literal["fortsætter ugentligt", "fortsætter sjældnere", "stopper efter året", "ikke afklaret"] = \
        Field(title="Aftale efter året",
              description="Hvad familien og barnet har aftalt om tiden efter året.")

    @property
    def agreed(self) -> Continuation:
        return CONTINUATION[self.continuation]


class FutureAgreementHandler(Handler[FutureAgreementAnswer]):
    kind = ApprovalKind.FUTURE_AGREEMENT
    outcomes = frozenset({StepOutcome.WEEKLY, StepOutcome.LESS_OFTEN, StepOutcome.STOPS, StepOutcome.UNDECIDED})
    step = Step.FUTURE_AGREEMENT
    title = "Registrér aftalen om tiden efter året"
    answer = FutureAgreementAnswer
    instructions = ("Familien og forældrene/kontaktpersonen er spurgt, om og hvordan besøgene fortsætter efter "
                    "året. Registrér aftalen.")

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        match = ctx.current_match()
        family = ctx.family(match)
        if match.started_at is None:
            raise LookupError(f"case {ctx.case.id}: the visits have not started")
        year_ends = local_date(ctx.app.profile.timings.farewell_after.after(match.started_at))
        ctx.mail(self.step, family_recipient(family),
                 mc.FutureAgreementRequest(recipient_name=family.name, child_first_name=ctx.child_name,
                                           other_party=ctx.child_name, year_ends_on=year_ends, to_family=True),
                 ctx.attempt)
        for guardian in ctx.guardians():
            ctx.mail(self.step, ctx.party_recipient(guardian),
                     mc.FutureAgreementRequest(recipient_name=guardian.name, child_first_name=ctx.child_name,
                                               other_party=family_phrase(family.name, guardian.language),
                                               year_ends_on=year_ends, to_family=False),
                     ctx.attempt)
        return None

    def apply(self, ctx: CaseContext, answer: FutureAgreementAnswer) -> StepOutcome | None:
        ctx.current_match().continuation = answer.agreed.value
        return StepOutcome(answer.agreed.value)
