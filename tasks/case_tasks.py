"""Tasks of the referral-case flow. Each is one transaction in the case database (see hjemtilos.programme)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from hjemtilos import programme
from hjemtilos.mail.sender import DeliveryReport, deliver_pending
from tasks.runtime import get_app, utcnow

DB_TASK = dict(retries=3, retry_delay_seconds=[1, 5, 15], cache_policy=NO_CACHE, persist_result=False)


@task(name="attach_case_run", **DB_TASK)  # type: ignore[call-overload]
def attach_case_run(case_id: int, flow_run_id: str | None) -> programme.CaseInfo:
    return programme.attach_run(get_app(), case_id, flow_run_id, utcnow())


@task(name="read_case_info", **DB_TASK)  # type: ignore[call-overload]
def read_case_info(case_id: int) -> programme.CaseInfo:
    return programme.case_info(get_app(), case_id)


@task(name="open_approval", **DB_TASK)  # type: ignore[call-overload]
def open_approval(case_id: int, kind: str, scope: int | None) -> programme.ApprovalView:
    return programme.prepare_approval(get_app(), case_id, kind, scope, utcnow())


@task(name="record_approval", **DB_TASK)  # type: ignore[call-overload]
def record_approval(case_id: int, kind: str, scope: int | None, round_: int,
                    data: dict[str, Any]) -> programme.SubmitResult:
    return programme.submit_approval(get_app(), case_id, kind, scope, round_, data, utcnow())


@task(name="skip_approval_round", **DB_TASK)  # type: ignore[call-overload]
def skip_approval_round(case_id: int, kind: str, scope: int | None, round_: int) -> None:
    programme.skip_round(get_app(), case_id, kind, scope, round_, utcnow())


@task(name="check_timer", **DB_TASK)  # type: ignore[call-overload]
def check_timer(case_id: int, kind: str, attempt: int) -> programme.TimerView:
    return programme.prepare_timer(get_app(), case_id, kind, attempt, utcnow())


@task(name="check_family_available", **DB_TASK)  # type: ignore[call-overload]
def check_family_available(case_id: int, attempt: int) -> programme.TimerView:
    return programme.prepare_family_wait(get_app(), case_id, attempt, utcnow())


@task(name="close_year", **DB_TASK)  # type: ignore[call-overload]
def close_year(case_id: int, attempt: int) -> None:
    programme.finish_year(get_app(), case_id, attempt, utcnow())


@task(name="begin_early_ending", **DB_TASK)  # type: ignore[call-overload]
def begin_early_ending(case_id: int) -> programme.EndingPlan | None:
    return programme.begin_ending(get_app(), case_id, utcnow())


@task(name="finish_early_ending", **DB_TASK)  # type: ignore[call-overload]
def finish_early_ending(case_id: int, ending_id: int) -> str:
    return programme.finish_ending(get_app(), case_id, ending_id, utcnow())


@task(name="tag_waiting_run", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE,  # type: ignore[call-overload]
      persist_result=False)
def tag_waiting_run(flow_run_id: str, kind: str, waits_for: str) -> None:
    """Tags for the coordinator's inbox: ``case``, the step, and who the run waits for."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(flow_run_id), tags=["case", f"step:{kind}", f"waits:{waits_for}"])


@task(name="send_mail", retries=3, retry_delay_seconds=[2, 10, 30], cache_policy=NO_CACHE,  # type: ignore[call-overload]
      persist_result=False)
def send_mail() -> DeliveryReport:
    app = get_app()
    return deliver_pending(app.session_factory, app.smtp, utcnow())
