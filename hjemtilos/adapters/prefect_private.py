"""Everything of Prefect's beyond its public surface that the flows use, in one place (Prefect 3.9): the Resume
form's schema as Prefect's UI reads it (``form_schema``), and marking a flow run's suspension as requested
(``mark_suspension_requested``), both for flows/suspension.py, our copy of Prefect's ``suspend_flow_run`` that also
stores the schema when the server's answer was lost. tests/unit/test_prefect_private_surface.py fails loudly when a
Prefect upgrade moves any of it; the warm worker's own needs are fenced the same way (hjemtilos/warm/prefect_fork.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

__all__ = ["drain_client_services", "form_schema", "mark_suspension_requested"]


def form_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema Prefect's UI renders a Resume form from, as ``suspend_flow_run`` stores it."""
    from prefect._internal.pydantic.v2_schema import create_v2_schema

    return create_v2_schema(name, model_base=model)


def mark_suspension_requested(flow_run_id: UUID, state: State[Any]) -> bool:
    """Tell Prefect's engine that this run asked to be suspended (its clean exit is then not a crash)."""
    from prefect._flow_run_suspension import mark_flow_run_suspension_requested

    return bool(mark_flow_run_suspension_requested(flow_run_id, state))


def drain_client_services(timeout: float = 5.0) -> None:
    """Send what this process's Prefect client still holds (logs and events of the flows run in it, like the
    stuck-cases artifact) while the server still answers. At exit Prefect drains them itself, and with the server
    already stopped that waited a minute for nothing (``hjemtilos up`` stopping). Uses the services' ``drain_all``."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=timeout)
