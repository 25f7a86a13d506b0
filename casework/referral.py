"""The referral (tilmeldingsblanket) as a typed model: the schema of the online form and of ``hjemtilos refer``.

The model checks shape (types, e-mail addresses, no control characters); the programme's
eligibility rules live in :mod:`casework.eligibility` so that every reason can be listed at once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from casework.steps import Language, PlacementKind


def _clean_line(value: str) -> str:
    """One line of human text: no CR/LF or other control characters (they would allow mail header injection)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must be a single line without control characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _clean_text(value: str) -> str:
    """Free text of several lines: line breaks and tabs allowed, no other control characters."""
    if any((ord(ch) < 32 and ch not in "\n\r\t") or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value.strip()


Line = Annotated[str, Field(max_length=200), AfterValidator(_clean_line)]
Text = Annotated[str, Field(max_length=1000), AfterValidator(_clean_text)]
Phone = Annotated[str, Field(max_length=40, pattern=r"^\+?[0-9 ()\-]{6,}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Contact(_Model):
    """A person the system may write to."""

    name: Line = Field(title="Navn / Name")
    email: EmailStr = Field(title="E-mail")
    phone: Phone | None = Field(default=None, title="Telefon / Phone")
    language: Language = Field(default=Language.DA, title="Sprog i mails / Mail language")


class CustodyHolder(Contact):
    """A parent; with ``has_custody`` (the default) a forældremyndighedsindehaver, who gives the consents."""

    has_custody: bool = Field(default=True, title="Har forældremyndighed / Has parental responsibility")

    communicates_in_danish_or_english: bool = Field(
        default=False,
        title="Kan kommunikere på dansk eller engelsk / Can communicate in Danish or English",
    )


class Referrer(Contact):
    """The BBU caseworker (henviser / rådgiver)."""

    unit: Line | None = Field(default=None, title="Enhed / Unit")


class Child(_Model):
    first_name: Line = Field(title="Fornavn / First name")
    last_name: Line = Field(title="Efternavn / Last name")
    birth_date: date = Field(title="Fødselsdato / Date of birth")
    gender: Annotated[str, Field(max_length=30), AfterValidator(_clean_line)] | None = Field(
        default=None, title="Køn / Gender")
    languages: list[Annotated[str, Field(min_length=2, max_length=3, pattern=r"^[a-z]{2,3}$")]] = Field(
        default_factory=list,
        title="Sprog barnet taler (ISO-koder) / Languages the child speaks (ISO codes)",
    )
    local_area: Line = Field(title="Bydel / Local area")
    motivation: Text | None = Field(default=None, title="Barnets motivation / The child's motivation",
                                    description="Hvorfor ønsker barnet en venskabsfamilie? / Why does the child "
                                                "want a volunteer family?")
    description: Text | None = Field(default=None, title="Kort beskrivelse af barnet / Short description",
                                     description="Interesser, hverdag, hvad barnet glæder sig til. Beskriv behovet, "
                                                 "ikke diagnoser. / Interests, everyday life; the need, not diagnoses.")


class Placement(_Model):
    kind: PlacementKind = Field(default=PlacementKind.HOME, title="Hvor bor barnet? / Where does the child live?")
    institution_name: Line | None = Field(default=None, title="Anbringelsessted / Placement")
    contact_name: Line | None = Field(default=None, title="Kontaktperson / Contact person")
    contact_email: EmailStr | None = Field(default=None, title="Kontaktpersonens e-mail")
    contact_phone: Phone | None = Field(default=None, title="Kontaktpersonens telefon")
    contact_language: Language = Field(default=Language.DA, title="Kontaktpersonens sprog")
    child_has_parent_contact: bool = Field(
        default=False, title="Barnet har kontakt med forældrene / The child has contact with the parents"
    )


class Eligibility(_Model):
    """The referrer's answers to the programme's screening questions."""

    child_wants_volunteer_family: bool = Field(
        default=False, title="Barnet ønsker en venskabsfamilie / The child wants a volunteer family"
    )
    parents_back_referral: bool = Field(
        default=False, title="Forældrene bakker op om henvisningen / The parents back the referral"
    )
    has_resources_to_start: bool = Field(
        default=False,
        title="Barnet har ressourcer til at starte noget nyt / The child has the resources to start something new",
    )
    can_say_yes_no: bool | None = Field(
        default=None, title="(Førskolebarn) Kan selv sige ja og nej / (Preschool) Can say yes and no"
    )
    manages_toilet_alone: bool | None = Field(
        default=None, title="(Førskolebarn) Kan selv gå på toilettet / (Preschool) Manages the toilet alone"
    )
    # Special-category concerns: stored as flags in the case database only, never sent to Prefect.
    severe_acting_out: bool = Field(default=False, title="Svær udadreagerende adfærd / Severe acting-out")
    severe_psychiatric_diagnosis: bool = Field(
        default=False, title="Svær psykiatrisk diagnose / Severe psychiatric diagnosis"
    )
    suicide_risk_or_self_harm: bool = Field(
        default=False, title="Selvmordsrisiko eller selvskade / Suicide risk or self-harm"
    )


class Referral(_Model):
    """Tilmeldingsblanket: one child referred by one BBU caseworker."""

    child: Child
    placement: Placement = Field(default_factory=Placement)
    custody_holders: list[CustodyHolder] = Field(default_factory=list, max_length=4)
    referrer: Referrer
    bbu_contact: Contact | None = Field(
        default=None,
        title="BBU-kontaktperson (modtager samtykkeerklæringerne) / BBU contact (receives the consent forms)",
    )
    eligibility: Eligibility = Field(default_factory=Eligibility)
    wished_competences: list[Annotated[str, Field(max_length=60), AfterValidator(_clean_line)]] = Field(
        default_factory=list, max_length=10,
        title="Ønskede kompetencer hos familien / Competences wished of the family",
        description="Beskriv behovet, ikke diagnoser / describe the need, not diagnoses")
