"""Once the case database has recorded an answer, Prefect keeps nothing of it: the answer, the form's schema and its
description are deleted from the run's inputs (a real Prefect server); the form still waiting keeps its own."""

from __future__ import annotations

from prefect.client.orchestration import get_client

from hjemtilos.db.models import OutboxMail
from tests.flows.driving import start_case


def inputs(run_id: object) -> dict[str, str]:
    with get_client(sync_client=True) as client:
        found = client.filter_flow_run_input(run_id, key_prefix="", limit=100, exclude_keys=set())  # type: ignore[arg-type]
    return {item.key: item.value for item in found}


def test_recorded_answers_are_deleted_from_prefect(app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    _, _reference, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert "suspended-approval-screening-r1-schema" in inputs(case.run_id)
    question = "Hvordan går det i skolen for tiden?"
    assert case.answer({"decision": "mere information", "reason": question, "coordinator": "KH"}) \
        == "approval-screening-r2"
    left = inputs(case.run_id)
    assert not any(key.startswith("suspended-approval-screening-r1-") for key in left), sorted(left)
    assert not any(question in value for value in left.values())
    assert "suspended-approval-screening-r2-schema" in left  # the form now waiting is there to be answered
    with app.session_factory() as session:  # the case database has the question: it went to the referrer
        asked = session.scalars(select(OutboxMail.body_text).where(
            OutboxMail.template == "more-information-request")).one()
        assert question in asked
    assert case.answer({"decision": "godkend", "coordinator": "KH"}) == "approval-consent-r1"
    left = inputs(case.run_id)
    assert not any(key.startswith("suspended-approval-screening-") for key in left), sorted(left)
    assert "suspended-approval-consent-r1-schema" in left
