"""Driving case and family runs in flow tests: in-process as a worker would run them, resumed through the API as the
UI's Resume dialog does, with a synthetic programme clock where time must pass."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run

from benchmarks.harness import meeting_soon
from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.app import App
from hjemtilos.db.models import VolunteerFamily
from hjemtilos.orchestration import RunState
from hjemtilos.timekeeper.timekeeping import tick


def deliver(app: App) -> None:
    """What `hjemtilos up` does every two seconds: send the outbox (flow processes never send)."""
    from hjemtilos.mail.sender import deliver_pending
    from tasks.runtime import utcnow

    deliver_pending(app.session_factory, app.smtp, utcnow())


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
    deliver: bool = True  # after each execution, deliver the outbox as `hjemtilos up` does within seconds

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
        if self.deliver:
            deliver(self.app)
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
        # _sync: also where an event loop runs in this thread (Playwright's sync API), which would make it a coroutine
        resume_flow_run(self.run_id, run_input=run_input, _sync=True)  # type: ignore[call-arg]
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


def jump_to_next_due(app: App, case: CaseDriver, clock: SyntheticClock) -> str:
    """Move the clock just past the case's next due timer, tick the timekeeper once, and run the resumed run."""
    from sqlalchemy import select

    from hjemtilos.db.models import Timer

    with app.session_factory() as session:
        due = session.scalars(select(Timer.due_at).where(Timer.consumed_at.is_(None)).order_by(Timer.due_at)).first()
    assert due is not None, "no timer is waiting"
    clock.advance(due - clock() + timedelta(minutes=1))
    report = tick(app, clock(), ShiftedPrefect(clock))
    assert report.runs_resumed == 1 and report.new_stuck == 0
    assert not case.state().is_paused()
    return case.run()


def start_case(app: App, referral_file: str) -> tuple[int, str, CaseDriver]:
    import json

    from casework.referral import Referral
    from hjemtilos.paths import EXAMPLES
    from hjemtilos.referrals.intake import register_referral
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


def templates_to(smtp_server) -> Counter:  # type: ignore[no-untyped-def]
    return Counter((r.message["X-Hjemtilos-Template"], r.rcpt_tos[0]) for r in smtp_server.received)


def approve_to_matching(case: CaseDriver) -> None:
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert case.answer({"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY}) \
        == "approval-match-proposal-1-r1"


def agree_and_start(case: CaseDriver, family_id: int, attempt: int = 1) -> None:
    assert case.answer({"family": "VF-%04d" % family_id}) \
        == f"approval-family-answer-{attempt}-r1"
    assert case.answer({"family_answer": "ja"}) == f"approval-match-answers-{attempt}-r1"
    assert case.answer({"parents_answer": "ja"}) == f"approval-first-meeting-plan-{attempt}-r1"
    assert case.answer(meeting_soon()) == f"approval-first-meeting-{attempt}-r1"
    assert case.answer({"weekday": "tirsdag", "brings": "venskabsfamilien",
                        "fetches": "venskabsfamilien"}) == f"timer-first-visit-followup-{attempt}-r1"
