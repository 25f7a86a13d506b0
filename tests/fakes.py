"""A typed fake of the orchestrator port for tests that need no Prefect server: it records every call and
answers from the states a test gives it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hjemtilos.orchestration import FormStatus, Orchestrator, RunState

__all__ = ["FakeOrchestrator"]


@dataclass
class FakeOrchestrator:
    """``states``: run id → state. ``resume`` and ``reschedule`` move a run out of its paused/crashed state; a
    run started is Scheduled. ``accept``: what resume and reschedule answer."""

    states: dict[str, RunState] = field(default_factory=dict)
    accept: bool = True
    resumed: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)
    started: dict[str, str] = field(default_factory=dict)  # run key -> run id
    started_references: list[str] = field(default_factory=list)  # the cases whose runs were started, in order
    forms: dict[tuple[str, str], FormStatus] = field(default_factory=dict)  # (run id, pause key) -> status
    form_checks: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # runs deleted by retention
    forgotten: list[tuple[str, str]] = field(default_factory=list)  # (run, pause key) whose answers were deleted
    silent: set[str] = field(default_factory=set)  # Running runs whose process sends no heartbeat
    descriptions: dict[tuple[str, str], str] = field(default_factory=dict)  # (run id, pause key) -> form text

    def run_state(self, flow_run_id: str) -> RunState | None:
        return self.states.get(flow_run_id)

    def resume(self, flow_run_id: str) -> bool:
        self.resumed.append(flow_run_id)
        if self.accept:
            self.states[flow_run_id] = RunState("SCHEDULED", "Resuming", None)
        return self.accept

    def _start(self, run_key: str) -> str:
        run_id = self.started.setdefault(run_key, str(uuid.uuid4()))
        self.states.setdefault(run_id, RunState("SCHEDULED", "Scheduled", None))
        return run_id

    def start_case(self, case_id: int, reference: str, run_key: str) -> str:
        self.started_references.append(reference)
        return self._start(f"referral-case:{run_key}")

    def start_family(self, family_id: int, reference: str, run_key: str) -> str:
        return self._start(f"volunteer-approval:{run_key}")

    def troubled_runs(self, now: datetime) -> dict[str, RunState]:
        return {run_id: state for run_id, state in self.states.items()
                if state.type in ("FAILED", "CRASHED", "SCHEDULED", "PENDING", "CANCELLED", "CANCELLING",
                                  "COMPLETED")}

    def reschedule(self, flow_run_id: str) -> bool:
        self.rescheduled.append(flow_run_id)
        if self.accept:
            self.states[flow_run_id] = RunState("SCHEDULED", "Resuming", None)
        return self.accept


    def edit_form_description(self, flow_run_id: str, pause_key: str, edit: Callable[[str], str]) -> bool:
        current = self.descriptions.get((flow_run_id, pause_key))
        if current is None:
            return False
        self.descriptions[flow_run_id, pause_key] = edit(current)
        return True

    def crash_silent_runs(self, now: datetime, silent_after: timedelta) -> list[str]:
        silent = [run_id for run_id, state in self.states.items() if state.type == "RUNNING"
                  and run_id in self.silent]
        for run_id in silent:
            self.states[run_id] = RunState("CRASHED", "Crashed", None, now)
        return silent

    def missing_runs(self, flow_run_ids: list[str]) -> set[str]:
        return {run_id for run_id in flow_run_ids if run_id not in self.states}

    def form_status(self, flow_run_id: str, pause_key: str) -> FormStatus:
        self.form_checks.append((flow_run_id, pause_key))
        return self.forms.get((flow_run_id, pause_key), FormStatus.NOT_WAITING)

    def delete_run(self, flow_run_id: str) -> None:
        self.deleted.append(flow_run_id)
        self.states.pop(flow_run_id, None)

    def forget_answers(self, flow_run_id: str, pause_keys: list[str]) -> None:
        self.forgotten.extend((flow_run_id, key) for key in pause_keys)


def _conforms(fake: FakeOrchestrator) -> Orchestrator:
    return fake  # mypy checks that the fake implements the whole port
