"""The one way a case's or a family's run is started: create it through the orchestrator under the record's
idempotency key (a second call returns the same run) and record its id in the case database."""

from __future__ import annotations

from datetime import datetime

from hjemtilos.app import App
from hjemtilos.cases import case_run_key, record_run_started
from hjemtilos.orchestration import Orchestrator
from hjemtilos.volunteers import family_run_key, record_family_run

__all__ = ["start_case_run", "start_family_run"]


def start_case_run(app: App, orchestrator: Orchestrator, case_id: int, reference: str, created_at: datetime,
                   now: datetime) -> str:
    run_id = orchestrator.start_case(case_id, reference, case_run_key(reference, created_at))
    record_run_started(app, case_id, run_id, now)
    return run_id


def start_family_run(app: App, orchestrator: Orchestrator, family_id: int, reference: str,
                     created_at: datetime) -> str:
    run_id = orchestrator.start_family(family_id, reference, family_run_key(reference, created_at))
    record_family_run(app, family_id, run_id)
    return run_id
