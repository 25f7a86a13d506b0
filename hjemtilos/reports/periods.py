"""The period a programme report covers: a year, a quarter or a custom range of days (Copenhagen dates)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from casework.clock import at_local

__all__ = ["Period", "PeriodError", "parse_period"]

QUARTER = re.compile(r"^(\d{4})-[KQ]([1-4])$", re.IGNORECASE)
YEAR = re.compile(r"^(\d{4})$")
LONGEST = timedelta(days=366 * 5)


class PeriodError(ValueError):
    """A period the report cannot use; the message is for people (Danish / English)."""


@dataclass(frozen=True)
class Period:
    start: date  # the first day, inclusive
    end: date  # the last day, inclusive
    key: str  # what the page's query string says: 2026, 2026-K4 or 2026-01-01..2026-03-31
    label: str

    @property
    def since(self) -> datetime:
        return at_local(self.start)

    @property
    def until(self) -> datetime:
        """The first moment after the period (exclusive)."""
        return at_local(self.end + timedelta(days=1))

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.since <= moment < self.until

    def months(self) -> list[date]:
        """The first day of every month the period touches."""
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


def _year(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), str(year), f"År {year} / year {year}")


def _quarter(year: int, quarter: int) -> Period:
    start = date(year, 3 * quarter - 2, 1)
    end = (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(days=1)
    return Period(start, end, f"{year}-K{quarter}", f"{quarter}. kvartal {year} / Q{quarter} {year}")


def parse_period(value: str, start: str, end: str, today: date) -> Period:
    """``value``: 2026 or 2026-K4 (Q4 too); or ``start`` and ``end`` as ISO dates. Nothing given: this year."""
    value, start, end = value.strip(), start.strip(), end.strip()
    if start or end:
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            raise PeriodError("Skriv fra- og til-dato som ÅÅÅÅ-MM-DD. / Give both dates as YYYY-MM-DD.") from None
        if last < first:
            raise PeriodError("Til-datoen ligger før fra-datoen. / The end date is before the start date.")
        if last - first > LONGEST:
            raise PeriodError("Vælg højst fem år. / Choose five years at most.")
        return Period(first, last, f"{first.isoformat()}..{last.isoformat()}",
                      f"{first.strftime('%d.%m.%Y')}–{last.strftime('%d.%m.%Y')}")
    if not value:
        return _year(today.year)
    if found := YEAR.match(value):
        year = int(found.group(1))
        if 2000 <= year <= 2100:
            return _year(year)
    if found := QUARTER.match(value):
        year = int(found.group(1))
        if 2000 <= year <= 2100:
            return _quarter(year, int(found.group(2)))
    raise PeriodError("Vælg et år (2026), et kvartal (2026-K4) eller to datoer. / Choose a year (2026), a quarter "
                      "(2026-Q4) or two dates.")
