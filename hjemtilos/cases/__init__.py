"""The case core: one handler per programme step that waits for a coordinator (``steps.HANDLERS``), each with
its typed answer model, and the operations the case run performs on the case database."""

from hjemtilos.approvals import InvalidRequest, SubmitResult
from hjemtilos.cases.ending import EndingPlan, begin_ending, finish_ending, record_change, request_ending
from hjemtilos.cases.handler import Answer, FormSpec, Handler
from hjemtilos.cases.service import (
    ApprovalView,
    CaseInfo,
    attach_run,
    case_info,
    case_run_key,
    prepare_approval,
    record_run_started,
    skip_round,
    submit_approval,
)
from hjemtilos.cases.steps import HANDLERS, handler_for
from hjemtilos.cases.timers import TimerView, finish_year, prepare_family_wait, prepare_timer

__all__ = [
    "HANDLERS", "Answer", "ApprovalView", "CaseInfo", "EndingPlan", "FormSpec", "Handler", "InvalidRequest",
    "SubmitResult", "TimerView", "attach_run", "begin_ending", "case_info", "case_run_key", "finish_ending",
    "finish_year", "handler_for", "prepare_approval", "prepare_family_wait", "prepare_timer", "record_change",
    "record_run_started", "request_ending", "skip_round", "submit_approval",
]
