"""The first meeting in the family's home: planning it (the invitation to both sides), then the fixed weekday,
who brings and fetches the child, and the start of the weekly visits."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import Field

from casework.clock import LOCAL_TZ, at_local, format_local, local_date
from casework.steps import ApprovalKind, MatchStatus, Step, StepOutcome
from hjemtilos.approvals import InvalidRequest
from hjemtilos.cases.context import CaseContext, family_recipient
from hjemtilos.cases.handler import Answer, Handler, OptionalDate, optional_date
from hjemtilos.mail import contexts as mc

__all__ = ["FirstMeetingAnswer", "FirstMeetingHandler", "FirstMeetingPlanAnswer", "FirstMeetingPlanHandler"]

WEEKDAYS = Literal["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
TRANSPORT = Literal["forælder/kontaktperson", "venskabsfamilien", "barnet selv", "andet (aftalt)"]


CLOCK_PATTERN = r"^\s*([01]?[0-9]|2[0-3])[:.]([0-5][0-9])([:.]([0-5][0-9]))?\s*$"  # seconds may be given
PLAN_AHEAD = timedelta(days=366)  # a first meeting further ahead than this is a typing error
START_WINDOW = timedelta(weeks=8)  # the visits start on the meeting's day or within this time after it


class FirstMeetingPlanAnswer(Answer):
    """A date and a wall-clock time, both Copenhagen's: a date-time field would be read in the browser's zone."""

    meeting_on: date = Field(title="Første møde (dato)",
                             description="Mødet holdes hjemme hos familien. Invitationen sendes til begge parter.")
    meeting_clock: str = Field(title="Klokkeslæt (dansk tid)", pattern=CLOCK_PATTERN,
                               description="Fx 16:00 eller 16.30. Altid dansk tid, uanset hvad din browser viser. "
                                           "Mødet skal ligge forude.")

    @property
    def meeting_time(self) -> datetime:
        """The meeting as an aware time: the date and the clock in Copenhagen."""
        hours, minutes, *seconds = self.meeting_clock.strip().replace(".", ":").split(":")
        return at_local(self.meeting_on, time(int(hours), int(minutes), int(seconds[0]) if seconds else 0))


class FirstMeetingPlanHandler(Handler[FirstMeetingPlanAnswer]):
    kind = ApprovalKind.FIRST_MEETING_PLAN
    outcomes = frozenset({StepOutcome.PLANNED})
    step = Step.FIRST_MEETING
    title = "Planlæg det første møde hos familien"
    answer = FirstMeetingPlanAnswer
    instructions = ("Aftal det første møde hjemme hos familien. Invitationen sendes til begge parter, når du har "
                    "angivet tidspunktet.")

    def initial(self, ctx: CaseContext) -> dict[str, Any]:
        return {"meeting_on": ctx.today}  # a date, never a date-time: the browser's zone must not move it

    def apply(self, ctx: CaseContext, answer: FirstMeetingPlanAnswer) -> StepOutcome | None:
        meeting_at = answer.meeting_time
        if meeting_at <= ctx.now:
            raise InvalidRequest(f"Det første møde skal ligge forude: {format_local(meeting_at, '%d.%m.%Y kl. %H.%M')} "
                                 f"er allerede passeret (nu: {format_local(ctx.now, '%d.%m.%Y kl. %H.%M')}, dansk "
                                 "tid). Ingen invitation er sendt. / The first meeting must lie ahead; no invitation "
                                 "was sent.")
        if meeting_at > ctx.now + PLAN_AHEAD:
            raise InvalidRequest("Det første møde ligger mere end et år forude: ret datoen. / The first meeting is "
                                 "more than a year ahead: correct the date.")
        match = ctx.current_match()
        family = ctx.family(match)
        ctx.audit("first-meeting-planned", self.step, {"meeting_at": meeting_at.isoformat()})
        match.first_meeting_at = meeting_at
        for to in [family_recipient(family), *(ctx.party_recipient(g) for g in ctx.guardians())]:
            ctx.mail(self.step, to, mc.FirstMeetingInvitation(recipient_name=to.name, child_first_name=ctx.child_name,
                                                              family_name=family.name, meeting_at=meeting_at,
                                                              address=family.address or "",
                                                              family_local_area=family.local_area), ctx.attempt)
        return StepOutcome.PLANNED


class FirstMeetingAnswer(Answer):
    weekday: WEEKDAYS = Field(title="Fast ugedag for besøgene", description="Den ugedag, barnet besøger familien.")
    brings: TRANSPORT = Field(title="Hvem bringer barnet?", description="Hvem følger barnet hen til familien.")
    fetches: TRANSPORT = Field(title="Hvem henter barnet?", description="Hvem henter barnet hos familien.")
    start_date: OptionalDate = optional_date("Første besøg (dato)", "Forudfyldt med ugen efter det første møde. "
                                             "Året regnes fra denne dato.")


class FirstMeetingHandler(Handler[FirstMeetingAnswer]):
    kind = ApprovalKind.FIRST_MEETING
    outcomes = frozenset({StepOutcome.RECORDED})
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
        return {"start_date": local_date(self.default_start(ctx, match.first_meeting_at))}

    @staticmethod
    def default_start(ctx: CaseContext, meeting_at: datetime) -> datetime:
        """PROCESS.md: the visits start the week after the first meeting (the profile's delay)."""
        return ctx.app.profile.timings.visits_start_after_first_meeting.after(meeting_at)

    def start_of_visits(self, ctx: CaseContext, meeting_at: datetime | None, start_date: date | None) -> datetime:
        """The year counts from the start recorded here, passed or not: the date typed (at the meeting's time of
        day), or the default after the meeting. Refused outside the meeting's day and the weeks after it."""
        if meeting_at is None:  # planned before meetings were recorded: the start as typed, else from now
            return at_local(start_date) if start_date else self.default_start(ctx, ctx.now)
        default = self.default_start(ctx, meeting_at)
        if start_date is None or start_date == local_date(default):
            return default
        first, last = local_date(meeting_at), local_date(meeting_at + START_WINDOW)
        if not first <= start_date <= last:
            raise InvalidRequest(f"Besøgene starter på mødedagen eller inden for 8 uger efter det første møde "
                                 f"({first:%d.%m.%Y}–{last:%d.%m.%Y}). / The visits start on the first meeting's day "
                                 "or within 8 weeks after it.")
        meeting_clock = meeting_at.astimezone(LOCAL_TZ)
        return at_local(start_date, time(meeting_clock.hour, meeting_clock.minute))

    def apply(self, ctx: CaseContext, answer: FirstMeetingAnswer) -> StepOutcome | None:
        match = ctx.current_match()
        started_at = self.start_of_visits(ctx, match.first_meeting_at, answer.start_date)
        match.weekday, match.transport_to, match.transport_from = answer.weekday, answer.brings, answer.fetches
        match.start_date = local_date(started_at)
        match.started_at = started_at
        match.status = MatchStatus.ACTIVE
        ctx.audit("visits-start", self.step, {"started_at": started_at.isoformat()})
        return StepOutcome.RECORDED
