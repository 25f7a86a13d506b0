"""What a case waits for, one rule for the workspace's case list and `hjemtilos cases`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from casework.keys import approval_key, family_wait_key, timer_key
from casework.steps import ApprovalKind, Role, TimerKind
from hjemtilos.db.models import HumanTask, Timer
from hjemtilos.queries import Waiting, waiting_of

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def task(role: str, escalation: datetime | None = None) -> HumanTask:
    return HumanTask(key=approval_key(ApprovalKind.SCREENING), assignee_role=role, due_at=NOW,
                     escalation_at=escalation)


def timer(key: str) -> Timer:
    return Timer(key=key, due_at=NOW + timedelta(days=3))


def test_an_open_task_comes_before_a_timer_and_is_due_at_its_escalation() -> None:
    later = NOW + timedelta(days=2)
    assert waiting_of(task(Role.COORDINATOR.value, later), timer(timer_key(TimerKind.FAREWELL, 1))) == \
        Waiting("coordinator", "approval-screening", later)
    assert waiting_of(task(Role.CUSTODY_HOLDER.value), None).kind == "parents"
    assert waiting_of(task("volunteer_family"), None).kind == "family"


def test_a_wait_for_a_family_has_no_due_date_and_a_timer_is_due_when_it_fires() -> None:
    assert waiting_of(None, timer(family_wait_key(1))) == Waiting("new-family", "wait-family-1", None)
    assert waiting_of(None, timer(timer_key(TimerKind.FAREWELL, 1))).due == NOW + timedelta(days=3)
    assert waiting_of(None, None) == Waiting("", None, None)
