"""The run command for many offices: `hjemtilos up` with the Prefect server and the case database on PostgreSQL
(by URL) and two process workers on one work pool. Referrals go in through the CLI, a coordinator robot approves
screening; every step of every case runs exactly once, and both workers take runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prefect.automations import Automation
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from flows.deployments import RETIRED_AUTOMATION
from hjemtilos import PROJECT_ROOT
from hjemtilos.db.models import AuditEvent
from hjemtilos.mail.catcher import list_caught
from tests.support import AUTH_HEADER, UP_AUTH, free_port, pg_database, require_pg, stop_up, up_env

CASES = 6
pytestmark = pytest.mark.postgres


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def case_runs() -> dict[str, FlowRun]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(
            name=DeploymentFilterName(any_=["referral-case"])), limit=200)
    return {run.name: run for run in runs}


def all_paused_on(references: list[str], key: str) -> Callable[[], bool]:
    def check() -> bool:
        runs = case_runs()
        return all(ref in runs and runs[ref].state is not None and runs[ref].state.is_paused()
                   and runs[ref].state.state_details.pause_key == key for ref in references)
    return check


def submissions(api_url: str) -> dict[str, list[str]]:
    """flow run id -> the workers that submitted it, from the workers' own events."""
    response = httpx.post(f"{api_url}/events/filter", headers=AUTH_HEADER, json={
        "filter": {"event": {"name": ["prefect.worker.submitted-flow-run"]}}, "limit": 50}, timeout=30)
    response.raise_for_status()
    page = response.json()
    events = page["events"]
    while page.get("next_page"):  # 50 events a page
        response = httpx.get(page["next_page"], headers=AUTH_HEADER, timeout=30)
        response.raise_for_status()
        page = response.json()
        events.extend(page["events"])
    result: dict[str, list[str]] = defaultdict(list)
    for event in events:
        worker = event["resource"]["prefect.resource.id"]
        for related in event.get("related", []):
            if related.get("prefect.resource.role") == "flow-run":
                result[related["prefect.resource.id"].removeprefix("prefect.flow-run.")].append(worker)
    return result


@pytest.fixture
def system_on_postgresql(tmp_path: Path):  # type: ignore[no-untyped-def]
    require_pg()
    with pg_database("prefect_test") as prefect_url, pg_database("hjemtilos_test") as case_url:
        port, form_port, smtp_port = free_port(), free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HJEMTILOS_"))}
        env.update(HJEMTILOS_DATA_DIR=str(tmp_path / "var"), HJEMTILOS_PROFILE="production",
                   HJEMTILOS_DATABASE_URL=case_url, HJEMTILOS_PREFECT_DATABASE_URL=prefect_url,
                   HJEMTILOS_PREFECT_PORT=str(port), HJEMTILOS_FORM_PORT=str(form_port),
                   HJEMTILOS_MAIL_CATCHER_PORT=str(smtp_port), HJEMTILOS_SMTP_PORT=str(smtp_port), **up_env())
        log_path = tmp_path / "up.log"
        # two workers that take at most two runs each, so neither can take every case
        up = subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "up", "--workers", "2", "--worker-limit", "2"],
                              env=env, cwd=PROJECT_ROOT, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
        try:
            wait_until(lambda: b"Running. Ctrl-C" in log_path.read_bytes() or up.poll() is not None, 240,
                       "hjemtilos up")
            assert up.poll() is None, log_path.read_text(errors="replace")[-3000:]
            yield env, f"http://127.0.0.1:{port}/api", case_url, tmp_path / "var" / "mailcatcher", log_path
        finally:
            stop_up(up)


def test_two_workers_on_postgresql_run_every_step_once(system_on_postgresql) -> None:  # type: ignore[no-untyped-def]
    env, api_url, case_url, maildir, log_path = system_on_postgresql
    assert "Prefect database: postgresql" in log_path.read_text(errors="replace")
    references = []
    for _ in range(CASES):
        done = subprocess.run([sys.executable, "-m", "hjemtilos.cli", "refer", "examples/referral-standard.json"],
                              env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        references.append(done.stdout.strip().splitlines()[-1])
    assert len(set(references)) == CASES

    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: UP_AUTH}):
        # orphans of a dead worker are found by the housekeeper from the runs' current states and heartbeats,
        # not by Prefect's zombie automation (it crashed suspended runs after a server start)
        with pytest.raises((ValueError, ObjectNotFound)):
            Automation.read(name=RETIRED_AUTOMATION)
        wait_until(all_paused_on(references, "approval-screening-r1"), 300, "every case to wait on screening")
        for run in case_runs().values():
            resume_flow_run(run.id, run_input={"decision": "godkend"})
        wait_until(all_paused_on(references, "approval-consent-r1"), 300, "every case to wait on consent")
        runs = case_runs()
        with get_client(sync_client=True) as client:
            running = {ref: sum(1 for s in client.read_flow_run_states(runs[ref].id) if s.type == StateType.RUNNING)
                       for ref in references}
    assert running == dict.fromkeys(references, 2)  # referral -> screening, screening -> consent: no third run

    run_ids = {str(runs[ref].id) for ref in references}

    def both_submissions_recorded() -> bool:
        seen = submissions(api_url)
        return all(len(seen.get(run_id, [])) >= 2 for run_id in run_ids)

    wait_until(both_submissions_recorded, 60, "the workers' submission events")
    seen = submissions(api_url)
    assert {run_id: len(seen[run_id]) for run_id in run_ids} == dict.fromkeys(run_ids, 2)
    workers = Counter(worker for run_id in run_ids for worker in seen[run_id])
    assert len(workers) == 2, workers  # both workers executed case runs

    engine = create_engine(case_url)
    with Session(engine) as session:
        completed = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "task-completed")).all()
    engine.dispose()
    assert Counter(d["key"] for d in completed) == Counter({"approval-screening": CASES})

    def consent_requests() -> int:  # one per case, to the referrer who collects the consents
        return sum(1 for mail in list_caught(maildir) if mail.message["X-Hjemtilos-Template"] == "consent-request")

    wait_until(lambda: consent_requests() >= CASES, 60,
               f"the consent requests; caught: {Counter(m.message['X-Hjemtilos-Template'] for m in list_caught(maildir))}")
    time.sleep(3)  # one more delivery round: nothing may follow
    assert consent_requests() == CASES
