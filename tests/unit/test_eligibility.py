"""Every intake rule of PROCESS.md, including the residential-home exceptions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from casework.eligibility import FlagCode, age_on, assess
from casework.referral import Referral
from casework.steps import Track

TODAY = date(2026, 11, 28)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def referral(**changes: Any) -> Referral:
    data: dict[str, Any] = {
        "child": {"first_name": "Sofie", "last_name": "Hansen", "birth_date": "2018-05-14",
                  "languages": ["da"], "local_area": "Nørrebro"},
        "placement": {"kind": "home"},
        "custody_holders": [{"name": "Maria Hansen", "email": "maria@example.dk",
                             "communicates_in_danish_or_english": True}],
        "referrer": {"name": "Jonas Berg", "email": "jonas@bbu.kk.dk"},
        "eligibility": {"child_wants_volunteer_family": True, "parents_back_referral": True,
                        "has_resources_to_start": True},
    }
    for path, value in changes.items():
        target = data
        parts = path.split("__")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return Referral.model_validate(data)


def codes(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {reason.code for reason in result.rejections}


def flags(result) -> set[FlagCode]:  # type: ignore[no-untyped-def]
    return {flag.code for flag in result.flags}


def test_standard_child_is_eligible_without_flags() -> None:
    result = assess(referral(), TODAY)
    assert result.eligible
    assert result.track is Track.STANDARD
    assert result.age == 8
    assert flags(result) == set()


def test_age_counts_whole_years() -> None:
    assert age_on(date(2022, 11, 28), TODAY) == 4
    assert age_on(date(2022, 11, 29), TODAY) == 3


@pytest.mark.parametrize(("birth", "code"), [("2022-11-29", "too-young"), ("2008-11-28", "too-old"),
                                             ("2027-01-01", "birth-date-in-future")])
def test_age_outside_4_to_17_is_rejected(birth: str, code: str) -> None:
    result = assess(referral(child__birth_date=birth, eligibility__can_say_yes_no=True,
                             eligibility__manages_toilet_alone=True), TODAY)
    assert code in codes(result)
    reason = next(r for r in result.rejections if r.code == code)
    assert reason.field == "child.birth_date" and reason.da and reason.en


def test_age_4_is_standard_and_17_is_youth_track_flagged() -> None:
    four = assess(referral(child__birth_date="2022-11-28", eligibility__can_say_yes_no=True,
                           eligibility__manages_toilet_alone=True), TODAY)
    assert four.eligible and four.track is Track.STANDARD
    seventeen = assess(referral(child__birth_date="2008-11-29"), TODAY)
    assert seventeen.eligible and seventeen.track is Track.YOUTH
    assert FlagCode.YOUTH_TRACK in flags(seventeen)


def test_thirteen_is_standard_fourteen_is_youth() -> None:
    assert assess(referral(child__birth_date="2012-11-29"), TODAY).track is Track.STANDARD
    assert assess(referral(child__birth_date="2012-11-28"), TODAY).track is Track.YOUTH


def test_child_must_want_a_family() -> None:
    result = assess(referral(eligibility__child_wants_volunteer_family=False), TODAY)
    assert codes(result) == {"no-motivation"}


def test_child_must_speak_danish_or_english() -> None:
    assert codes(assess(referral(child__languages=["ar", "so"]), TODAY)) == {"no-common-language"}
    assert assess(referral(child__languages=["ar", "en"]), TODAY).eligible


def test_preschool_child_needs_both_confirmations() -> None:
    five = "2021-06-01"
    result = assess(referral(child__birth_date=five), TODAY)
    assert codes(result) == {"preschool-yes-no", "preschool-toilet"}
    only_toilet = assess(referral(child__birth_date=five, eligibility__can_say_yes_no=True), TODAY)
    assert codes(only_toilet) == {"preschool-toilet"}
    both = assess(referral(child__birth_date=five, eligibility__can_say_yes_no=True,
                           eligibility__manages_toilet_alone=True), TODAY)
    assert both.eligible


def test_six_year_old_is_not_preschool() -> None:
    assert assess(referral(child__birth_date="2020-11-28"), TODAY).eligible


def test_parents_must_back_and_communicate() -> None:
    result = assess(referral(eligibility__parents_back_referral=False), TODAY)
    assert codes(result) == {"parents-not-backing"}
    holder = {"name": "Maria Hansen", "email": "maria@example.dk", "communicates_in_danish_or_english": False}
    result = assess(referral(custody_holders=[holder]), TODAY)
    assert codes(result) == {"parent-language"}
    assert result.rejections[0].field == "custody_holders.0.communicates_in_danish_or_english"
    assert codes(assess(referral(custody_holders=[]), TODAY)) == {"no-custody-holder"}


RESIDENTIAL = {"kind": "residential_home", "institution_name": "Lærkereden", "contact_name": "Pia",
               "contact_email": "pia@laerkereden.dk", "contact_phone": "+45 36 30 40 50"}


def test_residential_home_needs_no_parental_backing_or_language() -> None:
    holder = {"name": "Ayse", "email": "ayse@example.dk", "communicates_in_danish_or_english": False}
    result = assess(referral(placement=RESIDENTIAL, custody_holders=[holder],
                             eligibility__parents_back_referral=False), TODAY)
    assert result.eligible
    assert FlagCode.RESIDENTIAL_HOME in flags(result)
    no_parents = assess(referral(placement=RESIDENTIAL, custody_holders=[]), TODAY)
    assert no_parents.eligible


def test_residential_home_still_needs_motivation_and_contact_person() -> None:
    placement = dict(RESIDENTIAL, contact_phone=None)
    result = assess(referral(placement=placement, eligibility__child_wants_volunteer_family=False), TODAY)
    assert codes(result) == {"no-motivation", "placement-contact-missing"}
    assert [r.field for r in result.rejections if r.code == "placement-contact-missing"] == ["placement.contact_phone"]


def test_foster_family_needs_named_contact_and_keeps_parental_rules() -> None:
    result = assess(referral(placement={"kind": "foster_family"}, eligibility__parents_back_referral=False), TODAY)
    assert codes(result) == {"parents-not-backing", "placement-name-missing", "placement-contact-missing"}
    assert {r.field for r in result.rejections if r.code == "placement-contact-missing"} == {
        "placement.contact_name", "placement.contact_email", "placement.contact_phone"}


@pytest.mark.parametrize("concern", ["severe_acting_out", "severe_psychiatric_diagnosis",
                                     "suicide_risk_or_self_harm"])
def test_special_category_concern_is_flagged_never_rejected(concern: str) -> None:
    result = assess(referral(**{f"eligibility__{concern}": True}), TODAY)
    assert result.eligible
    assert FlagCode.OUTSIDE_TARGET_GROUP in flags(result)
    flag = next(f for f in result.flags if f.code is FlagCode.OUTSIDE_TARGET_GROUP)
    for word in ("psykiat", "selvmord", "selvskad", "suicid", "self-harm", "psychiatric"):
        assert word not in flag.da.lower() and word not in flag.en.lower()


def test_low_resources_is_recorded_as_a_flag() -> None:
    result = assess(referral(eligibility__has_resources_to_start=False), TODAY)
    assert result.eligible and FlagCode.LOW_RESOURCES in flags(result)


def test_every_reason_is_listed_at_once() -> None:
    raw = json.loads((EXAMPLES / "referral-invalid.json").read_text())
    result = assess(Referral.model_validate(raw), TODAY)
    assert {"too-young", "no-motivation", "no-common-language", "placement-contact-missing"} <= codes(result)


@pytest.mark.parametrize("name", ["referral-standard.json", "referral-residential-home.json",
                                  "referral-youth-14.json"])
def test_examples_are_eligible(name: str) -> None:
    result = assess(Referral.model_validate(json.loads((EXAMPLES / name).read_text())), TODAY)
    assert result.eligible, result.rejections


def test_youth_example_is_fourteen() -> None:
    raw = json.loads((EXAMPLES / "referral-youth-14.json").read_text())
    result = assess(Referral.model_validate(raw), TODAY)
    assert result.age == 14 and result.track is Track.YOUTH


def test_shape_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        referral(referrer={"name": "Jonas\r\nBcc: x@evil.example", "email": "not-an-address"})
    fields = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    assert fields == {"referrer.name", "referrer.email"}
