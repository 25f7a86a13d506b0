"""The stuck-case rules as a pure function of the facts and now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework.stuck import CaseFacts, StuckReason, find_stuck

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
THRESHOLD = timedelta(days=2)


def facts(**changes: object) -> CaseFacts:
    base: dict[str, object] = dict(case_id=1, reference="HTO-2026-0001", created_at=NOW - timedelta(days=30),
                                   flow_run_id="run-1", overdue_approval_since=None, timer_due_since=None,
                                   run_state="PAUSED", run_state_name="Suspended", run_state_since=NOW - timedelta(days=3))
    base.update(changes)
    return CaseFacts(**base)  # type: ignore[arg-type]


def reasons(*cases: CaseFacts) -> list[tuple[StuckReason, datetime]]:
    return [(s.reason, s.since) for s in find_stuck(list(cases), NOW, THRESHOLD)]


def test_a_case_waiting_on_time_is_not_stuck() -> None:
    assert reasons(facts()) == []


@pytest.mark.parametrize(("state", "stuck"), [("FAILED", True), ("CRASHED", True), ("PAUSED", False)])
def test_failed_or_crashed_runs_are_stuck_after_the_threshold_like_the_rest(state: str, stuck: bool) -> None:
    # the timekeeper continues such a run at once; most resolve themselves within seconds
    assert reasons(facts(run_state=state, run_state_since=NOW - timedelta(minutes=1))) == []
    since = NOW - THRESHOLD
    assert reasons(facts(run_state=state, run_state_since=since)) == \
        ([(StuckReason.RUN_FAILED, since)] if stuck else [])


def test_no_live_run_only_after_the_threshold() -> None:
    assert reasons(facts(flow_run_id=None, created_at=NOW - THRESHOLD + timedelta(seconds=1))) == []
    created = NOW - THRESHOLD
    assert reasons(facts(flow_run_id=None, created_at=created)) == [(StuckReason.NO_LIVE_RUN, created)]
    ended = NOW - timedelta(days=5)
    assert reasons(facts(run_state="COMPLETED", run_state_since=ended)) == [(StuckReason.NO_LIVE_RUN, ended)]


def test_run_not_picked_up_after_the_threshold() -> None:
    waiting = NOW - timedelta(hours=1)
    assert reasons(facts(run_state="SCHEDULED", run_state_since=waiting)) == []
    waiting = NOW - THRESHOLD
    assert reasons(facts(run_state="SCHEDULED", run_state_since=waiting)) == [(StuckReason.RUN_NOT_PICKED_UP, waiting)]


def test_timer_not_resumed_after_the_threshold_and_the_more_serious_reason_wins() -> None:
    due = NOW - THRESHOLD - timedelta(minutes=1)
    assert reasons(facts(timer_due_since=due)) == [(StuckReason.TIMER_NOT_RESUMED, due)]
    crashed = NOW - THRESHOLD - timedelta(minutes=5)
    assert reasons(facts(timer_due_since=due, run_state="CRASHED", run_state_since=crashed)) == \
        [(StuckReason.RUN_FAILED, crashed)]


def test_cases_are_listed_oldest_first_once_each() -> None:
    old, new = NOW - timedelta(days=9), NOW - timedelta(days=3)
    found = find_stuck([facts(case_id=2, reference="B", timer_due_since=new),
                        facts(case_id=3, reference="C", timer_due_since=old, overdue_approval_since=old)], NOW, THRESHOLD)
    assert [(s.reference, s.reason) for s in found] == [("C", StuckReason.TIMER_NOT_RESUMED),
                                                         ("B", StuckReason.TIMER_NOT_RESUMED)]
    assert found[0].text_da.startswith("En timer") and found[0].text_en.startswith("A timer")


def test_an_overdue_approval_is_stuck_only_stuck_after_past_its_escalation() -> None:
    escalated = NOW - timedelta(hours=1)
    assert reasons(facts(overdue_approval_since=escalated)) == []
    escalated = NOW - THRESHOLD
    assert reasons(facts(overdue_approval_since=escalated)) == [(StuckReason.APPROVAL_OVERDUE, escalated)]
