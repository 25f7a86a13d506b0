"""The coordinator's Resume forms in the Prefect UI, in chromium: a date that may stay empty is a plain date field
(no "date or None" switch), and a form submitted with it empty is accepted and comes back asking for the rest."""

from __future__ import annotations

from sqlalchemy import func, select

from hjemtilos.db.models import ConsentReceipt, HumanTask
from tests.flows.driving import start_case


def test_consent_form_has_plain_date_fields_and_may_be_sent_partly_empty(app, page, ui_server, smtp_server) -> None:  # type: ignore[no-untyped-def]
    _, reference, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    page.goto(f"{ui_server}/runs/flow-run/{case.run_id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"{reference}: Registrér modtagne samtykkeerklæringer").wait_for()
    dialog.get_by_text("Forælder 1: BBU-samtykke modtaget (dato)").wait_for()
    dialog.get_by_text("Forælder 1: Red Barnet-samtykke modtaget (dato)").wait_for()
    text = dialog.inner_text()
    assert "None" not in text and "null" not in text, text  # no switch between a date and nothing
    page.screenshot(path=str(app.settings.data_dir / "consent-dialog.png"))
    # both dates left empty
    dialog.get_by_role("button", name="Submit").click()
    for _ in range(120):  # up to 30 s: a loaded CI machine is slow to hand the answer over
        if not case.state().is_paused():
            break
        page.wait_for_timeout(250)
    assert not case.state().is_paused(), "the UI did not send the form"
    assert case.run() == "approval-consent-r2"  # accepted, nothing recorded, asked again for both
    with app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ConsentReceipt)) == 0
        task = session.scalars(select(HumanTask).where(HumanTask.key == "approval-consent")).one()
        assert task.round == 2


def test_a_prefilled_form_keeps_its_danish_labels_in_the_dialog(app, page, ui_server, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from tests.flows.driving import add_family, approve_to_matching

    family = add_family(app)
    _, reference, case = start_case(app, "referral-standard.json")
    approve_to_matching(case)
    assert case.answer({"family": "VF-%04d" % family}) == "approval-family-answer-1-r1"
    page.goto(f"{ui_server}/runs/flow-run/{case.run_id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"{reference}: Registrér familiens svar").wait_for()
    dialog.get_by_text("Familien svarede (dato)").wait_for()  # the prefilled date keeps its label and help
    dialog.get_by_text("Forudfyldt med dagen, formularen blev åbnet").first.wait_for()
    text = dialog.inner_text()
    page.screenshot(path=str(app.settings.data_dir / "family-answer-dialog.png"))
    for generated in ("Family Answered On", "Family Answer", "Reason", "None"):
        assert generated not in text, (generated, text)
