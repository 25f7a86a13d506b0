"""Small coordinator deployments: end a case early, record a change of circumstances.

Run them from the deployment's "Run" → "Custom run" form in the Prefect UI. The parameters have Danish names and
help (Prefect titles a parameter by its name and takes its help from the docstring); they are the case reference,
choices only: no free text, so no personal data reaches Prefect. The reference's format is checked by Prefect
before a run is made. Who ran it is the signed-in user whose request the front door recorded (the workspace's case
page offers the same two forms).
"""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow, get_run_logger
from pydantic import Field

from casework.steps import ChangeKind, EndedBy
from hjemtilos import cases
from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.cases.ending import CHANGES, ENDED_BY, REASONS
from tasks.runtime import get_app, once_task, side_effect_task, utcnow


def started_by() -> str:
    """The signed-in coordinator who started this run through the front door, else ``prefect-api``."""
    from prefect.context import FlowRunContext

    from hjemtilos.audit.access import UNATTRIBUTED, starter_of

    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is None or run.deployment_id is None or run.created is None:
        return UNATTRIBUTED
    with get_app().session_factory() as session:
        return starter_of(session, str(run.deployment_id), run.created) or UNATTRIBUTED


@once_task
def record_ending(case_reference: str, ended_by: EndedBy, reason: str, rematch: bool,
                  coordinator: str) -> str | None:
    _, run_id = cases.request_ending(get_app(), case_reference, ended_by=ended_by, reason=reason,
                                         rematch=rematch, actor=coordinator, now=utcnow())
    return run_id


@side_effect_task
def wake_case_run(flow_run_id: str) -> bool:
    return PrefectOrchestrator().reschedule(flow_run_id)


# The case reference as the Prefect UI validates it before it makes a run (a typo never starts one).
Reference = Annotated[str, Field(pattern=r"^HTO-\d{4}-\d{4}$")]


@flow(name="end-case", persist_result=False)
def end_case(
    sagsnummer: Reference,
    afsluttet_af: Literal["venskabsfamilien", "forældrene", "barnet", "Red Barnet", "BBU"],
    begrundelse: REASONS,
    ny_familie: Literal["ja, find en ny familie", "nej, afslut sagen"] = "nej, afslut sagen",
) -> str:
    """Afslut et forløb før tid (end a case early). Hvis familien afslutter, holdes et ekstra børnebesøg.

    Args:
        sagsnummer: Sagens nummer, fx HTO-2026-0001 (the case reference).
        afsluttet_af: Hvem afslutter forløbet? (who ends it)
        begrundelse: Hvorfor slutter forløbet? Vælg den nærmeste (why; no free text reaches Prefect).
        ny_familie: Skal barnet have en ny venskabsfamilie? Afslutter familien, spørges barnet først ved et ekstra
            børnebesøg (should the child get a new family).
    """
    run_id = record_ending(sagsnummer, ENDED_BY[afsluttet_af], begrundelse, ny_familie.startswith("ja"),
                           started_by())
    woke = wake_case_run(run_id) if run_id else False
    get_run_logger().info("ending recorded for %s; case run woken: %s", sagsnummer, woke)
    return "recorded"


@once_task
def record_circumstance_change(case_reference: str, kind: ChangeKind, coordinator: str) -> int:
    return cases.record_change(get_app(), case_reference, kind, coordinator, utcnow())


@flow(name="record-change", persist_result=False)
def record_change(
    sagsnummer: Reference,
    forandring: Literal["flytning", "sygdom", "skilsmisse", "anbringelse", "andet"],
) -> str:
    """Registrér ændrede forhold (change of circumstances): familien og Red Barnet orienteres.

    Args:
        sagsnummer: Sagens nummer, fx HTO-2026-0001 (the case reference).
        forandring: Hvad har ændret sig hos barnet eller familien? (what changed)
    """
    record_circumstance_change(sagsnummer, CHANGES[forandring], started_by())
    return "recorded"
