"""The workspace over HTTP (FastAPI's test client, SQLite and PostgreSQL): the first administrator's link works
once, sign-in with password and TOTP, lockout, idle timeout, CSRF on every state-changing form, roles, a disabled
user refused at once, the case list and page, the access log, and the front door's question (``/_auth``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from hjemtilos.app import App
from hjemtilos.audit import access
from hjemtilos.db.models import AccessLogEntry, ReferralCase, UserAccount
from hjemtilos.workspace import accounts
from hjemtilos.workspace.accounts import Role
from hjemtilos.workspace.app import SESSION_COOKIE, create_workspace
from tests.support import Clock, new_case

PASSWORD = "et langt kodeord 42"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def add_user(app: App, username: str, role: Role = Role.COORDINATOR) -> None:
    with app.session_factory.begin() as session:
        accounts.add_user(session, username, username.title(), role, datetime.now(UTC), password=PASSWORD)


def sign_in(web: TestClient, app: App, username: str, clock: Clock | None = None) -> str:
    """Password, then the second factor (set up at the first sign-in); returns the TOTP secret."""
    page = web.get("/arbejde/log-ind")
    answer = web.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": username,
                                                "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    code_page = web.get("/arbejde/kode")
    secret_match = re.search(r'id="totp-secret">([A-Z2-7]+)<', code_page.text)
    with app.session_factory() as session:
        user = session.scalar(select(UserAccount).where(UserAccount.username == username))
        assert user is not None
        secret = secret_match.group(1) if secret_match else user.totp_secret
    assert secret
    at = clock.now if clock else datetime.now(UTC)
    done = web.post("/arbejde/kode", data={"csrf": _csrf(code_page.text), "code": pyotp.TOTP(secret).at(at)},
                    follow_redirects=False)
    assert done.status_code == 303, done.text
    return secret


def test_first_administrator_link_works_once_and_sign_in_needs_both_factors(app: App, web: TestClient) -> None:
    with app.session_factory.begin() as session:
        token = accounts.first_administrator_link(session, datetime.now(UTC))
    assert token
    form = web.get(f"/arbejde/opret/{token}")
    assert form.status_code == 200 and "første administrator" in form.text
    short = web.post(f"/arbejde/opret/{token}", data={"csrf": _csrf(form.text), "username": "anna",
                                                      "display_name": "Anna Admin", "password": "kort",
                                                      "password2": "kort"})
    assert short.status_code == 422 and "mindst 12 tegn" in short.text  # refused, the link still works
    made = web.post(f"/arbejde/opret/{token}", data={"csrf": _csrf(form.text), "username": "anna",
                                                     "display_name": "Anna Admin", "password": PASSWORD,
                                                     "password2": PASSWORD}, follow_redirects=False)
    assert made.status_code == 303
    assert web.get(f"/arbejde/opret/{token}").status_code == 410  # once only
    with app.session_factory.begin() as session:
        assert accounts.first_administrator_link(session, datetime.now(UTC)) is None  # someone has an account

    # the password alone opens nothing
    page = web.get("/arbejde/log-ind")
    web.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": "anna", "password": PASSWORD})
    assert web.get("/arbejde/", follow_redirects=False).status_code == 303
    assert web.get("/arbejde/_auth", headers={"x-forwarded-uri": "/api/flow_runs/filter",
                                              "x-forwarded-method": "POST"}).status_code == 401
    code_page = web.get("/arbejde/kode")
    wrong = web.post("/arbejde/kode", data={"csrf": _csrf(code_page.text), "code": "000000"})
    assert wrong.status_code == 401 and "Koden passer ikke" in wrong.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', code_page.text).group(1)  # type: ignore[union-attr]
    web.post("/arbejde/kode", data={"csrf": _csrf(code_page.text), "code": pyotp.TOTP(secret).now()})
    assert web.get("/arbejde/", follow_redirects=False).status_code == 200
    assert web.get("/arbejde/admin").status_code == 200
    assert web.get("/arbejde/_auth", headers={"x-forwarded-uri": "/api/flow_runs/filter",
                                              "x-forwarded-method": "POST"}).status_code == 200


def test_sign_in_tells_nothing_and_a_stranger_cannot_lock_a_coordinator_out(app: App, web: TestClient,
                                                                              clock: Clock) -> None:
    import time_machine

    add_user(app, "bo")
    sign_in(web, app, "bo", clock)  # bo has signed in from this browser before
    web.post("/arbejde/log-ud", data={"csrf": _csrf(web.get("/arbejde/").text)})
    page = web.get("/arbejde/log-ind")
    unknown = web.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": "nobody", "password": "nej"})
    wrong = web.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": "bo", "password": "nej"})
    assert unknown.status_code == wrong.status_code == 401
    assert _error(unknown.text) == _error(wrong.text) == accounts.WRONG
    # a stranger on another machine tries bo's account many times: refused there, with the same words
    stranger = TestClient(web.app, base_url="http://127.0.0.1", client=("10.9.8.7", 5000))
    strange_page = stranger.get("/arbejde/log-ind")
    for _ in range(7):
        answer = stranger.post("/arbejde/log-ind", data={"csrf": _csrf(strange_page.text), "username": "bo",
                                                         "password": "nej"})
        assert answer.status_code == 401 and _error(answer.text) == accounts.WRONG
    throttled = stranger.post("/arbejde/log-ind", data={"csrf": _csrf(strange_page.text), "username": "bo",
                                                        "password": PASSWORD})
    assert throttled.status_code == 401 and _error(throttled.text) == accounts.WRONG  # even the right password
    sign_in(web, app, "bo", clock)  # bo, at their own machine, is not locked out
    assert web.get("/arbejde/", follow_redirects=False).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16), tick=False):
        fine = stranger.post("/arbejde/log-ind", data={"csrf": _csrf(strange_page.text), "username": "bo",
                                                       "password": PASSWORD}, follow_redirects=False)
    assert fine.status_code == 303  # the throttle slows, it does not lock: 15 minutes later the password works


def _error(html: str) -> str:
    import html as html_module

    found = re.search(r'class="error"[^>]*>\s*(.*?)\s*<', html, re.S)
    assert found, html
    return html_module.unescape(found.group(1))


def test_idle_timeout_and_sign_out(app: App, web: TestClient, clock: Clock) -> None:
    add_user(app, "cia")
    sign_in(web, app, "cia", clock)
    assert web.get("/arbejde/", follow_redirects=False).status_code == 200
    clock.now += timedelta(minutes=app.settings.workspace_idle_minutes + 1)
    answer = web.get("/arbejde/", follow_redirects=False)
    assert answer.status_code == 303 and "/arbejde/log-ind" in answer.headers["location"]
    clock.now += timedelta(seconds=1)
    sign_in(web, app, "cia", clock)
    page = web.get("/arbejde/")
    web.post("/arbejde/log-ud", data={"csrf": _csrf(page.text)})
    assert web.get("/arbejde/", follow_redirects=False).status_code == 303


def test_csrf_is_checked_on_every_state_changing_form(app: App, web: TestClient, clock: Clock) -> None:
    new_case(app)
    add_user(app, "dan")
    with app.session_factory() as session:
        reference = session.scalars(select(ReferralCase.reference)).one()
    page = web.get("/arbejde/log-ind")
    assert web.post("/arbejde/log-ind", data={"csrf": "forged", "username": "dan",
                                              "password": PASSWORD}).status_code == 403
    assert _csrf(page.text)
    sign_in(web, app, "dan", clock)
    forged = web.post(f"/arbejde/sager/{reference}/overtag", data={"csrf": "forged"})
    assert forged.status_code == 403
    with app.session_factory() as session:
        assert session.scalars(select(ReferralCase.coordinator_id)).one() is None
    case_page = web.get(f"/arbejde/sager/{reference}")
    taken = web.post(f"/arbejde/sager/{reference}/overtag", data={"csrf": _csrf(case_page.text)})
    assert taken.status_code == 200 and "Koordinator / coordinator: Dan" in taken.text
    mine = web.get("/arbejde/?mine=1")
    assert reference in mine.text
    assert web.post("/arbejde/log-ud", data={"csrf": "forged"}).status_code == 403  # not signed out
    assert web.get("/arbejde/", follow_redirects=False).status_code == 200


def test_case_list_and_page_show_the_referral_and_the_view_is_logged(app: App, web: TestClient,
                                                                    clock: Clock) -> None:
    case_id = new_case(app, run_id="0b6c7a1e-1111-4222-8333-444455556666")
    add_user(app, "eva")
    sign_in(web, app, "eva", clock)
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        reference, first_name = case.reference, case.child.first_name
        holder = next(p for p in case.parties if p.role == "custody_holder")
    listing = web.get("/arbejde/")
    assert reference in listing.text and first_name in listing.text and "Visitation" in listing.text
    assert reference in web.get(f"/arbejde/?soeg={first_name.lower()}").text
    assert reference not in web.get("/arbejde/?soeg=zzzz").text
    assert reference not in web.get("/arbejde/?trin=consent").text
    page = web.get(f"/arbejde/sager/{reference}")
    assert page.status_code == 200
    assert holder.name in page.text and holder.email in page.text
    assert "/runs/flow-run/0b6c7a1e-1111-4222-8333-444455556666" in page.text  # the button to the Resume dialog
    with app.session_factory() as session:
        log = access.case_log(session, reference)
    assert [(row.username, row.action) for row in log] == [("eva", access.VIEWED)]
    # the front door's record of Prefect requests about the case's run: views once in a while; a resume never
    # passes forward_auth (it goes through the gate, which sees its body), so one that arrives here is refused
    for _ in range(3):
        assert web.get("/arbejde/_auth", headers={
            "x-forwarded-method": "GET",
            "x-forwarded-uri": "/api/flow_runs/0b6c7a1e-1111-4222-8333-444455556666"}).status_code == 200
    refused = web.get("/arbejde/_auth", headers={
        "x-forwarded-method": "POST", "x-forwarded-uri": "/api/flow_runs/0b6c7a1e-1111-4222-8333-444455556666/resume"})
    assert refused.status_code == 403 and "adgang" in refused.json()["detail"]
    with app.session_factory() as session:
        actions = [row.action for row in access.case_log(session, reference)]
        assert access.resumer_of(session, "0b6c7a1e-1111-4222-8333-444455556666") is None
    assert actions == [access.VIEWED, access.VIEWED_IN_PREFECT, access.REFUSED]


def test_roles_and_disabling(app: App, web: TestClient, clock: Clock) -> None:
    add_user(app, "finn")
    sign_in(web, app, "finn", clock)
    assert web.get("/arbejde/admin").status_code == 403  # a coordinator is no administrator
    assert web.get("/arbejde/admin/adgangslog?sag=HTO-2026-0001").status_code == 403
    with app.session_factory.begin() as session:
        accounts.disable_user(session, "finn", datetime.now(UTC))
    assert web.get("/arbejde/", follow_redirects=False).status_code == 303  # refused at once
    assert web.get("/arbejde/_auth", headers={"x-forwarded-uri": "/runs"}, follow_redirects=False).status_code == 303
    page = web.get("/arbejde/log-ind")
    refused = web.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": "finn", "password": PASSWORD})
    assert refused.status_code == 401 and "lukket" in refused.text


def test_administrator_reads_and_exports_a_case_access_log(app: App, web: TestClient, clock: Clock) -> None:
    new_case(app)
    with app.session_factory() as session:
        reference = session.scalars(select(ReferralCase.reference)).one()
    add_user(app, "gry", Role.ADMINISTRATOR)
    sign_in(web, app, "gry", clock)
    web.get(f"/arbejde/sager/{reference}")
    page = web.get(f"/arbejde/admin/adgangslog?sag={reference}")
    assert "gry" in page.text and "åbnede sagen" in page.text
    exported = web.get(f"/arbejde/admin/adgangslog?sag={reference}&csv=1")
    lines = exported.text.strip().splitlines()
    assert lines[0] == "tidspunkt_utc,bruger,handling,formaal,fra,sag"
    assert lines[1].split(",")[1:3] == ["gry", "viewed"]
    with app.session_factory() as session:
        assert session.scalars(select(AccessLogEntry.action)).all() == ["viewed", "exported"]


def test_session_cookie_is_httponly_and_samesite(app: App, web: TestClient, clock: Clock) -> None:
    add_user(app, "hans")
    page = web.get("/arbejde/log-ind")
    answer = web.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": "hans", "password": PASSWORD},
                      follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie


def test_next_after_sign_in_stays_on_this_site(app: App, web: TestClient, clock: Clock) -> None:
    add_user(app, "ida")
    page = web.get("/arbejde/log-ind?next=//evil.example/x")
    assert 'name="next" value="/arbejde/opgaver"' in page.text  # Opgaver, the start page
    page = web.get("/arbejde/log-ind?next=/runs/flow-run/abc")
    assert 'name="next" value="/runs/flow-run/abc"' in page.text


def test_certificates_are_recorded_on_the_family_page_with_field_errors(app: App, web: TestClient,
                                                                        clock: Clock) -> None:
    import json

    from casework.families import FamilyRegistration
    from hjemtilos.db.models import AuditEvent, FamilyMember
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.volunteers import register_family

    registration = FamilyRegistration.model_validate(json.loads((EXAMPLES / "family-holm.json").read_text()))
    with app.session_factory.begin() as session:
        family_id = register_family(session, registration, clock.now, actor="cli").family_id
        member = session.scalars(select(FamilyMember).where(FamilyMember.family_id == family_id)).first()
        assert member is not None
        member_id = member.id
    add_user(app, "jens")
    sign_in(web, app, "jens", clock)
    page = web.get(f"/arbejde/familier/{family_id}")
    assert page.status_code == 200 and "Registrér en attest" in page.text
    today = clock.now.date()
    future = web.post(f"/arbejde/familier/{family_id}/attest", data={
        "csrf": _csrf(page.text), "member": str(member_id), "certificate": "criminal_record",
        "requested_on": (today + timedelta(days=3)).isoformat(), "received_on": "", "outcome": ""})
    assert future.status_code == 422 and "fremtiden" in future.text and 'aria-invalid="true"' in future.text
    not_a_date = web.post(f"/arbejde/familier/{family_id}/attest", data={
        "csrf": _csrf(page.text), "member": str(member_id), "certificate": "criminal_record",
        "requested_on": "i går", "received_on": "", "outcome": ""})
    assert not_a_date.status_code == 422 and "ÅÅÅÅ-MM-DD" in not_a_date.text
    forged = web.post(f"/arbejde/familier/{family_id}/attest", data={
        "csrf": "forged", "member": str(member_id), "certificate": "criminal_record",
        "requested_on": today.isoformat(), "received_on": today.isoformat(), "outcome": "clear"})
    assert forged.status_code == 403
    done = web.post(f"/arbejde/familier/{family_id}/attest", data={
        "csrf": _csrf(page.text), "member": str(member_id), "certificate": "criminal_record",
        "requested_on": today.isoformat(), "received_on": today.isoformat(), "outcome": "remark"})
    assert done.status_code == 200 and "med anmærkning" in done.text
    with app.session_factory() as session:
        stored = session.get(FamilyMember, member_id)
        assert stored is not None
        assert (stored.criminal_record_received_on, stored.criminal_record_clear) == (today, False)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "certificate-recorded")).one()
        assert event.actor == "jens" and event.detail == {"member_id": member_id, "certificate": "criminal_record"}


def test_an_administrator_downloads_everything_about_a_person(app: App, web: TestClient, clock: Clock) -> None:
    case_id = new_case(app)
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        reference, email = case.reference, next(p.email for p in case.parties if p.role == "custody_holder")
    add_user(app, "kim", Role.ADMINISTRATOR)
    sign_in(web, app, "kim", clock)
    answer = web.get(f"/arbejde/admin/person?email={email}")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    assert answer.json()["as_party"][0]["case_reference"] == reference
    assert web.get("/arbejde/admin/person").status_code == 422
    with app.session_factory() as session:
        assert [(e.username, e.action) for e in access.case_log(session, reference)] == [("kim", "exported")]


def test_an_early_ending_and_a_change_are_recorded_as_the_signed_in_user(app: App, web: TestClient,
                                                                       clock: Clock) -> None:
    from hjemtilos.db.models import CaseEnding, CircumstanceChange

    woken: list[str] = []
    web = TestClient(create_workspace(app, clock=clock, wake=woken.append), base_url="http://127.0.0.1")
    case_id = new_case(app, run_id="0b6c7a1e-2222-4222-8333-444455556666")
    with app.session_factory() as session:
        reference = session.get(ReferralCase, case_id).reference  # type: ignore[union-attr]
    add_user(app, "liv")
    sign_in(web, app, "liv", clock)
    page = web.get(f"/arbejde/sager/{reference}")
    bad = web.post(f"/arbejde/sager/{reference}/afslut", data={"csrf": _csrf(page.text), "ended_by": "naboen",
                                                               "reason": "flytning"})
    assert bad.status_code == 422 and "Vælg hvem" in bad.text
    done = web.post(f"/arbejde/sager/{reference}/afslut", data={
        "csrf": _csrf(page.text), "ended_by": "forældrene", "reason": "flytning", "rematch": "nej"})
    assert done.status_code == 200
    again = web.post(f"/arbejde/sager/{reference}/afslut", data={
        "csrf": _csrf(page.text), "ended_by": "forældrene", "reason": "flytning", "rematch": "nej"})
    assert again.status_code == 422 and "allerede" in again.text  # one ending at a time
    web.post(f"/arbejde/sager/{reference}/forhold", data={"csrf": _csrf(page.text), "kind": "sygdom"})
    with app.session_factory() as session:
        ending = session.scalars(select(CaseEnding)).one()
        change = session.scalars(select(CircumstanceChange)).one()
    assert (ending.requested_by, ending.ended_by, ending.reason) == ("liv", "parents", "flytning")
    assert (change.recorded_by, change.kind) == ("liv", "illness")
    assert woken == ["0b6c7a1e-2222-4222-8333-444455556666"]  # the run handles the ending at once


def test_the_front_door_names_who_started_a_deployment_run(app: App, web: TestClient, clock: Clock) -> None:
    add_user(app, "mia")
    sign_in(web, app, "mia", clock)
    deployment = "5f0c7a1e-3333-4222-8333-444455556666"
    assert web.get("/arbejde/_auth", headers={"x-forwarded-method": "POST", "x-forwarded-uri":
                                              f"/api/deployments/{deployment}/create_flow_run"}).status_code == 403
    with app.session_factory.begin() as session:
        signed = accounts.signed_in(session, web.cookies.get("hjemtilos_session"), clock.now, timedelta(hours=1),
                                    timedelta(hours=12))
        assert signed is not None
        access.started_run(session, signed, deployment, clock.now, "127.0.0.1")  # what the gate records
    with app.session_factory() as session:
        assert access.starter_of(session, deployment, clock.now + timedelta(seconds=1)) == "mia"
        assert access.starter_of(session, deployment, clock.now + timedelta(minutes=5)) is None  # too long ago
        assert access.starter_of(session, "6f0c7a1e-3333-4222-8333-444455556666", clock.now) is None
