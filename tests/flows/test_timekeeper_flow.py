"""The hourly timekeeper flow runs the timekeeper's one table of duties (hjemtilos/timekeeper/timekeeping.py), one task a
duty in the table's order, the host-only ones excepted: it cannot drift from `up`'s tick again."""

from __future__ import annotations

import dataclasses

import pytest

import flows.timekeeper as flow_module
from hjemtilos.timekeeper import timekeeping
from hjemtilos.timekeeper.timekeeping import DUTIES, Duty
from tests.flows.driving import start_case


def test_the_flow_runs_every_duty_a_flow_may_do_in_the_tables_order(app, smtp_server,  # type: ignore[no-untyped-def]
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    ran: list[str] = []

    def recorded(duty: Duty) -> Duty:
        def run(*args: object) -> None:
            ran.append(duty.name)
            duty.run(*args)  # type: ignore[arg-type]
        return dataclasses.replace(duty, run=run)

    watched = tuple(recorded(duty) for duty in DUTIES)
    monkeypatch.setattr(timekeeping, "DUTIES", watched)  # what the duty task looks up
    monkeypatch.setattr(flow_module, "DUTIES", watched)  # what the flow walks
    report = flow_module.timekeeper()
    assert ran == [duty.name for duty in DUTIES if duty.in_flow]
    assert "retention" not in ran  # the host's duty: it removes caught mail the flow runs' user cannot reach
    assert "stuck_cases" in report and "retention_done" not in report  # the stuck-case check ran, retention not
