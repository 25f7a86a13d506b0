"""The keys the programme names its waits by are a contract with what is stored (task rows, Prefect's pause keys,
runs suspended before an upgrade): their shapes must not change."""

from __future__ import annotations

from casework.keys import any_scope, approval_key, family_wait_key, round_key, timer_key
from casework.steps import ApprovalKind, TimerKind


def test_the_keys_keep_their_stored_shapes() -> None:
    assert approval_key(ApprovalKind.SCREENING) == "approval-screening"
    assert approval_key(ApprovalKind.MATCH_ANSWERS, 2) == "approval-match-answers-2"
    assert round_key(approval_key(ApprovalKind.CONSENT), 3) == "approval-consent-r3"
    assert timer_key(TimerKind.FAREWELL, 1) == f"timer-{TimerKind.FAREWELL}-1"
    assert family_wait_key(4) == "wait-family-4"


def test_the_reports_pattern_finds_every_attempt_of_a_kind_and_nothing_else() -> None:
    import re

    pattern = re.compile("^" + re.escape(any_scope(ApprovalKind.MATCH_ANSWERS)).replace("%", ".*") + "$")
    assert pattern.match(approval_key(ApprovalKind.MATCH_ANSWERS, 1))
    assert pattern.match(approval_key(ApprovalKind.MATCH_ANSWERS, 12))
    assert not pattern.match(approval_key(ApprovalKind.MATCH_ANSWERS))
    assert not pattern.match(approval_key(ApprovalKind.MATCH_PROPOSAL, 1))


def test_a_wait_key_says_what_it_waits_for() -> None:
    from casework.keys import wait_kind_of

    for kind in TimerKind:
        assert wait_kind_of(timer_key(kind, 3)) == kind.value
    assert wait_kind_of(family_wait_key(2)) == "awaiting-family"
