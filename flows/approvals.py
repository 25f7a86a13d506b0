"""Waiting for a coordinator's form, for case runs and volunteer-family runs alike: ask the case database what
the step needs, suspend with the form, record the answer, and ask again under the next round when the run was
resumed without an answer or the answer could not be accepted."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel

from flows.forms import resume_form
from flows.suspension import suspend_for_input
from hjemtilos.approvals import ApprovalState, SubmitResult
from tasks.case_tasks import forget_answer

__all__ = ["AwaitedStep", "OpenApproval", "await_answer"]


class OpenApproval(Protocol):
    @property
    def state(self) -> ApprovalState: ...

    @property
    def description(self) -> str: ...


V = TypeVar("V", bound=OpenApproval)
A = TypeVar("A", bound=BaseModel)


class AwaitedStep(Protocol[V, A]):
    """A step a run waits on, as the run sees it: each method is one task (or none) of the run."""

    def open(self) -> V:
        """Open the step unless it is open, and describe it (state, form, dialog text)."""
        ...

    def form_model(self, current: V) -> type[A]:
        """The answer model the Resume form is built from."""
        ...

    def initial(self, current: V) -> dict[str, Any]:
        """The values the form starts with."""
        ...

    def record(self, round_: int, answer: A) -> SubmitResult:
        """Record the answer given in ``round_``."""
        ...

    def skip(self, round_: int) -> None:
        """The run was resumed without an answer: close ``round_`` so the next suspension has a new key."""
        ...

    def before_suspend(self, current: V) -> None:
        """What the run does just before it suspends (tags the run with what it waits for)."""
        ...


def await_answer(step: AwaitedStep[V, A]) -> SubmitResult:
    while True:
        current = step.open()
        if current.state.completed:
            return SubmitResult(True, current.state.outcome, None)
        step.before_suspend(current)
        form = resume_form(step.form_model(current), current.description, dict(step.initial(current)))
        try:
            # the form is a RunInput subclass of the answer model: the answer is an instance of the model
            answer = cast(A, suspend_for_input(form, current.state.suspend_key))
        except (RuntimeError, ObjectNotFound) as exc:  # resumed without input: ask again under a new key
            get_run_logger().warning("suspension %s ended without input (%s)", current.state.suspend_key,
                                     type(exc).__name__)
            step.skip(current.state.round)
            continue
        result = step.record(current.state.round, answer)
        # recorded (or refused with the reason): Prefect keeps nothing of it; a crash before this line leaves it
        # to the timekeeper's sweep (hjemtilos/timekeeper/answer_sweep.py)
        forget_answer(str(cast(Any, FlowRunContext.get()).flow_run.id), current.state.suspend_key)
        if result.accepted:
            return result
