"""The programme's one clock: every date rule turns an aware UTC ``now`` into Copenhagen's calendar here.

Age on the referral date, the reference year, default start dates, the dates a person types and the times
shown to people all use these functions, never ``now.date()`` (the UTC date is a day off between midnight and
01:00 or 02:00 in Copenhagen) nor ``astimezone()`` without a zone (the machine's zone).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")
DISPLAY_FORMAT = "%Y-%m-%d %H:%M"

__all__ = ["DISPLAY_FORMAT", "LOCAL_TZ", "at_local", "format_local", "local_date", "local_datetime", "local_year",
           "next_local_day"]


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime: the programme clock needs an aware time (UTC)")
    return now


def local_datetime(now: datetime) -> datetime:
    """``now`` in Copenhagen time."""
    return _aware(now).astimezone(LOCAL_TZ)


def local_date(now: datetime) -> date:
    """The programme's calendar day at ``now``."""
    return local_datetime(now).date()


def local_year(now: datetime) -> int:
    """The programme's calendar year at ``now`` (case references are numbered by it)."""
    return local_date(now).year


def at_local(day: date, clock: time = time(0, 0)) -> datetime:
    """A wall-clock time in Copenhagen on ``day`` as an aware datetime (daylight-saving rules applied)."""
    return datetime.combine(day, clock, tzinfo=LOCAL_TZ)


def next_local_day(now: datetime) -> datetime:
    """Copenhagen midnight at the start of the day after ``now``."""
    return at_local(local_date(now) + timedelta(days=1))


def format_local(value: datetime | None, fmt: str = DISPLAY_FORMAT) -> str:
    """A time for people: Copenhagen time, ``-`` for none."""
    if value is None:
        return "-"
    return local_datetime(value).strftime(fmt)
