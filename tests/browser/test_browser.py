"""What a caseworker and a coordinator do, in a real browser."""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import select

from hjemtilos.db.models import HumanTask, ReferralCase


def fill_valid(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("#child-first_name", "Sofie")
    page.fill("#child-last_name", "Hansen")
    page.fill("#child-birth_date", "2018-05-14")
    page.check("#child-languages-da")
    page.select_option("#child-local_area", "Nørrebro")
    page.fill("#custody_holders-0-name", "Maria Hansen")
    page.fill("#custody_holders-0-email", "maria.hansen@example.dk")
    page.check("#custody_holders-0-communicates_in_danish_or_english")
    page.fill("#referrer-name", "Jonas Berg")
    page.fill("#referrer-email", "jonas.berg@bbu.kk.dk")
    page.check("#eligibility-child_wants_volunteer_family")
    page.check("#eligibility-parents_back_referral")
    page.check("#eligibility-has_resources_to_start")


def test_caseworker_submits_the_referral_form(app, page, form_url, smtp_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(form_url + "/")
    assert page.title() == "Tilmelding til Hjem til Os"
    # first with errors: a three-year-old placed in a foster family without a contact person
    fill_valid(page)
    page.fill("#child-birth_date", "2024-09-01")
    assert not page.is_visible("#placement-contact_name")  # a child at home: no placement fields
    page.select_option("#placement-kind", "foster_family")
    assert page.is_visible("#placement-contact_name")
    page.fill("#referrer-email", "ikke-en-adresse")
    page.click("button[type=submit]")
    page.wait_for_selector("#error-summary")
    # every problem in one round: the malformed address, the age and the missing contact person
    assert page.inner_text("#referrer-email-error") == "Skriv en gyldig e-mailadresse."
    assert "Hjem til Os er for børn fra 4 år" in page.inner_text("#child-birth_date-error")
    assert "kontaktperson" in page.inner_text("#placement-contact_name-error")
    assert page.input_value("#child-first_name") == "Sofie"  # what was typed is kept
    assert page.evaluate("document.activeElement.id") == "error-summary"  # the summary takes focus
    assert page.get_attribute("#referrer-email", "aria-invalid") == "true"
    page.click("#error-summary a[href='#referrer-email']")
    assert page.evaluate("document.activeElement.id") == "referrer-email"  # its link leads to the field
    page.fill("#referrer-email", "jonas.berg@bbu.kk.dk")
    with app.session_factory() as session:
        assert session.scalars(select(ReferralCase)).first() is None
    page.screenshot(path=str(app.settings.data_dir / "form-errors.png"), full_page=True)
    # then corrected
    page.fill("#child-birth_date", "2018-05-14")
    page.select_option("#placement-kind", "home")
    page.click("button[type=submit]")
    page.wait_for_selector("#case-reference")
    reference = page.inner_text("#case-reference")
    assert re.fullmatch(r"HTO-\d{4}-0001", reference)
    with app.session_factory() as session:
        case = session.scalars(select(ReferralCase)).one()
        assert case.reference == reference and case.flow_run_id


def test_coordinator_resumes_a_case_in_the_prefect_ui(app, page, ui_server, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from tests.flows.driving import start_case

    case_id, reference, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    # the coordinator's inbox: waiting runs, found by the case reference
    page.goto(f"{ui_server}/runs?state=Suspended&state=Paused")
    page.get_by_text(reference).first.click()
    page.wait_for_url(re.compile(r".*/runs/flow-run/.*"))
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"{reference}: Screening af henvisningen").wait_for()
    dialog.locator(".p-select-button__control").first.click()
    if not page.get_by_role("listbox").count():
        page.keyboard.press("ArrowDown")  # the select opens from the keyboard once focused
    page.get_by_role("option", name="godkend", exact=True).click()
    page.screenshot(path=str(app.settings.data_dir / "resume-dialog.png"))
    dialog.get_by_role("button", name="Submit").click()
    deadline_state = None
    for _ in range(120):  # up to 30 s: a loaded CI machine is slow to hand the answer over
        deadline_state = case.state()
        if not deadline_state.is_paused():
            break
        page.wait_for_timeout(250)
    assert not deadline_state.is_paused(), "the UI did not resume the run"
    assert case.run() == "approval-consent-r1"  # the worker's part, in-process
    with app.session_factory() as session:
        screening = session.scalars(select(HumanTask).where(HumanTask.key == "approval-screening")).one()
        assert (screening.outcome, screening.decided_by) == ("approved", "prefect-api")  # not via the front door
        assert session.get(ReferralCase, case_id).current_step == "consent"


def test_administrator_sees_stuck_cases_in_artifacts(app, page, ui_server, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta

    from flows.timekeeper import publish_stuck_cases_now
    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.timekeeper.stuck_cases import check_stuck, stuck_summary, stuck_table
    from tests.flows.driving import start_case

    _, reference, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    with app.session_factory.begin() as session:
        for task in session.scalars(select(HumanTask)):
            task.escalation_at = datetime.now(UTC) - timedelta(seconds=31)  # stuck_after (30 s) past escalation
    now = datetime.now(UTC)
    stuck = check_stuck(app, now, PrefectOrchestrator())
    assert [s.reference for s in stuck] == [reference]
    publish_stuck_cases_now(stuck_table(stuck), stuck_summary(stuck, now, ui_server))
    page.goto(f"{ui_server}/artifacts")
    page.get_by_text("stuck-cases").first.wait_for()
    page.get_by_text("stuck-cases", exact=True).first.click()
    page.get_by_text("Sager der sidder fast / stuck cases").first.wait_for()
    page.get_by_role("link").filter(has_text=re.compile(r"^[0-9a-f]{8}$")).first.click()  # the latest version
    page.get_by_text(reference).first.wait_for()
    assert page.get_by_text("En godkendelse er over eskaleringsfristen").count() >= 1
    page.screenshot(path=str(app.settings.data_dir / "stuck-cases.png"))
