"""The coordinator's day in the workspace (FastAPI's test client, SQLite and PostgreSQL): Opgaver lists every open
step by due date with who works on it; a step is claimed and released, a colleague sees the claim and is warned in
the Resume dialog's description (written to Prefect through the orchestrator port, and by the run itself)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from casework.keys import round_key
from casework.steps import ApprovalKind
from hjemtilos import cases
from hjemtilos.app import App
from hjemtilos.claims import BANNER_MARK
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase
from hjemtilos.orchestration import orchestrator_scope
from hjemtilos.workspace.app import create_workspace
from tests.fakes import FakeOrchestrator
from tests.integration.test_workspace import _csrf, add_user, sign_in
from tests.support import Clock, new_case

RUN_A = "0b6c7a1e-1111-4222-8333-444455556666"
RUN_B = "0b6c7a1e-1111-4222-8333-777788889999"


def _open_screening(app: App, case_id: int, clock: Clock) -> tuple[str, int, str]:
    view = cases.prepare_approval(app, case_id, ApprovalKind.SCREENING, None, clock.now)
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        task = session.scalar(select(HumanTask).where(HumanTask.case_id == case_id))
        assert case is not None and task is not None
        return case.reference, task.id, view.description


def _rows(html: str) -> list[str]:
    """The references of Opgaver's rows, in order."""
    return re.findall(r'<tr data-task="\d+" data-key="[^"]+" data-reference="([^"]+)"', html)


def _post(web: TestClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    page = web.get("/arbejde/opgaver")
    return web.post(path, data={"csrf": _csrf(page.text), **data}, follow_redirects=False)


def test_opgaver_sorts_by_due_date_and_a_claim_is_seen_by_colleagues_and_in_prefect(app: App, clock: Clock) -> None:
    orchestrator = FakeOrchestrator()
    early = new_case(app, run_id=RUN_A)
    late = new_case(app, run_id=RUN_B)
    ref_late, task_late, _ = _open_screening(app, late, clock)  # opened first ...
    clock.now += timedelta(hours=1)
    ref_early, task_early, description = _open_screening(app, early, clock)
    with app.session_factory.begin() as session:  # ... but due later than the other
        task = session.get(HumanTask, task_late)
        assert task is not None
        task.escalation_at = clock.now + timedelta(days=30)
    orchestrator.descriptions[RUN_A, round_key("approval-screening", 1)] = description
    add_user(app, "anna")
    add_user(app, "bo")
    anna = TestClient(create_workspace(app, clock=clock, orchestrator=orchestrator_scope(orchestrator)),
                      base_url="http://127.0.0.1")
    bo = TestClient(create_workspace(app, clock=clock, orchestrator=orchestrator_scope(orchestrator)),
                    base_url="http://127.0.0.1")
    sign_in(anna, app, "anna", clock)
    sign_in(bo, app, "bo", clock)
    assert anna.get("/arbejde/", follow_redirects=False).status_code == 200
    landing = anna.get("/", follow_redirects=False)
    assert landing.headers["location"] == "/arbejde/opgaver"  # the start page

    page = anna.get("/arbejde/opgaver")
    assert _rows(page.text) == [ref_early, ref_late]  # by due date, not by when it was opened
    assert "Visitation / Screening" in page.text  # the step in words
    assert f"{clock.now:%Y}" in page.text and "/runs/flow-run/" + RUN_A in page.text  # two clicks to the form
    assert _rows(anna.get("/arbejde/opgaver?vis=mine").text) == []

    claimed = _post(anna, f"/arbejde/opgaver/{task_early}/tag", vis="mine")
    assert claimed.status_code == 303 and claimed.headers["location"] == "/arbejde/opgaver?vis=mine"
    assert _rows(anna.get("/arbejde/opgaver?vis=mine").text) == [ref_early]
    assert _rows(bo.get("/arbejde/opgaver?vis=ledige").text) == [ref_late]
    seen = bo.get("/arbejde/opgaver").text
    assert "Anna" in seen and "Overtag efter aftale" in seen
    dialog = orchestrator.descriptions[RUN_A, round_key("approval-screening", 1)]
    assert dialog.startswith(f"## {ref_early}") and f"{BANNER_MARK}Anna**" in dialog  # the Resume dialog warns
    # the run writes the banner itself when it asks again (a form shown after the claim)
    assert f"{BANNER_MARK}Anna**" in cases.prepare_approval(app, early, ApprovalKind.SCREENING, None,
                                                            clock.now).description

    refused = _post(bo, f"/arbejde/opgaver/{task_early}/tag")
    assert refused.status_code == 409 and "Anna har allerede taget trinnet" in refused.text
    assert _post(bo, f"/arbejde/opgaver/{task_early}/slip").status_code == 409  # not Bo's to release
    assert _post(anna, f"/arbejde/opgaver/{task_early}/slip").status_code == 303
    assert BANNER_MARK not in orchestrator.descriptions[RUN_A, round_key("approval-screening", 1)]
    assert orchestrator.descriptions[RUN_A, round_key("approval-screening", 1)] == description
    assert _post(bo, f"/arbejde/opgaver/{task_early}/tag").status_code == 303
    taken_over = _post(anna, f"/arbejde/opgaver/{task_early}/tag", overtag="1")
    assert taken_over.status_code == 303
    with app.session_factory() as session:
        actions = [(e.actor, e.action) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(("task-claimed", "task-released"))).order_by(AuditEvent.id))]
    assert actions == [("anna", "task-claimed"), ("anna", "task-released"), ("bo", "task-claimed"),
                       ("anna", "task-claimed")]


def test_a_decided_step_leaves_opgaver_and_names_who_decided(app: App, clock: Clock, web: TestClient) -> None:
    case_id = new_case(app, run_id=RUN_A)
    reference, task_id, _ = _open_screening(app, case_id, clock)
    add_user(app, "cai")
    sign_in(web, app, "cai", clock)
    assert _post(web, f"/arbejde/opgaver/{task_id}/tag").status_code == 303
    with app.session_factory.begin() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        task.completed_at, task.outcome, task.decided_by = clock.now, "approved", "cai"
    assert reference not in web.get("/arbejde/opgaver").text
    gone = _post(web, f"/arbejde/opgaver/{task_id}/slip")
    assert gone.status_code == 409 and "ikke åbent længere" in gone.text
    timeline = web.get(f"/arbejde/sager/{reference}").text
    assert "cai" in timeline
