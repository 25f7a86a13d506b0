"""Matching: the coordinator picks a family from the ranked candidates; the proposal goes to the family, and only
when the family has said yes to the parents (or the placement contact), so that parents hear of one family, one
that wants them. Both must accept (PROCESS.md); a "nej" sends the case back to a new proposal under the next match
attempt."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import Field, create_model
from sqlalchemy import func, select

from casework.matching import Candidate
from casework.steps import LIVE_MATCH, ApprovalKind, FamilyStatus, MatchStatus, Step, StepOutcome
from hjemtilos.approvals import InvalidRequest
from hjemtilos.cases.context import PASSED_OVER, CaseContext, candidates_for, family_recipient
from hjemtilos.cases.handler import NO_SENSITIVE, Answer, FormSpec, Handler, OptionalDate, optional_date
from hjemtilos.cases.records import not_in_future
from hjemtilos.db.models import Match, VolunteerFamily
from hjemtilos.mail import contexts as mc

__all__ = ["FamilyAnswerAnswer", "FamilyAnswerHandler", "MatchAnswersAnswer", "MatchAnswersHandler",
           "MatchProposalAnswer", "MatchProposalHandler", "stored_candidates"]

YES_NO = Literal["ja", "nej"]


def stored_candidates(data: dict[str, Any] | None) -> list[Candidate]:
    """The candidates the proposal form was opened with."""
    return [Candidate(int(c["family_id"]), str(c["reference"]), int(c["score"]), tuple(c["reasons"]))
            for c in (data or {}).get("candidates", ())]


NONE_FITS = "ingen passer – vent på en ny familie"
FAMILY_HELP = ("De godkendte familier med plads; se pointene ovenfor. Passer ingen af dem til barnet, så vælg "
               f'"{NONE_FITS}": sagen venter, til en anden familie er godkendt.')


class MatchProposalAnswer(Answer):
    """The family chosen; the field's choices are the case's candidates (built per case) and "none fits"."""

    family: str = Field(title="Familie", description=FAMILY_HELP)
    reason: str = Field(default="", title="Begrundelse, hvis ingen passer", max_length=500,
                        description="Kræves, når ingen af familierne passer. Gemmes kun i sagsdatabasen. "
                                    + NO_SENSITIVE)


class MatchProposalHandler(Handler[MatchProposalAnswer]):
    kind = ApprovalKind.MATCH_PROPOSAL
    outcomes = frozenset({StepOutcome.PROPOSED, StepOutcome.NONE_FITS, StepOutcome.NO_FAMILY})
    step = Step.MATCH_PROPOSAL
    title = "Vælg en venskabsfamilie til matchforslaget"
    answer = MatchProposalAnswer

    def spec(self, ctx: CaseContext) -> FormSpec:
        task = ctx.open_task()
        return FormSpec(self.kind, choices=tuple(c.reference for c in stored_candidates(task.data)))

    def answer_model(self, spec: FormSpec) -> type[Answer]:
        choice: Any = cast(Any, Literal)[(*spec.choices, NONE_FITS)]  # the case's candidates, or none of them
        model: type[Answer] = create_model("MatchProposalAnswer", __base__=MatchProposalAnswer, family=(
            choice, Field(title="Familie", description=FAMILY_HELP)))
        return model

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        return {"candidates": [{"reference": c.reference, "family_id": c.family_id, "score": c.score,
                                "reasons": list(c.reasons)} for c in candidates_for(ctx.session, ctx.case, ctx.now)]}

    def _has_room(self, ctx: CaseContext, family_id: int) -> bool:
        """Recheck the family under a lock: the form's candidates were fixed when it opened, and other cases may
        have chosen the family since (PostgreSQL: the family's row is locked until this transaction ends; SQLite:
        the transaction holds the database's write lock)."""
        family = ctx.session.get(VolunteerFamily, family_id, with_for_update=True)
        if family is None or family.status != FamilyStatus.APPROVED:
            return False
        taken = ctx.session.scalar(select(func.count()).select_from(Match).where(
            Match.family_id == family_id, Match.status.in_(LIVE_MATCH), Match.case_id != ctx.case.id)) or 0
        return taken < family.capacity

    def describe(self, ctx: CaseContext) -> list[str]:
        lines = ["Vælg den familie, der skal have forslaget. Kandidaterne er godkendte familier med plads, "
                 "sorteret efter point:", "", "| Familie | Point | Hvorfor |", "|---|---|---|"]
        lines += [f"| {c.reference} | {c.score} | {'; '.join(c.reasons)} |"
                  for c in stored_candidates(ctx.open_task().data)]
        return lines

    def apply(self, ctx: CaseContext, answer: MatchProposalAnswer) -> StepOutcome | None:
        offered = {c.reference: c for c in stored_candidates(ctx.open_task().data)}
        if answer.family == NONE_FITS:
            if not answer.reason.strip():
                raise InvalidRequest("Skriv kort, hvorfor ingen af familierne passer til barnet.")
            ctx.case.match_attempt = ctx.attempt + 1
            ctx.audit(PASSED_OVER, self.step, {"attempt": ctx.attempt, "reason": answer.reason.strip(),
                                               "families": sorted(c.family_id for c in offered.values())})
            return StepOutcome.NONE_FITS  # back to waiting, for a family not passed over
        chosen = offered.get(answer.family)
        if chosen is None:
            raise InvalidRequest("Vælg en af de foreslåede familier.")
        attempt = ctx.attempt
        if ctx.match(attempt) is None and not self._has_room(ctx, chosen.family_id):
            fresh = self.open(ctx)
            ctx.open_task().data = fresh
            if not stored_candidates(fresh):  # nobody has room now: back to waiting for a family, next attempt
                ctx.case.match_attempt = attempt + 1
                ctx.audit("match-proposal-no-family", self.step, {"attempt": attempt})
                return StepOutcome.NO_FAMILY
            ctx.ask_again(f"{chosen.reference} har ikke længere plads: en anden sag har fået familien, efter "
                          "formularen blev åbnet. Vælg en af de familier, der har plads nu.", recorded=False)
            return None
        if ctx.match(attempt) is None:
            ctx.session.add(Match(case_id=ctx.case.id, family_id=chosen.family_id, attempt=attempt,
                                  status=MatchStatus.PROPOSED, proposed_at=ctx.now))
            ctx.session.flush()
        family = ctx.family(ctx.current_match())
        ctx.mail(self.step, family_recipient(family),
                 mc.MatchProposalFamily(recipient_name=family.name, child_first_name=ctx.child_name,
                                        child_age=ctx.child_age, child_local_area=ctx.case.child.local_area), attempt)
        return StepOutcome.PROPOSED


def _decline(ctx: CaseContext, match: Match) -> StepOutcome:
    match.status = MatchStatus.DECLINED
    ctx.case.match_attempt = ctx.attempt + 1
    ctx.set_step(Step.MATCH_PROPOSAL)
    return StepOutcome.DECLINED


REASON_HELP = "Kræves ved nej: hvorfor? Gemmes kun i sagsdatabasen. "


def _declined_without_reason(answer: str, reason: str) -> bool:
    return answer == "nej" and not reason.strip()


class FamilyAnswerAnswer(Answer):
    family_answer: YES_NO = Field(title="Familiens svar",
                                  description="Ja sender forslaget til forældrene; nej giver et nyt matchforslag.")
    family_answered_on: OptionalDate = optional_date("Familien svarede (dato)",
                                                     "Forudfyldt med dagen, formularen blev åbnet: ret den, hvis "
                                                     "svaret kom en anden dag.")
    reason: str = Field(default="", title="Begrundelse ved nej", max_length=500,
                        description=REASON_HELP + NO_SENSITIVE)


class FamilyAnswerHandler(Handler[FamilyAnswerAnswer]):
    kind = ApprovalKind.FAMILY_ANSWER
    outcomes = frozenset({StepOutcome.ACCEPTED, StepOutcome.DECLINED})
    step = Step.MATCH_PROPOSAL
    title = "Registrér familiens svar på matchforslaget"
    answer = FamilyAnswerAnswer
    instructions = ("Forslaget er sendt til familien. Registrér familiens svar. Siger familien ja, sendes forslaget "
                    "til forældrene/kontaktpersonen; et nej sender sagen tilbage til et nyt matchforslag (forældrene "
                    "har ikke hørt om familien).")

    def initial(self, ctx: CaseContext) -> dict[str, Any]:
        return {"family_answered_on": ctx.today}

    def apply(self, ctx: CaseContext, answer: FamilyAnswerAnswer) -> StepOutcome | None:
        if _declined_without_reason(answer.family_answer, answer.reason):
            raise InvalidRequest("Skriv en begrundelse, når familien siger nej.")
        match = ctx.current_match()
        if answer.family_answer == "nej":
            ctx.audit("family-declined", self.step, {"attempt": ctx.attempt, "reason": answer.reason.strip()})
        match.family_answer = answer.family_answer
        match.family_answered_on = not_in_future(ctx, answer.family_answered_on or ctx.today)
        return StepOutcome.ACCEPTED if answer.family_answer == "ja" else _decline(ctx, match)


class MatchAnswersAnswer(Answer):
    parents_answer: YES_NO = Field(title="Forældrenes / kontaktpersonens svar",
                                   description="Ja: matchet er aftalt. Nej: et nyt matchforslag.")
    parents_answered_on: OptionalDate = optional_date("Forældrene svarede (dato)",
                                                      "Forudfyldt med dagen, formularen blev åbnet: ret den, hvis "
                                                      "svaret kom en anden dag.")
    reason: str = Field(default="", title="Begrundelse ved nej", max_length=500,
                        description=REASON_HELP + NO_SENSITIVE)


class MatchAnswersHandler(Handler[MatchAnswersAnswer]):
    kind = ApprovalKind.MATCH_ANSWERS
    outcomes = frozenset({StepOutcome.AGREED, StepOutcome.DECLINED})
    step = Step.MATCH_PROPOSAL
    title = "Registrér forældrenes/kontaktpersonens svar på matchforslaget"
    answer = MatchAnswersAnswer
    instructions = ("Familien har sagt ja, og forslaget er sendt til forældrene/kontaktpersonen. Registrér svaret. "
                    "Et nej sender sagen tilbage til et nyt matchforslag.")

    def open(self, ctx: CaseContext) -> dict[str, Any] | None:
        family = ctx.family(ctx.current_match())
        for guardian in ctx.guardians():
            ctx.mail(self.step, ctx.party_recipient(guardian),
                     mc.MatchProposalParents(recipient_name=guardian.name, child_first_name=ctx.child_name,
                                             family_name=family.name, family_local_area=family.local_area),
                     ctx.attempt)
        return None

    def initial(self, ctx: CaseContext) -> dict[str, Any]:
        return {"parents_answered_on": ctx.today}

    def apply(self, ctx: CaseContext, answer: MatchAnswersAnswer) -> StepOutcome | None:
        if _declined_without_reason(answer.parents_answer, answer.reason):
            raise InvalidRequest("Skriv en begrundelse, når forældrene/kontaktpersonen siger nej.")
        match = ctx.current_match()
        if answer.parents_answer == "nej":
            ctx.audit("parents-declined", self.step, {"attempt": ctx.attempt, "reason": answer.reason.strip()})
        match.parents_answer = answer.parents_answer
        match.parents_answered_on = not_in_future(ctx, answer.parents_answered_on or ctx.today)
        if answer.parents_answer != "ja":
            return _decline(ctx, match)
        match.status = MatchStatus.AGREED
        family = ctx.family(match)
        referrer = ctx.referrer()
        ctx.mail(self.step, ctx.party_recipient(referrer),
                 mc.MatchAgreed(recipient_name=referrer.name, case_reference=ctx.case.reference,
                                child_first_name=ctx.child_name, family_local_area=family.local_area), ctx.attempt)
        return StepOutcome.AGREED
