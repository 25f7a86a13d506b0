"""The timekeeper: on a schedule, wakes runs whose timers are due (also those that came due while
everything was down), wakes cases waiting for a family and queues reminders and escalations (``hjemtilos up``
delivers the outbox)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.timekeeper_tasks import (
    check_stuck_cases,
    fire_due_timers,
    publish_stuck_cases,
    repair_missing_forms,
    restart_crashed_runs,
    send_reminders,
    send_supervision_invitations,
    start_missing_runs,
    wake_family_waits,
)


@flow(name="timekeeper", persist_result=False, log_prints=False)
def timekeeper() -> dict[str, int]:
    started = start_missing_runs()
    restarted = restart_crashed_runs()
    fired, resumed = fire_due_timers()
    family_fired, family_resumed = wake_family_waits()
    reminders, escalations = send_reminders()
    invitations = send_supervision_invitations()
    forms = repair_missing_forms()
    table, summary, new_stuck = check_stuck_cases()
    publish_stuck_cases(table, summary)
    report = {"runs_started": started, "runs_restarted": restarted, "timers_fired": fired + family_fired,
              "runs_resumed": resumed + family_resumed, "reminders": reminders, "escalations": escalations,
              "supervision_invitations": invitations, "forms_repaired": forms, "stuck_cases": len(table), "new_stuck_cases": new_stuck}
    get_run_logger().info("timekeeper: %s", report)
    return report


@flow(name="publish-stuck-cases", persist_result=False, log_prints=False)
def publish_stuck_cases_now(table: list[dict[str, str]], summary: str) -> None:
    """Publish the stuck-case artifacts (used by `hjemtilos up`'s in-process timekeeper when the list changes)."""
    publish_stuck_cases(table, summary)
