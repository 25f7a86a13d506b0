"""The programme's one clock: Copenhagen's calendar at midnight, New Year and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from casework.clock import LOCAL_TZ, at_local, format_local, local_date, local_year, next_local_day
from casework.durations import Duration
from casework.eligibility import assess
from tests.support import example_referral


@pytest.mark.parametrize(("utc", "day"), [
    (datetime(2026, 12, 31, 22, 59, tzinfo=UTC), date(2026, 12, 31)),  # 23:59 in Copenhagen
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2027, 1, 1)),  # 00:30 on New Year's Day
    (datetime(2026, 7, 14, 21, 59, tzinfo=UTC), date(2026, 7, 14)),  # 23:59 summer time
    (datetime(2026, 7, 14, 22, 0, tzinfo=UTC), date(2026, 7, 15)),  # midnight summer time
])
def test_local_date_is_copenhagens_day(utc: datetime, day: date) -> None:
    assert local_date(utc) == day
    assert local_year(utc) == day.year


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 1, 1, 12, 0))


def test_wall_clock_times_across_daylight_saving() -> None:
    # spring forward 29 March 2026 02:00 -> 03:00, fall back 25 October 2026 03:00 -> 02:00
    assert at_local(date(2026, 3, 28), time(16, 0)).astimezone(UTC) == datetime(2026, 3, 28, 15, 0, tzinfo=UTC)
    assert at_local(date(2026, 3, 29), time(16, 0)).astimezone(UTC) == datetime(2026, 3, 29, 14, 0, tzinfo=UTC)
    assert next_local_day(datetime(2026, 10, 24, 23, 0, tzinfo=UTC)) == at_local(date(2026, 10, 26))
    assert format_local(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "2026-10-25 02:30"  # CEST still
    assert format_local(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "2026-10-25 02:30"  # CET: the hour again
    assert format_local(None) == "-"


def test_months_are_copenhagen_calendar_months_across_daylight_saving() -> None:
    start = at_local(date(2026, 1, 31), time(10, 0))  # winter time
    assert Duration(months=1).after(start) == at_local(date(2026, 2, 28), time(10, 0))
    assert Duration(months=4).after(start) == at_local(date(2026, 5, 31), time(10, 0))  # summer time, same 10:00
    # a start at 00:30 on the 1st in Copenhagen is the 31st in UTC: the month is still Copenhagen's
    first = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert local_date(Duration(months=12).after(first)) == date(2027, 12, 1)
    assert Duration(months=1).after(first).tzinfo is UTC


def test_age_on_the_referral_day_at_new_year() -> None:
    referral = example_referral()
    referral = referral.model_copy(update={"child": referral.child.model_copy(update={"birth_date": date(2023, 1, 1)})},
                                deep=True)
    referral.eligibility.can_say_yes_no = referral.eligibility.manages_toilet_alone = True  # a preschool child
    new_year_0030 = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Copenhagen
    assessment = assess(referral, local_date(new_year_0030))
    assert assessment.eligible and assessment.track == "standard"  # four today, not three
    assert not assess(referral, local_date(new_year_0030 - timedelta(hours=1))).eligible
    assert LOCAL_TZ.key == "Europe/Copenhagen"
