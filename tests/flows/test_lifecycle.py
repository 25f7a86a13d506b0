"""One case from referral to farewell in the fast profile, on a real Prefect server."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from hjemtilos.db.models import AuditEvent, HumanTask, Match, OutboxMail, ReferralCase, Timer
from tests.flows.conftest import TODAY, add_family, now, start_case


def test_referral_to_farewell(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    family_id = add_family(app, name="Familien Holm", local_area="Nørrebro")
    other_id = add_family(app, name="Familien Berg", local_area="Valby")
    case_id, reference, case = start_case(app, "referral-standard.json")

    assert case.run() == "approval-screening-r1"
    description = case.description()
    assert reference in description and "Sofie" not in description and "Maria" not in description

    # consent: one of two forms first, then the other
    assert case.answer({"decision": "godkend", "coordinator": "KH"}) == "approval-consent-r1"
    assert case.answer({"coordinator": "KH", "parent_1_bbu": TODAY}) == "approval-consent-r2"
    assert "Mangler stadig: forælder 1 (Red Barnet)" in case.description()
    assert case.answer({"coordinator": "KH", "parent_1_redbarnet": TODAY}) == "approval-match-proposal-1-r1"

    # the proposal form offers the approved families, the local one first with its reasons
    description = case.description()
    assert description.index("VF-%04d" % family_id) < description.index("VF-%04d" % other_id)
    assert "samme bydel (Nørrebro)" in description
    assert case.answer({"coordinator": "KH", "family": "VF-%04d" % family_id}) == "approval-match-answers-1-r1"
    assert case.answer({"coordinator": "KH", "family_answer": "ja", "parents_answer": "ja"}) \
        == "approval-first-meeting-plan-1-r1"
    assert case.answer({"coordinator": "KH", "meeting_at": now().replace(microsecond=0).isoformat()}) \
        == "approval-first-meeting-1-r1"
    key = case.answer({"coordinator": "KH", "weekday": "onsdag", "brings": "forælder/kontaktperson",
                       "fetches": "venskabsfamilien"})
    assert key == "timer-first-visit-followup-1-r1"

    assert case.wait_for_timekeeper() == "approval-first-visit-followup-1-r1"
    assert case.answer({"coordinator": "KH", "call_held_on": TODAY}) == "timer-child-visit-1-r1"
    assert case.wait_for_timekeeper() == "approval-child-visit-1-r1"
    assert case.answer({"coordinator": "KH", "visit_held_on": TODAY, "how_it_goes": "godt"}) \
        == "timer-future-agreement-1-r1"
    assert case.wait_for_timekeeper() == "approval-future-agreement-1-r1"
    assert case.answer({"coordinator": "KH", "continuation": "fortsætter ugentligt"}) == "timer-farewell-1-r1"
    assert case.wait_for_timekeeper() == "done"

    with app.session_factory() as session:
        stored = session.get(ReferralCase, case_id)
        assert (stored.status, stored.current_step) == ("closed", "closed")
        match = session.scalars(select(Match)).one()
        assert (match.status, match.weekday, match.family_id) == ("completed", "onsdag", family_id)
        tasks = {t.key: t.outcome for t in session.scalars(select(HumanTask))}
        assert tasks == {
            "approval-screening": "approved", "approval-consent": "received",
            "approval-match-proposal-1": "proposed", "approval-match-answers-1": "agreed",
            "approval-first-meeting-plan-1": "planned", "approval-first-meeting-1": "recorded",
            "approval-first-visit-followup-1": "held", "approval-child-visit-1": "held",
            "approval-future-agreement-1": "fortsætter ugentligt",
        }
        assert all(t.consumed_at is not None for t in session.scalars(select(Timer)))
        actions = [a.action for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions[0] == "case-registered" and actions[-1] == "case-closed"
        assert actions.count("task-completed") == 9
        assert actions.count("timer-passed") == 4
        decided = {a.actor for a in session.scalars(select(AuditEvent).where(AuditEvent.action == "task-completed"))}
        assert decided == {"KH"}
        outbox = session.scalars(select(OutboxMail)).all()
        assert all(m.status == "sent" for m in outbox)

    received = Counter((r.message["X-Hjemtilos-Template"], r.rcpt_tos[0]) for r in smtp_server.received)
    # group supervision every 2 programme months (10 s in fast time) while the match is active: once per round
    with app.session_factory() as session:
        rounds = session.scalars(select(AuditEvent.step).where(AuditEvent.action == "supervision-invited")).all()
    assert len(rounds) == len(set(rounds)) >= 4
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
