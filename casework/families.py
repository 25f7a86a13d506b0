"""Volunteer families: registration schema, allowed compositions and what screening still needs.

PROCESS.md step 3: two adults with or without children, or one adult with at least one child living at
home. A child-protection certificate (børneattest) and a criminal record certificate (straffeattest) for
every household member who is 15 or older *on the day*, so a member who turns 15 during screening needs
them too. Certificates are recorded as outcome and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from casework.eligibility import age_on
from casework.referral import Line, Phone
from casework.steps import Language

CERTIFICATE_AGE = 15
ADULT_AGE = 18


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line = Field(title="Navn / Name")
    birth_date: date = Field(title="Fødselsdato / Date of birth")
    role: Literal["volunteer", "household"] = Field(
        title="Rolle / Role", description="volunteer: one of the family's adult volunteers; household: anyone else")
    lives_at_home: bool = Field(default=True, title="Bor hjemme / Lives at home")


class FamilyRegistration(BaseModel):
    """A volunteer family as registered before screening."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line = Field(title="Familiens navn / Family name", description='e.g. "Familien Holm"')
    email: EmailStr = Field(title="E-mail")
    phone: Phone | None = Field(default=None, title="Telefon / Phone")
    language: Language = Field(default=Language.DA, title="Sprog i mails / Mail language")
    address: Line = Field(title="Adresse / Address")
    local_area: Line = Field(title="Bydel / Local area")
    languages: list[str] = Field(default_factory=lambda: ["da"], title="Sprog / Languages (ISO codes)")
    capacity: int = Field(default=1, ge=1, le=3, title="Antal børn ad gangen / Children at once")
    wish_age_min: int | None = Field(default=None, ge=4, le=17, title="Ønsket alder fra / Wished age from")
    wish_age_max: int | None = Field(default=None, ge=4, le=17, title="Ønsket alder til / Wished age to")
    wish_gender: str | None = Field(default=None, max_length=30, title="Ønsket køn / Wished gender")
    competences: list[str] = Field(default_factory=list, title="Særlige kompetencer / Special competences")
    members: list[Member] = Field(min_length=1, max_length=12, title="Husstanden / Household")

    @model_validator(mode="after")
    def _ages(self) -> FamilyRegistration:
        if self.wish_age_min is not None and self.wish_age_max is not None and self.wish_age_min > self.wish_age_max:
            raise ValueError("wish_age_min must not be above wish_age_max")
        return self


@dataclass(frozen=True)
class CompositionError:
    field: str
    da: str
    en: str


def composition_errors(family: FamilyRegistration, today: date) -> list[CompositionError]:
    """Empty when the household is an allowed volunteer family."""
    errors: list[CompositionError] = []
    volunteers = [(i, m) for i, m in enumerate(family.members) if m.role == "volunteer"]
    children_at_home = [m for m in family.members
                        if m.role == "household" and m.lives_at_home and age_on(m.birth_date, today) < ADULT_AGE]
    for index, member in volunteers:
        if age_on(member.birth_date, today) < ADULT_AGE:
            errors.append(CompositionError(f"members.{index}.birth_date",
                                           "En frivillig voksen skal være mindst 18 år.",
                                           "A volunteer adult must be at least 18."))
    if len(volunteers) == 0 or len(volunteers) > 2:
        errors.append(CompositionError("members",
                                       "En venskabsfamilie har én eller to frivillige voksne.",
                                       "A volunteer family has one or two volunteer adults."))
    elif len(volunteers) == 1 and not children_at_home:
        errors.append(CompositionError("members",
                                       "Én voksen kan kun være venskabsfamilie med mindst ét hjemmeboende barn.",
                                       "One adult can only be a volunteer family with at least one child living at home."))
    return errors


@dataclass(frozen=True)
class MemberRecord:
    """What screening has recorded about one household member."""

    index: int
    birth_date: date
    child_certificate_received: bool
    criminal_record_received: bool
    certificates_clear: bool


@dataclass(frozen=True)
class ScreeningStatus:
    home_visit_done: bool
    elearning_done: bool
    missing_certificates: tuple[str, ...]  # "medlem 2: børneattest"
    unclear_certificates: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        items = list(self.missing_certificates)
        if not self.home_visit_done:
            items.insert(0, "hjemmebesøg og samtale")
        if not self.elearning_done:
            items.append("e-læringskursus")
        return tuple(items)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.unclear_certificates


def needs_certificates(birth_date: date, today: date) -> bool:
    return age_on(birth_date, today) >= CERTIFICATE_AGE


def screening_status(members: list[MemberRecord], home_visit_done: bool, elearning_done: bool,
                     today: date) -> ScreeningStatus:
    missing: list[str] = []
    unclear: list[str] = []
    for member in members:
        if not needs_certificates(member.birth_date, today):
            continue
        if not member.child_certificate_received:
            missing.append(f"medlem {member.index}: børneattest")
        if not member.criminal_record_received:
            missing.append(f"medlem {member.index}: straffeattest")
        if member.child_certificate_received and member.criminal_record_received and not member.certificates_clear:
            unclear.append(f"medlem {member.index}: attest med anmærkning")
    return ScreeningStatus(home_visit_done, elearning_done, tuple(missing), tuple(unclear))
