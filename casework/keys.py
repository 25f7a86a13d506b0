"""Every key the programme names its waits by, built here and only here: an approval's task key (per kind, and per
match attempt or ending where the step repeats), the key of one of its rounds (what a run suspends under in
Prefect), a timer's key, and the patterns the reports use to find every attempt of a kind."""

from __future__ import annotations

__all__ = ["FAMILY_WAIT", "any_scope", "approval_key", "family_wait_key", "round_key", "timer_key", "wait_kind_of"]

FAMILY_WAIT = "wait-family"  # the prefix of a case's wait for a family


def approval_key(kind: str, scope: int | None = None) -> str:
    """The task key of an approval of ``kind``: ``approval-<kind>``, or ``approval-<kind>-<scope>`` for a step that
    repeats per match attempt or ending."""
    return f"approval-{kind}" if scope is None else f"approval-{kind}-{scope}"


def any_scope(kind: str) -> str:
    """A SQL LIKE pattern for the approvals of ``kind`` of every match attempt or ending."""
    return f"{approval_key(kind)}-%"


def round_key(key: str, round_: int) -> str:
    """The key of one round of an approval: what its run suspends under in Prefect (``<key>-r<round>``)."""
    return f"{key}-r{round_}"


def timer_key(kind: str, attempt: int) -> str:
    return f"timer-{kind}-{attempt}"


def family_wait_key(attempt: int) -> str:
    """The key of a case's wait for a family with room, per match attempt."""
    return f"{FAMILY_WAIT}-{attempt}"


def wait_kind_of(key: str) -> str:
    """What a timer's or family wait's key waits for: its ``TimerKind`` value, or ``awaiting-family``."""
    if key.startswith(FAMILY_WAIT):
        return "awaiting-family"
    return key.removeprefix("timer-").rsplit("-", 1)[0] if key.startswith("timer-") else key
