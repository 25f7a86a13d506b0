"""The first meeting in the family's home: planning it (the invitation to both sides), then the fixed weekday,
who brings and fetches the child, and the start of the weekly visits."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import Field

from casework.clock import at_local, format_local, local_date
from casework.steps import ApprovalKind, MatchStatus, Step, StepOutcome
from hjemtilos.cases.context import CaseContext, family_recipient
from hjemtilos.cases.handler import Answer, Handler, OptionalDate, optional_date
from hjemtilos.mail import contexts as mc

__all__ = ["FirstMeetingAnswer", "FirstMeetingHandler", "FirstMeetingPlanAnswer", "FirstMeetingPlanHandler"]

WEEKDAYS = Literal["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
TRANSPORT = Literal["forælder/kontaktperson", "venskabsfamilien", "barnet selv", "andet (aftalt)"]


CLOCK_PATTERN = r"^\s*([01]?[0-9]|2[0-3])[:.]([0-5][0-9])\s*$"


class FirstMeetingPlanAnswer(Answer):
    """A date and a wall-clock time, both Copenhagen's: a date-time field would be read in the browser's zone."""

    meeting_on: date = Field(title="Første møde (dato)",
                             description="Mødet holdes hjemme hos familien. Invitationen sendes til begge parter.")
    meeting_clock: str = Field(title="Klokkeslæt (dansk tid)", pattern=CLOCK_PATTERN,
                               description="Fx 16:00 eller 16.30. Altid dansk tid, uanset hvad din browser viser.")

    @property
    def meeting_time(self) -> datetime:
        """The meeting as an aware time: the date and the clock in Copenhagen."""
        hours, minutes = self.meeting_clock.strip().replace(".", ":").split(":")
        return at_local(self.meeting_on, time(int(hours), int(minutes)))


class FirstMeetingPlanHandler(Handler[FirstMeetingPlanAnswer]):
    kind = ApprovalKind.FIRST_MEETING_PLAN
    step = Step.FIRST_MEETING
    title = "Planlæg det første møde hos familien"
    answer = FirstMeetingPlanAnswer
    instructions = ("Aftal det første møde hjemme hos familien. Invitationen sendes til begge parter, når du har "
                    "angivet tidspunktet.")

    def initial(self, ctx: CaseContext) -> dict[str, Any]:
        return {"meeting_on": ctx.today}  # a date, never a date-time: the browser's zone must not move it

    def apply(self, ctx: CaseContext, answer: FirstMeetingPlanAnswer) -> StepOutcome | None:
        match = ctx.current_match()
        family = ctx.family(match)
        meeting_at = answer.meeting_time
        ctx.audit("first-meeting-planned", self.step, {"meeting_at": meeting_at.isoformat()})
        match.first_meeting_at = meeting_at
        for to in [family_recipient(family), *(ctx.party_recipient(g) for g in ctx.guardians())]:
            ctx.mail(self.step, to, mc.FirstMeetingInvitation(recipient_name=to.name, child_first_name=ctx.child_name,
                                                              family_name=family.name, meeting_at=meeting_at,
                                                              address=family.address or "",
                                                              family_local_area=family.local_area), ctx.attempt)
        return StepOutcome.PLANNED


class FirstMeetingAnswer(Answer):
    weekday: WEEKDAYS = Field(title="Fast ugedag for besøgene")
    brings: TRANSPORT = Field(title="Hvem bringer barnet?")
    fetches: TRANSPORT = Field(title="Hvem henter barnet?")
    start_date: OptionalDate = optional_date("Første besøg (dato)", "Forudfyldt med ugen efter det første møde.")


class FirstMeetingHandler(Handler[FirstMeetingAnswer]):
    kind = ApprovalKind.FIRST_MEETING
    step = Step.FIRST_MEETING
    title = "Registrér ugedag og transport efter det første møde"
    answer = FirstMeetingAnswer
    instructions = ("Efter det første møde: registrér den faste ugedag, hvem der bringer og henter barnet, og "
                    "startdatoen for besøgene (som standard ugen efter mødet).")

    def describe(self, ctx: CaseContext) -> list[str]:
        match = ctx.match()
        lines = [self.instructions]
        if match is not None and match.first_meeting_at is not None:
            lines += ["", f"Det første møde: {format_local(match.first_meeting_at, '%d.%m.%Y kl. %H.%M')} (dansk tid)."]
        return lines

    def initial(self, ctx: CaseContext) -> dict[str, Any]:
        match = ctx.match()
        if match is None or match.first_meeting_at is None:
            return {}
        start = ctx.app.profile.timings.visits_start_after_first_meeting.after(match.first_meeting_at)
        return {"start_date": local_date(start)}

    def apply(self, ctx: CaseContext, answer: FirstMeetingAnswer) -> StepOutcome | None:
        match = ctx.current_match()
        if answer.start_date is not None and answer.start_date > ctx.today:
            started_at = at_local(answer.start_date)
        else:
            started_at = ctx.app.profile.timings.visits_start_after_first_meeting.after(ctx.now)
        match.weekday, match.transport_to, match.transport_from = answer.weekday, answer.brings, answer.fetches
        match.start_date = local_date(started_at)
        match.started_at = started_at
        match.status = MatchStatus.ACTIVE
        ctx.audit("visits-start", self.step, {"started_at": started_at.isoformat()})
        return StepOutcome.RECORDED
