"""The programme's intake rules (PROCESS.md, "Eligibility at intake").

Hard rules reject the referral with a field-level reason in Danish and English. Flags accept it but
put it in front of a coordinator. ``assess`` is pure: the caller passes ``today``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from casework.referral import Referral
from casework.steps import PlacementKind, Track

MIN_AGE = 4
YOUTH_AGE = 14
MAX_AGE_EXCLUSIVE = 18
PRESCHOOL_BELOW_AGE = 6  # (decision) "preschool child" means under 6
CHILD_LANGUAGES = frozenset({"da", "en"})


@dataclass(frozen=True)
class Reason:
    """Why a referral cannot be accepted, tied to the form field it concerns."""

    code: str
    field: str
    da: str
    en: str


class FlagCode(StrEnum):
    YOUTH_TRACK = "youth-track"
    OUTSIDE_TARGET_GROUP = "outside-target-group"  # special-category concern: details stay in the case DB
    LOW_RESOURCES = "low-resources"
    RESIDENTIAL_HOME = "residential-home"


# How a flag is named to a coordinator in the Resume dialog (Prefect stores it). A concern flag says only that
# the case needs a look: which concern the referral ticked is shown in the case database alone.
FLAG_LABEL_DA: dict[str, str] = {
    FlagCode.YOUTH_TRACK: "ung på 14-17 år (matches efter ønske og behov)",
    FlagCode.OUTSIDE_TARGET_GROUP: "kræver din vurdering (se henvisningen)",
    FlagCode.LOW_RESOURCES: "henviser er i tvivl om barnets ressourcer til at starte noget nyt",
    FlagCode.RESIDENTIAL_HOME: "bor på børne- eller ungehjem (besøg og opstartsmøde før matchning)",
}


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    da: str
    en: str


@dataclass(frozen=True)
class Assessment:
    age: int
    track: Track | None
    rejections: tuple[Reason, ...] = field(default_factory=tuple)
    flags: tuple[Flag, ...] = field(default_factory=tuple)

    @property
    def eligible(self) -> bool:
        return not self.rejections


def age_on(birth_date: date, today: date) -> int:
    """Whole years completed on ``today``."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def assess(referral: Referral, today: date) -> Assessment:
    """Apply every intake rule and return all reasons and flags at once."""
    rejections: list[Reason] = []
    flags: list[Flag] = []
    age = age_on(referral.child.birth_date, today)
    track = _age_rules(referral, today, age, rejections, flags)
    _child_rules(referral, rejections)
    if MIN_AGE <= age < PRESCHOOL_BELOW_AGE:
        _preschool_rules(referral, rejections)
    _family_rules(referral, rejections, flags)
    if referral.placement.kind is not PlacementKind.HOME:
        _placement_rules(referral, rejections)
    _concern_flags(referral, flags)
    return Assessment(age=age, track=track, rejections=tuple(rejections), flags=tuple(flags))


def _age_rules(referral: Referral, today: date, age: int, rejections: list[Reason], flags: list[Flag]) \
        -> Track | None:
    """Within 4-17 on ``today``: the standard track, or the youth track from 14."""
    child = referral.child
    track: Track | None = None
    if child.birth_date > today:
        rejections.append(Reason("birth-date-in-future", "child.birth_date",
                                 "Fødselsdatoen ligger i fremtiden.", "The date of birth is in the future."))
    elif age < MIN_AGE:
        rejections.append(Reason("too-young", "child.birth_date",
                                 f"Barnet er {age} år. Hjem til Os er for børn fra 4 år.",
                                 f"The child is {age}. Hjem til Os is for children aged 4 and over."))
    elif age >= MAX_AGE_EXCLUSIVE:
        rejections.append(Reason("too-old", "child.birth_date",
                                 f"Den unge er {age} år. Hjem til Os er for børn og unge under 18 år.",
                                 f"The young person is {age}. Hjem til Os is for children and young people under 18."))
    elif age >= YOUTH_AGE:
        track = Track.YOUTH
        flags.append(Flag(FlagCode.YOUTH_TRACK,
                          "Ung på 14-17 år: matches efter ønske og behov.",
                          "Young person aged 14-17: matched by wish and need."))
    else:
        track = Track.STANDARD

    return track


def _child_rules(referral: Referral, rejections: list[Reason]) -> None:
    """The child wants a family and speaks Danish or English."""
    child, answers = referral.child, referral.eligibility
    if not answers.child_wants_volunteer_family:
        rejections.append(Reason("no-motivation", "eligibility.child_wants_volunteer_family",
                                 "Barnet skal selv ønske en venskabsfamilie.",
                                 "The child must want a volunteer family."))

    if not CHILD_LANGUAGES.intersection(child.languages):
        rejections.append(Reason("no-common-language", "child.languages",
                                 "Barnet skal tale dansk eller engelsk.",
                                 "The child must speak Danish or English."))



def _preschool_rules(referral: Referral, rejections: list[Reason]) -> None:
    """A preschool child says yes and no and manages the toilet alone (the referrer confirms it)."""
    answers = referral.eligibility
    if answers.can_say_yes_no is not True:
        rejections.append(Reason("preschool-yes-no", "eligibility.can_say_yes_no",
                                 "Et førskolebarn skal selv kunne sige ja og nej. Henviser skal bekræfte det.",
                                 "A preschool child must be able to say yes and no. The referrer must confirm it."))
    if answers.manages_toilet_alone is not True:
        rejections.append(Reason("preschool-toilet", "eligibility.manages_toilet_alone",
                                 "Et førskolebarn skal selv kunne gå på toilettet. Henviser skal bekræfte det.",
                                 "A preschool child must manage the toilet alone. The referrer must confirm it."))



def _family_rules(referral: Referral, rejections: list[Reason], flags: list[Flag]) -> None:
    """Parents who back the referral, a custody holder, parents who communicate in Danish or English; a child in
    a residential home is flagged instead."""
    answers, placement = referral.eligibility, referral.placement
    residential = placement.kind is PlacementKind.RESIDENTIAL_HOME
    if residential:
        flags.append(Flag(FlagCode.RESIDENTIAL_HOME,
                          "Barnet bor på børne- eller ungehjem: besøg hos barnet og opstartsmøde før matchning.",
                          "The child lives in a residential home: visit the child and hold a start-up meeting before matching."))
    else:
        if not answers.parents_back_referral:
            rejections.append(Reason("parents-not-backing", "eligibility.parents_back_referral",
                                     "Forældrene skal bakke op om henvisningen.",
                                     "The parents must back the referral."))
        if not any(holder.has_custody for holder in referral.custody_holders):
            rejections.append(Reason("no-custody-holder", "custody_holders",
                                     "Angiv mindst én forældremyndighedsindehaver.",
                                     "Name at least one custody holder."))
        for index, holder in enumerate(referral.custody_holders):
            if holder.has_custody and not holder.communicates_in_danish_or_english:
                rejections.append(Reason("parent-language", f"custody_holders.{index}.communicates_in_danish_or_english",
                                         "Forældrene skal kunne kommunikere på dansk eller engelsk.",
                                         "The parents must be able to communicate in Danish or English."))



def _placement_rules(referral: Referral, rejections: list[Reason]) -> None:
    """A child placed out of home: the placement's name and a contact person there."""
    placement = referral.placement
    if not placement.institution_name:
        rejections.append(Reason("placement-name-missing", "placement.institution_name",
                                 "Angiv anbringelsesstedet (plejefamilie eller institution).",
                                 "Name the placement (foster family or institution)."))
    for attribute, da_word, en_word in (("contact_name", "navn", "name"),
                                        ("contact_email", "e-mail", "e-mail"),
                                        ("contact_phone", "telefonnummer", "phone number")):
        if not getattr(placement, attribute):
            rejections.append(Reason("placement-contact-missing", f"placement.{attribute}",
                                     f"Et anbragt barn skal have en kontaktperson på anbringelsesstedet: angiv {da_word}.",
                                     f"A child placed out of home needs a contact person at the placement: give the {en_word}."))



def _concern_flags(referral: Referral, flags: list[Flag]) -> None:
    """Matters outside the target group as a starting point, and a referrer's doubt about resources."""
    answers = referral.eligibility
    if answers.severe_acting_out or answers.severe_psychiatric_diagnosis or answers.suicide_risk_or_self_harm:
        flags.append(Flag(FlagCode.OUTSIDE_TARGET_GROUP,
                          "Henvisningen nævner forhold, der som udgangspunkt ligger uden for målgruppen. Se sagen.",
                          "The referral mentions matters that are outside the target group as a starting point. See the case."))

    if not answers.has_resources_to_start:
        flags.append(Flag(FlagCode.LOW_RESOURCES,
                          "Henviser vurderer ikke, at barnet har ressourcer til at starte noget nyt.",
                          "The referrer does not judge that the child has the resources to start something new."))

