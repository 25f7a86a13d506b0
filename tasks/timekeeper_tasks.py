"""Tasks of the timekeeper flow."""

from __future__ import annotations

from hjemtilos import timekeeping
from hjemtilos.adapters.prefect import PrefectOrchestrator, publish_stuck_artifacts
from hjemtilos.stuck_cases import check_stuck, record_stuck, stuck_summary, stuck_table
from hjemtilos.volunteers import send_supervision_invitations as send_invitations
from tasks.runtime import get_app, side_effect_task, utcnow


@side_effect_task
def start_missing_runs() -> int:
    return timekeeping.start_missing_runs(get_app(), PrefectOrchestrator(), utcnow())


@side_effect_task
def restart_crashed_runs() -> int:
    return timekeeping.restart_crashed_runs(get_app(), utcnow(), PrefectOrchestrator())


@side_effect_task
def fire_due_timers() -> tuple[int, int]:
    return timekeeping.fire_due_timers(get_app(), utcnow(), PrefectOrchestrator())


@side_effect_task
def wake_family_waits() -> tuple[int, int]:
    return timekeeping.wake_family_waits(get_app(), utcnow(), PrefectOrchestrator())


@side_effect_task
def repair_missing_forms() -> int:
    from hjemtilos.form_repair import repair_missing_forms as repair

    return repair(get_app(), utcnow(), PrefectOrchestrator())


@side_effect_task
def send_supervision_invitations() -> int:
    return send_invitations(get_app(), utcnow())


@side_effect_task
def check_stuck_cases() -> tuple[list[dict[str, str]], str, int]:
    app, now = get_app(), utcnow()
    stuck = check_stuck(app, now, PrefectOrchestrator())
    new = record_stuck(app, stuck, now)
    return stuck_table(stuck), stuck_summary(stuck, now, app.settings.ui_base), new


@side_effect_task
def publish_stuck_cases(table: list[dict[str, str]], summary: str) -> None:
    publish_stuck_artifacts(table, summary)


@side_effect_task
def send_reminders() -> tuple[int, int]:
    return timekeeping.send_reminders(get_app(), utcnow())
