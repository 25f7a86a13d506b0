"""Volunteer families: allowed compositions, certificates for members aged 15+, ranking, supervision rounds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from casework.durations import Duration
from casework.families import FamilyRegistration, MemberRecord, composition_errors, needs_certificates, screening_status
from casework.matching import ChildProfile, FamilyProfile, rank_candidates
from hjemtilos.volunteers import SUPERVISION_ANCHOR, supervision_round
from hjemtilos.volunteers.supervision import next_session

TODAY = date(2026, 11, 28)


def family(*members: tuple[str, str, bool]) -> FamilyRegistration:
    data: dict[str, Any] = {
        "name": "Familien Test", "email": "test@example.dk", "address": "Vej 1", "local_area": "Valby",
        "members": [{"name": f"M{i}", "birth_date": birth, "role": role, "lives_at_home": home}
                    for i, (birth, role, home) in enumerate(members)],
    }
    return FamilyRegistration.model_validate(data)


ADULT = ("1980-01-01", "volunteer", True)
CHILD_AT_HOME = ("2015-01-01", "household", True)
CHILD_AWAY = ("2015-01-01", "household", False)
GROWN_CHILD = ("2005-01-01", "household", True)


@pytest.mark.parametrize("members", [(ADULT, ADULT), (ADULT, ADULT, CHILD_AT_HOME), (ADULT, CHILD_AT_HOME),
                                     (ADULT, ADULT, GROWN_CHILD), (ADULT, CHILD_AT_HOME, GROWN_CHILD)])
def test_allowed_compositions(members) -> None:  # type: ignore[no-untyped-def]
    assert composition_errors(family(*members), TODAY) == []


@pytest.mark.parametrize("members", [(ADULT,), (ADULT, CHILD_AWAY), (ADULT, GROWN_CHILD), (CHILD_AT_HOME,),
                                     (ADULT, ADULT, ADULT)])
def test_refused_compositions_say_why(members) -> None:  # type: ignore[no-untyped-def]
    errors = composition_errors(family(*members), TODAY)
    assert [e.field for e in errors] == ["members"]
    assert errors[0].da and errors[0].en


def test_a_volunteer_must_be_an_adult() -> None:
    errors = composition_errors(family(ADULT, ("2009-06-01", "volunteer", True)), TODAY)
    assert [e.field for e in errors] == ["members.1.birth_date"]


def test_certificates_from_15_on_the_day() -> None:
    assert needs_certificates(date(2010, 1, 20), TODAY)  # 16
    assert not needs_certificates(date(2012, 12, 15), TODAY)  # 13, turns 14 soon
    assert not needs_certificates(date(2011, 11, 29), TODAY)  # 14, turns 15 tomorrow
    assert needs_certificates(date(2011, 11, 29), date(2026, 11, 29))


def test_screening_status_lists_what_is_missing() -> None:
    members = [MemberRecord(1, date(1980, 1, 1), True, True, True),
               MemberRecord(2, date(2010, 1, 20), True, False, True),  # 16: straffeattest missing
               MemberRecord(3, date(2012, 12, 15), False, False, True)]  # 13: needs none
    status = screening_status(members, home_visit_done=True, elearning_done=False, today=TODAY)
    assert status.missing == ("medlem 2: straffeattest", "e-læringskursus")
    assert not status.complete
    done = screening_status([MemberRecord(1, date(1980, 1, 1), True, True, True)], True, True, TODAY)
    assert done.complete and done.missing == ()
    flagged = screening_status([MemberRecord(1, date(1980, 1, 1), True, True, False)], True, True, TODAY)
    assert not flagged.complete and flagged.unclear_certificates == ("medlem 1: attest med anmærkning",)


def test_member_turning_15_during_screening_needs_certificates_too() -> None:
    members = [MemberRecord(1, date(1980, 1, 1), True, True, True), MemberRecord(2, date(2011, 12, 1), False, False, True)]
    assert screening_status(members, True, True, TODAY).complete
    later = screening_status(members, True, True, date(2026, 12, 1))
    assert later.missing == ("medlem 2: børneattest", "medlem 2: straffeattest")


def test_ranking_is_transparent() -> None:
    child = ChildProfile(age=8, local_area="Nørrebro", languages=("da", "ar"), gender="pige",
                         wished_competences=("musik",))
    families = [
        FamilyProfile(1, "VF-0001", "Valby", ("da",), 1),
        FamilyProfile(2, "VF-0002", "Nørrebro", ("da",), 1, wish_age_min=10, wish_age_max=13),
        FamilyProfile(3, "VF-0003", "Nørrebro", ("da", "ar"), 1, wish_age_min=6, wish_age_max=10,
                      competences=("Musik",)),
        FamilyProfile(4, "VF-0004", "Nørrebro", ("da",), 0),  # no free capacity
    ]
    ranked = rank_candidates(child, families)
    assert [c.reference for c in ranked] == ["VF-0003", "VF-0002", "VF-0001"]  # same local area weighs most
    assert [c.score for c in ranked] == [95, 40, 20]
    best = ranked[0]
    assert best.reasons == ("samme bydel (Nørrebro)", "fælles sprog: ar, da", "ønsker alder 6-10", "kompetencer: Musik")
    assert ranked[1].reasons[-1] == "ønsker alder 10-13 (barnet er 8)"
    assert ranked[2].reasons[0] == "anden bydel (Valby)"


def test_supervision_rounds() -> None:
    every = Duration(months=2)
    assert supervision_round(every, SUPERVISION_ANCHOR) == (0, SUPERVISION_ANCHOR)
    number, start = supervision_round(every, datetime(2026, 3, 10, tzinfo=UTC))
    assert number == 1 and start == datetime(2026, 3, 5, 17, 0, tzinfo=UTC)
    number, start = supervision_round(every, datetime(2026, 3, 4, tzinfo=UTC))
    assert number == 0
    fast = Duration(seconds=10)
    assert supervision_round(fast, SUPERVISION_ANCHOR.replace(second=25))[0] == 2


def test_invitations_are_for_a_session_still_to_come() -> None:
    from datetime import timedelta

    every = Duration(months=2)
    number, start = supervision_round(every, datetime(2026, 3, 10, tzinfo=UTC))
    assert next_session(every, start + timedelta(days=1)) == (number, start + timedelta(days=14))
    late = start + timedelta(days=20)  # this round's session is over: the next round's is the one to come
    following, session_at = next_session(every, late)
    assert following == number + 1 and session_at > late
    assert session_at == supervision_round(every, session_at)[1] + timedelta(days=14)
    fast = Duration(seconds=10)
    assert next_session(fast, SUPERVISION_ANCHOR + timedelta(seconds=12)) == \
        (1, SUPERVISION_ANCHOR + timedelta(seconds=15))
    assert next_session(fast, SUPERVISION_ANCHOR + timedelta(seconds=16)) == \
        (2, SUPERVISION_ANCHOR + timedelta(seconds=25))
