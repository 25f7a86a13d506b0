"""The workspace's proxy for the changes a coordinator makes in Prefect: answering a step's form (Resume) and
starting end-case or record-change. Caddy sends these two calls here instead of straight to Prefect
(``front_door.CADDY_CHANGE_PATHS``), because only here is the body seen:

- a Resume must name a case's or a family's run and carry ``run_input`` only; the resumes of one run are taken one
  at a time, so of two coordinators answering the same form a second apart one decides and the other is told who
  did ("Trinnet er allerede afgjort af …"), in the UI's own error toast;
- a run of a deployment may be created only for end-case and record-change, with parameters that the flow accepts
  and nothing that chooses how it runs (``job_variables``, a work queue, infrastructure): what is passed on to
  Prefect is the parameters alone.

Every outcome goes to the access log with the person: decided (``resumed``), tried and refused (``resume-refused``),
run started, and calls refused before they reached Prefect.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from hjemtilos.audit import access
from hjemtilos.host.front_door import basic_credentials
from hjemtilos.workspace.accounts import SignedIn

__all__ = ["COORDINATOR_DEPLOYMENTS", "GateAnswer", "PrefectGate", "check_start_body", "refusal",
           "start_validators"]

COORDINATOR_DEPLOYMENTS = ("end-case", "record-change")
# fields of Prefect's DeploymentFlowRunCreate that choose how or where a run executes: never from a browser
_CHOOSES_EXECUTION = ("job_variables", "work_queue_name", "infrastructure_document_id", "parent_task_run_id")
_KNOWN_FIELDS = frozenset({"parameters", "name", "tags", "state", "idempotency_key", "context", "empirical_policy",
                           "enforce_parameter_schema", "labels", *_CHOOSES_EXECUTION})
_RESUME = re.compile(r"^/api/flow_runs/([0-9a-fA-F-]{36})/resume/?$")
_START = re.compile(r"^/api/deployments/([0-9a-fA-F-]{36})/create_flow_run/?$")


def refusal(da: str, en: str, status: int = 403) -> GateAnswer:
    return GateAnswer(status, {"detail": f"{da} / {en}"})


@dataclass(frozen=True)
class GateAnswer:
    status: int
    body: dict[str, Any]


def check_start_body(body: object, validate: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any] | str:
    """The parameters to pass on, or why the body is refused (Danish / English). ``validate`` checks the
    parameters against the flow (raising ValueError or TypeError) and returns them as JSON."""
    if not isinstance(body, dict):
        return "Forespørgslen er ikke et JSON-objekt. / The request is not a JSON object."
    unknown = sorted(set(body) - _KNOWN_FIELDS)
    if unknown:
        return f"Ukendte felter: {', '.join(unknown)}. / Unknown fields: {', '.join(unknown)}."
    chosen = [name for name in _CHOOSES_EXECUTION if body.get(name)]
    if chosen:
        return (f"En kørsel kan ikke vælge, hvordan den afvikles ({', '.join(chosen)}). / A run cannot choose how "
                f"it is executed ({', '.join(chosen)}).")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        return "Parametrene skal være et objekt. / The parameters must be an object."
    try:
        return validate(parameters)
    except (ValueError, TypeError):
        return "Parametrene passer ikke til formularen. / The parameters do not fit the form."


def start_validators() -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    """The deployments coordinators may start, each with its flow's own parameter check (the flow's signature:
    unknown or missing parameters and values outside the choices are refused)."""
    from pydantic import TypeAdapter

    from flows.end_case import end_case, record_change

    def check(flow: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def validate(parameters: dict[str, Any]) -> dict[str, Any]:
            try:
                valid = flow.validate_parameters(parameters)
            except Exception as exc:
                raise ValueError("parameters") from exc
            return dict(TypeAdapter(dict[str, Any]).dump_python(valid, mode="json"))
        return validate

    return {"end-case": check(end_case), "record-change": check(record_change)}


class PrefectGate:
    """Passes the admitted changes on to Prefect (``api_url``, with its auth string) and logs each outcome."""

    def __init__(self, api_url: str, auth: str | None, session_factory: Any,
                 validators: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
        self.origin = api_url.rstrip("/").removesuffix("/api")  # paths below start with /api
        self.headers = {"Authorization": basic_credentials(auth)} if auth else {}
        self.session_factory = session_factory
        self.validators = validators  # deployment name → its parameter check
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._names: dict[str, str] = {}

    @contextmanager
    def _one_at_a_time(self, run_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(run_id, threading.Lock())
        with lock:
            yield

    def _prefect(self, method: str, path: str, body: object | None = None) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            return client.request(method, f"{self.origin}{path}", headers=self.headers,
                                  json=body if body is not None else None)

    def handle(self, who: SignedIn, path: str, raw: bytes, now: Callable[[], datetime],
               client: str | None) -> GateAnswer:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = None
        resume, start = _RESUME.match(path), _START.match(path)
        if resume is not None:
            return self._resume(who, resume.group(1).lower(), body, now, client)
        if start is not None:
            return self._start(who, start.group(1).lower(), body, now, client)
        return self._refuse(who, "POST", path, now, client, "not in the allow-list")

    def _refuse(self, who: SignedIn, method: str, path: str, now: Callable[[], datetime], client: str | None,
                why: str, answer: GateAnswer | None = None) -> GateAnswer:
        with self.session_factory.begin() as session:
            access.refused(session, who, method, path, now(), client, why)
        return answer or refusal("Det har du ikke adgang til", "You are not allowed to do that")

    # -- Resume ----------------------------------------------------------------------------------------------------

    def _resume(self, who: SignedIn, run_id: str, body: object, now: Callable[[], datetime],
                client: str | None) -> GateAnswer:
        path = f"/api/flow_runs/{run_id}/resume"
        if not isinstance(body, dict) or set(body) - {"run_input"} or not isinstance(body.get("run_input", {}), dict):
            return self._refuse(who, "POST", path, now, client, "resume body other than run_input",
                                refusal("Svaret kan ikke læses", "The answer cannot be read", 422))
        with self.session_factory() as session:
            known = access.run_owner(session, run_id) != (None, None)
        if not known:
            return self._refuse(who, "POST", path, now, client, "resume of a run that is no case's or family's")
        with self._one_at_a_time(run_id):
            current = self._prefect("GET", f"/api/flow_runs/{run_id}")
            if current.status_code == 404:
                return self._refuse(who, "POST", path, now, client, "resume of a run Prefect does not have",
                                    refusal("Kørslen findes ikke", "The run does not exist", 404))
            state = (current.json().get("state") or {}) if current.status_code == 200 else {}
            if state.get("type") != "PAUSED":
                return self._lost_race(who, run_id, now, client)
            with self.session_factory.begin() as session:
                entry = access.resumed(session, who, run_id, now(), client)
                entry_id = entry.id
            answer = self._prefect("POST", path, {"run_input": body.get("run_input")} if "run_input" in body else {})
            result = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
            if answer.status_code < 300 and result.get("status") == "ACCEPT":
                return GateAnswer(answer.status_code, result)
            with self.session_factory.begin() as session:
                access.mark_refused(session, entry_id)
            if answer.status_code < 300 and result.get("status") == "ABORT":
                return self._lost_race(who, run_id, now, client, logged=True)
            return GateAnswer(answer.status_code, result or {"detail": answer.text[:500]})

    def _lost_race(self, who: SignedIn, run_id: str, now: Callable[[], datetime], client: str | None,
                   logged: bool = False) -> GateAnswer:
        """The step is no longer waiting: someone else answered it (or the run moved on). Told in the UI's toast."""
        with self.session_factory.begin() as session:
            if not logged:
                access.mark_refused(session, access.resumed(session, who, run_id, now(), client).id)
            winner = access.resumer_of(session, run_id)
        by = f" af {winner}" if winner else ""
        by_en = f" by {winner}" if winner else ""
        reason = (f"Trinnet er allerede afgjort{by}. Luk vinduet og genindlæs siden. / The step has already been "
                  f"decided{by_en}. Close the dialog and reload the page.")
        return GateAnswer(200, {"status": "ABORT", "state": None, "details": {"type": "abort_details",
                                                                              "reason": reason}})

    # -- end-case and record-change ---------------------------------------------------------------------------------

    def _deployment_name(self, deployment_id: str) -> str | None:
        if deployment_id not in self._names:
            answer = self._prefect("GET", f"/api/deployments/{deployment_id}")
            if answer.status_code != 200:
                return None
            self._names[deployment_id] = str(answer.json().get("name"))
        return self._names[deployment_id]

    def _start(self, who: SignedIn, deployment_id: str, body: object, now: Callable[[], datetime],
               client: str | None) -> GateAnswer:
        path = f"/api/deployments/{deployment_id}/create_flow_run"
        name = self._deployment_name(deployment_id)
        if name not in self.validators:
            return self._refuse(who, "POST", path, now, client, f"run of deployment {name or 'unknown'}",
                                refusal("Kun end-case og record-change kan startes herfra", "Only end-case and "
                                        "record-change can be started from here"))
        checked = check_start_body(body, self.validators[name])
        if isinstance(checked, str):
            return self._refuse(who, "POST", path, now, client, f"{name}: {checked.split(' / ')[-1]}",
                                GateAnswer(403, {"detail": checked}))
        with self.session_factory.begin() as session:
            entry_id = access.started_run(session, who, deployment_id, now(), client).id
        answer = self._prefect("POST", path, {"parameters": checked})
        if answer.status_code >= 300:
            with self.session_factory.begin() as session:
                access.mark_refused(session, entry_id)
        try:
            return GateAnswer(answer.status_code, answer.json())
        except ValueError:
            return GateAnswer(answer.status_code, {"detail": answer.text[:500]})

