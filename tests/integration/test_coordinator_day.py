"""The coordinator's day in the workspace (FastAPI's test client, SQLite and PostgreSQL): Opgaver lists every open
step by due date with who works on it; a step is claimed and released, a colleague sees the claim and is warned in
the Resume dialog's description (written to Prefect through the orchestrator port, and by the run itself)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from casework.clock import local_date
from casework.keys import round_key
from casework.steps import ApprovalKind
from hjemtilos import cases
from hjemtilos.app import App
from hjemtilos.claims import BANNER_MARK
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase, UserAccount
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


def test_the_case_page_says_every_code_in_words_and_groups_reminders(app: App, clock: Clock, web: TestClient) -> None:
    from hjemtilos.timekeeper.timekeeping import send_reminders

    case_id = new_case(app, run_id=RUN_A)
    reference, task_id, _ = _open_screening(app, case_id, clock)
    for days in (8, 16, 24):  # production timings: a reminder after 7 days and every 7 days, escalated at 14
        send_reminders(app, clock.now + timedelta(days=days))
    with app.session_factory() as session:
        sent = session.scalar(select(HumanTask.reminders_sent).where(HumanTask.id == task_id))
    assert sent and sent >= 2
    add_user(app, "dina")
    sign_in(web, app, "dina", clock)
    page = web.get(f"/arbejde/sager/{reference}").text
    for words_shown in ("Henviser / Referrer", "Forælder med forældremyndighed / Parent with custody",
                        "Bor hjemme / Lives at home", "Til visitation / In screening", "Visitation / Screening",
                        "Henvisning modtaget", "Trin åbnet"):
        assert words_shown in page, words_shown
    timeline = page[page.index('id="timeline"'):]
    for code in ("case-registered", "run-started", "task-opened", "custody_holder", "bbu_contact", ">home<",
                 "reminder-sent"):
        assert code not in timeline and code not in page.replace('data-step="screening"', ""), code
    assert timeline.count(f"{sent} påmindelser, seneste") == 1  # one row for every reminder of the step


def test_a_note_is_written_read_back_exported_and_anonymised(app: App, clock: Clock, web: TestClient) -> None:
    from hjemtilos.audit import access
    from hjemtilos.db.models import CaseNote
    from hjemtilos.privacy.person import export_person
    from hjemtilos.privacy.retention import anonymise_case

    case_id = new_case(app, run_id=RUN_A)
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        reference = case.reference
    add_user(app, "emil")
    sign_in(web, app, "emil", clock)
    page = web.get(f"/arbejde/sager/{reference}")
    today = f"{clock.now:%Y-%m-%d}"
    text = "Ringede til mor efter første besøg: Sofie glæder sig til næste gang."

    def post(**data: str):  # type: ignore[no-untyped-def]
        return web.post(f"/arbejde/sager/{reference}/notat", data={"csrf": _csrf(page.text), **data},
                        follow_redirects=False)

    future = post(kind="call", occurred_on=f"{clock.now + timedelta(days=2):%Y-%m-%d}", text=text)
    assert future.status_code == 422 and "Datoen ligger i fremtiden" in future.text
    assert text in future.text  # what was typed comes back
    assert post(kind="call", occurred_on=today, text="   ").status_code == 422
    assert post(kind="gossip", occurred_on=today, text=text).status_code == 422
    assert post(kind="call", occurred_on="31-02-2026", text=text).status_code == 422
    saved = post(kind="call", occurred_on=today, text=text)
    assert saved.status_code == 303
    shown = web.get(f"/arbejde/sager/{reference}").text
    assert text in shown and "Telefonsamtale" in shown
    with app.session_factory.begin() as session:
        notes = list(session.scalars(select(CaseNote)))
        assert [(n.kind, n.written_by, n.text) for n in notes] == [("call", "emil", text)]
        note_events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "note-written")))
        assert len(note_events) == 1 and text not in str(note_events[0].detail)  # the log names, never tells
        assert [row.action for row in access.case_log(session, reference)].count(access.VIEWED) >= 2
        exported = export_person(session, reference=reference)
        assert [n["text"] for n in exported["child_case"]["notes"]] == [text]
        case = session.get(ReferralCase, case_id)
        assert case is not None
        anonymise_case(session, case, clock.now)
    with app.session_factory() as session:
        assert [n.text for n in session.scalars(select(CaseNote))] == ["–"]


def test_search_finds_a_case_by_any_words_of_the_childs_a_parents_or_the_familys_name(
        app: App, clock: Clock, web: TestClient) -> None:
    case_id = new_case(app, run_id=RUN_A)
    other = new_case(app, example="referral-residential-home.json")
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        reference, first, last = case.reference, case.child.first_name, case.child.last_name
        parent = next(p.name for p in case.parties if p.role == "custody_holder")
        other_ref = session.get(ReferralCase, other).reference  # type: ignore[union-attr]
    add_user(app, "frida")
    sign_in(web, app, "frida", clock)

    def found(words: str) -> list[str]:
        html = web.get("/arbejde/", params={"soeg": words}).text
        return sorted(set(re.findall(r'href="/arbejde/sager/(HTO-[0-9-]+)"', html)))

    assert found(f"{first} {last}") == [reference]
    assert found(f"{last.upper()}") == [reference]
    assert found(parent) == [reference]  # a parent's whole name
    assert found(parent.split()[0]) == [reference]
    assert found(reference) == [reference]
    assert found(f"{first} Nogensen") == []  # every word must match
    assert other_ref in found("")


def test_the_family_approval_dialog_says_what_is_missing_after_each_certificate(app: App, clock: Clock) -> None:
    import json

    from casework.families import FamilyRegistration
    from hjemtilos.db.models import FamilyMember, VolunteerFamily
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.volunteers import register_family
    from hjemtilos.volunteers.screening import FamilyStep, prepare_family_approval

    registration = FamilyRegistration.model_validate(json.loads((EXAMPLES / "family-holm.json").read_text()))
    with app.session_factory.begin() as session:
        family_id = register_family(session, registration, clock.now, actor="cli").family_id
        session.get(VolunteerFamily, family_id).flow_run_id = RUN_B  # type: ignore[union-attr]
        member_ids = [m.id for m in session.scalars(select(FamilyMember).where(FamilyMember.family_id == family_id))]
    view = prepare_family_approval(app, family_id, FamilyStep.FAMILY_APPROVAL, clock.now)
    key = round_key("approval-family-approval", view.state.round)
    orchestrator = FakeOrchestrator(descriptions={(RUN_B, key): view.description})
    assert "straffeattest" in view.description.split("**Mangler:**")[1]
    web = TestClient(create_workspace(app, clock=clock, orchestrator=orchestrator_scope(orchestrator)),
                     base_url="http://127.0.0.1")
    add_user(app, "gry")
    sign_in(web, app, "gry", clock)
    page = web.get(f"/arbejde/familier/{family_id}")
    today = f"{clock.now:%Y-%m-%d}"
    for member_id in member_ids:
        for certificate in ("criminal_record", "child_certificate"):
            done = web.post(f"/arbejde/familier/{family_id}/attest", data={
                "csrf": _csrf(page.text), "member": str(member_id), "certificate": certificate,
                "requested_on": today, "received_on": today, "outcome": "clear"}, follow_redirects=False)
            assert done.status_code == 303
    missing = orchestrator.descriptions[RUN_B, key].split("**Mangler:**")[1]
    assert "attest" not in missing  # what the dialog says now: only the e-learning is left


def test_an_administrator_adds_closes_and_resets_users_in_the_workspace(app: App, clock: Clock, web: TestClient) -> None:
    from hjemtilos.workspace.accounts import Role

    add_user(app, "admin", Role.ADMINISTRATOR)
    add_user(app, "hans")
    sign_in(web, app, "admin", clock)
    page = web.get("/arbejde/admin/brugere")
    assert page.status_code == 200 and "hans" in page.text

    def post(path: str, **data: str):  # type: ignore[no-untyped-def]
        return web.post(path, data={"csrf": _csrf(page.text), **data})

    bad = post("/arbejde/admin/brugere", username="Ny Bruger!", display_name="Ny", role="coordinator")
    assert bad.status_code == 422 and 'id="user-error"' in bad.text and "Ny Bruger!" in bad.text
    made = post("/arbejde/admin/brugere", username="ines", display_name="Ines Iversen", role="coordinator")
    assert made.status_code == 201
    link = re.search(r'id="one-time-link">([^<]+)<', made.text)
    assert link and "/arbejde/opret/" in link.group(1)
    token = link.group(1).rsplit("/", 1)[1]
    other = TestClient(create_workspace(app, clock=clock), base_url="http://127.0.0.1")
    form = other.get(f"/arbejde/opret/{token}")
    assert form.status_code == 200  # Ines chooses her password through it
    assert post("/arbejde/admin/brugere", username="ines", display_name="Ines", role="coordinator").status_code == 422

    hans = TestClient(create_workspace(app, clock=clock), base_url="http://127.0.0.1")
    sign_in(hans, app, "hans", clock)
    assert hans.get("/arbejde/admin/brugere").status_code == 403  # a coordinator manages nobody
    assert post("/arbejde/admin/brugere/hans/ny-2-faktor").status_code == 200
    assert hans.get("/arbejde/opgaver", follow_redirects=False).status_code == 303  # signed out at once
    with app.session_factory() as session:
        assert session.scalar(select(UserAccount.totp_secret).where(UserAccount.username == "hans")) is None
    closed = post("/arbejde/admin/brugere/hans/luk")
    assert closed.status_code == 200 and "er lukket" in closed.text
    assert post("/arbejde/admin/brugere/admin/luk").status_code == 409  # not oneself
    assert post("/arbejde/admin/brugere/nobody/luk").status_code == 404
    with app.session_factory() as session:
        changes = [(e.actor, e.action, (e.detail or {}).get("username")) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("user-%")).order_by(AuditEvent.id))]
    assert changes[-3:] == [("admin", "user-added", "ines"), ("admin", "user-2fa-reset", "hans"),
                            ("admin", "user-disabled", "hans")]


def test_a_claim_made_before_the_run_stored_its_form_reaches_the_dialog_through_the_timekeeper(
        app: App, clock: Clock) -> None:
    from hjemtilos.timekeeper.timekeeping import show_claims

    orchestrator = FakeOrchestrator()
    case_id = new_case(app, run_id=RUN_A)
    _, task_id, description = _open_screening(app, case_id, clock)  # opened; the run has not stored its form yet
    add_user(app, "hedda")
    web = TestClient(create_workspace(app, clock=clock, orchestrator=orchestrator_scope(orchestrator)),
                     base_url="http://127.0.0.1")
    sign_in(web, app, "hedda", clock)
    assert _post(web, f"/arbejde/opgaver/{task_id}/tag").status_code == 303  # no form in Prefect yet
    key = (RUN_A, round_key("approval-screening", 1))
    orchestrator.descriptions[key] = description  # the run stores the form it described before the claim
    assert show_claims(app, orchestrator) == 1
    assert f"{BANNER_MARK}Hedda**" in orchestrator.descriptions[key]
    assert show_claims(app, orchestrator) == 0  # told once
    assert _post(web, f"/arbejde/opgaver/{task_id}/slip").status_code == 303  # released: the workspace says so
    assert orchestrator.descriptions[key] == description and show_claims(app, orchestrator) == 0


def test_a_follow_up_date_is_set_on_a_step_shown_on_opgaver_and_refused_in_the_past(
        app: App, clock: Clock, web: TestClient) -> None:
    case_id = new_case(app, run_id=RUN_A)
    _, task_id, _ = _open_screening(app, case_id, clock)
    add_user(app, "ivan")
    sign_in(web, app, "ivan", clock)
    today = local_date(clock.now)
    past = _post(web, f"/arbejde/opgaver/{task_id}/opfoelgning", follow_up_on=f"{today - timedelta(days=1)}")
    assert past.status_code == 422 and "fortiden" in past.text
    later = today + timedelta(days=3)
    assert _post(web, f"/arbejde/opgaver/{task_id}/opfoelgning", follow_up_on=str(later)).status_code == 303
    page = web.get("/arbejde/opgaver").text
    assert f'value="{later}"' in page and "Se på den i dag" not in page
    from hjemtilos.queries import task_list

    with app.session_factory() as session:  # three days on, the day has come
        [row] = task_list(session, clock.now + timedelta(days=3), None)
        assert row.follow_up_on == later and row.follow_up_due
    assert _post(web, f"/arbejde/opgaver/{task_id}/opfoelgning", follow_up_on="").status_code == 303  # cleared
    with app.session_factory() as session:
        assert session.get(HumanTask, task_id).follow_up_on is None  # type: ignore[union-attr]
        events = [e.detail for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "task-follow-up"))]
    assert events == [{"key": "approval-screening", "on": str(later)}, {"key": "approval-screening", "on": None}]
