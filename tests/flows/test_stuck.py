"""Stuck-case detection: each reason produced on purpose, reported once, published as an artifact."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Failed
from sqlalchemy import select

from casework.referral import Referral
from flows.timekeeper import publish_stuck_cases_now
from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.db.models import HumanTask, StuckCase, Timer
from hjemtilos.paths import EXAMPLES
from hjemtilos.referrals.intake import register_referral
from hjemtilos.timekeeper.stuck_cases import check_stuck, record_stuck, stuck_summary, stuck_table
from tests.flows.driving import now, start_case

THRESHOLD = timedelta(seconds=31)  # fast profile: stuck after 30 s


def reasons(app, at) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.reference: s.reason.value for s in check_stuck(app, at, PrefectOrchestrator())}


def test_each_stuck_reason_is_found_and_reported_once(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    # 1. an approval past its escalation
    _, overdue_ref, overdue = start_case(app, "referral-standard.json")
    assert overdue.run() == "approval-screening-r1"
    # 2. a timer past due that the timekeeper cannot resume (the run waits on something else)
    timer_id, timer_ref, timer_case = start_case(app, "referral-standard.json")
    assert timer_case.run() == "approval-screening-r1"
    # 3. a run resumed but never picked up by a worker
    _, resuming_ref, resuming = start_case(app, "referral-standard.json")
    assert resuming.run() == "approval-screening-r1"
    # 4. a run that failed
    _, failed_ref, failed = start_case(app, "referral-standard.json")
    assert failed.run() == "approval-screening-r1"
    # 5. a case stored while Prefect was down, never given a run
    referral = Referral.model_validate(json.loads((EXAMPLES / "referral-youth-14.json").read_text()))
    with app.session_factory.begin() as session:
        runless = register_referral(session, referral, now(), app.programme)

    start = now()
    with app.session_factory.begin() as session:
        session.add(Timer(case_id=timer_id, key="timer-child-visit-1", step="child-visit",
                          due_at=start - timedelta(minutes=5), created_at=start - timedelta(minutes=6), round=1))
        for task in session.scalars(select(HumanTask)):  # only the first case's approval is overdue
            task.escalation_at = start - timedelta(seconds=1) if task.case_id == 1 else start + timedelta(days=1)
    from prefect.flow_runs import resume_flow_run

    resume_flow_run(resuming.run_id, run_input={"decision": "godkend"})
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(failed.run_id, Failed(message="boom"), force=True)

    # at once: the timer past due for minutes; the approval is not stuck the moment it escalates, nor the failed
    # run the moment it fails (the timekeeper continues it first; reported after stuck_after like the rest)
    assert reasons(app, start) == {timer_ref: "timer-not-resumed"}
    later = now() + THRESHOLD  # after the resume: the resumed run has waited for a worker past the threshold
    found = reasons(app, later)
    assert found == {overdue_ref: "approval-overdue", timer_ref: "timer-not-resumed", failed_ref: "run-failed",
                     resuming_ref: "run-not-picked-up", runless.reference: "no-live-run"}

    stuck = check_stuck(app, later, PrefectOrchestrator())
    assert record_stuck(app, stuck, later) == 5
    assert record_stuck(app, check_stuck(app, later + timedelta(seconds=1), PrefectOrchestrator()),
                        later + timedelta(seconds=1)) == 0
    from hjemtilos.mail.sender import deliver_pending

    deliver_pending(app.session_factory, app.smtp, later + timedelta(seconds=2))
    alerts = [r for r in smtp_server.received if r.message["X-Hjemtilos-Template"] == "stuck-case-alert"]
    assert len(alerts) == 5 and {r.rcpt_tos[0] for r in alerts} == {"admin@redbarnet.dk"}

    # the artifact the administrators open in the UI, with no personal data
    table = stuck_table(stuck)
    publish_stuck_cases_now(table, stuck_summary(stuck, later, app.settings.ui_base))
    with get_client(sync_client=True) as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["stuck-cases"])))
    assert artifacts and artifacts[-1].type == "table"
    data = str(artifacts[-1].data)
    assert overdue_ref in data and "Sofie" not in data and "Noah" not in data

    # resolved when no longer stuck: the failed run's case is closed by hand here
    with app.session_factory.begin() as session:
        from hjemtilos.db.models import ReferralCase

        for case in session.scalars(select(ReferralCase).where(ReferralCase.reference == failed_ref)):
            case.status = "closed"
    record_stuck(app, check_stuck(app, later + timedelta(seconds=3), PrefectOrchestrator()), later + timedelta(seconds=3))
    with app.session_factory() as session:
        open_rows = session.scalars(select(StuckCase).where(StuckCase.resolved_at.is_(None))).all()
    assert len(open_rows) == 4


def test_a_case_waiting_without_its_form_is_repaired_by_the_next_tick(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from prefect.flow_runs import resume_flow_run

    from hjemtilos.timekeeper.form_repair import ASKED_AGAIN
    from hjemtilos.timekeeper.timekeeping import tick

    _, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    keyset = case.state().state_details.run_input_keyset
    with get_client(sync_client=True) as client:  # as if the process died between Suspended and the schema's store
        client.delete_flow_run_input(case.run_id, keyset["schema"])
    with pytest.raises(Exception, match=r"(?i)schema"):
        resume_flow_run(case.run_id, run_input={"decision": "godkend"})
    assert tick(app, now(), PrefectOrchestrator()).forms_repaired == 1
    assert case.run() == "approval-screening-r2"
    assert ASKED_AGAIN.split(" / ")[0] in case.description()
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert tick(app, now(), PrefectOrchestrator()).forms_repaired == 0


def test_only_a_silent_running_or_a_pending_run_that_never_started_is_taken_for_dead(app) -> None:  # type: ignore[no-untyped-def]
    """Decided on each run's current state, not on Prefect's event stream: a suspended run is never crashed."""
    import time

    from prefect.states import Pending, Running

    _, _, waiting = start_case(app, "referral-standard.json")
    assert waiting.run() == "approval-screening-r1"  # suspended on its form
    _, _, silent = start_case(app, "referral-standard.json")
    _, _, never_started = start_case(app, "referral-standard.json")
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(silent.run_id, Running(), force=True)  # its process died without a word
        client.set_flow_run_state(never_started.run_id, Pending(), force=True)
    orchestrator = PrefectOrchestrator()
    assert orchestrator.crash_silent_runs(now(), timedelta(seconds=30)) == []  # not silent for long enough yet
    time.sleep(2.5)
    crashed = orchestrator.crash_silent_runs(now(), timedelta(seconds=2))
    assert sorted(crashed) == sorted([str(silent.run_id), str(never_started.run_id)])
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(waiting.run_id).state.is_paused()  # type: ignore[union-attr]
        assert client.read_flow_run(silent.run_id).state.is_crashed()  # type: ignore[union-attr]
