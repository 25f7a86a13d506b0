"""Flow-test fixtures: a real Prefect server (prefect_test_harness, SQLite-backed, shared per session), a real case
database and a real SMTP server on loopback, and the synthetic programme clock. The helpers that drive runs are in
``tests/flows/driving.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from hjemtilos.app import App
from tests.flows.driving import SyntheticClock
from tests.support import SmtpServer, case_app


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    # runs executed here, in the test's process, send no heartbeats: the heartbeat thread's one-second sleep is
    # joined at the end of every execution (about 1 s a step). The worker-crash test's real worker keeps them.
    with prefect_test_harness(server_startup_timeout=60), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        from flows.end_case import end_case, record_change
        from flows.referral_case import referral_case
        from flows.timekeeper import timekeeper
        from flows.volunteer_approval import volunteer_approval

        for flow in (referral_case, timekeeper, end_case, record_change, volunteer_approval):
            flow.to_deployment(name=flow.name).apply()
        yield


@pytest.fixture
def app(prefect_server: None, tmp_path, monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> Iterator[App]:  # type: ignore[no-untyped-def]
    from tasks.runtime import get_app

    application = case_app(tmp_path, monkeypatch, smtp_server.port)
    yield application
    get_app.cache_clear()
    application.engine.dispose()


@pytest.fixture
def synthetic_clock() -> Iterator[SyntheticClock]:
    from tasks.runtime import set_clock

    clock = SyntheticClock()
    set_clock(clock)
    yield clock
    set_clock(None)
