"""Human-readable case references such as ``HTO-2026-0001``."""

from __future__ import annotations

import re

PREFIX = "HTO"
_PATTERN = re.compile(r"^HTO-(\d{4})-(\d{4,})$")


def format_reference(year: int, number: int) -> str:
    if number < 1:
        raise ValueError("case numbers start at 1")
    return f"{PREFIX}-{year:04d}-{number:04d}"


def parse_reference(reference: str) -> tuple[int, int]:
    match = _PATTERN.match(reference)
    if not match:
        raise ValueError(f"not a case reference: {reference!r}")
    return int(match.group(1)), int(match.group(2))
