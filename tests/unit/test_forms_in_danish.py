"""Every field of every Resume form is in Danish, with help: the JSON schema the Prefect UI draws each form from
(built as the flows build it, initial values included: Prefect's own prefill once replaced the Danish labels with
generated English ones, "Meeting On", "Start Date") has a Danish title and a description for each field."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema

from casework.steps import ApprovalKind
from flows.end_case import end_case, record_change
from flows.forms import resume_form
from hjemtilos.cases import HANDLERS
from hjemtilos.cases.handler import FormSpec
from hjemtilos.volunteers.screening import FAMILY_HANDLERS

ENGLISH = re.compile(r"\b(on|date|start|meeting|family|parents|answer|answered|reason|decision|visit|held|result|"
                     r"call|the|of|and|who|what|when|clock|time|completed|followed|up|how|it|goes|weekday|brings|"
                     r"fetches|continuation|wants|rematch|child|interview|home|elearning|parent|consent)\b", re.I)
TODAY = date(2026, 12, 7)


def _initial(model: Any) -> dict[str, Any]:
    """Every date field prefilled, as the steps prefill some of them (the prefill must not touch the labels)."""
    return {name: TODAY for name, field in model.model_fields.items()
            if field.annotation in (date, date | None)}


def _case_forms() -> list[tuple[str, dict[str, Any]]]:
    forms = []
    for kind, handler in HANDLERS.items():
        # two custody holders (consent), two candidate families (match proposal)
        choices = ("VF-0001", "VF-0002") if kind is ApprovalKind.MATCH_PROPOSAL else ()
        model = handler.answer_model(FormSpec(kind, slots=2, choices=choices))
        forms.append((str(kind), resume_form(model, "", _initial(model)).model_json_schema()))
    for kind, family_handler in FAMILY_HANDLERS.items():
        model = family_handler.answer
        forms.append((f"volunteer-{kind}", resume_form(model, "", _initial(model)).model_json_schema()))
    return forms


def _generated(name: str) -> set[str]:
    return {name, name.replace("_", " ").title(), name.replace("_", " ").capitalize()}


@pytest.mark.parametrize(("form", "schema"), _case_forms(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_resume_form_field_has_a_danish_title_and_help(form: str, schema: dict[str, Any]) -> None:
    assert schema["properties"], form
    for name, field in schema["properties"].items():
        title, help_text = field.get("title", ""), field.get("description", "")
        assert title and title not in _generated(name), f"{form}.{name}: generated title {title!r}"
        assert not ENGLISH.search(title), f"{form}.{name}: English in the title {title!r}"
        assert help_text and not ENGLISH.search(help_text.split(" / ")[0]), f"{form}.{name}: no Danish help"
        assert "anyOf" not in field, f"{form}.{name}: drawn as a choice of types"


def test_the_coordinators_deployment_forms_speak_danish() -> None:
    """Prefect titles a deployment's parameters by their names (Danish here) and takes the help from the
    docstring: each has Danish help before its English gloss."""
    for flow in (end_case, record_change):
        schema = parameter_schema(flow.fn).model_dump()
        for name, field in schema["properties"].items():
            assert not ENGLISH.search(name.replace("_", " ")), f"{flow.name}.{name}: an English parameter"
            danish = field.get("description", "").split("(")[0]
            assert danish.strip() and not ENGLISH.search(danish), f"{flow.name}.{name}: no Danish help"


def test_a_prefilled_date_keeps_its_label_and_stays_a_plain_date() -> None:
    from hjemtilos.cases.meeting import FirstMeetingAnswer, FirstMeetingPlanAnswer

    plan = resume_form(FirstMeetingPlanAnswer, "", {"meeting_on": TODAY}).model_json_schema()["properties"]
    assert plan["meeting_on"]["title"] == "Første møde (dato)" and plan["meeting_on"]["default"] == "2026-12-07"
    start = resume_form(FirstMeetingAnswer, "", {"start_date": TODAY}).model_json_schema()["properties"]["start_date"]
    assert start == {"default": "2026-12-07", "description": start["description"], "format": "date",
                     "title": "Første besøg (dato)", "type": "string"}
    empty = resume_form(FirstMeetingAnswer, "", {}).model_json_schema()["properties"]["start_date"]
    assert "default" not in empty  # left empty, it is left out of the answer
