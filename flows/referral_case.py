"""The referral-case flow: one run per referral walks the programme year.

The run re-executes from the top whenever it resumes; every step asks the case database whether it is
done, so finished work is skipped. Approvals suspend the run with a form; timers suspend it until the
timekeeper resumes it. No flow-level retries (a flow retry would start over without the suspend keys).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import suspend_flow_run

from flows.forms import form_for
from flows.suspension import suspend_for_input
from hjemtilos import programme as p
from tasks.case_tasks import (
    attach_case_run,
    begin_early_ending,
    check_family_available,
    check_timer,
    close_year,
    finish_early_ending,
    open_approval,
    read_case_info,
    record_approval,
    send_mail,
    skip_approval_round,
    tag_waiting_run,
)


class EndedEarly(Exception):
    """A coordinator ended the case early; the run handles it at once."""


def await_approval(case_id: int, kind: str, scope: int | None = None) -> p.SubmitResult:
    while True:
        view = open_approval(case_id, kind, scope)
        if view.ending_pending:
            raise EndedEarly
        if view.state.completed:
            return p.SubmitResult(True, view.state.outcome, None)
        send_mail()
        _tag(kind, "coordinator")
        form = form_for(view)
        try:
            value: Any = suspend_for_input(form, view.state.suspend_key)
        except (RuntimeError, ObjectNotFound) as exc:  # resumed without input: ask again under a new key
            get_run_logger().warning("suspension %s ended without input (%s)", view.state.suspend_key,
                                     type(exc).__name__)
            skip_approval_round(case_id, kind, scope, view.state.round)
            continue
        result = record_approval(case_id, kind, scope, view.state.round, value.model_dump(mode="json"))
        if result.accepted:
            send_mail()
            return result


def await_timer(case_id: int, kind: str, attempt: int) -> None:
    while True:
        view = check_timer(case_id, kind, attempt)
        if view.ending_pending:
            raise EndedEarly
        if view.state.passed:
            return
        _tag(kind, "timer")
        suspend_flow_run(key=view.state.suspend_key, timeout=None)


def _tag(kind: str, waits_for: str) -> None:
    context = FlowRunContext.get()
    if context and context.flow_run:
        tag_waiting_run(str(context.flow_run.id), kind, waits_for)


def await_family(case_id: int, attempt: int) -> None:
    while True:
        view = check_family_available(case_id, attempt)
        if view.ending_pending:
            raise EndedEarly
        if view.state.passed:
            return
        _tag("awaiting-family", "family")
        suspend_flow_run(key=view.state.suspend_key, timeout=None)


def run_programme(case_id: int, info: p.CaseInfo) -> str:
    if await_approval(case_id, p.SCREENING).outcome == "rejected":
        send_mail()
        return "rejected"
    if info.residential:
        await_approval(case_id, p.STARTUP)
    else:
        await_approval(case_id, p.CONSENT)
    while True:
        attempt = read_case_info(case_id).match_attempt
        await_family(case_id, attempt)
        await_approval(case_id, p.MATCH_PROPOSAL, attempt)
        if await_approval(case_id, p.MATCH_ANSWERS, attempt).outcome == "agreed":
            break
    await_approval(case_id, p.FIRST_MEETING_PLAN, attempt)
    await_approval(case_id, p.FIRST_MEETING, attempt)
    for kind in (p.FIRST_VISIT_FOLLOWUP, p.CHILD_VISIT, p.FUTURE_AGREEMENT):
        await_timer(case_id, kind, attempt)
        await_approval(case_id, kind, attempt)
    await_timer(case_id, "farewell", attempt)
    close_year(case_id, attempt)
    send_mail()
    return "completed"


def handle_early_ending(case_id: int) -> str:
    plan = begin_early_ending(case_id)
    if plan is None:
        return "none"
    send_mail()
    if plan.extra_child_visit:
        await_approval(case_id, p.EXTRA_CHILD_VISIT, plan.ending_id)
    outcome = finish_early_ending(case_id, plan.ending_id)
    send_mail()
    return outcome


@flow(name="referral-case", persist_result=False, log_prints=False)
def referral_case(case_id: int) -> str:
    """One referral through the programme year. The only parameter is the case id."""
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    info = attach_case_run(case_id, run_id)
    while info.status not in ("closed", "rejected"):
        try:
            if info.ending_in_progress:
                raise EndedEarly
            return run_programme(case_id, info)
        except EndedEarly:
            if handle_early_ending(case_id) == "closed":
                return "ended early"
        info = read_case_info(case_id)
    return info.status
