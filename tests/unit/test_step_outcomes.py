"""Each step declares the outcomes it gives (``StepHandler.outcomes``): what the flows branch on is among them, and
an outcome a step does not declare is refused when the answer is carried out."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from casework.steps import ApprovalKind, StepOutcome
from hjemtilos.approvals import Answer, StepHandler
from hjemtilos.cases import HANDLERS
from hjemtilos.volunteers.screening import FAMILY_HANDLERS, FamilyStep

# what flows/referral_case.py and flows/volunteer_approval.py compare each step's outcome with
BRANCHED_ON: dict[Any, set[StepOutcome]] = {
    ApprovalKind.SCREENING: {StepOutcome.REJECTED},
    ApprovalKind.MATCH_PROPOSAL: {StepOutcome.NO_FAMILY, StepOutcome.NONE_FITS},
    ApprovalKind.FAMILY_ANSWER: {StepOutcome.DECLINED},
    ApprovalKind.MATCH_ANSWERS: {StepOutcome.AGREED},
    ApprovalKind.CHILD_VISIT: {StepOutcome.CONCERN},
    FamilyStep.HOME_VISIT: {StepOutcome.REJECTED},
    FamilyStep.FAMILY_APPROVAL: {StepOutcome.APPROVED},
}


def test_every_step_declares_its_outcomes_and_the_flows_branch_only_on_declared_ones() -> None:
    handlers: dict[Any, StepHandler[Any, Any]] = {**HANDLERS, **FAMILY_HANDLERS}
    for kind, handler in handlers.items():
        assert handler.outcomes and all(isinstance(o, StepOutcome) for o in handler.outcomes), kind
        assert StepOutcome.CANCELLED not in handler.outcomes  # an early ending's, never an answer's
    for kind, branched in BRANCHED_ON.items():
        assert branched <= handlers[kind].outcomes, kind


def test_an_undeclared_outcome_is_refused() -> None:
    class Sloppy(StepHandler[None, Answer]):
        title = "x"
        answer = Answer
        outcomes: ClassVar[frozenset[StepOutcome]] = frozenset({StepOutcome.HELD})

        def apply(self, ctx: None, answer: Answer) -> StepOutcome | None:
            return StepOutcome.APPROVED

    with pytest.raises(ValueError, match="does not declare"):
        Sloppy().carry_out(None, Answer())
