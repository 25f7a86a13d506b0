"""Flow tests: a real Prefect server (prefect_test_harness, SQLite-backed, shared per session), a real case
database and a real SMTP server on loopback. Runs are driven in-process exactly as a worker would run them:
create the run from the deployment, run it until it suspends, resume it through the API with the form's
input (as the UI's Resume dialog does), and run it again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run
from prefect.testing.utilities import prefect_test_harness

from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.app import App
from hjemtilos.db.models import VolunteerFamily
from hjemtilos.orchestration import RunState
from hjemtilos.timekeeping import tick
from tests.conftest import SmtpServer, case_app


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=60):
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


def now() -> datetime:
    return datetime.now(UTC)


def add_family(app: App, *, name: str = "Familien Holm", local_area: str = "Nørrebro", email: str | None = None,
               languages: tuple[str, ...] = ("da",), capacity: int = 1) -> int:
    with app.session_factory.begin() as session:
        family = VolunteerFamily(name=name, email=email or f"{name.split()[-1].lower()}@example.dk",
                                 local_area=local_area, address=f"{name}s vej 1, {local_area}",
                                 languages=list(languages), capacity=capacity, status="approved",
                                 approved_at=now(), created_at=now())
        session.add(family)
        session.flush()
        return family.id


@dataclass
class CaseDriver:
    """Drives one case run the way the worker and the coordinator would."""

    app: App
    run_id: UUID
    log: list[str] = field(default_factory=list)
    flow_name: str = "referral-case"

    def state(self):  # type: ignore[no-untyped-def]
        with get_client(sync_client=True) as client:
            return client.read_flow_run(self.run_id).state

    def run(self) -> str:
        """Execute the run in-process until it suspends (returns its pause key) or finishes ("done")."""
        from flows.referral_case import referral_case
        from flows.volunteer_approval import volunteer_approval

        flow = volunteer_approval if self.flow_name == "volunteer-approval" else referral_case
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(self.run_id)
        try:
            run_flow(flow, flow_run=flow_run)
        except Pause:
            pass
        state = self.state()
        if state.is_paused():
            key = state.state_details.pause_key
            self.log.append(key)
            return key
        assert state.is_completed(), state
        return "done"

    def description(self) -> str:
        state = self.state()
        keyset = state.state_details.run_input_keyset
        assert keyset, "the run is not waiting for a form"
        with get_client(sync_client=True) as client:
            return client.read_flow_run_input(self.run_id, keyset["description"])

    def answer(self, run_input: dict[str, Any]) -> str:
        resume_flow_run(self.run_id, run_input=run_input)
        return self.run()

    def wait_for_timekeeper(self, timeout: float = 90.0) -> str:
        """Tick the timekeeper until it resumes this run (the timer comes due in fast time), then run it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tick(self.app, now(), PrefectOrchestrator())
            state = self.state()
            if not state.is_paused():
                return self.run()
            time.sleep(0.3)
        raise AssertionError(f"the timekeeper did not resume the run (waiting on {self.state().state_details.pause_key})")


class SyntheticClock:
    """The programme's clock in a test: starts at the real time and moves only when the test says so. Every task
    in this process reads it (``tasks.runtime.set_clock``); Prefect keeps its own real clock."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC)
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self.start + (datetime.now(UTC) - self.start) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class ShiftedPrefect(PrefectOrchestrator):
    """Prefect seen through the synthetic clock: the times of its states are moved by the clock's offset, so the
    stuck-case check compares times of one clock."""

    def __init__(self, clock: SyntheticClock) -> None:
        self.clock = clock

    def troubled_runs(self, now: datetime) -> dict[str, RunState]:
        shifted = {}
        for run_id, state in super().troubled_runs(now - self.clock.offset).items():
            since = state.since + self.clock.offset if state.since else None
            shifted[run_id] = RunState(state.type, state.name, state.pause_key, since)
        return shifted


@pytest.fixture
def synthetic_clock() -> Iterator[SyntheticClock]:
    from tasks.runtime import set_clock

    clock = SyntheticClock()
    set_clock(clock)
    yield clock
    set_clock(None)


def start_case(app: App, referral_file: str) -> tuple[int, str, CaseDriver]:
    import json

    from casework.referral import Referral
    from hjemtilos.intake import register_referral
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.runs import start_case_run

    referral = Referral.model_validate(json.loads((EXAMPLES / referral_file).read_text()))
    with app.session_factory.begin() as session:
        stored = register_referral(session, referral, now(), app.programme)
    run_id = start_case_run(app, PrefectOrchestrator(), stored.case_id, stored.reference, stored.created_at, now())
    return stored.case_id, stored.reference, CaseDriver(app, UUID(run_id))


TODAY = date.today().isoformat()


def register_family(app: App, example: str = "family-holm.json") -> tuple[int, CaseDriver]:
    import json

    from casework.families import FamilyRegistration
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.runs import start_family_run
    from hjemtilos.volunteers import register_family as register

    registration = FamilyRegistration.model_validate(json.loads((EXAMPLES / example).read_text()))
    with app.session_factory.begin() as session:
        stored = register(session, registration, now())
    run_id = start_family_run(app, PrefectOrchestrator(), stored.family_id, stored.reference, stored.created_at)
    return stored.family_id, CaseDriver(app, UUID(run_id), flow_name="volunteer-approval")
