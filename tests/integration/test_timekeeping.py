"""The timekeeper's batched reminders and its restart of crashed runs, on SQLite and PostgreSQL, with a fake
orchestrator in place of Prefect (the real one is exercised in tests/flows)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from casework.steps import EndedBy
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, HumanTask, OutboxMail, ReferralCase
from hjemtilos.mail.contexts import CoordinatorReminder
from hjemtilos.mail.outbox import OutboxBatch, Recipient
from hjemtilos.orchestration import RunState
from hjemtilos.timekeeper.live_runs import MAX_RESTARTS, RESTART_WINDOW, restart_crashed_runs
from hjemtilos.timekeeper.timekeeping import send_reminders
from tests.fakes import FakeOrchestrator
from tests.support import NOW, new_case


def open_task(app: App, case_id: int, opened: datetime) -> None:
    with app.session_factory.begin() as session:
        session.add(HumanTask(case_id=case_id, key="approval-screening", step="screening", title="Visitation",
                              assignee_role="coordinator", reminder_role="coordinator", round=1, created_at=opened,
                              due_at=opened + timedelta(days=14), reminder_at=opened + timedelta(days=7),
                              escalation_at=opened + timedelta(days=14), reminders_sent=0))


def test_batched_reminders_once_per_interval_and_escalation_once(app: App) -> None:
    cases = [new_case(app) for _ in range(3)]
    open_task(app, cases[0], NOW - timedelta(days=8))   # past its reminder
    open_task(app, cases[1], NOW - timedelta(days=15))  # past reminder and escalation
    open_task(app, cases[2], NOW - timedelta(days=1))   # nothing due
    assert send_reminders(app, NOW) == (2, 1)
    assert send_reminders(app, NOW) == (0, 0)  # the same tick again: nothing twice
    with app.session_factory() as session:
        templates = Counter(session.scalars(select(OutboxMail.template).where(OutboxMail.case_id.in_(cases), OutboxMail.template != "referral-receipt")))
        actions = Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "timekeeper")))
    assert templates == Counter({"coordinator-reminder": 2, "coordinator-escalation": 1})
    assert actions == Counter({"reminder-sent": 2, "escalated": 1})
    # a repeat interval later: the two reminded tasks are reminded again, the third gets its first reminder,
    # and the first task has now also passed its escalation
    later = app.profile.timings.reminder_repeat_every.after(NOW) + timedelta(seconds=1)
    assert send_reminders(app, later) == (3, 1)


def test_outbox_batch_skips_keys_already_queued(app: App) -> None:
    case_id = new_case(app)
    coordinator = Recipient("coordinator", "Koordinator", "k@redbarnet.dk")
    context = CoordinatorReminder(recipient_name="Koordinator", case_reference="HTO-2026-0001", task_title="Visitation",
                                  waiting_since=NOW, link="http://127.0.0.1:4200/runs")
    with app.session_factory.begin() as session:
        batch = OutboxBatch(session, app.programme, NOW)
        batch.add(case_id=case_id, step="stuck", recipient=coordinator, context=context, occurrence="a")
        batch.add(case_id=case_id, step="stuck", recipient=coordinator, context=context, occurrence="a")
        assert batch.write() == 1
    with app.session_factory.begin() as session:
        batch = OutboxBatch(session, app.programme, NOW)
        batch.add(case_id=case_id, step="stuck", recipient=coordinator, context=context, occurrence="a")
        batch.add(case_id=case_id, step="stuck", recipient=coordinator, context=context, occurrence="b")
        assert batch.write() == 1
    with app.session_factory() as session:
        rows = session.scalars(select(OutboxMail).where(OutboxMail.step == "stuck")).all()
    assert sorted(r.idempotency_key.rsplit(":", 1)[1] for r in rows) == ["a", "b"]
    assert all(r.status == "pending" and r.message_id.endswith("@hjemtilos.redbarnet.dk>") for r in rows)


def test_dead_runs_of_open_cases_are_continued_with_back_off_and_at_most_three_times_a_day(app: App) -> None:
    crashed, running = str(uuid.uuid4()), str(uuid.uuid4())
    case_id = new_case(app, crashed)
    new_case(app, running)
    orchestrator = FakeOrchestrator({running: RunState("SCHEDULED", "Resuming", None)})
    at = NOW
    for _ in range(MAX_RESTARTS + 2):  # the run crashes again after each restart
        orchestrator.states[crashed] = RunState("CRASHED", "Crashed", None)
        restart_crashed_runs(app, at, orchestrator)
        restart_crashed_runs(app, at + timedelta(seconds=30), orchestrator)  # within the back-off: nothing
        at += timedelta(minutes=10)
    assert orchestrator.rescheduled == [crashed] * MAX_RESTARTS  # one crash, one restart; then it is reported
    with app.session_factory() as session:
        restarts = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "run-restarted"))
    assert restarts == MAX_RESTARTS
    orchestrator.states[crashed] = RunState("FAILED", "Failed", None)
    assert restart_crashed_runs(app, at + RESTART_WINDOW, orchestrator) == 1  # a day later it is tried again


@pytest.mark.parametrize("dead", ["FAILED", "CANCELLED", "gone"])
def test_a_failed_cancelled_or_deleted_run_is_continued_from_the_case_database(app: App, dead: str) -> None:
    run = str(uuid.uuid4())
    case_id = new_case(app, run)
    orchestrator = FakeOrchestrator({} if dead == "gone" else {run: RunState(dead, dead.title(), None)})
    assert restart_crashed_runs(app, NOW, orchestrator, gone=True) == 1
    with app.session_factory() as session:
        now_run = session.get(ReferralCase, case_id).flow_run_id  # type: ignore[union-attr]
    if dead == "gone":  # a fresh run, recorded on the case
        assert now_run != run and orchestrator.states[now_run].type == "SCHEDULED"
    else:
        assert now_run == run and orchestrator.rescheduled == [run]


def test_an_ending_recorded_but_not_begun_has_its_run_woken_by_the_timekeeper(app: App) -> None:
    from hjemtilos.cases.ending import request_ending
    from hjemtilos.timekeeper.live_runs import carry_out_endings

    run = str(uuid.uuid4())
    case_id = new_case(app, run)
    orchestrator = FakeOrchestrator({run: RunState("PAUSED", "Suspended", "timer-child-visit-r0")})
    with app.session_factory() as session:
        reference = session.get(ReferralCase, case_id).reference  # type: ignore[union-attr]
    request_ending(app, reference, ended_by=EndedBy.PARENTS, reason="flytning", rematch=False, actor="liv", now=NOW)
    assert carry_out_endings(app, NOW + timedelta(seconds=5), orchestrator) == 0  # the workspace's wake comes first
    assert carry_out_endings(app, NOW + timedelta(seconds=30), orchestrator) == 1  # a lost wake: woken here
    assert orchestrator.rescheduled == [run]


def test_every_familys_screening_reminder_is_its_own_mail(app: App) -> None:
    import json

    from casework.families import FamilyRegistration
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.volunteers import FamilyStep, prepare_family_approval, register_family

    registration = FamilyRegistration.model_validate(json.loads((EXAMPLES / "family-holm.json").read_text()))
    families = []
    for _ in range(3):
        with app.session_factory.begin() as session:
            families.append(register_family(session, registration, NOW).family_id)
    for family_id in families[:2]:
        prepare_family_approval(app, family_id, FamilyStep.HOME_VISIT, NOW)
    prepare_family_approval(app, families[2], FamilyStep.FAMILY_APPROVAL, NOW)
    due = app.profile.timings.screening_reminder_after.after(NOW) + timedelta(seconds=1)
    assert send_reminders(app, due) == (3, 3)  # 14 days: reminder and escalation fall due together
    with app.session_factory() as session:
        mails = session.scalars(select(OutboxMail).where(OutboxMail.case_id.is_(None))).all()
    # the two home visits remind the coordinator once each; the third family gets its e-learning reminder and the
    # coordinator its certificates reminder
    assert Counter(m.template for m in mails) == Counter({"coordinator-reminder": 2, "volunteer-elearning-reminder": 1,
                                                          "volunteer-certificates-reminder": 1,
                                                          "coordinator-escalation": 3})


def test_supervision_invitation_never_names_a_session_that_is_over(app: App) -> None:
    from casework.steps import MatchStatus
    from hjemtilos.db.models import Match, VolunteerFamily
    from hjemtilos.volunteers import send_supervision_invitations, supervision_round

    case_id = new_case(app)
    with app.session_factory.begin() as session:
        family = VolunteerFamily(name="Familien Holm", email="holm@example.dk", local_area="Nørrebro",
                                 languages=["da"], capacity=1, status="approved", created_at=NOW)
        session.add(family)
        session.flush()
        session.add(Match(case_id=case_id, family_id=family.id, attempt=1, status=MatchStatus.ACTIVE, proposed_at=NOW))
    _, start = supervision_round(app.profile.timings.supervision_every, NOW)
    late = start + timedelta(days=20)  # the tick first notices this round after its session (day 14)
    assert send_supervision_invitations(app, late) == 1
    next_round = app.profile.timings.supervision_every.after(start) + timedelta(hours=1)
    assert send_supervision_invitations(app, next_round) == 0  # the invitation already sent is for this round
    with app.session_factory() as session:
        mail = session.scalars(select(OutboxMail).where(OutboxMail.template == "supervision-invitation")).one()
    assert "kl." in mail.body_text
    session_day = (app.profile.timings.supervision_every.after(start) + timedelta(days=14)).day
    assert f"{session_day}." in mail.subject + mail.body_text


def test_after_a_downtime_the_tick_that_resumes_a_late_timer_does_not_report_it_stuck(app: App) -> None:
    from hjemtilos.db.models import Timer
    from hjemtilos.timekeeper.timekeeping import tick

    run_id = str(uuid.uuid4())
    case_id = new_case(app, run_id, now=NOW - timedelta(days=200))
    with app.session_factory.begin() as session:  # the timer came due a month ago while everything was down
        session.add(Timer(case_id=case_id, key="timer-child-visit-1", step="child-visit", round=1,
                          due_at=NOW - timedelta(days=30), created_at=NOW - timedelta(days=150)))
    orchestrator = FakeOrchestrator({run_id: RunState("PAUSED", "Suspended", "timer-child-visit-1-r1",
                                                      NOW - timedelta(days=150))})
    report = tick(app, NOW, orchestrator, deliver=False)
    assert report.runs_resumed == 1 and orchestrator.resumed == [run_id]
    assert report.stuck == [] and report.new_stuck == 0
    with app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.template == "stuck-case-alert")) == 0


def test_a_run_waiting_without_its_form_is_made_to_ask_again_within_a_tick(app: App) -> None:
    from hjemtilos.orchestration import FormStatus
    from hjemtilos.timekeeper.form_repair import ASKED_AGAIN, repair_missing_forms

    run_id = str(uuid.uuid4())
    case_id = new_case(app, run_id)
    open_task(app, case_id, NOW)
    orchestrator = FakeOrchestrator({run_id: RunState("PAUSED", "Suspended", "approval-screening-r1", NOW)},
                                    forms={(run_id, "approval-screening-r1"): FormStatus.MISSING})
    assert repair_missing_forms(app, NOW, orchestrator) == 1
    assert orchestrator.rescheduled == [run_id]
    with app.session_factory() as session:
        task = session.scalars(select(HumanTask)).one()
        assert (task.round, task.last_error, task.completed_at) == (2, ASKED_AGAIN, None)
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "form-missing")) == 1
    # the run suspends again under round 2, with its form: checked once, then left alone
    assert repair_missing_forms(app, NOW, orchestrator) == 0  # not waiting on r2 yet
    orchestrator.forms[(run_id, "approval-screening-r2")] = FormStatus.STORED
    assert repair_missing_forms(app, NOW, orchestrator) == 0
    checks = len(orchestrator.form_checks)
    assert repair_missing_forms(app, NOW, orchestrator) == 0 and len(orchestrator.form_checks) == checks
    with app.session_factory() as session:
        assert session.scalars(select(HumanTask.form_checked_round)).one() == 2


def test_a_repair_cut_short_by_a_crash_is_finished_by_the_next_tick(app: App) -> None:
    from hjemtilos.orchestration import FormStatus
    from hjemtilos.timekeeper.form_repair import repair_missing_forms

    run_id = str(uuid.uuid4())
    case_id = new_case(app, run_id)
    open_task(app, case_id, NOW)
    with app.session_factory.begin() as session:  # round 1 was skipped; the process died before the reschedule
        session.scalars(select(HumanTask)).one().round = 2
    orchestrator = FakeOrchestrator({run_id: RunState("PAUSED", "Suspended", "approval-screening-r1", NOW)},
                                    forms={(run_id, "approval-screening-r2"): FormStatus.EARLIER_ROUND})
    assert repair_missing_forms(app, NOW, orchestrator) == 1
    assert orchestrator.rescheduled == [run_id]
    with app.session_factory() as session:
        assert session.scalars(select(HumanTask.round)).one() == 2  # no round skipped twice


def test_answers_a_crash_left_in_prefect_are_swept_once_per_finished_approval(app: App) -> None:
    from hjemtilos.timekeeper.answer_sweep import sweep_answers

    run_id = str(uuid.uuid4())
    case_id = new_case(app, run_id)
    open_task(app, case_id, NOW)
    orchestrator = FakeOrchestrator()
    assert sweep_answers(app, orchestrator) == 0  # an open approval keeps its form
    with app.session_factory.begin() as session:
        task = session.scalars(select(HumanTask)).one()
        task.round, task.completed_at, task.outcome = 2, NOW, "approved"  # answered in round 2, never forgotten
    assert sweep_answers(app, orchestrator) == 1
    assert orchestrator.forgotten == [(run_id, "approval-screening-r1"), (run_id, "approval-screening-r2")]
    assert sweep_answers(app, orchestrator) == 0 and len(orchestrator.forgotten) == 2  # once
    with app.session_factory() as session:
        assert session.scalars(select(HumanTask.answers_forgotten_round)).one() == 2


def test_a_reminder_queued_during_an_smtp_outage_is_dropped_once_its_task_is_done(app: App, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from casework.steps import MailStatus
    from hjemtilos.mail.sender import deliver_pending
    from tests.integration.test_mail_delivery import smtp_for

    case_id, other = new_case(app), new_case(app)
    open_task(app, case_id, NOW - timedelta(days=8))
    open_task(app, other, NOW - timedelta(days=8))
    assert send_reminders(app, NOW) == (2, 0)  # queued; SMTP is away
    with app.session_factory.begin() as session:  # the coordinator answers the first case's step meanwhile
        task = session.scalars(select(HumanTask).where(HumanTask.case_id == case_id)).one()
        task.completed_at, task.outcome = NOW + timedelta(minutes=5), "approved"
    deliver_pending(app.session_factory, smtp_for(smtp_server.port), NOW + timedelta(minutes=10))
    with app.session_factory() as session:
        rows = dict(session.execute(select(OutboxMail.case_id, OutboxMail.status).where(
            OutboxMail.template == "coordinator-reminder")).tuples().all())
    assert rows == {case_id: MailStatus.DROPPED, other: MailStatus.SENT}
    assert [r.message["X-Hjemtilos-Template"] for r in smtp_server.received].count("coordinator-reminder") == 1


def test_no_reminders_for_a_task_nobody_can_answer(app: App) -> None:
    from hjemtilos.db.models import StuckCase

    stuck, fine = new_case(app), new_case(app)
    open_task(app, stuck, NOW - timedelta(days=15))
    open_task(app, fine, NOW - timedelta(days=15))
    with app.session_factory.begin() as session:  # its run is dead and could not be continued: reported
        session.add(StuckCase(case_id=stuck, reason="run-failed", since=NOW - timedelta(days=3),
                              first_seen_at=NOW - timedelta(days=1)))
    assert send_reminders(app, NOW) == (1, 1)
    with app.session_factory() as session:
        reminded = set(session.scalars(select(OutboxMail.case_id).where(
            OutboxMail.template.in_(("coordinator-reminder", "coordinator-escalation")))))
    assert reminded == {fine}
