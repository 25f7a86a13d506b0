"""Small coordinator deployments: end a case early, record a change of circumstances.

Run them from the deployment's "Run" → "Custom run" form in the Prefect UI. The parameters have Danish names and
help (Prefect titles a parameter by its name and takes its help from the docstring); they are the case reference,
choices and initials only: no free text, so no personal data reaches Prefect. The reference's format is checked by
Prefect before a run is made.
"""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from casework.steps import ChangeKind, EndedBy
from hjemtilos import cases
from hjemtilos.adapters.prefect import PrefectOrchestrator
from tasks.runtime import get_app, utcnow

ENDED_BY = {"venskabsfamilien": EndedBy.FAMILY, "forældrene": EndedBy.PARENTS, "barnet": EndedBy.CHILD,
            "Red Barnet": EndedBy.RED_BARNET, "BBU": EndedBy.BBU}
REASONS = Literal["familiens situation", "barnet ønsker ikke at fortsætte", "forældrene ønsker ikke at fortsætte",
                  "flytning", "samarbejdet fungerer ikke", "andet"]
CHANGES = {"flytning": ChangeKind.MOVING, "sygdom": ChangeKind.ILLNESS, "skilsmisse": ChangeKind.DIVORCE,
           "anbringelse": ChangeKind.PLACEMENT, "andet": ChangeKind.OTHER}


@task(name="record_ending", cache_policy=NO_CACHE, persist_result=False)
def record_ending(case_reference: str, ended_by: EndedBy, reason: str, rematch: bool,
                  coordinator: str) -> str | None:
    _, run_id = cases.request_ending(get_app(), case_reference, ended_by=ended_by, reason=reason,
                                         rematch=rematch, actor=coordinator, now=utcnow())
    return run_id


@task(name="wake_case_run", retries=3, retry_delay_seconds=[1, 5, 15], cache_policy=NO_CACHE, persist_result=False)
def wake_case_run(flow_run_id: str) -> bool:
    return PrefectOrchestrator().reschedule(flow_run_id)


# The case reference as the Prefect UI validates it before it makes a run (a typo never starts one).
Reference = Annotated[str, Field(pattern=r"^HTO-\d{4}-\d{4}$")]
Initials = Annotated[str, Field(min_length=2, max_length=20, pattern=r"^[A-Za-zÆØÅæøå. -]+$")]


@flow(name="end-case", persist_result=False)
def end_case(
    sagsnummer: Reference,
    afsluttet_af: Literal["venskabsfamilien", "forældrene", "barnet", "Red Barnet", "BBU"],
    begrundelse: REASONS,
    ny_familie: Literal["ja, find en ny familie", "nej, afslut sagen"] = "nej, afslut sagen",
    initialer: Initials = "KO",
) -> str:
    """Afslut et forløb før tid (end a case early). Hvis familien afslutter, holdes et ekstra børnebesøg.

    Args:
        sagsnummer: Sagens nummer, fx HTO-2026-0001 (the case reference).
        afsluttet_af: Hvem afslutter forløbet? (who ends it)
        begrundelse: Hvorfor slutter forløbet? Vælg den nærmeste (why; no free text reaches Prefect).
        ny_familie: Skal barnet have en ny venskabsfamilie? Afslutter familien, spørges barnet først ved et ekstra
            børnebesøg (should the child get a new family).
        initialer: Dine initialer (your initials).
    """
    run_id = record_ending(sagsnummer, ENDED_BY[afsluttet_af], begrundelse, ny_familie.startswith("ja"), initialer)
    woke = wake_case_run(run_id) if run_id else False
    get_run_logger().info("ending recorded for %s; case run woken: %s", sagsnummer, woke)
    return "recorded"


@task(name="record_circumstance_change", cache_policy=NO_CACHE, persist_result=False)
def record_circumstance_change(case_reference: str, kind: ChangeKind, coordinator: str) -> int:
    return cases.record_change(get_app(), case_reference, kind, coordinator, utcnow())


@flow(name="record-change", persist_result=False)
def record_change(
    sagsnummer: Reference,
    forandring: Literal["flytning", "sygdom", "skilsmisse", "anbringelse", "andet"],
    initialer: Initials = "KO",
) -> str:
    """Registrér ændrede forhold (change of circumstances): familien og Red Barnet orienteres.

    Args:
        sagsnummer: Sagens nummer, fx HTO-2026-0001 (the case reference).
        forandring: Hvad har ændret sig hos barnet eller familien? (what changed)
        initialer: Dine initialer (your initials).
    """
    record_circumstance_change(sagsnummer, CHANGES[forandring], initialer)
    return "recorded"
