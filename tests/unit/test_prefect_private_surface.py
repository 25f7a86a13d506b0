"""What the flows take from Prefect beyond its public surface (hjemtilos/adapters/prefect_private.py), checked
against the installed Prefect: an upgrade that moves or changes any of it fails here, not in a coordinator's case."""

from __future__ import annotations

import inspect
from typing import Literal

from pydantic import BaseModel, Field

from hjemtilos.adapters import prefect_private


def test_the_form_schema_is_the_json_schema_the_resume_dialog_renders() -> None:
    class Answer(BaseModel):
        decision: Literal["godkend", "afvis"] = Field(title="Beslutning")

    schema = prefect_private.form_schema("Answer", Answer)
    assert schema["title"] == "Answer"
    assert schema["properties"]["decision"]["title"] == "Beslutning"
    assert schema["properties"]["decision"]["enum"] == ["godkend", "afvis"]


def test_prefect_still_has_the_suspension_marker_with_the_signature_we_call() -> None:
    from prefect._flow_run_suspension import mark_flow_run_suspension_requested

    assert list(inspect.signature(mark_flow_run_suspension_requested).parameters) == ["flow_run_id", "state"]


def test_prefect_still_drains_its_client_services_as_we_ask() -> None:
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    from hjemtilos.adapters.prefect_private import drain_client_services

    for service in (APILogWorker, EventsWorker):
        assert "timeout" in inspect.signature(service.drain_all).parameters
    drain_client_services(timeout=1)  # nothing held: returns at once


def test_no_other_module_reaches_into_prefects_private_modules() -> None:
    from pathlib import Path

    from hjemtilos import PROJECT_ROOT

    fenced = {Path("hjemtilos/adapters/prefect_private.py"), Path("hjemtilos/warm/prefect_fork.py")}
    offenders = [path for folder in ("hjemtilos", "flows", "tasks", "casework")
                 for path in (PROJECT_ROOT / folder).rglob("*.py")
                 if path.relative_to(PROJECT_ROOT) not in fenced
                 and ("prefect._" in (text := path.read_text()) or "from prefect._" in text)]
    assert offenders == []
