"""What every programme step that waits for a coordinator is made of: a typed answer model (the Prefect Resume
form is built from it, so an answer is validated once and arrives typed), what opening the step does, how it is
described to the coordinator, and what an answer does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

from casework.keys import approval_key
from casework.steps import ApprovalKind, Role, Step
from hjemtilos.approvals import Answer, OptionalDate, StepHandler, optional_date
from hjemtilos.cases.context import CaseContext

__all__ = ["NO_SENSITIVE", "Answer", "FormSpec", "Handler", "OptionalDate", "optional_date"]

NO_SENSITIVE = "Skriv ikke navne eller helbredsoplysninger her: dem har sagsdatabasen."

A = TypeVar("A", bound=Answer)


@dataclass(frozen=True)
class FormSpec:
    """What a step's form depends on besides its kind: the number of custody holders (consent), the candidate
    families (match proposal)."""

    kind: ApprovalKind
    slots: int = 0
    choices: tuple[str, ...] = ()


class Handler(StepHandler[CaseContext, A]):
    """One approval kind of a referral case. Subclasses set the class attributes and override what their step
    does (``StepHandler`` says what each method is for)."""

    kind: ClassVar[ApprovalKind]
    step: ClassVar[Step]
    scoped: ClassVar[bool] = True  # keyed by match attempt (or ending); screening, start-up and consent are not
    reminder_role: ClassVar[Role] = Role.COORDINATOR

    def key(self, scope: int | None) -> str:
        return approval_key(self.kind, scope if self.scoped else None)

    def spec(self, ctx: CaseContext) -> FormSpec:
        return FormSpec(self.kind)

    def answer_model(self, spec: FormSpec) -> type[Answer]:
        return self.answer
