"""Small coordinator deployments: end a case early, record a change of circumstances.

Run them from the deployment's "Run" → "Custom run" form in the Prefect UI. The parameters are the case
reference and choices only: no free text, so no personal data reaches Prefect.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

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


@flow(name="end-case", persist_result=False)
def end_case(
    case_reference: str,
    ended_by: Literal["venskabsfamilien", "forældrene", "barnet", "Red Barnet", "BBU"],
    reason: REASONS,
    rematch: Literal["ja, find en ny familie", "nej, afslut sagen"] = "nej, afslut sagen",
    coordinator: str = "koordinator",
) -> str:
    """Afslut et forløb før tid (end a case early). Hvis familien afslutter, holdes et ekstra børnebesøg."""
    run_id = record_ending(case_reference, ENDED_BY[ended_by], reason, rematch.startswith("ja"), coordinator)
    woke = wake_case_run(run_id) if run_id else False
    get_run_logger().info("ending recorded for %s; case run woken: %s", case_reference, woke)
    return "recorded"


@task(name="record_circumstance_change", cache_policy=NO_CACHE, persist_result=False)
def record_circumstance_change(case_reference: str, kind: ChangeKind, coordinator: str) -> int:
    return cases.record_change(get_app(), case_reference, kind, coordinator, utcnow())


@flow(name="record-change", persist_result=False)
def record_change(
    case_reference: str,
    change: Literal["flytning", "sygdom", "skilsmisse", "anbringelse", "andet"],
    coordinator: str = "koordinator",
) -> str:
    """Registrér ændrede forhold (change of circumstances): familien og Red Barnet orienteres."""
    record_circumstance_change(case_reference, CHANGES[change], coordinator)
    return "recorded"
