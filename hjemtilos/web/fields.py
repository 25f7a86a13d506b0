"""The referral form's fields, grouped as a caseworker thinks, with Danish and English labels.

Field names are the dotted paths of the ``Referral`` model, so pydantic's errors and the eligibility
rules' reasons land next to the field they concern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str  # text, email, tel, date, select, checkbox, textarea, choices (checkboxes), list (comma-separated words)
    da: str
    en: str
    required: bool = False
    options: tuple[tuple[str, str, str], ...] = ()  # (value, da, en)
    help_da: str = ""
    help_en: str = ""
    placed_only: bool = False  # asked (and read) only when the child lives away from home


@dataclass(frozen=True)
class Group:
    key: str
    da: str
    en: str
    fields: tuple[FormField, ...]


LANG_OPTIONS = (("da", "Dansk", "Danish"), ("en", "Engelsk", "English"))
YES_NO = (("true", "Ja", "Yes"), ("false", "Nej", "No"))
# The languages children referred by BBU most often speak (ISO 639 codes behind the names).
CHILD_LANGUAGES = (
    ("da", "Dansk", "Danish"), ("en", "Engelsk", "English"), ("ar", "Arabisk", "Arabic"),
    ("so", "Somali", "Somali"), ("tr", "Tyrkisk", "Turkish"), ("ur", "Urdu", "Urdu"), ("fa", "Persisk", "Persian"),
    ("ps", "Pashto", "Pashto"), ("ku", "Kurdisk", "Kurdish"), ("ti", "Tigrinya", "Tigrinya"),
    ("uk", "Ukrainsk", "Ukrainian"), ("pl", "Polsk", "Polish"), ("ro", "Rumænsk", "Romanian"),
    ("bs", "Bosnisk", "Bosnian"), ("es", "Spansk", "Spanish"), ("fr", "Fransk", "French"),
)
# Københavns Kommunes ti bydele.
DISTRICTS = tuple((name, name, name) for name in (
    "Indre By", "Østerbro", "Nørrebro", "Vesterbro/Kongens Enghave", "Valby", "Vanløse", "Brønshøj-Husum",
    "Bispebjerg", "Amager Øst", "Amager Vest"))
YES_NO_NA = (("", "Ikke relevant (barnet er 6 år eller ældre)", "Not relevant (the child is 6 or older)"),
             ("true", "Ja", "Yes"), ("false", "Nej", "No"))


def _holder(n: int) -> tuple[FormField, ...]:
    prefix = f"custody_holders.{n}"
    label = f"Forælder {n + 1}"
    return (
        FormField(f"{prefix}.name", "text", f"{label}: navn", f"Parent {n + 1}: name", required=n == 0),
        FormField(f"{prefix}.email", "email", f"{label}: e-mail", f"Parent {n + 1}: e-mail", required=n == 0),
        FormField(f"{prefix}.phone", "tel", f"{label}: telefon", f"Parent {n + 1}: phone"),
        FormField(f"{prefix}.has_custody", "select", f"{label} har forældremyndighed",
                  f"Parent {n + 1} has parental responsibility", options=YES_NO,
                  help_da="Kun forældremyndighedsindehavere giver samtykke.",
                  help_en="Only holders of parental responsibility give consent."),
        FormField(f"{prefix}.language", "select", f"{label}: sprog i mails", f"Parent {n + 1}: mail language",
                  options=LANG_OPTIONS),
        FormField(f"{prefix}.communicates_in_danish_or_english", "checkbox",
                  f"{label} kan kommunikere på dansk eller engelsk",
                  f"Parent {n + 1} can communicate in Danish or English"),
    )


GROUPS: tuple[Group, ...] = (
    Group("child", "Barnet", "The child", (
        FormField("child.first_name", "text", "Fornavn", "First name", required=True),
        FormField("child.last_name", "text", "Efternavn", "Last name", required=True),
        FormField("child.birth_date", "date", "Fødselsdato", "Date of birth", required=True),
        FormField("child.gender", "text", "Køn", "Gender"),
        FormField("child.languages", "choices", "Sprog barnet taler", "Languages the child speaks", required=True,
                  options=CHILD_LANGUAGES, help_da="Sæt kryds ved alle, barnet taler.",
                  help_en="Tick every language the child speaks."),
        FormField("child.local_area", "select", "Bydel", "District", required=True,
                  options=(("", "Vælg bydel", "Choose a district"), *DISTRICTS),
                  help_da="Hvor barnet bor i Københavns Kommune.", help_en="Where the child lives in Copenhagen."),
        FormField("child.motivation", "textarea", "Barnets egen motivation", "The child's own motivation",
                  help_da="Hvorfor ønsker barnet en venskabsfamilie? Med barnets egne ord, hvis muligt.",
                  help_en="Why does the child want a volunteer family? In the child's own words if possible."),
        FormField("child.description", "textarea", "Kort beskrivelse af barnet", "Short description of the child",
                  help_da="Interesser, hverdag, hvad barnet glæder sig til. Beskriv behovet, ikke diagnoser.",
                  help_en="Interests, everyday life, what the child looks forward to. The need, not diagnoses."),
        FormField("wished_competences", "list", "Ønskede kompetencer hos familien", "Competences wished of the family",
                  help_da="Fx musik, friluftsliv, lektiehjælp (adskilt af komma). Beskriv behovet, ikke diagnoser.",
                  help_en="E.g. music, outdoor life, homework help (separated by commas). Describe the need, "
                          "not diagnoses."),
    )),
    Group("parents", "Forældre / forældremyndighed", "Parents / parental responsibility",
          _holder(0) + _holder(1) + _holder(2) + _holder(3)),
    Group("placement", "Anbringelse og kontaktperson", "Placement and contact person", (
        FormField("placement.kind", "select", "Hvor bor barnet?", "Where does the child live?", options=(
            ("home", "Hjemme hos forældrene", "At home with the parents"),
            ("foster_family", "I plejefamilie", "In a foster family"),
            ("residential_home", "På børne- eller ungehjem", "In a residential children's or youth home"))),
        FormField("placement.institution_name", "text", "Anbringelsessted", "Placement", placed_only=True),
        FormField("placement.contact_name", "text", "Kontaktperson på anbringelsesstedet",
                  "Contact person at the placement", placed_only=True),
        FormField("placement.contact_email", "email", "Kontaktpersonens e-mail", "Contact person's e-mail",
                  placed_only=True),
        FormField("placement.contact_phone", "tel", "Kontaktpersonens telefon", "Contact person's phone",
                  placed_only=True),
        FormField("placement.contact_language", "select", "Kontaktpersonens sprog i mails",
                  "Contact person's mail language", options=LANG_OPTIONS, placed_only=True),
        FormField("placement.child_has_parent_contact", "checkbox", "Barnet har kontakt med forældrene",
                  "The child has contact with the parents", placed_only=True),
    )),
    Group("referrer", "Henviser", "Referrer", (
        FormField("referrer.name", "text", "Dit navn", "Your name", required=True),
        FormField("referrer.email", "email", "Din e-mail", "Your e-mail", required=True),
        FormField("referrer.phone", "tel", "Din telefon", "Your phone"),
        FormField("referrer.unit", "text", "Enhed", "Unit"),
        FormField("bbu_contact.name", "text", "BBU-kontaktperson (modtager samtykkeerklæringerne)",
                  "BBU contact (receives the consent forms)", help_da="Tom: dig selv", help_en="Empty: yourself"),
        FormField("bbu_contact.email", "email", "BBU-kontaktpersonens e-mail", "BBU contact's e-mail"),
    )),
    Group("eligibility", "Vurdering", "Assessment", (
        FormField("eligibility.child_wants_volunteer_family", "checkbox", "Barnet ønsker selv en venskabsfamilie",
                  "The child wants a volunteer family"),
        FormField("eligibility.parents_back_referral", "checkbox", "Forældrene bakker op om henvisningen",
                  "The parents back the referral"),
        FormField("eligibility.has_resources_to_start", "checkbox",
                  "Barnet har ressourcer til at starte noget nyt og bygge nye relationer",
                  "The child has the resources to start something new and build new relationships"),
        FormField("eligibility.can_say_yes_no", "select", "Førskolebarn: kan selv sige til og fra",
                  "Preschool child: can say yes and no", options=YES_NO_NA),
        FormField("eligibility.manages_toilet_alone", "select", "Førskolebarn: klarer sig selv ved toiletbesøg",
                  "Preschool child: manages the toilet alone", options=YES_NO_NA),
        FormField("eligibility.severe_acting_out", "checkbox", "Svært udadreagerende", "Severe acting-out"),
        FormField("eligibility.severe_psychiatric_diagnosis", "checkbox", "Svære psykiatriske diagnoser",
                  "Severe psychiatric diagnoses"),
        FormField("eligibility.suicide_risk_or_self_harm", "checkbox", "Selvmordstruet eller selvskadende",
                  "Suicide risk or self-harm"),
    )),
)

ALL_FIELDS = {f.name: f for group in GROUPS for f in group.fields}
OPTIONAL_OBJECTS = ("custody_holders.1", "bbu_contact")


def to_referral_data(form: dict[str, str]) -> dict[str, Any]:
    """Turn the posted form (flat, dotted names) into the nested shape of ``Referral``."""
    data: dict[str, Any] = {}
    placed = (form.get("placement.kind") or "home") != "home"
    for name, spec in ALL_FIELDS.items():
        if spec.placed_only and not placed:  # hidden for a child at home: whatever was typed there is not read
            continue
        raw = (form.get(name) or "").strip()
        value: Any
        if spec.kind == "checkbox":
            value = name in form
        elif spec.kind == "choices":
            value = [code for code, _da, _en in spec.options if f"{name}.{code}" in form]
        elif spec.kind == "select" and spec.options == YES_NO:
            value = raw != "false"
        elif spec.kind == "list":
            value = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
        elif spec.kind == "select" and spec.options == YES_NO_NA:
            value = None if raw == "" else raw == "true"
        else:
            if raw == "":
                continue
            value = raw
        target = data
        parts = name.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    for group in ("child", "referrer"):  # so that each missing field is reported at its field
        data.setdefault(group, {})
    holders = data.pop("custody_holders", {})
    data["custody_holders"] = [holders[k] for k in sorted(holders) if _filled(holders[k])]
    if "bbu_contact" in data and not _filled(data["bbu_contact"]):
        del data["bbu_contact"]
    return data


def _filled(obj: dict[str, Any]) -> bool:
    """Whether a parent's or contact's row was filled in (its selects have defaults of their own)."""
    return any(v not in (None, "", False, "da") for k, v in obj.items() if k != "has_custody")
