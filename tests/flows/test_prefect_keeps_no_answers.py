"""Once the case database has recorded an answer, Prefect keeps nothing of it: the answer, the form's schema and its
description are deleted from the run's inputs (a real Prefect server); the form still waiting keeps its own."""

from __future__ import annotations

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from sqlalchemy import select, text

from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.models import OutboxMail
from tasks.runtime import CaseDatabaseError, db_task
from tests.flows.driving import start_case
from tests.support import pg_database, require_pg


def inputs(run_id: object) -> dict[str, str]:
    with get_client(sync_client=True) as client:
        found = client.filter_flow_run_input(run_id, key_prefix="", limit=100, exclude_keys=set())  # type: ignore[arg-type]
    return {item.key: item.value for item in found}


def test_recorded_answers_are_deleted_from_prefect(app) -> None:  # type: ignore[no-untyped-def]
    _, _reference, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert "suspended-approval-screening-r1-schema" in inputs(case.run_id)
    question = "Hvordan går det i skolen for tiden?"
    assert case.answer({"decision": "mere information", "reason": question}) \
        == "approval-screening-r2"
    left = inputs(case.run_id)
    assert not any(key.startswith("suspended-approval-screening-r1-") for key in left), sorted(left)
    assert not any(question in value for value in left.values())
    assert "suspended-approval-screening-r2-schema" in left  # the form now waiting is there to be answered
    with app.session_factory() as session:  # the case database has the question: it went to the referrer
        asked = session.scalars(select(OutboxMail.body_text).where(
            OutboxMail.template == "more-information-request")).one()
        assert question in asked
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    left = inputs(case.run_id)
    assert not any(key.startswith("suspended-approval-screening-") for key in left), sorted(left)
    assert "suspended-approval-consent-r1-schema" in left


def failed_run_text(flow_run_id: object) -> str:
    """Everything Prefect stored in words about a run: its state's message, its task runs' and its logs."""
    with get_client(sync_client=True) as client:
        runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))  # type: ignore[list-item]
        run = client.read_flow_runs(flow_run_filter=runs)[0]
        task_runs = client.read_task_runs(flow_run_filter=runs)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    messages = [run.state.message if run.state else None, *(t.state.message for t in task_runs if t.state)]
    return " ".join([*(m or "" for m in messages), *(log.message for log in logs)])


def test_a_database_error_in_a_task_reaches_prefect_without_its_data(prefect_server) -> None:  # type: ignore[no-untyped-def]
    require_pg()  # PostgreSQL's own error text names the key's value: the case the wrapper exists for
    email = "maria.hansen@example.dk"
    with pg_database("hjemtilos_probe") as url:
        engine = make_engine(url)
        session_factory = make_session_factory(engine)

        @db_task
        def store_twice() -> None:
            with session_factory.begin() as session:
                session.execute(text("CREATE TABLE IF NOT EXISTS probe (email VARCHAR(100) PRIMARY KEY)"))
                session.execute(text("INSERT INTO probe VALUES (:email)"), {"email": email})
                session.execute(text("INSERT INTO probe VALUES (:email)"), {"email": email})

        @flow(name="probe-database-error", persist_result=False)
        def probe() -> None:
            store_twice.with_options(retries=0)()

        try:
            state = probe(return_state=True)
        finally:
            engine.dispose()
    assert state.is_failed()
    stored = failed_run_text(state.state_details.flow_run_id)
    assert CaseDatabaseError.__name__ in stored and "23505" in stored  # what happened is told ...
    assert "maria" not in stored.lower()  # ... without whom it concerned
