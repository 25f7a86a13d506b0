"""The timekeeper as a Prefect flow, hourly: every duty of the timekeeper's table that a flow may do
(hjemtilos/timekeeper/timekeeping.py: ``DUTIES``), one task each, in order, then the stuck-case artifacts. ``hjemtilos up``
runs the same table every few seconds in its housekeeper and delivers the outbox."""

from __future__ import annotations

from prefect import flow, get_run_logger

from hjemtilos.timekeeper.timekeeping import DUTIES
from tasks.timekeeper_tasks import publish_stuck_cases, run_duty


@flow(name="timekeeper", persist_result=False, log_prints=False)
def timekeeper() -> dict[str, int]:
    report: dict[str, int] = {}
    for duty in DUTIES:
        if not duty.in_flow:
            continue
        outcome = run_duty.with_options(name=duty.name)(duty.name)
        for key, value in outcome.counts.items():
            report[key] = report.get(key, 0) + value
        if outcome.stuck_table is not None and outcome.stuck_summary is not None:
            publish_stuck_cases(outcome.stuck_table, outcome.stuck_summary)
    get_run_logger().info("timekeeper: %s", report)
    return report


@flow(name="publish-stuck-cases", persist_result=False, log_prints=False)
def publish_stuck_cases_now(table: list[dict[str, str]], summary: str) -> None:
    """Publish the stuck-case artifacts (used by `hjemtilos up`'s in-process timekeeper when the list changes)."""
    publish_stuck_cases(table, summary)
