"""Durations that know calendar months ("4 months") as well as seconds ("7 days")."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from casework.clock import LOCAL_TZ

_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|year)s?")


@dataclass(frozen=True)
class Duration:
    """A calendar-aware duration: whole months plus a number of seconds."""

    months: int = 0
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Parse e.g. ``"4 months"``, ``"7 days"``, ``"1 month 2 days"``, ``"2.5 seconds"``."""
        cleaned = text.strip().lower()
        if not cleaned:
            raise ValueError("empty duration")
        months = 0
        seconds = 0.0
        pos = 0
        for match in _PART.finditer(cleaned):
            if cleaned[pos : match.start()].strip():
                raise ValueError(f"cannot read duration {text!r}")
            amount, unit = match.group(1), match.group(2)
            if unit in ("month", "year"):
                if "." in amount:
                    raise ValueError(f"months and years must be whole numbers in {text!r}")
                months += int(amount) * (12 if unit == "year" else 1)
            else:
                seconds += float(amount) * _UNIT_SECONDS[unit]
            pos = match.end()
        if pos == 0 or cleaned[pos:].strip():
            raise ValueError(f"cannot read duration {text!r}")
        return cls(months=months, seconds=seconds)

    def after(self, start: datetime) -> datetime:
        """The moment this duration after ``start``. Months are calendar months of the programme's clock (Copenhagen):
        the same wall-clock time on the same day of the month, month ends clamped (31 Jan + 1 month = 28/29 Feb),
        whatever daylight saving did in between; then the seconds are added."""
        result = start
        if self.months:
            local = start.astimezone(LOCAL_TZ) if start.tzinfo is not None else start
            month_index = local.month - 1 + self.months
            year = local.year + month_index // 12
            month = month_index % 12 + 1
            day = min(local.day, calendar.monthrange(year, month)[1])
            moved = local.replace(year=year, month=month, day=day)
            result = moved.astimezone(start.tzinfo) if start.tzinfo is not None else moved
        return result + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months} month{'s' if self.months != 1 else ''}")
        if self.seconds or not parts:
            parts.append(f"{self.seconds:g} seconds")
        return " ".join(parts)
