"""A coordinator plans the first meeting in the Prefect UI from a browser in another time zone: the time typed is
Copenhagen's, and the invitation says so; a time already passed is refused in Danish and nothing is sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from casework.clock import at_local, local_date
from hjemtilos.db.models import Match
from tests.browser.conftest import CHROMIUM_ARGS
from tests.flows.driving import add_family, approve_to_matching, now, start_case


@pytest.fixture(params=["UTC", "America/New_York"])
def zoned_page(request: pytest.FixtureRequest, chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id=request.param)
        page = context.new_page()
        page.set_default_timeout(20_000)
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == request.param
        yield page
        context.close()
        browser.close()


CLOCK = "23:58"  # later today in Copenhagen (the test is not run in the last two minutes of a day)
PAST = "00:01"  # earlier today


def test_meeting_time_typed_in_any_browser_zone_is_copenhagen_time(app, zoned_page, ui_server, smtp_server) -> None:  # type: ignore[no-untyped-def]
    page = zoned_page
    family = add_family(app)
    _, reference, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    assert case.answer({"family": "VF-%04d" % family}) == "approval-family-answer-1-r1"
    assert case.answer({"family_answer": "ja"}) == "approval-match-answers-1-r1"
    assert case.answer({"parents_answer": "ja"}) == "approval-first-meeting-plan-1-r1"
    day = local_date(now())
    page.goto(f"{ui_server}/runs/flow-run/{case.run_id}")

    def answer_dialog(clock: str, heading: str) -> None:
        page.get_by_role("button", name="Resume").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(heading).first.wait_for()
        dialog.locator("textarea").nth(0).fill(clock)  # the date is prefilled with Copenhagen's today
        dialog.get_by_role("button", name="Submit").click()
        for _ in range(120):  # up to 30 s: a loaded CI machine is slow to hand the answer over
            if not case.state().is_paused():
                return
            page.wait_for_timeout(250)
        page.screenshot(path=str(app.settings.data_dir / "meeting-dialog-not-sent.png"))
        shown = dialog.inner_text() if dialog.count() else "(dialog closed)"
        raise AssertionError(f"the UI did not resume the run; the dialog shows: {shown[:1500]}")

    # a meeting that has already passed (this morning, just after midnight) is refused, in Danish, and nothing sent
    answer_dialog(PAST, f"{reference}: Planlæg det første møde")
    assert case.run() == "approval-first-meeting-plan-1-r2"
    page.reload()
    answer_dialog(CLOCK, "Det første møde skal ligge forude")
    assert not [r for r in smtp_server.received if r.message["X-Hjemtilos-Template"] == "first-meeting-invitation"]
    assert case.run() == "approval-first-meeting-1-r1"
    with app.session_factory() as session:
        meeting = session.scalars(select(Match.first_meeting_at)).one()
    assert meeting == at_local(day, datetime.strptime(CLOCK, "%H:%M").time())
    invitations = [r for r in smtp_server.received if r.message["X-Hjemtilos-Template"] == "first-meeting-invitation"]
    assert len(invitations) == 2
    for invitation in invitations:
        body = invitation.message.get_body(preferencelist=("plain",)).get_content()
        assert "kl. 23.58" in body and "kl. 00.58" not in body, body
    # the next dialog shows the time back, in Copenhagen time
    page.reload()
    page.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_text(re.compile(r"Det første møde: .* kl\. 23\.58 \(dansk tid\)")).wait_for()
