"""One case from referral to farewell with real programme durations (the production profile), on a real Prefect
server: the programme's clock is synthetic and jumps to each due date, the timekeeper's tick resumes the run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from casework.clock import at_local, local_date
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, CaseVisit, ConsentReceipt, HumanTask, Match, OutboxMail, ReferralCase, Timer
from tests.flows.driving import SyntheticClock, add_family, jump_to_next_due, start_case
from tests.support import SmtpServer, case_app


@pytest.fixture
def production_app(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                   smtp_server: SmtpServer) -> Iterator[App]:
    from tasks.runtime import get_app

    application = case_app(tmp_path, monkeypatch, smtp_server.port, HJEMTILOS_PROFILE="production")
    yield application
    get_app.cache_clear()
    application.engine.dispose()


def test_referral_to_farewell(production_app: App, smtp_server, synthetic_clock: SyntheticClock) -> None:  # type: ignore[no-untyped-def]
    app, clock = production_app, synthetic_clock
    family_id = add_family(app, name="Familien Holm", local_area="Nørrebro")
    other_id = add_family(app, name="Familien Berg", local_area="Valby")
    case_id, reference, case = start_case(app, "referral-standard.json")
    today = local_date(clock()).isoformat()

    assert case.run() == "approval-screening-r1"
    description = case.description()
    assert reference in description and "Sofie" not in description and "Maria" not in description

    # consent: one of two forms first, then the other
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert case.answer({"parent_1_bbu": today}) == "approval-consent-r2"
    partly = case.description()
    assert "**Dit svar er registreret:** Registreret: forælder 1 (BBU)" in partly
    assert "mangler stadig: forælder 1 (Red Barnet)" in partly and "ikke godkendt" not in partly
    assert case.answer({"parent_1_redbarnet": today}) == "approval-match-proposal-1-r1"

    # the proposal form offers the approved families, the local one first with its reasons
    description = case.description()
    assert description.index("VF-%04d" % family_id) < description.index("VF-%04d" % other_id)
    assert "samme bydel (Nørrebro)" in description
    assert case.answer({"family": "VF-%04d" % family_id}) == "approval-family-answer-1-r1"
    assert case.answer({"family_answer": "ja"}) == "approval-match-answers-1-r1"
    assert case.answer({"parents_answer": "ja"}) == "approval-first-meeting-plan-1-r1"
    meeting_day = local_date(clock() + timedelta(days=1))  # a first meeting lies ahead
    assert case.answer({"meeting_on": meeting_day.isoformat(), "meeting_clock": "16:00"}) \
        == "approval-first-meeting-1-r1"
    key = case.answer({"weekday": "onsdag", "brings": "forælder/kontaktperson",
                       "fetches": "venskabsfamilien"})
    assert key == "timer-first-visit-followup-1-r1"
    with app.session_factory() as session:
        started = session.scalars(select(Match)).one().started_at
    # the year counts from the week after the meeting (the start date left as prefilled), not from the answer
    assert started == at_local(meeting_day, time(16, 0)) + timedelta(days=7)

    assert jump_to_next_due(app, case, clock) == "approval-first-visit-followup-1-r1"
    assert case.answer({"call_held_on": local_date(clock()).isoformat()}) \
        == "timer-child-visit-1-r1"
    assert jump_to_next_due(app, case, clock) == "approval-child-visit-1-r1"
    assert local_date(clock()) >= local_date(started + timedelta(days=118))  # about four months in
    assert case.answer({"visit_held_on": local_date(clock()).isoformat(), "how_it_goes": "godt"}) \
        == "timer-future-agreement-1-r1"
    assert jump_to_next_due(app, case, clock) == "approval-future-agreement-1-r1"
    assert case.answer({"continuation": "fortsætter ugentligt"}) == "timer-farewell-1-r1"
    assert jump_to_next_due(app, case, clock) == "done"
    assert timedelta(days=365) <= clock() - started <= timedelta(days=367)

    with app.session_factory() as session:
        stored = session.get(ReferralCase, case_id)
        assert (stored.status, stored.current_step) == ("closed", "closed")
        match = session.scalars(select(Match)).one()
        assert (match.status, match.weekday, match.family_id, match.continuation) == \
            ("completed", "onsdag", family_id, "weekly")
        assert {(r.form, r.received_on.isoformat()) for r in session.scalars(select(ConsentReceipt))} == \
            {("bbu", today), ("redbarnet", today)}
        assert sorted((v.kind, v.assessment) for v in session.scalars(select(CaseVisit))) == \
            [("child-visit", "good"), ("first-visit-call", None)]
        tasks = {t.key: t.outcome for t in session.scalars(select(HumanTask))}
        assert tasks == {
            "approval-screening": "approved", "approval-consent": "received",
            "approval-match-proposal-1": "proposed", "approval-family-answer-1": "accepted",
            "approval-match-answers-1": "agreed",
            "approval-first-meeting-plan-1": "planned", "approval-first-meeting-1": "recorded",
            "approval-first-visit-followup-1": "held", "approval-child-visit-1": "held",
            "approval-future-agreement-1": "weekly",
        }
        assert all(t.consumed_at is not None for t in session.scalars(select(Timer)))
        actions = [a.action for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions[0] == "case-registered" and actions[-1] == "case-closed"
        assert actions.count("task-completed") == 10
        assert actions.count("timer-passed") == 4
        decided = {a.actor for a in session.scalars(select(AuditEvent).where(AuditEvent.action == "task-completed"))}
        assert decided == {"prefect-api"}  # resumed with Prefect's credentials, not through the front door
        outbox = session.scalars(select(OutboxMail)).all()
        assert all(m.status == "sent" for m in outbox)
        rounds = session.scalars(select(AuditEvent.step).where(AuditEvent.action == "supervision-invited")).all()

    received = Counter((r.message["X-Hjemtilos-Template"], r.rcpt_tos[0]) for r in smtp_server.received)
    # group supervision every 2 months while the match is active: once per round the timekeeper saw
    assert len(rounds) == len(set(rounds)) == 4
    assert received.pop(("supervision-invitation", "holm@example.dk")) == len(rounds)
    assert received == Counter({
        ("referral-receipt", "jonas.berg@bbu.kk.dk"): 1,
        ("consent-request", "maria.hansen@example.dk"): 1,
        ("match-proposal-family", "holm@example.dk"): 1,
        ("match-proposal-parents", "maria.hansen@example.dk"): 1,
        ("match-agreed", "jonas.berg@bbu.kk.dk"): 1,
        ("first-meeting-invitation", "holm@example.dk"): 1,
        ("first-meeting-invitation", "maria.hansen@example.dk"): 1,
        ("first-visit-followup", "koordinator@redbarnet.dk"): 1,
        ("child-visit-notice", "maria.hansen@example.dk"): 1,
        ("future-agreement-request", "holm@example.dk"): 1,
        ("future-agreement-request", "maria.hansen@example.dk"): 1,
        ("farewell-family", "holm@example.dk"): 1,
        ("farewell-parents", "maria.hansen@example.dk"): 1,
        ("course-ended", "jonas.berg@bbu.kk.dk"): 1,
    })
