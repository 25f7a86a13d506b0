"""The coordinators' forms in the Prefect UI's Resume dialog. Labels and help texts in Danish.

Decisions are choices (Literal), never bare switches: an untouched switch is left out of the submitted
input. Free-text fields say that they must not hold health information or names.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from prefect.input import RunInput
from pydantic import Field, create_model

from hjemtilos import programme
from hjemtilos.programme import ApprovalView

NO_SENSITIVE = "Skriv ikke navne eller helbredsoplysninger her: dem har sagsdatabasen."
WEEKDAYS = Literal["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
TRANSPORT = Literal["forælder/kontaktperson", "venskabsfamilien", "barnet selv", "andet (aftalt)"]


class CoordinatorForm(RunInput):
    coordinator: str = Field(title="Dine initialer", description="Hvem registrerer dette?", min_length=2,
                             max_length=20)


class ScreeningForm(CoordinatorForm):
    decision: Literal["godkend", "afvis", "mere information"] = Field(
        title="Beslutning", description="Godkend henvisningen, afvis den, eller bed henviser om flere oplysninger.")
    reason: str = Field(default="", title="Begrundelse eller spørgsmål", max_length=1000,
                        description="Kræves ved afvisning og ved spørgsmål. Sendes til henviser. " + NO_SENSITIVE)


class StartupMeetingForm(CoordinatorForm):
    child_visit_on: date = Field(title="Besøg hos barnet (dato)")
    startup_meeting_on: date = Field(title="Opstartsmøde (dato)")
    parents: Literal["forældrene er orienteret", "barnet har ikke kontakt med forældrene"] = Field(
        title="Forældrene", description="Er forældrene orienteret og inddraget?")


class MatchAnswersForm(CoordinatorForm):
    family_answer: Literal["ja", "nej"] = Field(title="Familiens svar")
    family_answered_on: date | None = Field(default=None, title="Familien svarede (dato)")
    parents_answer: Literal["ja", "nej"] = Field(title="Forældrenes / kontaktpersonens svar")
    parents_answered_on: date | None = Field(default=None, title="Forældrene svarede (dato)")


class FirstMeetingPlanForm(CoordinatorForm):
    meeting_at: datetime = Field(title="Første møde (dato og klokkeslæt)",
                                 description="Mødet holdes hjemme hos familien. Invitationen sendes til begge parter.")


class FirstMeetingForm(CoordinatorForm):
    weekday: WEEKDAYS = Field(title="Fast ugedag for besøgene")
    brings: TRANSPORT = Field(title="Hvem bringer barnet?")
    fetches: TRANSPORT = Field(title="Hvem henter barnet?")
    start_date: date | None = Field(default=None, title="Første besøg (dato)",
                                    description="Som standard ugen efter det første møde.")


class FollowupForm(CoordinatorForm):
    call_held_on: date = Field(title="Opfølgningsopkald holdt (dato)")


class ChildVisitForm(CoordinatorForm):
    visit_held_on: date = Field(title="Børnebesøg holdt (dato)")
    how_it_goes: Literal["godt", "blandet", "bekymring: følg op"] = Field(title="Hvordan går det?")


class FutureAgreementForm(CoordinatorForm):
    continuation: Literal["fortsætter ugentligt", "fortsætter sjældnere", "stopper efter året", "ikke afklaret"] = Field(
        title="Aftale efter året")


class ExtraChildVisitForm(CoordinatorForm):
    visit_held_on: date = Field(title="Ekstra børnebesøg holdt (dato)")
    child_wants_rematch: Literal["ja", "nej"] = Field(title="Ønsker barnet en ny venskabsfamilie?")


STATIC_FORMS: dict[str, type[RunInput]] = {
    programme.SCREENING: ScreeningForm,
    programme.STARTUP: StartupMeetingForm,
    programme.MATCH_ANSWERS: MatchAnswersForm,
    programme.FIRST_MEETING_PLAN: FirstMeetingPlanForm,
    programme.FIRST_MEETING: FirstMeetingForm,
    programme.FIRST_VISIT_FOLLOWUP: FollowupForm,
    programme.CHILD_VISIT: ChildVisitForm,
    programme.FUTURE_AGREEMENT: FutureAgreementForm,
    programme.EXTRA_CHILD_VISIT: ExtraChildVisitForm,
}


def consent_form(slots: int) -> type[RunInput]:
    fields: dict[str, Any] = {}
    for index in range(1, slots + 1):
        fields[f"parent_{index}_bbu"] = (date | None, Field(default=None,
                                                            title=f"Forælder {index}: BBU-samtykke modtaget (dato)"))
        fields[f"parent_{index}_redbarnet"] = (date | None, Field(
            default=None, title=f"Forælder {index}: Red Barnet-samtykke modtaget (dato)"))
    return create_model("ConsentForm", __base__=CoordinatorForm, **fields)


def proposal_form(choices: tuple[str, ...]) -> type[RunInput]:
    family_type = Literal[choices]  # type: ignore[valid-type]
    return create_model("MatchProposalForm", __base__=CoordinatorForm, family=(
        family_type, Field(title="Familie", description="De godkendte familier med plads; se pointene ovenfor.")))


def form_for(view: ApprovalView) -> type[RunInput]:
    if view.kind == programme.CONSENT:
        base = consent_form(view.slots)
    elif view.kind == programme.MATCH_PROPOSAL:
        base = proposal_form(view.choices)
    else:
        base = STATIC_FORMS[view.kind]
    return base.with_initial_data(description=view.description, **view.initial)
