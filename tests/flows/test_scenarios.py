"""The referral-case flow's other paths, on a real Prefect server with a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from flows.end_case import end_case, record_change
from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.db.models import AuditEvent, CaseEnding, HumanTask, Match, ReferralCase, Timer
from hjemtilos.timekeeper.timekeeping import tick
from tests.flows.driving import (
    TODAY,
    add_family,
    agree_and_start,
    approve_to_matching,
    deliver,
    now,
    start_case,
    templates_to,
)


def test_residential_home_needs_no_consent_but_a_startup_meeting(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    add_family(app, local_area="Valby")
    _case_id, reference, case = start_case(app, "referral-residential-home.json")
    assert case.run() == "approval-screening-r1"
    description = case.description()  # flagged: the flag itself is read on the case page, not in Prefect
    assert "Markeret til din vurdering" in description and f"/arbejde/sager/{reference}" in description
    assert "residential-home" not in description and "ungehjem" not in description
    assert case.answer({"decision": "godkend"}) == "approval-startup-meeting-r1"
    assert "opstartsmøde" in case.description()
    # a date missing: the server refuses the answer against the form's schema; the run waits on the same form
    from prefect.flow_runs import resume_flow_run

    with pytest.raises(RuntimeError, match="Cannot resume this run"):
        resume_flow_run(case.run_id, run_input={"startup_meeting_on": TODAY,
                                                "parents": "forældrene er orienteret"})
    assert case.state().is_paused() and case.state().state_details.pause_key == "approval-startup-meeting-r1"
    key = case.answer({"child_visit_on": TODAY, "startup_meeting_on": TODAY,
                       "parents": "forældrene er orienteret"})
    assert key == "approval-match-proposal-1-r1"
    mails = templates_to(smtp_server)
    # the parent does not read Danish or English: no mail to her; the referrer is asked to inform her
    assert mails[("parents-informed", "ayse.yilmaz@example.dk")] == 0
    referrer = [r.message.get_body(preferencelist=("plain",)).get_content() for r in smtp_server.received
                if r.message["X-Hjemtilos-Template"] == "startup-meeting" and r.rcpt_tos[0] == "camilla.holm@bbu.kk.dk"]
    assert "orientere Ayse Yilmaz om forløbet" in referrer[0]
    assert mails[("startup-meeting", "pia.kristensen@laerkereden.dk")] == 1
    assert mails[("startup-meeting", "camilla.holm@bbu.kk.dk")] == 1
    assert not any(template == "consent-request" for template, _ in mails)
    with app.session_factory() as session:
        keys = set(session.scalars(select(HumanTask.key)))
    assert "approval-consent" not in keys and "approval-startup-meeting" in keys


def test_rejected_at_screening_tells_the_referrer(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    # rejecting without a reason is returned to the coordinator
    assert case.answer({"decision": "afvis"}) == "approval-screening-r2"
    assert "Skriv en begrundelse" in case.description()
    assert case.answer({"decision": "afvis", "reason": "Barnet er allerede i et andet tilbud."}) == "done"
    with app.session_factory() as session:
        assert session.get(ReferralCase, case_id).status == "rejected"
    assert templates_to(smtp_server)[("referral-rejected", "jonas.berg@bbu.kk.dk")] == 1


def test_declined_proposal_then_rematch_with_another_family(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    first = add_family(app, name="Familien Holm", local_area="Nørrebro")
    second = add_family(app, name="Familien Berg", local_area="Valby")
    _case_id, _, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    assert case.answer({"family": "VF-%04d" % first}) == "approval-family-answer-1-r1"
    assert case.answer({"family_answer": "nej", "reason": "Har ikke tid i år."}) == "approval-match-proposal-2-r1"
    description = case.description()
    assert "VF-%04d" % second in description and "VF-%04d" % first not in description
    agree_and_start(case, second, attempt=2)
    with app.session_factory() as session:
        matches = [(m.attempt, m.family_id, m.status) for m in session.scalars(select(Match).order_by(Match.attempt))]
    assert matches == [(1, first, "declined"), (2, second, "active")]
    mails = templates_to(smtp_server)
    assert mails[("match-proposal-family", "holm@example.dk")] == 1
    assert mails[("match-proposal-family", "berg@example.dk")] == 1
    assert mails[("match-agreed", "jonas.berg@bbu.kk.dk")] == 1
    # the parents heard of one family: the one that said yes
    assert mails[("match-proposal-parents", "maria.hansen@example.dk")] == 1
    parents = [r.message.get_body(preferencelist=("plain",)).get_content() for r in smtp_server.received
               if r.message["X-Hjemtilos-Template"] == "match-proposal-parents"]
    assert "Berg" in parents[0] and "Holm" not in parents[0]


def test_case_waits_for_an_approved_family(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert case.answer({"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY}) \
        == "wait-family-1-r1"
    report = tick(app, now(), PrefectOrchestrator())
    assert report.runs_resumed == 0 and case.state().is_paused()
    add_family(app)
    assert case.wait_for_timekeeper() == "approval-match-proposal-1-r1"


def test_family_ends_early_extra_child_visit_then_rematch(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    first = add_family(app, name="Familien Holm")
    second = add_family(app, name="Familien Dahl")
    case_id, reference, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    agree_and_start(case, first)
    end_case(sagsnummer=reference, afsluttet_af="venskabsfamilien", begrundelse="familiens situation",
             ny_familie="ja, find en ny familie")
    with app.session_factory() as session:
        ending_id = session.scalars(select(CaseEnding.id)).one()
    assert case.run() == f"approval-extra-child-visit-{ending_id}-r1"
    assert case.answer({"visit_held_on": TODAY, "child_wants_rematch": "ja"}) \
        == "approval-match-proposal-2-r1"
    assert "VF-%04d" % second in case.description()
    with app.session_factory() as session:
        assert session.scalars(select(Match.status)).one() == "ended"
        assert session.get(ReferralCase, case_id).match_attempt == 2
        timer = session.scalars(select(Timer).where(Timer.key == "timer-first-visit-followup-1")).one()
        assert timer.consumed_at is not None  # cancelled: the timekeeper will not wake the run for it
    mails = templates_to(smtp_server)
    # the family hears once; the referrer and the parent first that the child is visited, then what it decided
    assert mails[("early-ending-notice", "holm@example.dk")] == 1
    for address in ("jonas.berg@bbu.kk.dk", "maria.hansen@example.dk"):
        assert mails[("early-ending-notice", address)] == 2
        first, decided = notices_to(smtp_server, address)
        assert "Vi leder nu" not in first and "afsluttes hermed" not in first and "besøger Sofie" in first
        assert "Vi leder nu efter en ny venskabsfamilie" in decided


def notices_to(smtp_server, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.message.get_body(preferencelist=("plain",)).get_content() for r in smtp_server.received
            if r.message["X-Hjemtilos-Template"] == "early-ending-notice" and r.rcpt_tos[0] == address]


def test_family_ends_early_and_child_wants_no_new_family(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    family = add_family(app)
    case_id, reference, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    agree_and_start(case, family)
    end_case(sagsnummer=reference, afsluttet_af="venskabsfamilien", begrundelse="flytning")
    key = case.run()
    assert key.startswith("approval-extra-child-visit-")
    assert case.answer({"visit_held_on": TODAY, "child_wants_rematch": "nej"}) == "done"
    with app.session_factory() as session:
        stored = session.get(ReferralCase, case_id)
        assert (stored.status, stored.close_reason) == ("closed", "ended early by family")
    # nobody was told a new family is being found; the closing is announced once the child has been asked
    for address in ("jonas.berg@bbu.kk.dk", "maria.hansen@example.dk", "holm@example.dk"):
        assert not any("ny venskabsfamilie til" in text for text in notices_to(smtp_server, address))
    for address in ("jonas.berg@bbu.kk.dk", "maria.hansen@example.dk"):
        assert "Sagen i Hjem til Os afsluttes hermed." in notices_to(smtp_server, address)[-1]


def test_parents_end_during_consent_closes_without_extra_visit(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    case_id, reference, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    end_case(sagsnummer=reference, afsluttet_af="forældrene", begrundelse="forældrene ønsker ikke at fortsætte")
    assert case.run() == "done"
    with app.session_factory() as session:
        assert session.get(ReferralCase, case_id).status == "closed"
        assert session.scalars(select(HumanTask.outcome).where(HumanTask.key == "approval-consent")).one() \
            == "cancelled"
    mails = templates_to(smtp_server)
    assert mails[("early-ending-notice", "maria.hansen@example.dk")] == 1
    assert not any(t == "early-ending-notice" and a.endswith("@example.dk") and a != "maria.hansen@example.dk"
                   for t, a in mails)


def test_overdue_consent_reminds_the_referrer_then_escalates_once(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    orchestrator = PrefectOrchestrator()
    with app.session_factory() as session:
        start = session.scalars(select(HumanTask.created_at).where(HumanTask.key == "approval-consent")).one()
    assert tick(app, start + timedelta(seconds=1), orchestrator).reminders == 0
    first = tick(app, start + timedelta(seconds=1.6), orchestrator)  # fast: reminder after 1.5 s
    assert (first.reminders, first.escalations) == (1, 0)
    assert tick(app, start + timedelta(seconds=1.8), orchestrator).reminders == 0  # not again within the interval
    later = tick(app, start + timedelta(seconds=3.2), orchestrator)  # second interval, and the escalation at 3 s
    assert (later.reminders, later.escalations) == (1, 1)
    assert tick(app, start + timedelta(seconds=3.3), orchestrator).escalations == 0
    mails = templates_to(smtp_server)
    assert mails[("consent-reminder", "jonas.berg@bbu.kk.dk")] == 2
    assert mails[("coordinator-escalation", "koordinator@redbarnet.dk")] == 1
    reminder = next(r for r in smtp_server.received if r.message["X-Hjemtilos-Template"] == "consent-reminder")
    assert "Maria Hansen" in reminder.message.get_body(preferencelist=("plain",)).get_content()
    with app.session_factory() as session:
        task = session.scalars(select(HumanTask).where(HumanTask.key == "approval-consent")).one()
        assert task.reminders_sent == 2 and task.escalated_at is not None
        assert session.query(AuditEvent).filter(AuditEvent.action == "reminder-sent").count() == 2


def test_timer_that_came_due_while_everything_was_down(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    family = add_family(app)
    _case_id, _, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    agree_and_start(case, family)
    with app.session_factory.begin() as session:  # the timer came due a month ago; nobody was there to tick
        session.execute(update(Timer).where(Timer.key == "timer-first-visit-followup-1")
                        .values(due_at=now() - timedelta(days=30)))
    report = tick(app, now(), PrefectOrchestrator())
    assert report.timers_fired == 1 and report.runs_resumed == 1
    assert case.run() == "approval-first-visit-followup-1-r1"
    assert tick(app, now(), PrefectOrchestrator()).runs_resumed == 0


def test_change_of_circumstances_informs_family_and_coordinator(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    family = add_family(app)
    _case_id, reference, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    agree_and_start(case, family)
    record_change(sagsnummer=reference, forandring="flytning")
    deliver(app)
    mails = templates_to(smtp_server)
    assert mails[("circumstances-changed", "holm@example.dk")] == 1
    assert mails[("circumstances-changed", "koordinator@redbarnet.dk")] == 1
    assert case.state().is_paused()  # the case run goes on waiting for its timer


def test_no_personal_data_reaches_prefect(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    family = add_family(app)
    case_id, reference, case = start_case(app, "referral-youth-14.json")
    assert case.run() == "approval-screening-r1"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(case.run_id)
    assert run.name == reference and run.parameters == {"case_id": case_id}
    text = case.description() + run.name + str(run.parameters)
    for personal in ("Noah", "Jensen", "Amina", "Henrik", "Olsen", "Line Madsen", "@"):
        assert personal not in text
    del family


def test_case_stored_while_prefect_was_down_gets_exactly_one_run(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from casework.referral import Referral
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.referrals.intake import register_referral

    referral = Referral.model_validate(json.loads((EXAMPLES / "referral-standard.json").read_text()))
    with app.session_factory.begin() as session:
        stored = register_referral(session, referral, now(), app.programme)
    orchestrator = PrefectOrchestrator()
    tick(app, now(), orchestrator)
    tick(app, now(), orchestrator)
    with app.session_factory() as session:
        run_id = session.get(ReferralCase, stored.case_id).flow_run_id
    assert run_id
    # asking again for the same case returns the same run (idempotency key)
    assert orchestrator.start_case(stored.case_id, stored.reference,
                                   f"{stored.reference}:{stored.created_at.isoformat()}") == run_id
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[stored.reference])))
    assert str(run_id) in {str(r.id) for r in runs}
    assert sum(1 for r in runs if r.parameters == {"case_id": stored.case_id}
               and r.idempotency_key and r.idempotency_key.endswith(stored.created_at.isoformat())) == 1


def test_waiting_runs_are_tagged_with_step_and_who_they_wait_for(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    _, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    with get_client(sync_client=True) as client:
        assert set(client.read_flow_run(case.run_id).tags) == {"case", "step:screening", "waits:coordinator"}
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    with get_client(sync_client=True) as client:
        assert set(client.read_flow_run(case.run_id).tags) == {"case", "step:consent", "waits:coordinator"}


def test_form_schema_stored_once_although_the_server_answered_an_error(app, smtp_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The server stores the form's schema but the answer is lost (a 503 under SQLite contention, a dropped
    connection): the client's retry finds it stored (409) and the run suspends as usual, ready for the answer,
    instead of failing, or waiting with no schema where every answer is rejected ("Run input schema not found")."""
    import flows.suspension

    real_create = flows.suspension.create_flow_run_input
    lost: list[str] = []

    def answer_lost(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not lost:
            lost.append(kwargs["key"])
            real_create(*args, **kwargs)  # the server stores it; the answer never arrives and the client retries
        real_create(*args, **kwargs)

    monkeypatch.setattr(flows.suspension, "create_flow_run_input", answer_lost)
    _case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert lost == ["suspended-approval-screening-r1-schema"]
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert templates_to(smtp_server)[("consent-request", "maria.hansen@example.dk")] == 1


def test_suspension_whose_answer_was_lost_still_stores_the_form(app, smtp_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The server takes the Suspended state but its answer is lost (a 503 or a timeout under load); the client's
    retry is rejected because the suspension "already fired". The run must still get its form's schema, or every
    answer would be rejected with "Run input schema not found"."""
    import prefect.utilities.engine

    real_propose = prefect.utilities.engine.propose_state_sync
    lost: list[str] = []

    def answer_lost_then_retried(*args, **kwargs):  # type: ignore[no-untyped-def]
        state = kwargs.get("state")
        if state is not None and state.name == "Suspended" and not lost:
            lost.append(state.state_details.pause_key)
            real_propose(*args, **kwargs)  # the server commits; the client never hears of it and tries again
        return real_propose(*args, **kwargs)

    monkeypatch.setattr(prefect.utilities.engine, "propose_state_sync", answer_lost_then_retried)
    _case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert lost == ["approval-screening-r1"]
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert templates_to(smtp_server)[("consent-request", "maria.hansen@example.dk")] == 1


def test_a_flow_process_sends_no_mail_itself(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from hjemtilos.db.models import OutboxMail

    _case_id, _, case = start_case(app, "referral-standard.json")
    case.deliver = False  # nothing stands in for `hjemtilos up`'s sender
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert smtp_server.received == []
    with app.session_factory() as session:
        assert set(session.scalars(select(OutboxMail.status))) == {"pending"}  # no claim a killed process could leave
    deliver(app)
    assert sorted(templates_to(smtp_server)) == [("consent-request", "maria.hansen@example.dk"),
                                                 ("referral-receipt", "jonas.berg@bbu.kk.dk")]
