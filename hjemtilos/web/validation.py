"""Checking a referral from the form in one round: the shape of every field (pydantic) and the programme's intake
rules (casework.eligibility) at once, each problem attached to its field, in Danish and in English words.

When some fields are malformed, the intake rules still run: on a copy in which each malformed value is replaced by
a harmless stand-in, keeping only the rules' reasons for fields that are not already in error (so a caseworker
does not fix the e-mail address first and only then learn that the child is too young)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from casework.eligibility import assess
from casework.referral import Referral

__all__ = ["Problem", "check_referral", "message_for"]


@dataclass(frozen=True)
class Problem:
    field: str
    da: str
    en: str


# A value each field can take without being an error, used only to let the intake rules run.
_STAND_INS: dict[str, Any] = {
    "first_name": "X", "last_name": "X", "name": "X", "local_area": "X", "email": "stand-in@example.com",
    "birth_date": "2016-01-01", "languages": ["da"], "kind": "home",
}


def message_for(error: dict[str, Any]) -> tuple[str, str]:
    """A pydantic error as words a caseworker understands (Danish, English); never pydantic's own text."""
    kind = str(error.get("type", ""))
    text = str(error.get("msg", ""))
    ctx = error.get("ctx") or {}
    loc = [str(part) for part in error.get("loc", ())]
    leaf = next((part for part in reversed(loc) if not part.isdigit()), "")
    if kind == "missing" or "must not be empty" in text:
        return "Skal udfyldes.", "Required."
    if "email" in text.lower() or (kind == "value_error" and leaf.endswith("email")):
        return "Skriv en gyldig e-mailadresse.", "Enter a valid e-mail address."
    if kind.startswith("date") or kind.startswith("datetime"):
        return "Skriv en gyldig dato (dd-mm-åååå).", "Enter a valid date."
    if kind == "string_pattern_mismatch" and leaf.endswith("phone"):
        return ("Skriv telefonnummeret med cifre, fx +45 12 34 56 78.",
                "Enter the phone number in digits, e.g. +45 12 34 56 78.")
    if kind in ("string_pattern_mismatch", "string_too_short") and "languages" in loc:
        return "Vælg sprogene på listen.", "Choose the languages from the list."
    if kind == "string_too_long":
        limit = ctx.get("max_length", "")
        return f"For lang: højst {limit} tegn.", f"Too long: at most {limit} characters."
    if kind == "too_long":
        limit = ctx.get("max_length", "")
        return f"For mange: højst {limit}.", f"Too many: at most {limit}."
    if "control characters" in text:
        return ("Skriv det på én linje uden linjeskift eller kontroltegn.",
                "Write it on one line, without line breaks or control characters.")
    if kind in ("enum", "literal_error"):
        return "Vælg en af mulighederne.", "Choose one of the options."
    if kind.startswith("bool"):
        return "Vælg ja eller nej.", "Choose yes or no."
    if kind == "extra_forbidden":
        return "Ukendt felt: fjern det.", "Unknown field: remove it."
    if kind.startswith(("int", "float", "decimal")):
        return "Skriv et tal.", "Enter a number."
    if kind in ("list_type", "dict_type", "model_type", "model_attributes_type"):
        return "Forkert form: se eksemplerne i examples/.", "Wrong shape: see the examples in examples/."
    return "Ugyldig værdi.", "Invalid value."


def _field(loc: tuple[Any, ...], known: set[str]) -> str:
    """The form field an error belongs to: the longest known prefix of its location (list items belong to their
    list); the dotted location itself when no field is known."""
    parts = [str(part) for part in loc]
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in known:
            return name
    return ".".join(parts)


def _stand_in(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    """Replace the value at ``loc`` with a stand-in (or drop it, so that its default applies)."""
    target: Any = data
    for part in loc[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return
    leaf = loc[-1]
    if isinstance(target, list) and isinstance(leaf, int):
        if leaf < len(target):
            del target[leaf]
        return
    if not isinstance(target, dict):
        return
    name = str(leaf)
    if name in _STAND_INS:
        target[name] = copy.deepcopy(_STAND_INS[name])
    else:
        target.pop(name, None)


def check_referral(data: dict[str, Any], today: date, known: set[str]) -> tuple[Referral | None, list[Problem]]:
    """The referral if it is well-formed and passes every intake rule, else every problem at once."""
    problems: dict[str, Problem] = {}
    try:
        referral = Referral.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        for error in errors:
            name = _field(error["loc"], known)
            if name not in problems:
                da, en = message_for(dict(error))
                problems[name] = Problem(name, da, en)
        repaired = copy.deepcopy(data)
        for error in sorted(errors, key=lambda e: [str(p) for p in e["loc"]], reverse=True):
            _stand_in(repaired, tuple(error["loc"]))
        try:
            stand_in = Referral.model_validate(repaired)
        except ValidationError:
            stand_in = None
        if stand_in is not None:
            for reason in assess(stand_in, today).rejections:
                problems.setdefault(reason.field, Problem(reason.field, reason.da, reason.en))
        return None, list(problems.values())
    for reason in assess(referral, today).rejections:
        if reason.field in problems:
            old = problems[reason.field]
            problems[reason.field] = Problem(reason.field, f"{old.da} {reason.da}", f"{old.en} {reason.en}")
        else:
            problems[reason.field] = Problem(reason.field, reason.da, reason.en)
    return (referral if not problems else None), list(problems.values())


def field_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)
