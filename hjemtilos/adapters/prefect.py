"""The Prefect adapter: start a case or family run, read a run's state, resume or reschedule it, tag waiting runs,
recover runs a dead worker left behind, publish the stuck-case artifacts. Implements ``Orchestrator``."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas import OrchestrationResult
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.input import create_flow_run_input, delete_flow_run_input, read_flow_run_input
from prefect.states import Scheduled

from hjemtilos.orchestration import FormStatus, RunState

__all__ = ["REFERRAL_CASE_DEPLOYMENT", "VOLUNTEER_APPROVAL_DEPLOYMENT", "PrefectOrchestrator",
           "publish_stuck_artifacts", "read_troubled_runs", "recover_orphaned_runs", "tag_waiting_run"]

REFERRAL_CASE_DEPLOYMENT = "referral-case/referral-case"
CASE_DEPLOYMENTS = ("referral-case", "volunteer-approval")  # the runs that carry a case or a family
VOLUNTEER_APPROVAL_DEPLOYMENT = "volunteer-approval/volunteer-approval"


_DEPLOYMENT_IDS: dict[tuple[str, str], UUID] = {}
_CLIENTS: dict[str, SyncPrefectClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _intake_client(api_url: str) -> SyncPrefectClient:
    """One open client per server for starting runs: a new client costs a connection and a CSRF-token request
    before its first call. httpx's sync client is safe to share between threads (the form's, the CLI's)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(api_url)
        if client is None:
            client = get_client(sync_client=True)
            client.__enter__()
            _CLIENTS[api_url] = client
            if len(_CLIENTS) == 1:
                atexit.register(_close_clients)
        return client


def _close_clients() -> None:
    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            client.__exit__(None, None, None)
        _CLIENTS.clear()


def _create_run(deployment: str, parameters: dict[str, int], name: str, tags: list[str], key: str) -> str:
    """One API call per run on an open client: the deployment's id is looked up once per server and cached
    (``run_deployment`` opened a client and looked the deployment up by name for every referral, which made intake
    the slow path; benchmarks/RESULTS.md, intake). The idempotency key makes a second call (a retry, the
    timekeeper catching up) return the same run."""
    from prefect.settings import PREFECT_API_URL

    api_url = str(PREFECT_API_URL.value())
    cache_key = (api_url, deployment)
    client = _intake_client(api_url)
    for attempt in (1, 2):
        deployment_id = _DEPLOYMENT_IDS.get(cache_key)
        if deployment_id is None:
            deployment_id = _DEPLOYMENT_IDS[cache_key] = client.read_deployment_by_name(deployment).id
        try:
            run = client.create_flow_run_from_deployment(deployment_id, parameters=parameters, name=name,
                                                         tags=tags, idempotency_key=key)
        except ObjectNotFound:  # the deployment was re-created under a new id: look it up again
            _DEPLOYMENT_IDS.pop(cache_key, None)
            if attempt == 2:
                raise
            continue
        return str(run.id)
    raise AssertionError("unreachable")


class PrefectOrchestrator:
    """The application's view of Prefect (``hjemtilos.orchestration.Orchestrator``), on the API of
    ``PREFECT_API_URL``."""

    def run_state(self, flow_run_id: str) -> RunState | None:
        with get_client(sync_client=True) as client:
            try:
                run = client.read_flow_run(UUID(flow_run_id))
            except (ObjectNotFound, ValueError):  # the run is gone (deleted) or the id is not ours: nothing to resume
                return None
        if run.state is None:
            return None
        return RunState(run.state.type.value, run.state.name or "", run.state.state_details.pause_key,
                        run.state.timestamp)

    def resume(self, flow_run_id: str) -> bool:
        with get_client(sync_client=True) as client:
            result = client.resume_flow_run(UUID(flow_run_id))
        return result.status.value == "ACCEPT"

    def start_case(self, case_id: int, reference: str, run_key: str) -> str:
        """The case id is the run's only parameter, the case reference its name."""
        return _create_run(REFERRAL_CASE_DEPLOYMENT, {"case_id": case_id}, reference, ["case"],
                           f"referral-case:{run_key}")

    def start_family(self, family_id: int, reference: str, run_key: str) -> str:
        return _create_run(VOLUNTEER_APPROVAL_DEPLOYMENT, {"family_id": family_id}, reference, ["family"],
                           f"volunteer-approval:{run_key}")

    def troubled_runs(self, now: datetime) -> dict[str, RunState]:
        return read_troubled_runs(now)

    def reschedule(self, flow_run_id: str) -> bool:
        """Wake a suspended run without input (early ending): it re-executes and reads the case database."""
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
            if run.state is None or run.state.type.value not in ("PAUSED", "CRASHED", "FAILED", "CANCELLED"):
                return False
            result: OrchestrationResult[Any] = client.set_flow_run_state(UUID(flow_run_id), Scheduled(name="Resuming"),
                                                                         force=True)
        return result.status.value == "ACCEPT"

    def edit_form_description(self, flow_run_id: str, pause_key: str, edit: Callable[[str], str]) -> bool:
        """The description is a run input of its own, named in the paused state's keyset: replaced."""
        run = UUID(flow_run_id)
        with get_client(sync_client=True) as client:
            try:
                state = client.read_flow_run(run).state
            except ObjectNotFound:
                return False
        details = state.state_details if state is not None and state.is_paused() else None
        if details is None or details.pause_key != pause_key or not details.run_input_keyset:
            return False  # not waiting with this form (yet): the run writes the description itself
        key = details.run_input_keyset["description"]
        current = read_flow_run_input(key, run)
        if not isinstance(current, str):
            return False
        changed = edit(current)
        if changed != current:
            delete_flow_run_input(key, run)
            create_flow_run_input(key, changed, run)
        return True

    def crash_silent_runs(self, now: datetime, silent_after: timedelta) -> list[str]:
        """Mark Crashed the case and family runs that are Running but whose process has sent no heartbeat for
        ``silent_after`` (its worker or machine died), or Pending that long; the timekeeper then continues them.

        Decided on the run's *current* state, never on a stream of events: Prefect's zombie-run automation
        (a proactive trigger expecting a heartbeat or a state event) crashed runs that had suspended minutes
        earlier. The cause: events published in the first seconds after the server starts reach no trigger
        consumer yet (the in-memory broker delivers only to subscriptions that exist), and a state event whose
        predecessor the trigger service never saw (lost that way, or seen by the server before a restart) sits
        in the causal-ordering waitlist for 15 minutes; heartbeats follow nothing and start the 5-minute
        countdown, so the Suspended event that should have ended it arrives too late."""
        from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter
        from prefect.states import Crashed

        crashed: list[str] = []
        with get_client(sync_client=True) as client:
            running = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType.RUNNING, StateType.PENDING]))),
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=list(CASE_DEPLOYMENTS))))
            for run in running:
                state = run.state
                if state is None or state.timestamp is None or now - state.timestamp < silent_after:
                    continue
                # Pending lasts the seconds it takes a process to start: one Pending this long never started (its
                # process died while the server was away and the crash could not be reported)
                beats = None if state.type == StateType.PENDING else client.read_events(EventFilter(
                    occurred=EventOccurredFilter(since=now - silent_after, until=now + timedelta(minutes=1)),
                    event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
                    resource=EventResourceFilter(id=[f"prefect.flow-run.{run.id}"])), limit=1)
                if beats is not None and beats.events:
                    continue
                current = client.read_flow_run(run.id).state
                if current is None or current.type != state.type or current.timestamp != state.timestamp:
                    continue  # it moved on meanwhile (suspended, finished): not silent
                result: OrchestrationResult[Any] = client.set_flow_run_state(run.id, Crashed(
                    message="No heartbeat: its worker or machine stopped."))
                if result.status.value == "ACCEPT":
                    crashed.append(str(run.id))
        return crashed

    def missing_runs(self, flow_run_ids: list[str]) -> set[str]:
        """One query per 200 runs: those Prefect does not have."""
        from prefect.client.schemas.filters import FlowRunFilterId

        missing: set[str] = set()
        with get_client(sync_client=True) as client:
            for start in range(0, len(flow_run_ids), 200):
                batch = flow_run_ids[start:start + 200]
                ids = []
                for run_id in batch:
                    try:
                        ids.append(UUID(run_id))
                    except ValueError:
                        missing.add(run_id)
                found = {str(run.id) for run in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids))} if ids else set()
                missing.update(run_id for run_id in batch if run_id not in found and run_id not in missing)
        return missing

    def form_status(self, flow_run_id: str, pause_key: str) -> FormStatus:
        with get_client(sync_client=True) as client:
            try:
                run = client.read_flow_run(UUID(flow_run_id))
            except (ObjectNotFound, ValueError):
                return FormStatus.NOT_WAITING
            state = run.state
            if state is None or not state.is_paused():
                return FormStatus.NOT_WAITING
            waiting_on = state.state_details.pause_key or ""
            if waiting_on != pause_key:
                same_approval = waiting_on.rsplit("-r", 1)[0] == pause_key.rsplit("-r", 1)[0]
                return FormStatus.EARLIER_ROUND if same_approval else FormStatus.NOT_WAITING
            keyset = state.state_details.run_input_keyset
            if not keyset:
                return FormStatus.MISSING
            try:
                client.read_flow_run_input(UUID(flow_run_id), keyset["schema"])
            except ObjectNotFound:
                return FormStatus.MISSING
            except PrefectHTTPStatusError as exc:  # this call reports a missing input as a plain 404
                if exc.response.status_code == 404:
                    return FormStatus.MISSING
                raise
        return FormStatus.STORED


    def delete_run(self, flow_run_id: str) -> None:
        with get_client(sync_client=True) as client:
            try:
                client.delete_flow_run(UUID(flow_run_id))
            except ObjectNotFound:
                pass

    def forget_answers(self, flow_run_id: str, pause_keys: list[str]) -> None:
        from prefect.input import keyset_from_base_key

        with get_client(sync_client=True) as client:
            for pause_key in pause_keys:
                # Prefect's keys for a suspension: "<state name>-<pause key>-response|schema|description"
                for key in keyset_from_base_key(f"suspended-{pause_key}").values():
                    try:
                        client.delete_flow_run_input(UUID(flow_run_id), key)
                    except ObjectNotFound:
                        pass
                    except PrefectHTTPStatusError as exc:
                        if exc.response.status_code != 404:
                            raise


def recover_orphaned_runs(include_running: bool) -> list[str]:
    """Reschedule case runs a dead worker left behind (kill -9, power cut); the run re-executes from the top
    and the case database tells it what is already done.

    ``include_running``: also runs still marked Running or Pending. Only when no other worker can be running
    them: the sole worker starting, or ``hjemtilos up`` before it starts its workers. With several workers
    only Crashed runs are taken: the "crash silent runs" automation marks a run Crashed once its process stops
    heartbeating (flows/deployments.py), and the timekeeper reschedules those on its own too.
    """
    recovered = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.RUNNING, StateType.PENDING, StateType.CRASHED]))),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["referral-case",
                                                                               "volunteer-approval"])),
        )
        if not include_running:
            runs = [run for run in runs if run.state is not None and run.state.type == StateType.CRASHED]
        for run in runs:
            result: OrchestrationResult[Any] = client.set_flow_run_state(run.id, Scheduled(name="Resuming"), force=True)
            if result.status.value == "ACCEPT":
                recovered.append(str(run.id))
    return recovered


def read_troubled_runs(now: datetime) -> dict[str, RunState]:
    """One filtered query: referral-case runs that failed, crashed, wait for a worker, or ended lately."""
    troubled = [StateType.FAILED, StateType.CRASHED, StateType.SCHEDULED, StateType.PENDING,
                StateType.CANCELLED, StateType.CANCELLING]
    deployment = DeploymentFilter(name=DeploymentFilterName(any_=["referral-case"]))
    result: dict[str, RunState] = {}
    with get_client(sync_client=True) as client:
        batches = [
            FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=troubled))),
            FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])),
                          end_time=FlowRunFilterEndTime(after_=now - timedelta(days=7))),
        ]
        for flow_run_filter in batches:
            offset = 0
            while True:
                runs = client.read_flow_runs(flow_run_filter=flow_run_filter, deployment_filter=deployment,
                                             limit=200, offset=offset)
                for run in runs:
                    state = run.state
                    if state is None:
                        continue
                    since = state.timestamp
                    if state.type == StateType.SCHEDULED and state.state_details.scheduled_time:
                        since = max(state.timestamp, state.state_details.scheduled_time)
                    result[str(run.id)] = RunState(state.type.value, state.name or "",
                                                   state.state_details.pause_key, since)
                if len(runs) < 200:
                    break
                offset += 200
    return result


def tag_waiting_run(flow_run_id: str, kind: str, waits_for: str, family: bool = False) -> None:
    """Tags for the coordinator's inbox: ``case`` (or ``family``), the step, and who the run waits for."""
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(flow_run_id), tags=["family" if family else "case", f"step:{kind}",
                                                        f"waits:{waits_for}"])


def publish_stuck_artifacts(table: list[dict[str, str]], summary: str) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_table_artifact(key="stuck-cases", table=table or [{"sag": "-", "årsag": "Ingen sager sidder fast",
                                                              "reason": "-", "siden": "-"}],
                          description="Sager der sidder fast / stuck cases (opdateres af timekeeper)")
    create_markdown_artifact(key="stuck-cases-summary", markdown=summary,
                             description="Oversigt over sager der sidder fast")
