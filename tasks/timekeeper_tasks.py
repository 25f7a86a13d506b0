"""Tasks of the timekeeper flow."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from hjemtilos import timekeeping
from tasks.prefect_ops import PrefectOrchestrator
from tasks.runtime import get_app, utcnow

OPTS = dict(retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE, persist_result=False)


@task(name="start_missing_runs", **OPTS)  # type: ignore[call-overload]
def start_missing_runs() -> int:
    return timekeeping.start_missing_runs(get_app(), PrefectOrchestrator())


@task(name="restart_crashed_runs", **OPTS)  # type: ignore[call-overload]
def restart_crashed_runs() -> int:
    return timekeeping.restart_crashed_runs(get_app(), utcnow(), PrefectOrchestrator())


@task(name="fire_due_timers", **OPTS)  # type: ignore[call-overload]
def fire_due_timers() -> tuple[int, int]:
    return timekeeping.fire_due_timers(get_app(), utcnow(), PrefectOrchestrator())


@task(name="wake_family_waits", **OPTS)  # type: ignore[call-overload]
def wake_family_waits() -> tuple[int, int]:
    return timekeeping.wake_family_waits(get_app(), utcnow(), PrefectOrchestrator())


@task(name="send_supervision_invitations", **OPTS)  # type: ignore[call-overload]
def send_supervision_invitations() -> int:
    from hjemtilos.volunteers import send_supervision_invitations as send

    return send(get_app(), utcnow())


@task(name="check_stuck_cases", **OPTS)  # type: ignore[call-overload]
def check_stuck_cases() -> tuple[list[dict[str, str]], str, int]:
    from hjemtilos.stuck_cases import check_stuck, record_stuck, stuck_summary, stuck_table

    app, now = get_app(), utcnow()
    stuck = check_stuck(app, now, PrefectOrchestrator())
    new = record_stuck(app, stuck, now)
    return stuck_table(stuck), stuck_summary(stuck, now, app.settings.ui_base), new


@task(name="publish_stuck_cases", **OPTS)  # type: ignore[call-overload]
def publish_stuck_cases(table: list[dict[str, str]], summary: str) -> None:
    from tasks.prefect_ops import publish_stuck_artifacts

    publish_stuck_artifacts(table, summary)


@task(name="send_reminders", **OPTS)  # type: ignore[call-overload]
def send_reminders() -> tuple[int, int]:
    return timekeeping.send_reminders(get_app(), utcnow())
