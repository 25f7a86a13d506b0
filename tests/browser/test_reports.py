"""The programme page in chromium: a coordinator signs in, opens Programmet for 2026, every chart loads as an
image, the small groups read "< 5", a custom period is chosen in the form, and the printed page leaves out the
navigation and the coordinator's renewal list."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest

from hjemtilos.app import App
from hjemtilos.db.migrate import upgrade
from hjemtilos.workspace import accounts
from hjemtilos.workspace.accounts import Role
from tests.integration.test_reports import build_programme
from tests.support import free_port, make_app

PASSWORD = "et langt kodeord 42"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[tuple[App, str]]:
    import uvicorn

    from hjemtilos.workspace.app import create_workspace

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    upgrade(url)
    app = make_app(url, tmp_path)
    build_programme(app)
    with app.session_factory.begin() as session:
        accounts.add_user(session, "tina", "Tina Koordinator", Role.COORDINATOR, datetime.now(UTC), password=PASSWORD)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_workspace(app), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.engine.dispose()


def test_the_programme_page_shows_its_charts_and_prints_without_the_coordinators_list(workspace, page) -> None:  # type: ignore[no-untyped-def]
    _, base = workspace
    page.goto(f"{base}/arbejde/programmet?periode=2026")
    page.fill("input[name=username]", "tina")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/arbejde/kode.*"))
    secret = page.text_content("#totp-secret")
    assert secret
    page.fill("input[name=code]", pyotp.TOTP(secret.strip()).now())
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/arbejde/programmet\?periode=2026$"))
    assert page.text_content("h1") == "Programmet i tal / The programme in figures"
    charts = page.locator("img.chart")
    assert charts.count() > 10
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all("img.chart", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(width > 300 for width in widths), widths  # every chart arrived and was drawn
    reasons = page.locator("#afvisningsgrunde table")
    assert "< 5" in reasons.inner_text() and "uden for målgruppen" in reasons.inner_text()
    assert page.locator("#fornyelser").is_visible() and "Familien Holm" in page.inner_text("#fornyelser")
    page.emulate_media(media="print")
    assert not page.locator("#fornyelser").is_visible() and not page.locator("header").is_visible()
    assert page.locator("#ventetider").is_visible()
    page.emulate_media(media="screen")
    page.fill("input[name=fra]", "2026-01-01")
    page.fill("input[name=til]", "2026-03-31")
    page.locator("form.period button").last.click()
    page.wait_for_url(re.compile(r".*fra=2026-01-01&til=2026-03-31.*"))
    months = page.locator("#henvisninger-pr-maaned tbody tr")
    assert months.count() == 3 and "01.01.2026–31.03.2026" in page.inner_text("p.meta")
