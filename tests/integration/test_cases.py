"""Every case handler through the service layer (no Prefect), on SQLite and PostgreSQL, each test rolled back."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from casework.clock import local_date
from casework.steps import ApprovalKind, CaseStatus, EndedBy, MatchStatus, Step, TimerKind, VisitKind
from hjemtilos import cases
from hjemtilos.app import App
from hjemtilos.cases.handler import FormSpec
from hjemtilos.db.models import (
    AuditEvent,
    CaseVisit,
    ConsentReceipt,
    HumanTask,
    Match,
    OutboxMail,
    ReferralCase,
    VolunteerFamily,
)
from tests.support import NOW, new_case

TODAY = local_date(NOW).isoformat()
STANDARD_ANSWERS: dict[ApprovalKind, dict[str, Any]] = {
    ApprovalKind.SCREENING: {"decision": "godkend"},
    ApprovalKind.CONSENT: {"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY},
    ApprovalKind.FAMILY_ANSWER: {"family_answer": "ja"},
    ApprovalKind.MATCH_ANSWERS: {"parents_answer": "ja"},
    ApprovalKind.FIRST_MEETING_PLAN: {"meeting_on": "2026-12-01", "meeting_clock": "16:00"},
    ApprovalKind.FIRST_MEETING: {"weekday": "onsdag", "brings": "venskabsfamilien", "fetches": "venskabsfamilien"},
}


def add_family(app: App, name: str = "Familien Holm", capacity: int = 1, area: str = "Nørrebro") -> int:
    with app.session_factory.begin() as session:
        family = VolunteerFamily(name=name, email=f"{name.split()[-1].lower()}@example.dk", local_area=area,
                                 address=f"{name}s vej 1", languages=["da"], capacity=capacity,
                                 status="approved", approved_at=NOW, created_at=NOW)
        session.add(family)
        session.flush()
        return family.id


def view(app: App, case_id: int, kind: ApprovalKind, scope: int | None = None,
         now: datetime = NOW) -> cases.ApprovalView:
    return cases.prepare_approval(app, case_id, kind, scope, now)


def answer(app: App, case_id: int, kind: ApprovalKind, data: dict[str, Any], scope: int | None = None,
           now: datetime = NOW, round_: int | None = None) -> cases.SubmitResult:
    """Open the step (if needed), build its answer model as the Resume form would, and submit."""
    current = view(app, case_id, kind, scope, now)
    model = cases.handler_for(kind).answer_model(current.form)
    typed = model.model_validate({**data})
    return cases.submit_approval(app, case_id, kind, scope, round_ or current.state.round, typed, now)


def to_matching(app: App, case_id: int) -> None:
    assert answer(app, case_id, ApprovalKind.SCREENING, STANDARD_ANSWERS[ApprovalKind.SCREENING]).accepted
    assert answer(app, case_id, ApprovalKind.CONSENT, STANDARD_ANSWERS[ApprovalKind.CONSENT]).accepted


def to_active(app: App, case_id: int, family_id: int, attempt: int = 1) -> None:
    assert cases.prepare_family_wait(app, case_id, attempt, NOW).state.passed
    assert answer(app, case_id, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % family_id}, attempt).accepted
    for kind in (ApprovalKind.FAMILY_ANSWER, ApprovalKind.MATCH_ANSWERS, ApprovalKind.FIRST_MEETING_PLAN,
                 ApprovalKind.FIRST_MEETING):
        assert answer(app, case_id, kind, STANDARD_ANSWERS[kind], attempt).accepted


def mails(app: App, case_id: int) -> list[str]:
    with app.session_factory() as session:
        return list(session.scalars(select(OutboxMail.template).where(OutboxMail.case_id == case_id)
                                    .order_by(OutboxMail.id)))


def task_of(app: App, case_id: int, key: str) -> HumanTask:
    with app.session_factory() as session:
        task = session.scalar(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.key == key))
        assert task is not None
        return task


def test_screening_more_information_mails_the_referrer_and_opens_a_new_round(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    result = answer(rollback_app, case_id, ApprovalKind.SCREENING,
                    {"decision": "mere information", "reason": "Hvor går barnet i skole?"})
    assert not result.accepted
    assert "Venter på flere oplysninger" in view(rollback_app, case_id, ApprovalKind.SCREENING).description
    task = task_of(rollback_app, case_id, "approval-screening")
    assert task.round == 2 and task.completed_at is None and "Venter på flere oplysninger" in (task.last_error or "")
    assert mails(rollback_app, case_id) == ["referral-receipt", "more-information-request"]
    # the next round's decision is taken; the question is not asked twice
    assert answer(rollback_app, case_id, ApprovalKind.SCREENING, {"decision": "godkend"}).outcome == "approved"
    assert mails(rollback_app, case_id).count("more-information-request") == 1


def test_rejection_needs_a_reason_and_leaves_nothing_of_the_refused_answer(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    result = answer(rollback_app, case_id, ApprovalKind.SCREENING, {"decision": "afvis"})
    assert not result.accepted and result.error == "Skriv en begrundelse, når henvisningen afvises."
    with rollback_app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None and case.status is CaseStatus.SCREENING
    assert answer(rollback_app, case_id, ApprovalKind.SCREENING,
                  {"decision": "afvis", "reason": "Uden for målgruppen."}).outcome == "rejected"
    assert mails(rollback_app, case_id)[-1] == "referral-rejected"


def test_consent_date_in_the_future_is_refused_and_nothing_is_recorded(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    assert answer(rollback_app, case_id, ApprovalKind.SCREENING, {"decision": "godkend"}).accepted
    tomorrow = (local_date(NOW) + timedelta(days=1)).isoformat()
    result = answer(rollback_app, case_id, ApprovalKind.CONSENT, {"parent_1_bbu": TODAY, "parent_1_redbarnet": tomorrow})
    assert not result.accepted and "forælder 1 (Red Barnet)" in (result.error or "")
    with rollback_app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ConsentReceipt)) == 0


def test_partial_consent_is_kept_as_rows_and_the_rest_is_asked_for(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    assert answer(rollback_app, case_id, ApprovalKind.SCREENING, {"decision": "godkend"}).accepted
    result = answer(rollback_app, case_id, ApprovalKind.CONSENT, {"parent_1_bbu": TODAY})
    day = local_date(NOW).strftime("%d.%m.%Y")
    assert not result.accepted
    assert result.error == f"Registreret: forælder 1 (BBU) {day} – mangler stadig: forælder 1 (Red Barnet)."
    again = view(rollback_app, case_id, ApprovalKind.CONSENT)
    assert "Allerede registreret: forælder 1 (BBU)" in again.description
    fields = cases.handler_for(ApprovalKind.CONSENT).answer_model(again.form).model_fields
    assert [name for name in fields if name.startswith("parent_")] == ["parent_1_redbarnet"]  # only what is missing
    assert answer(rollback_app, case_id, ApprovalKind.CONSENT, {"parent_1_redbarnet": TODAY}).outcome == "received"
    with rollback_app.session_factory() as session:
        rows = {(r.form.value, r.received_on) for r in session.scalars(select(ConsentReceipt))}
    assert rows == {("bbu", local_date(NOW)), ("redbarnet", local_date(NOW))}


def test_match_choice_not_offered_is_refused(rollback_app: App) -> None:
    family = add_family(rollback_app)
    other = add_family(rollback_app, "Familien Berg")
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    current = view(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, 1)
    assert set(current.form.choices) == {"VF-%04d" % family, "VF-%04d" % other}
    handler = cases.handler_for(ApprovalKind.MATCH_PROPOSAL)
    with pytest.raises(ValidationError):  # the form itself offers only the candidates
        handler.answer_model(current.form).model_validate({"family": "VF-9999"})
    # an answer built for other choices (a stale form) is refused by the handler
    stale = handler.answer_model(FormSpec(ApprovalKind.MATCH_PROPOSAL, choices=("VF-9999",)))
    result = cases.submit_approval(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, 1, current.state.round,
                                   stale.model_validate({"family": "VF-9999"}), NOW)
    assert not result.accepted and result.error == "Vælg en af de foreslåede familier."


@pytest.mark.parametrize(("kind", "data", "missing"), [
    (ApprovalKind.FIRST_MEETING_PLAN, {"meeting_clock": "16:00"}, "meeting_on"),
    (ApprovalKind.FIRST_MEETING_PLAN, {"meeting_on": "2026-12-01"}, "meeting_clock"),
    (ApprovalKind.FIRST_MEETING, {"brings": "venskabsfamilien", "fetches": "venskabsfamilien"}, "weekday"),
    (ApprovalKind.FUTURE_AGREEMENT, {}, "continuation"),
    (ApprovalKind.CHILD_VISIT, {"how_it_goes": "godt"}, "visit_held_on"),
])
def test_required_fields_are_required_by_the_form(kind: ApprovalKind, data: dict[str, Any], missing: str) -> None:
    model = cases.handler_for(kind).answer_model(FormSpec(kind))
    assert missing in model.model_json_schema()["required"]
    with pytest.raises(ValidationError) as error:
        model.model_validate({**data})
    assert error.value.errors()[0]["loc"] == (missing,)


def test_stale_round_and_repeated_submit_change_nothing(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    current = view(rollback_app, case_id, ApprovalKind.SCREENING)
    model = cases.handler_for(ApprovalKind.SCREENING).answer_model(current.form)
    approve = model.model_validate({"decision": "godkend"})
    stale = cases.submit_approval(rollback_app, case_id, ApprovalKind.SCREENING, None, current.state.round + 1,
                                  approve, NOW)
    assert not stale.accepted and task_of(rollback_app, case_id, "approval-screening").completed_at is None
    first = cases.submit_approval(rollback_app, case_id, ApprovalKind.SCREENING, None, current.state.round, approve, NOW)
    again = cases.submit_approval(rollback_app, case_id, ApprovalKind.SCREENING, None, current.state.round,
                                  model.model_validate({"decision": "afvis", "reason": "x"}),
                                  NOW + timedelta(hours=1))
    assert first == again == cases.SubmitResult(True, "approved", None)
    with rollback_app.session_factory() as session:
        completed = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "task-completed")).all()
    assert completed == ["prefect-api"]  # no one resumed through the front door


def test_resumed_without_input_asks_again_under_the_next_round(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    first = view(rollback_app, case_id, ApprovalKind.SCREENING)
    cases.skip_round(rollback_app, case_id, ApprovalKind.SCREENING, None, first.state.round, NOW)
    cases.skip_round(rollback_app, case_id, ApprovalKind.SCREENING, None, first.state.round, NOW)  # once only
    second = view(rollback_app, case_id, ApprovalKind.SCREENING)
    assert second.state.round == first.state.round + 1
    assert second.state.suspend_key == "approval-screening-r2"
    assert "Formularen kom ikke med" in second.description


def test_family_at_capacity_is_not_offered_to_a_second_case(rollback_app: App) -> None:
    family = add_family(rollback_app, capacity=1)
    first, second = new_case(rollback_app), new_case(rollback_app)
    for case_id in (first, second):
        to_matching(rollback_app, case_id)
    assert cases.prepare_family_wait(rollback_app, first, 1, NOW).state.passed
    assert answer(rollback_app, first, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % family}, 1).accepted
    wait = cases.prepare_family_wait(rollback_app, second, 1, NOW)
    assert not wait.state.passed and wait.state.suspend_key == "wait-family-1-r1"
    with rollback_app.session_factory() as session:
        case = session.get(ReferralCase, second)
        assert case is not None and case.current_step == Step.AWAITING_FAMILY


def test_declined_proposal_goes_to_the_next_attempt_without_that_family(rollback_app: App) -> None:
    holm, berg = add_family(rollback_app), add_family(rollback_app, "Familien Berg", area="Valby")
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    cases.prepare_family_wait(rollback_app, case_id, 1, NOW)
    assert answer(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % holm}, 1).accepted
    refused = answer(rollback_app, case_id, ApprovalKind.FAMILY_ANSWER, {"family_answer": "nej"}, 1)
    assert not refused.accepted and "begrundelse" in (refused.error or "")  # a "nej" needs its reason
    assert answer(rollback_app, case_id, ApprovalKind.FAMILY_ANSWER,
                  {"family_answer": "nej", "reason": "Har ikke tid i år."}, 1).outcome == "declined"
    assert "match-proposal-parents" not in mails(rollback_app, case_id)  # the parents never heard of that family
    assert cases.case_info(rollback_app, case_id).match_attempt == 2
    assert view(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, 2).form.choices == ("VF-%04d" % berg,)


@pytest.mark.parametrize("clock", ["25:00", "16", "4 pm", "16:60"])
def test_a_meeting_clock_that_is_no_time_is_refused_by_the_form(clock: str) -> None:
    model = cases.handler_for(ApprovalKind.FIRST_MEETING_PLAN).answer_model(FormSpec(ApprovalKind.FIRST_MEETING_PLAN))
    with pytest.raises(ValidationError):
        model.model_validate({"meeting_on": "2026-12-01", "meeting_clock": clock})


@pytest.mark.parametrize(("day", "clock", "utc"), [("2026-12-01", "16:00", "15:00"), ("2027-06-01", "16.30", "14:30")])
def test_the_meeting_clock_is_copenhagen_time_in_winter_and_summer(day: str, clock: str, utc: str) -> None:
    from hjemtilos.cases.meeting import FirstMeetingPlanAnswer

    answer = FirstMeetingPlanAnswer.model_validate({"meeting_on": day, "meeting_clock": clock})
    assert answer.meeting_time.astimezone(NOW.tzinfo) == datetime.fromisoformat(f"{day}T{utc}:00+00:00")


def _to_meeting_plan(app: App) -> int:
    family = add_family(app)
    case_id = new_case(app)
    to_matching(app, case_id)
    cases.prepare_family_wait(app, case_id, 1, NOW)
    assert answer(app, case_id, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % family}, 1).accepted
    for kind in (ApprovalKind.FAMILY_ANSWER, ApprovalKind.MATCH_ANSWERS):
        assert answer(app, case_id, kind, STANDARD_ANSWERS[kind], 1).accepted
    return case_id


def test_first_meeting_time_is_copenhagen_time_and_visits_start_a_week_later(rollback_app: App) -> None:
    case_id = _to_meeting_plan(rollback_app)
    assert answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING_PLAN,
                  {"meeting_on": "2026-12-01", "meeting_clock": "16:00"}, 1).accepted
    current = view(rollback_app, case_id, ApprovalKind.FIRST_MEETING, 1)
    assert current.initial == {"start_date": date(2026, 12, 8)}
    assert "Det første møde: 01.12.2026 kl. 16.00 (dansk tid)." in current.description
    assert answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING, STANDARD_ANSWERS[ApprovalKind.FIRST_MEETING],
                  1).accepted
    with rollback_app.session_factory() as session:
        match = session.scalars(select(Match)).one()
        assert match.first_meeting_at == datetime.fromisoformat("2026-12-01T15:00:00+00:00")
        # the year counts from the week after the meeting (the start date left as prefilled), not from the answer
        assert match.status is MatchStatus.ACTIVE and match.started_at == match.first_meeting_at + timedelta(days=7)


@pytest.mark.parametrize("clock", ["09:59", "08:00"])  # NOW is 10:00 in Copenhagen
def test_a_first_meeting_that_has_passed_is_refused_and_nobody_is_invited(rollback_app: App, clock: str) -> None:
    case_id = _to_meeting_plan(rollback_app)
    today = local_date(NOW).isoformat()
    refused = answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING_PLAN, {"meeting_on": today, "meeting_clock": clock},
                     1)
    assert not refused.accepted and refused.error and "Det første møde skal ligge forude" in refused.error
    assert "Ingen invitation er sendt" in view(rollback_app, case_id, ApprovalKind.FIRST_MEETING_PLAN, 1).description
    too_far = answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING_PLAN,
                     {"meeting_on": "2028-01-10", "meeting_clock": "16:00"}, 1)
    assert not too_far.accepted and too_far.error and "mere end et år forude" in too_far.error
    with rollback_app.session_factory() as session:
        assert session.scalars(select(Match.first_meeting_at)).one() is None
        assert not session.scalars(select(OutboxMail).where(OutboxMail.template == "first-meeting-invitation")).all()
    assert answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING_PLAN,
                  {"meeting_on": today, "meeting_clock": "10:01"}, 1).accepted  # a minute ahead is fine


def test_the_year_counts_from_the_start_date_typed_even_when_it_has_passed(rollback_app: App) -> None:
    case_id = _to_meeting_plan(rollback_app)
    assert answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING_PLAN,
                  {"meeting_on": "2026-12-01", "meeting_clock": "16:00"}, 1).accepted
    later = datetime.fromisoformat("2026-12-20T09:00:00+00:00")  # the form is answered weeks after the meeting
    base = STANDARD_ANSWERS[ApprovalKind.FIRST_MEETING]
    for wrong in ("2026-11-30", "2027-02-01"):  # before the meeting, and more than 8 weeks after it
        refused = answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING, {**base, "start_date": wrong}, 1, now=later)
        assert not refused.accepted and refused.error and "inden for 8 uger" in refused.error
    assert answer(rollback_app, case_id, ApprovalKind.FIRST_MEETING, {**base, "start_date": "2026-12-03"}, 1,
                  now=later).accepted
    with rollback_app.session_factory() as session:
        match = session.scalars(select(Match)).one()
        assert match.start_date == date(2026, 12, 3)
        assert match.started_at == datetime.fromisoformat("2026-12-03T15:00:00+00:00")  # at the meeting's hour
    child_visit = cases.prepare_timer(rollback_app, case_id, TimerKind.CHILD_VISIT, 1, later)
    assert local_date(child_visit.state.due_at) == date(2027, 4, 3)  # four months from 3 December, not from the answer


def test_child_visit_concern_opens_a_followup_with_reminders(rollback_app: App) -> None:
    family = add_family(rollback_app)
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    to_active(rollback_app, case_id, family)
    result = answer(rollback_app, case_id, ApprovalKind.CHILD_VISIT,
                    {"visit_held_on": TODAY, "how_it_goes": "bekymring: følg op"}, 1)
    assert result.outcome == "concern"
    followup = view(rollback_app, case_id, ApprovalKind.CONCERN_FOLLOWUP, 1)
    assert followup.state.suspend_key == "approval-concern-followup-1-r1" and "bekymring" in followup.description
    task = task_of(rollback_app, case_id, "approval-concern-followup-1")
    assert task.reminder_at == NOW + timedelta(days=7) and task.escalation_at == NOW + timedelta(days=14)
    from hjemtilos.timekeeper.timekeeping import send_reminders

    assert send_reminders(rollback_app, NOW + timedelta(days=8)) == (1, 0)
    assert answer(rollback_app, case_id, ApprovalKind.CONCERN_FOLLOWUP,
                  {"followed_up_on": TODAY, "result": "bekymringen er afklaret"}, 1).outcome == "held"
    with rollback_app.session_factory() as session:
        visits = {(v.kind, v.assessment) for v in session.scalars(select(CaseVisit))}
    assert (VisitKind.CHILD_VISIT, "concern") in visits and (VisitKind.CONCERN_FOLLOWUP, "resolved") in visits


def test_future_agreement_is_stored_on_the_match(rollback_app: App) -> None:
    family = add_family(rollback_app)
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    to_active(rollback_app, case_id, family)
    assert answer(rollback_app, case_id, ApprovalKind.FUTURE_AGREEMENT, {"continuation": "stopper efter året"},
                  1).outcome == "stops"
    with rollback_app.session_factory() as session:
        assert session.scalars(select(Match.continuation)).one() == "stops"


def test_timer_waits_until_due_then_passes_once(rollback_app: App) -> None:
    family = add_family(rollback_app)
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    to_active(rollback_app, case_id, family)
    waiting = cases.prepare_timer(rollback_app, case_id, TimerKind.CHILD_VISIT, 1, NOW)
    assert not waiting.state.passed and waiting.state.suspend_key == "timer-child-visit-1-r1"
    due = waiting.state.due_at
    # four calendar months after the start (a week after the 16:00 meeting of 1 December) on the Copenhagen
    # clock: 16:00 winter time, 16:00 summer time
    assert due == datetime(2027, 4, 8, 14, 0, tzinfo=NOW.tzinfo)
    assert cases.prepare_timer(rollback_app, case_id, TimerKind.CHILD_VISIT, 1, due).state.passed
    assert cases.prepare_timer(rollback_app, case_id, TimerKind.CHILD_VISIT, 1, NOW).state.passed  # consumed
    with rollback_app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "timer-passed")) == 1


def test_ending_a_closed_case_and_ending_twice_are_refused(rollback_app: App) -> None:
    case_id = new_case(rollback_app)
    with rollback_app.session_factory() as session:
        reference = session.get(ReferralCase, case_id).reference  # type: ignore[union-attr]
    cases.request_ending(rollback_app, reference, ended_by=EndedBy.PARENTS, reason="flytning", rematch=False,
                         actor="KH", now=NOW)
    with pytest.raises(cases.InvalidRequest, match="er allerede ved at blive afsluttet"):
        cases.request_ending(rollback_app, reference, ended_by=EndedBy.PARENTS, reason="flytning", rematch=False,
                             actor="KH", now=NOW)
    plan = cases.begin_ending(rollback_app, case_id, NOW)
    assert plan is not None and not plan.extra_child_visit
    assert cases.finish_ending(rollback_app, case_id, plan.ending_id, NOW) == "closed"
    with pytest.raises(cases.InvalidRequest, match="er allerede afsluttet"):
        cases.request_ending(rollback_app, reference, ended_by=EndedBy.FAMILY, reason="flytning", rematch=True,
                             actor="KH", now=NOW)
    with pytest.raises(cases.InvalidRequest, match="Ingen sag"):
        cases.request_ending(rollback_app, "HTO-2026-9999", ended_by=EndedBy.FAMILY, reason="x", rematch=False,
                             actor="KH", now=NOW)


def test_family_ending_asks_for_the_extra_child_visit_whose_answer_decides(rollback_app: App) -> None:
    family = add_family(rollback_app)
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    to_active(rollback_app, case_id, family)
    with rollback_app.session_factory() as session:
        reference = session.get(ReferralCase, case_id).reference  # type: ignore[union-attr]
    cases.request_ending(rollback_app, reference, ended_by=EndedBy.FAMILY, reason="familiens situation",
                         rematch=True, actor="KH", now=NOW)
    assert cases.case_info(rollback_app, case_id).ending_pending
    assert cases.prepare_approval(rollback_app, case_id, ApprovalKind.CHILD_VISIT, 1, NOW).ending_pending
    plan = cases.begin_ending(rollback_app, case_id, NOW)
    assert plan is not None and plan.extra_child_visit
    assert answer(rollback_app, case_id, ApprovalKind.EXTRA_CHILD_VISIT,
                  {"visit_held_on": TODAY, "child_wants_rematch": "ja"}, plan.ending_id).outcome == "rematch"
    assert cases.finish_ending(rollback_app, case_id, plan.ending_id, NOW) == "rematch"
    info = cases.case_info(rollback_app, case_id)
    assert info.match_attempt == 2 and not info.ending_in_progress


def test_the_home_visit_form_requires_its_dates() -> None:
    from hjemtilos.volunteers.screening import HomeVisitAnswer

    assert {"home_visit_on", "interview_on", "decision"} <= set(HomeVisitAnswer.model_json_schema()["required"])
    with pytest.raises(ValidationError):
        HomeVisitAnswer.model_validate({"decision": "fortsæt screeningen"})


def test_a_family_taken_since_the_form_opened_is_refused_and_the_choices_are_renewed(rollback_app: App) -> None:
    holm = add_family(rollback_app, capacity=1)
    first, second = new_case(rollback_app), new_case(rollback_app)
    for case_id in (first, second):
        to_matching(rollback_app, case_id)
        assert cases.prepare_family_wait(rollback_app, case_id, 1, NOW).state.passed
        assert view(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, 1).form.choices == ("VF-%04d" % holm,)
    berg = add_family(rollback_app, "Familien Berg", area="Valby")  # approved after the forms opened
    assert answer(rollback_app, first, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % holm}, 1).accepted
    late = answer(rollback_app, second, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % holm}, 1)
    assert not late.accepted and "VF-%04d har ikke længere plads" % holm in (late.error or "")
    renewed = view(rollback_app, second, ApprovalKind.MATCH_PROPOSAL, 1)
    assert renewed.form.choices == ("VF-%04d" % berg,) and renewed.state.round == 2
    # an honest heading: nothing of the refused choice was recorded
    assert "Formularen blev ikke godkendt" in renewed.description
    assert "Dit svar er registreret" not in renewed.description
    with rollback_app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Match).where(Match.family_id == holm)) == 1


def test_when_nobody_has_room_any_more_the_case_waits_for_a_family_again(rollback_app: App) -> None:
    holm = add_family(rollback_app, capacity=1)
    first, second = new_case(rollback_app), new_case(rollback_app)
    for case_id in (first, second):
        to_matching(rollback_app, case_id)
        assert cases.prepare_family_wait(rollback_app, case_id, 1, NOW).state.passed
        view(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, 1)
    assert answer(rollback_app, first, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % holm}, 1).accepted
    assert answer(rollback_app, second, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % holm}, 1).outcome \
        == "no-family"
    assert cases.case_info(rollback_app, second).match_attempt == 2
    assert not cases.prepare_family_wait(rollback_app, second, 2, NOW).state.passed


def test_four_cases_choosing_one_family_at_once_fill_only_its_capacity(app: App) -> None:
    import threading

    family = add_family(app, capacity=3)
    case_ids = [new_case(app) for _ in range(4)]
    forms = []
    for case_id in case_ids:
        to_matching(app, case_id)
        assert cases.prepare_family_wait(app, case_id, 1, NOW).state.passed
        current = view(app, case_id, ApprovalKind.MATCH_PROPOSAL, 1)
        model = cases.handler_for(ApprovalKind.MATCH_PROPOSAL).answer_model(current.form)
        forms.append((case_id, current.state.round, model.model_validate({"family": "VF-%04d" % family})))
    start = threading.Barrier(len(forms))
    results: dict[int, cases.SubmitResult] = {}

    def submit(case_id: int, round_: int, typed: cases.Answer) -> None:
        start.wait()
        results[case_id] = cases.submit_approval(app, case_id, ApprovalKind.MATCH_PROPOSAL, 1, round_, typed, NOW)

    threads = [threading.Thread(target=submit, args=form) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.outcome or "refused" for r in results.values()) == ["no-family", "proposed", "proposed",
                                                                        "proposed"]
    with app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Match).where(Match.family_id == family)) == 3


def test_none_of_the_candidates_fits_waits_for_a_family_not_passed_over(rollback_app: App) -> None:
    from hjemtilos.cases.context import candidates_for
    from hjemtilos.cases.matching import NONE_FITS

    holm = add_family(rollback_app)
    case_id = new_case(rollback_app)
    to_matching(rollback_app, case_id)
    assert cases.prepare_family_wait(rollback_app, case_id, 1, NOW).state.passed
    offered = view(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, 1)
    assert offered.form.choices == ("VF-%04d" % holm,)
    refused = answer(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL, {"family": NONE_FITS}, 1)
    assert not refused.accepted and "hvorfor ingen" in (refused.error or "")
    result = answer(rollback_app, case_id, ApprovalKind.MATCH_PROPOSAL,
                    {"family": NONE_FITS, "reason": "Barnet ønsker en familie med hund."}, 1)
    assert result.outcome == "none-fits"
    with rollback_app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None and case.match_attempt == 2
        assert candidates_for(session, case, NOW) == []  # the family passed over is not offered again ...
    berg = add_family(rollback_app, "Familien Berg")
    with rollback_app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert [c.family_id for c in candidates_for(session, case, NOW)] == [berg]  # ... a new one is


def test_the_screening_description_names_no_flag_and_links_to_the_case_page(rollback_app: App) -> None:
    case_id = new_case(rollback_app, example="referral-youth-14.json")
    with rollback_app.session_factory.begin() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None and case.review_flags  # flagged for the coordinator
        case.child.concern_suicide_risk_or_self_harm = True
        case.review_flags = [*case.review_flags, "outside-target-group"]
        reference = case.reference
    description = view(rollback_app, case_id, ApprovalKind.SCREENING).description
    assert f"/arbejde/sager/{reference}" in description and "Markeret til din vurdering" in description
    for word in ("outside", "målgruppe", "ung på", "selvskade", "selvmord", "14-17", "vurdering (se henvisningen)"):
        assert word not in description, word
