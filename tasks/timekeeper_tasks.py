"""Tasks of the timekeeper flow: one task a duty of the timekeeper's table (hjemtilos/timekeeper/timekeeping.py), named by
it, and publishing the stuck-case artifacts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hjemtilos.adapters.prefect import PrefectOrchestrator, publish_stuck_artifacts
from hjemtilos.timekeeper import timekeeping
from hjemtilos.timekeeper.stuck_cases import stuck_summary, stuck_table
from tasks.runtime import get_app, side_effect_task, utcnow

COUNTS = ("runs_started", "timers_fired", "runs_resumed", "runs_restarted", "endings_woken", "reminders",
          "escalations", "supervision_invitations", "renewal_reminders", "forms_repaired", "answers_swept",
          "retention_done", "new_stuck")


@dataclass(frozen=True)
class DutyOutcome:
    """What a duty did: its counts, and for the stuck-case check the table and summary to publish (case
    references, steps and reasons only)."""

    counts: dict[str, int]
    stuck_table: list[dict[str, str]] | None = None
    stuck_summary: str | None = None


@side_effect_task
def run_duty(name: str) -> DutyOutcome:
    """The timekeeper's duty ``name``."""
    duty = next(duty for duty in timekeeping.DUTIES if duty.name == name)
    app, now, report = get_app(), utcnow(), timekeeping.TickReport()
    duty.run(app, now, PrefectOrchestrator(), report)
    counts = {key: value for key, value in asdict(report).items() if key in COUNTS and value}
    if duty.name != "check-stuck-cases":
        return DutyOutcome(counts)
    counts["stuck_cases"] = len(report.stuck)
    return DutyOutcome(counts, stuck_table(report.stuck), stuck_summary(report.stuck, now, app.settings.ui_base))


@side_effect_task
def wake_family_waits() -> tuple[int, int]:
    """Cases waiting for a family go on at once (the volunteer flow calls it when a family is approved)."""
    return timekeeping.wake_family_waits(get_app(), utcnow(), PrefectOrchestrator())


@side_effect_task
def publish_stuck_cases(table: list[dict[str, str]], summary: str) -> None:
    publish_stuck_artifacts(table, summary)
