"""The hourly timekeeper flow runs the timekeeper's one table of duties (hjemtilos/timekeeping.py), one task a
duty in the table's order, and publishes the stuck-case artifacts: it cannot drift from `up`'s tick again."""

from __future__ import annotations

import asyncio

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import FlowRunSort

from flows.timekeeper import timekeeper
from hjemtilos.timekeeping import DUTIES
from tests.flows.driving import start_case


def test_the_flow_runs_every_duty_a_flow_may_do_in_the_tables_order(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    report = timekeeper()
    assert "retention_done" not in report

    async def task_names() -> list[str]:
        async with get_client() as client:
            (run,) = await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["timekeeper"])),
                                                 sort=FlowRunSort.START_TIME_DESC, limit=1)
            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])), limit=100)
        ordered = sorted(tasks, key=lambda task: (task.start_time or task.expected_start_time).timestamp())
        return [task.name.rsplit("-", 1)[0] for task in ordered]

    names = asyncio.run(task_names())
    expected = [duty.name for duty in DUTIES if duty.in_flow]
    assert [name for name in names if name in expected] == expected
    assert "retention" not in names  # the host's duty: it removes caught mail the flow runs' user cannot reach
    assert names[-1] == "publish_stuck_cases"
