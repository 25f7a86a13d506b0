"""The warm worker (`hjemtilos worker`, hjemtilos/warm/): Prefect's process worker whose flow runs are forked by a
pre-imported zygote. Against a real Prefect server: a case through several steps, each resumed with input; a
forked run killed with SIGKILL mid-step ends Crashed, is rescheduled and the case goes on with nothing lost and
no mail twice; a killed zygote is restarted; a run cancelled through the API stops; a forked run's logs reach the
server; and a changed module is picked up without restarting the worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.deployments import run_deployment
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelling
from sqlalchemy import select

from flows.deployments import WORK_POOL, deploy_all, flow_run_command
from hjemtilos import PROJECT_ROOT
from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.db.models import AuditEvent, HumanTask
from hjemtilos.timekeeper.live_runs import restart_crashed_runs
from tests.flows.driving import TODAY, add_family, deliver, now, start_case
from tests.support import descendants, kill_tree

ZYGOTE = b"hjemtilos.warm.zygote"


def start_worker(log: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_WORKER_QUERY_SECONDS="1", **env)
    return subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "worker", "--sole", "--limit", "5"],
                            env=environment, cwd=PROJECT_ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _ppid(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def zygote_of(worker: subprocess.Popen[bytes]) -> int | None:
    """The zygote: a zygote process whose parent is not a zygote (its forked runs share its command line)."""
    for pid in descendants(worker.pid):
        if ZYGOTE in _cmdline(pid) and ZYGOTE not in _cmdline(_ppid(pid)):
            return pid
    return None


def forked_runs(worker: subprocess.Popen[bytes]) -> list[int]:
    zygote = zygote_of(worker)
    return [pid for pid in descendants(worker.pid) if zygote and _ppid(pid) == zygote]


def wait_until(condition, timeout: float, what: str, every: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def state_of(run_id: UUID):  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


def paused_on(run_id: UUID, key: str):  # type: ignore[no-untyped-def]
    def check() -> bool:
        state = state_of(run_id)
        return bool(state.is_paused() and state.state_details.pause_key == key)
    return check


def test_a_case_runs_forked_and_a_run_killed_mid_step_is_rescheduled_with_nothing_twice(
        app, smtp_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    deploy_all()
    add_family(app)
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        zygote = wait_until(lambda: zygote_of(worker), 60, "the zygote")
        _case_id, _reference, case = start_case(app, "referral-standard.json")
        wait_until(paused_on(case.run_id, "approval-screening-r1"), 120, "the warm worker to reach screening")
        wait_until(lambda: not forked_runs(worker), 30, "the suspended run's process to end")
        resume_flow_run(case.run_id, run_input={"decision": "godkend"})
        wait_until(lambda: state_of(case.run_id).is_running(), 60, "the resumed run to run", every=0.02)
        victims = wait_until(lambda: forked_runs(worker), 10, "the resumed run's forked process", every=0.02)
        for pid in victims:  # mid-step: a power cut of the run's own process
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: state_of(case.run_id).is_crashed(), 60, "the killed run to end Crashed")
        at_consent = paused_on(case.run_id, "approval-consent-r1")

        def rescheduled_to_consent() -> bool:  # the timekeeper's part, every tick (the worker reports the crash
            restart_crashed_runs(app, now(), PrefectOrchestrator())  # twice: a reschedule may be overwritten once)
            return at_consent()

        wait_until(rescheduled_to_consent, 120, "the rescheduled run to reach consent", every=1.0)
        resume_flow_run(case.run_id, run_input={"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY})
        wait_until(paused_on(case.run_id, "approval-match-proposal-1-r1"), 120, "the next step, matching")
        assert zygote_of(worker) == zygote  # the same zygote forked every step
        deliver(app)
        time.sleep(1.0)
        deliver(app)  # a second round sends nothing more
    finally:
        kill_tree(worker)
    assert b"running cold" not in log.read_bytes()  # every step was forked, none fell back to a new interpreter
    with app.session_factory() as session:
        completed = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "task-completed")).all()
        assert [d["key"] for d in completed] == ["approval-screening", "approval-consent"]
        assert session.scalars(select(AuditEvent.action).where(AuditEvent.action == "run-restarted")).all()
        tasks = {t.key: t.completed_at is not None for t in session.scalars(select(HumanTask))}
        assert tasks == {"approval-screening": True, "approval-consent": True, "approval-match-proposal-1": False}
    received = Counter(r.message["X-Hjemtilos-Template"] for r in smtp_server.received)
    assert received["referral-receipt"] == 1 and received["consent-request"] == 1, received
    assert all(count == 1 for count in received.values()), received


def _probe_logs(run_id: UUID) -> list[str]:
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return [entry.message for entry in logs]


def _logged(run_id: UUID, start: str) -> bool:
    return any(m.startswith(start) for m in _probe_logs(run_id))


def test_logs_cancellation_a_killed_zygote_and_a_changed_module(prefect_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flows.deployments import ensure_work_pool

    ensure_work_pool(WORK_POOL)
    modules = tmp_path / "modules"
    modules.mkdir()
    value = modules / "warm_probe_value.py"
    value.write_text("VALUE = 1\n")
    probe: Flow = Flow.from_source(str(PROJECT_ROOT), "tests/flows/warm_probe.py:warm_probe")  # type: ignore[assignment]
    probe.deploy(name="warm-probe", work_pool_name=WORK_POOL, job_variables={"command": flow_run_command()},
                 build=False, push=False, print_next_steps=False, ignore_warnings=True)
    log = tmp_path / "worker.log"
    worker = start_worker(log, PYTHONPATH=str(modules), HJEMTILOS_WARM_PRELOAD="warm_probe_value")

    def run_probe(sleep_seconds: float = 0.0, wait: bool = True):  # type: ignore[no-untyped-def]
        flow_run = run_deployment("warm-probe/warm-probe", parameters={"sleep_seconds": sleep_seconds}, timeout=0)
        if wait:
            wait_until(lambda: state_of(flow_run.id).is_final(), 120, "the probe run to finish")
        return flow_run.id

    try:
        zygote = wait_until(lambda: zygote_of(worker), 60, "the zygote")
        first = run_probe()
        assert state_of(first).is_completed()
        lines = wait_until(lambda: [m for m in _probe_logs(first) if m.startswith("warm probe value")], 30,
                           "the forked run's log line on the server")
        assert lines[0].startswith("warm probe value 1 in process ")
        child_pid = lines[0].rsplit(" ", 1)[1]
        assert int(child_pid) != zygote  # logged by a forked child, not by the zygote
        with get_client(sync_client=True) as client:  # the run names the forked process as its infrastructure
            assert client.read_flow_run(first).infrastructure_pid == child_pid

        sleeper = run_probe(sleep_seconds=120, wait=False)
        wait_until(lambda: state_of(sleeper).is_running(), 60, "the sleeping probe to run")
        child = wait_until(lambda: forked_runs(worker), 10, "its forked process")[0]
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(sleeper, Cancelling(), force=True)
        wait_until(lambda: state_of(sleeper).is_cancelled(), 90, "the cancelled run to end Cancelled")
        wait_until(lambda: not Path(f"/proc/{child}").exists() or _ppid(child) != zygote, 30,
                   "the cancelled run's process to end")

        os.kill(zygote, signal.SIGKILL)
        second_zygote = wait_until(lambda: (z := zygote_of(worker)) and z != zygote and z, 60, "a new zygote")
        assert state_of(run_probe()).is_completed()  # runs go on through the new zygote

        value.write_text("VALUE = 2\n")
        later = time.time() + 5
        os.utime(value, (later, later))
        changed = run_probe()  # this one runs cold (the zygote holds the old module) and the zygote restarts
        assert state_of(changed).is_completed()
        wait_until(lambda: _logged(changed, "warm probe value 2"), 30, "the changed run's log of the new value")
        wait_until(lambda: (z := zygote_of(worker)) and z != second_zygote, 60, "the zygote restarted on new code")
        newest = run_probe()
        wait_until(lambda: _logged(newest, "warm probe value 2"), 30, "the new zygote's run logging the new value")
        assert worker.poll() is None  # the worker itself never restarted
    finally:
        kill_tree(worker)
    output = log.read_bytes()
    assert output.count(b"running cold") == 1, output[-3000:]

