"""Waiting for a coordinator's form, for case runs and volunteer-family runs alike: ask the case database what
the step needs, suspend with the form, record the answer, and ask again under the next round when the run was
resumed without an answer or the answer could not be accepted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel

from flows.forms import resume_form
from flows.suspension import suspend_for_input
from hjemtilos.approvals import ApprovalState, SubmitResult
from tasks.case_tasks import forget_answer

__all__ = ["OpenApproval", "await_answer"]


class OpenApproval(Protocol):
    @property
    def state(self) -> ApprovalState: ...

    @property
    def description(self) -> str: ...


V = TypeVar("V", bound=OpenApproval)
A = TypeVar("A", bound=BaseModel)


def await_answer(
    view: Callable[[], V],
    model_of: Callable[[V], type[A]],
    initial_of: Callable[[V], dict[str, Any]],
    record: Callable[[int, A], SubmitResult],
    skip: Callable[[int], None],
    before_suspend: Callable[[V], None] = lambda _: None,
) -> SubmitResult:
    while True:
        current = view()
        if current.state.completed:
            return SubmitResult(True, current.state.outcome, None)
        before_suspend(current)
        form = resume_form(model_of(current), current.description, dict(initial_of(current)))
        try:
            # the form is a RunInput subclass of the answer model: the answer is an instance of the model
            answer = cast(A, suspend_for_input(form, current.state.suspend_key))
        except (RuntimeError, ObjectNotFound) as exc:  # resumed without input: ask again under a new key
            get_run_logger().warning("suspension %s ended without input (%s)", current.state.suspend_key,
                                     type(exc).__name__)
            skip(current.state.round)
            continue
        result = record(current.state.round, answer)
        # recorded (or refused with the reason): Prefect keeps nothing of it; a crash before this line leaves it
        # to the timekeeper's sweep (hjemtilos/answer_sweep.py)
        forget_answer(str(cast(Any, FlowRunContext.get()).flow_run.id), current.state.suspend_key)
        if result.accepted:
            return result
