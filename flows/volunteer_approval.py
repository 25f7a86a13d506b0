"""The volunteer-approval flow: one run per family, from home visit to the coordinator's approval."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from prefect.input import RunInput
from pydantic import Field, create_model

from flows.suspension import suspend_for_input
from flows.forms import CoordinatorForm
from hjemtilos.volunteers import FAMILY_APPROVAL, HOME_VISIT, FamilyApprovalView
from tasks.family_tasks import open_family_approval, read_family_info, record_family_approval, skip_family_round
from tasks.timekeeper_tasks import wake_family_waits

OUTCOME = Literal["uden anmærkning", "med anmærkning"]


class HomeVisitForm(CoordinatorForm):
    decision: Literal["fortsæt screeningen", "afvis"] = Field(title="Beslutning")
    home_visit_on: date | None = Field(default=None, title="Hjemmebesøg (dato)")
    interview_on: date | None = Field(default=None, title="Samtale (dato)")
    reason: str = Field(default="", max_length=500, title="Begrundelse ved afvisning",
                        description="Skriv ikke oplysninger fra straffeattester her.")


def family_approval_form(members: tuple[int, ...]) -> type[RunInput]:
    fields: dict[str, Any] = {
        "decision": (Literal["gem og vent", "godkend", "afvis"], Field(
            title="Beslutning", description="Gem det modtagne og vent, godkend (kræver at alt er modtaget), "
                                            "eller afvis.")),
        "elearning_completed_on": (date | None, Field(default=None, title="E-læringskursus gennemført (dato)")),
        "reason": (str, Field(default="", max_length=500, title="Begrundelse ved afvisning",
                              description="Skriv ikke oplysninger fra straffeattester her.")),
    }
    for index in members:
        for prefix, label in (("child_certificate", "børneattest"), ("criminal_record", "straffeattest")):
            fields[f"member_{index}_{prefix}_requested_on"] = (date | None, Field(
                default=None, title=f"Medlem {index}: {label} bestilt (dato)"))
            fields[f"member_{index}_{prefix}_received_on"] = (date | None, Field(
                default=None, title=f"Medlem {index}: {label} modtaget (dato)"))
            fields[f"member_{index}_{prefix}_outcome"] = (OUTCOME | None, Field(
                default=None, title=f"Medlem {index}: {label} udfald"))
    return create_model("FamilyApprovalForm", __base__=CoordinatorForm, **fields)


def form_for(view: FamilyApprovalView) -> type[RunInput]:
    base = HomeVisitForm if view.kind == HOME_VISIT else family_approval_form(view.members_needing_certificates)
    return base.with_initial_data(description=view.description)


def await_family_approval(family_id: int, kind: str) -> str | None:
    while True:
        view = open_family_approval(family_id, kind)
        if view.state.completed:
            return view.state.outcome
        try:
            value: Any = suspend_for_input(form_for(view), view.state.suspend_key)
        except (RuntimeError, ObjectNotFound) as exc:
            get_run_logger().warning("suspension %s ended without input (%s)", view.state.suspend_key,
                                     type(exc).__name__)
            skip_family_round(family_id, kind, view.state.round)
            continue
        result = record_family_approval(family_id, kind, view.state.round, value.model_dump(mode="json"))
        if result.accepted:
            return result.outcome


@flow(name="volunteer-approval", persist_result=False, log_prints=False)
def volunteer_approval(family_id: int) -> str:
    """Screen one volunteer family. The only parameter is the family id."""
    context = FlowRunContext.get()
    info = read_family_info(family_id, str(context.flow_run.id) if context and context.flow_run else None)
    if info.status in ("approved", "rejected"):
        return info.status
    if await_family_approval(family_id, HOME_VISIT) == "rejected":
        return "rejected"
    outcome = await_family_approval(family_id, FAMILY_APPROVAL)
    if outcome == "approved":
        wake_family_waits()  # cases waiting for a family can go on at once
    return outcome or "unknown"
