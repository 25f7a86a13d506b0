"""Which cases are stuck, and why. Pure: the caller gathers the facts (case database and Prefect) and passes now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class StuckReason(StrEnum):
    APPROVAL_OVERDUE = "approval-overdue"
    TIMER_NOT_RESUMED = "timer-not-resumed"
    RUN_NOT_PICKED_UP = "run-not-picked-up"
    RUN_FAILED = "run-failed"
    NO_LIVE_RUN = "no-live-run"


REASON_TEXT = {
    StuckReason.APPROVAL_OVERDUE: ("En godkendelse er over eskaleringsfristen", "An approval is past its escalation"),
    StuckReason.TIMER_NOT_RESUMED: ("En timer er forfalden, men forløbet er ikke genoptaget",
                                    "A timer is past due but the run was not resumed"),
    StuckReason.RUN_NOT_PICKED_UP: ("Forløbet venter på en worker (Resuming/Late)",
                                    "The run waits for a worker (Resuming/Late)"),
    StuckReason.RUN_FAILED: ("Forløbet er fejlet eller crashet", "The run failed or crashed"),
    StuckReason.NO_LIVE_RUN: ("Sagen er åben, men har intet levende forløb", "The case is open but has no live run"),
}


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    reference: str
    created_at: datetime
    flow_run_id: str | None
    overdue_approval_since: datetime | None  # earliest escalation time of an open approval
    timer_due_since: datetime | None  # earliest due time of an unconsumed timer
    run_state: str | None  # Prefect state type, None when unknown
    run_state_name: str | None
    run_state_since: datetime | None


@dataclass(frozen=True)
class Stuck:
    case_id: int
    reference: str
    reason: StuckReason
    since: datetime

    @property
    def text_da(self) -> str:
        return REASON_TEXT[self.reason][0]

    @property
    def text_en(self) -> str:
        return REASON_TEXT[self.reason][1]


def find_stuck(facts: list[CaseFacts], now: datetime, threshold: timedelta) -> list[Stuck]:
    """One entry per case: the most serious reason, with since when."""
    stuck: list[Stuck] = []
    for case in facts:
        reason: tuple[StuckReason, datetime] | None = None
        if case.run_state in ("FAILED", "CRASHED"):
            # the timekeeper continues such runs at once: reported only once that has not helped for a while
            failed_since = case.run_state_since or now
            if now - failed_since >= threshold:
                reason = (StuckReason.RUN_FAILED, failed_since)
        elif case.flow_run_id is None or case.run_state in ("COMPLETED", "CANCELLED", "CANCELLING"):
            since = case.run_state_since if case.flow_run_id else case.created_at
            if since is not None and now - since >= threshold:
                reason = (StuckReason.NO_LIVE_RUN, since)
        elif case.run_state in ("SCHEDULED", "PENDING") and case.run_state_since is not None \
                and now - case.run_state_since >= threshold:
            reason = (StuckReason.RUN_NOT_PICKED_UP, case.run_state_since)
        if reason is None and case.timer_due_since is not None and now - case.timer_due_since >= threshold:
            reason = (StuckReason.TIMER_NOT_RESUMED, case.timer_due_since)
        if reason is None and case.overdue_approval_since is not None \
                and now - case.overdue_approval_since >= threshold:
            reason = (StuckReason.APPROVAL_OVERDUE, case.overdue_approval_since)
        if reason is not None:
            stuck.append(Stuck(case.case_id, case.reference, reason[0], reason[1]))
    return sorted(stuck, key=lambda s: s.since)
