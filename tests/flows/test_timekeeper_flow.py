"""The hourly timekeeper flow runs the timekeeper's one table of duties (hjemtilos/timekeeping.py), one task a
duty in the table's order, and publishes the stuck-case artifacts: it cannot drift from `up`'s tick again."""

from __future__ import annotations

import asyncio
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.timekeeper import timekeeper
from hjemtilos.timekeeping import DUTIES
from tests.flows.driving import start_case


def test_the_flow_runs_every_duty_a_flow_may_do_in_the_tables_order(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    state = timekeeper(return_state=True)
    report = state.result()
    assert "retention_done" not in report
    run_id = state.state_details.flow_run_id
    assert run_id is not None

    async def task_names() -> list[str]:
        async with get_client() as client:
            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
                                                limit=100)
        ordered = sorted(tasks, key=lambda task: (task.start_time or task.expected_start_time).timestamp())
        return [task.name.rsplit("-", 1)[0] for task in ordered]

    expected = [duty.name for duty in DUTIES if duty.in_flow]
    deadline = time.monotonic() + 30
    while len(names := asyncio.run(task_names())) < len(expected) + 1 and time.monotonic() < deadline:
        time.sleep(0.5)  # Prefect records task runs from their events, a moment after the flow returned
    assert [name for name in names if name in expected] == expected
    assert "retention" not in names  # the host's duty: it removes caught mail the flow runs' user cannot reach
    assert names[-1] == "publish_stuck_cases"
