"""The inbox link the system gives (README, mails, banner) lists every waiting case, also one referred weeks ago:
the Prefect UI's own default window is the past 7 days of start times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Paused, Scheduled


@flow(name="inbox-probe")
def inbox_probe() -> None:
    """A stand-in for a case run: only its name, tags and start time matter to the list."""


def waiting_run(name: str, expected_start: datetime) -> None:
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(inbox_probe, name=name, state=Scheduled(scheduled_time=expected_start),
                                     tags=["case", "step:consent", "waits:coordinator"])
        client.set_flow_run_state(run.id, Paused(pause_key="approval-consent-r1", reschedule=True), force=True)


def test_the_inbox_link_lists_cases_referred_long_ago(app, page, ui_server) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    waiting_run("HTO-2026-0901", now - timedelta(days=40))  # referred before the UI's default window
    waiting_run("HTO-2026-0902", now - timedelta(minutes=5))
    inbox = app.settings.inbox_url()
    assert inbox.startswith(ui_server + "/runs?")
    page.goto(inbox)
    page.get_by_text("HTO-2026-0902").first.wait_for()
    page.get_by_text("HTO-2026-0901").first.wait_for()
    page.goto(f"{ui_server}/runs?state=Suspended&state=Paused")  # the link the README gave before
    page.get_by_text("HTO-2026-0902").first.wait_for()
    assert page.get_by_text("HTO-2026-0901").count() == 0
