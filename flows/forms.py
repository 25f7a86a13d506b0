"""The coordinators' forms in the Prefect UI's Resume dialog, built from the steps' typed answer models
(``hjemtilos.cases``, ``hjemtilos.volunteers``): the server validates an answer against the model's schema and the
flow gets it back as an instance of the model. Labels and help texts are the models' (Danish)."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, cast

from prefect.input import RunInput
from pydantic import BaseModel, create_model

__all__ = ["resume_form"]


@lru_cache(maxsize=256)
def _run_input(model: type[BaseModel]) -> type[RunInput]:
    # both bases are pydantic models; pydantic's stub types __base__ as one class family only
    return cast(type[RunInput], create_model(model.__name__ + "Form", __base__=cast(Any, (RunInput, model))))


def resume_form(model: type[BaseModel], description: str, initial: dict[str, Any]) -> type[RunInput]:
    """The Resume dialog's form for ``model``: its fields, the step's description and the initial values.

    The initial values become the fields' defaults with everything else of the field kept (its Danish title, its
    help, its schema): Prefect's ``with_initial_data`` re-declares a field from its bare type and value, and the
    dialog then showed generated English labels ("Meeting On", "Start Date")."""
    form = _run_input(model)
    fields: dict[str, Any] = {}
    for name, value in initial.items():
        field = copy.copy(form.model_fields[name])
        field.default = value
        field.json_schema_extra = None  # an optional date's "no default" rule: here the default is the point
        fields[name] = (field.annotation, field)
    prefilled = cast(type[RunInput], create_model(form.__name__, __base__=form, **fields)) if fields else form
    return prefilled.with_initial_data(description=description)
