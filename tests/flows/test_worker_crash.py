"""A worker (the warm worker: Prefect's process worker beside its zygote) killed with SIGKILL in the middle of a
case, then restarted: nothing lost, nothing twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from sqlalchemy import select

from flows.deployments import deploy_all
from hjemtilos import PROJECT_ROOT
from hjemtilos.db.models import AuditEvent, HumanTask
from tests.flows.driving import add_family, deliver, start_case
from tests.support import descendants, kill_tree


def start_worker(log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_WORKER_QUERY_SECONDS="1")
    return subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "worker", "--sole", "--limit", "5"], env=env,
                            cwd=PROJECT_ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("kill_after", [0.0, 2.5])
def test_worker_killed_mid_case_then_restarted(app, smtp_server, tmp_path, kill_after: float) -> None:  # type: ignore[no-untyped-def]
    deploy_all()
    add_family(app)
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        _case_id, _reference, case = start_case(app, "referral-standard.json")

        def paused_on(key: str):  # type: ignore[no-untyped-def]
            def check() -> bool:
                state = case.state()
                return state.is_paused() and state.state_details.pause_key == key
            return check

        wait_until(paused_on("approval-screening-r1"), 120, "the worker to reach screening")
        resume_flow_run(case.run_id, run_input={"decision": "godkend"})
        wait_until(lambda: case.state().is_running(), 60, "the resumed run to start")
        time.sleep(kill_after)
        if kill_after == 0.0:  # the run's process: the warm worker's client, its run forked by the zygote
            commands = [(Path("/proc") / str(pid) / "cmdline").read_bytes() for pid in descendants(worker.pid)]
            assert any(b"hjemtilos/warm/client.py" in c for c in commands), commands
        kill_tree(worker)  # the worker and the flow process it started: a power cut
        worker = start_worker(log)
        wait_until(paused_on("approval-consent-r1"), 120, "the restarted worker to reach consent")
        deliver(app)  # `hjemtilos up`'s part: the flow processes only queued the mails
        wait_until(lambda: any(r.message["X-Hjemtilos-Template"] == "consent-request" for r in smtp_server.received),
                   30, "the consent request mail")
        time.sleep(1.0)
        deliver(app)  # a second round sends nothing more
    finally:
        kill_tree(worker)
    with app.session_factory() as session:
        completed = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "task-completed")).all()
        assert [d["key"] for d in completed] == ["approval-screening"]
        tasks = {t.key: t.completed_at is not None for t in session.scalars(select(HumanTask))}
        assert tasks == {"approval-screening": True, "approval-consent": False}
    received = Counter(r.message["X-Hjemtilos-Template"] for r in smtp_server.received)
    # the receipt went out before the run suspended at screening, the consent request after the restart: each once
    assert received == Counter({"referral-receipt": 1, "consent-request": 1})
