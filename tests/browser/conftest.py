"""Browser tests: Debian's chromium driven by Playwright, against a real `prefect server start` (with its UI)
and the real referral form served by uvicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hjemtilos import PROJECT_ROOT
from tests.support import case_app, free_port

CHROMIUM = os.environ.get("HJEMTILOS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium is required for the browser tests ({CHROMIUM}); .ci/run installs it")
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def ui_server() -> Iterator[str]:
    """A real Prefect server with its UI, on a free loopback port and its own PREFECT_HOME."""
    port = free_port()
    home = tempfile.mkdtemp(prefix="prefect-ui-")
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=home, PREFECT_API_URL=api, PREFECT_UI_API_URL=api,
               PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS="3600")
    log = open(Path(home) / "server.log", "wb")  # noqa: SIM115 - the server writes to it until teardown
    server = subprocess.Popen([str(Path(os.sys.executable).with_name("prefect")), "server", "start", "--host",
                               "127.0.0.1", "--port", str(port)], env=env, cwd=PROJECT_ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{api}/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the Prefect server did not start") from None
            time.sleep(0.5)
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # in-process runs send no heartbeats (their one-second sleep is joined at the end of every execution)
    with temporary_settings(updates={PREFECT_API_URL: api, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        from flows.referral_case import referral_case

        referral_case.to_deployment(name="referral-case").apply()
        yield f"http://127.0.0.1:{port}"
    os.killpg(server.pid, 15)
    server.wait(timeout=30)
    log.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def app(ui_server, tmp_path, monkeypatch, smtp_server):  # type: ignore[no-untyped-def]
    from tasks.runtime import get_app

    application = case_app(tmp_path, monkeypatch, smtp_server.port, HJEMTILOS_PREFECT_UI_URL=ui_server)
    yield application
    get_app.cache_clear()
    application.engine.dispose()


@pytest.fixture
def page(chromium_path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def form_url(app):  # type: ignore[no-untyped-def]
    """The referral form, served by uvicorn in a thread; submitted referrals start their case runs."""
    import uvicorn
    from prefect.settings import PREFECT_API_URL

    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.host.prefect_processes import prefect_api
    from hjemtilos.web.app import create_app

    api = PREFECT_API_URL.value()

    @contextmanager
    def on_server():  # type: ignore[no-untyped-def]  # runs in uvicorn's thread: name the server explicitly
        with prefect_api(api):
            yield PrefectOrchestrator()

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app, on_server), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
