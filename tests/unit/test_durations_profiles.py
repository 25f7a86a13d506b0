from datetime import UTC, date, datetime

import pytest

from casework.clock import at_local
from casework.durations import Duration
from casework.reference import format_reference, parse_reference
from hjemtilos.settings import load_profile

UTC = UTC


def test_parse_units() -> None:
    assert Duration.parse("7 days") == Duration(seconds=7 * 86400)
    assert Duration.parse("4 months") == Duration(months=4)
    assert Duration.parse("1 year") == Duration(months=12)
    assert Duration.parse("1 month 2 days") == Duration(months=1, seconds=2 * 86400)
    assert Duration.parse("1.5 seconds") == Duration(seconds=1.5)


@pytest.mark.parametrize("bad", ["", "soon", "7", "3 fortnights", "1.5 months", "7 days later"])
def test_parse_rejects_nonsense(bad: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(bad)


def test_months_are_calendar_months_clamped_at_month_end() -> None:
    start = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    assert Duration(months=1).after(start) == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
    assert Duration(months=12).after(start) == datetime(2028, 1, 31, 10, 0, tzinfo=UTC)
    assert Duration(months=13).after(start) == datetime(2028, 2, 29, 10, 0, tzinfo=UTC)


def test_production_profile_has_the_real_plan() -> None:
    timings = load_profile("production").timings
    start = at_local(date(2027, 3, 1))  # visits start at Copenhagen midnight
    assert timings.child_visit_after.after(start) == at_local(date(2027, 7, 1))
    assert timings.future_agreement_after.after(start) == at_local(date(2028, 1, 1))
    assert timings.farewell_after.after(start) == at_local(date(2028, 3, 1))
    assert timings.consent_reminder_after == Duration.parse("7 days")
    assert timings.consent_escalation_after == Duration.parse("14 days")
    assert timings.first_visit_followup_after == Duration.parse("8 days")
    assert timings.supervision_every == Duration(months=2)


def test_fast_profile_keeps_the_order_and_takes_about_a_minute() -> None:
    fast = load_profile("fast").timings
    start = datetime(2027, 3, 1, tzinfo=UTC)
    year = (fast.farewell_after.after(start) - start).total_seconds()
    assert 30 <= year <= 120
    assert fast.child_visit_after.after(start) < fast.future_agreement_after.after(start) < fast.farewell_after.after(start)
    assert fast.consent_reminder_after.after(start) < fast.consent_escalation_after.after(start)


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown profile 'slow'.*fast, production"):
        load_profile("slow")


def test_case_reference_format() -> None:
    assert format_reference(2026, 1) == "HTO-2026-0001"
    assert format_reference(2026, 12345) == "HTO-2026-12345"
    assert parse_reference("HTO-2027-0042") == (2027, 42)
    with pytest.raises(ValueError):
        parse_reference("HTO-27-1")
    with pytest.raises(ValueError):
        format_reference(2026, 0)


def test_recovery_timings_come_from_the_profile_and_a_silent_run_is_never_judged_under_a_minute() -> None:
    from pydantic import ValidationError

    from casework.profiles import Timings

    production, fast = load_profile("production").timings, load_profile("fast").timings
    assert (production.silent_run_after.seconds, production.restart_backoff.seconds) == (120, 30)
    assert (fast.silent_run_after.seconds, fast.restart_backoff.seconds) == (120, 30)
    with pytest.raises(ValidationError, match="at least 60 seconds"):
        Timings.model_validate({**production.model_dump(), "silent_run_after": "30 seconds"})
