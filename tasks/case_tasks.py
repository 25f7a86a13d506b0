"""Tasks of the referral-case flow. Each is one transaction in the case database (see hjemtilos.cases)."""

from __future__ import annotations

from casework.steps import ApprovalKind, TimerKind
from hjemtilos import cases
from hjemtilos.adapters.prefect import tag_waiting_run as tag_run
from tasks.runtime import db_task, get_app, side_effect_task, utcnow


@db_task
def attach_case_run(case_id: int, flow_run_id: str | None) -> cases.CaseInfo:
    return cases.attach_run(get_app(), case_id, flow_run_id, utcnow())


@db_task
def read_case_info(case_id: int) -> cases.CaseInfo:
    return cases.case_info(get_app(), case_id)


@db_task
def open_approval(case_id: int, kind: ApprovalKind, scope: int | None) -> cases.ApprovalView:
    return cases.prepare_approval(get_app(), case_id, kind, scope, utcnow())


@db_task
def record_approval(case_id: int, kind: ApprovalKind, scope: int | None, round_: int,
                    answer: cases.Answer) -> cases.SubmitResult:
    return cases.submit_approval(get_app(), case_id, kind, scope, round_, answer, utcnow())


@db_task
def skip_approval_round(case_id: int, kind: ApprovalKind, scope: int | None, round_: int) -> None:
    cases.skip_round(get_app(), case_id, kind, scope, round_, utcnow())


@db_task
def check_timer(case_id: int, kind: TimerKind, attempt: int) -> cases.TimerView:
    return cases.prepare_timer(get_app(), case_id, kind, attempt, utcnow())


@db_task
def check_family_available(case_id: int, attempt: int) -> cases.TimerView:
    return cases.prepare_family_wait(get_app(), case_id, attempt, utcnow())


@db_task
def close_year(case_id: int, attempt: int) -> None:
    cases.finish_year(get_app(), case_id, attempt, utcnow())


@db_task
def begin_early_ending(case_id: int) -> cases.EndingPlan | None:
    return cases.begin_ending(get_app(), case_id, utcnow())


@db_task
def finish_early_ending(case_id: int, ending_id: int) -> str:
    return cases.finish_ending(get_app(), case_id, ending_id, utcnow())


@side_effect_task
def tag_waiting_run(flow_run_id: str, kind: str, waits_for: str, family: bool = False) -> None:
    """Tags for the coordinator's inbox: ``case`` (or ``family``), the step, and who the run waits for."""
    tag_run(flow_run_id, kind, waits_for, family)


@side_effect_task
def forget_answer(flow_run_id: str, pause_key: str) -> None:
    """Delete the answer (and its form) from Prefect once the case database has recorded it."""
    from hjemtilos.adapters.prefect import PrefectOrchestrator

    PrefectOrchestrator().forget_answers(flow_run_id, [pause_key])
