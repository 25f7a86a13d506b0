"""The orchestrator port: what the application needs from Prefect, as a protocol the adapter implements.

The timekeeper, the stuck-case check, intake and the CLI depend on this module only; the Prefect adapter
(``hjemtilos.adapters.prefect``) implements it and tests use a typed fake (``tests/fakes.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

__all__ = ["FormStatus", "Orchestrator", "OrchestratorScope", "RunState", "orchestrator_scope"]


class FormStatus(StrEnum):
    STORED = "stored"  # the run waits on this key and its form's schema is stored: a coordinator can answer
    NOT_WAITING = "not-waiting"  # the run does not (yet) wait on this key
    MISSING = "missing"  # the run waits on this key without its form: nobody could ever answer it
    EARLIER_ROUND = "earlier-round"  # the run waits on an earlier round of the same approval, which the case
    #                                  database has closed: the run must be rescheduled to ask under this one


@dataclass(frozen=True)
class RunState:
    type: str  # SCHEDULED, PENDING, RUNNING, PAUSED, COMPLETED, FAILED, CRASHED, CANCELLED, ...
    name: str
    pause_key: str | None
    since: datetime | None = None  # when the run entered this state (for Scheduled: when it was due)


class Orchestrator(Protocol):
    def run_state(self, flow_run_id: str) -> RunState | None:
        """The run's current state; None when the run is unknown (deleted)."""
        ...

    def resume(self, flow_run_id: str) -> bool:
        """Resume a suspended run without input (a timer came due)."""
        ...

    def start_case(self, case_id: int, reference: str, run_key: str) -> str:
        """Create the case's referral-case run (idempotent by ``run_key``); returns its id."""
        ...

    def start_family(self, family_id: int, reference: str, run_key: str) -> str:
        """Create the family's volunteer-approval run (idempotent by ``run_key``); returns its id."""
        ...

    def troubled_runs(self, now: datetime) -> dict[str, RunState]:
        """Case runs that may be stuck: failed, crashed, waiting for a worker, or recently finished."""
        ...

    def reschedule(self, flow_run_id: str) -> bool:
        """Set a suspended, crashed, failed or cancelled run to Scheduled so a worker runs it again."""
        ...

    def edit_form_description(self, flow_run_id: str, pause_key: str, edit: Callable[[str], str]) -> bool:
        """Rewrite the description of the Resume form the run waits with under ``pause_key`` (who works on the
        step); False when the run has no such form (not suspended there yet: it writes the new one itself)."""
        ...

    def crash_silent_runs(self, now: datetime, silent_after: timedelta) -> list[str]:
        """Mark Crashed the Running case runs whose process sent no heartbeat for ``silent_after`` (and the Pending
        ones that never started in that time)."""
        ...

    def missing_runs(self, flow_run_ids: list[str]) -> set[str]:
        """Those of these runs that Prefect does not have (deleted)."""
        ...

    def form_status(self, flow_run_id: str, pause_key: str) -> FormStatus:
        """Whether the run waits on ``pause_key`` with its form's schema stored."""
        ...

    def delete_run(self, flow_run_id: str) -> None:
        """Delete a finished run with its inputs (retention); an unknown run is fine."""
        ...

    def forget_answers(self, flow_run_id: str, pause_keys: list[str]) -> None:
        """Delete what Prefect keeps of these answered suspensions (the answer, the form's schema and its
        description): the case database has recorded them. Missing inputs are fine."""
        ...


# How a caller lends its orchestrator to code that runs elsewhere (a web request's thread, a use case): entered
# around the calls (Prefect's client settings pointed at the system's server, say), it yields the orchestrator.
OrchestratorScope = Callable[[], AbstractContextManager[Orchestrator]]


def orchestrator_scope(orchestrator: Orchestrator) -> OrchestratorScope:
    """A scope for an orchestrator that needs none (a test's fake, one already pointed at its server)."""
    return lambda: nullcontext(orchestrator)
