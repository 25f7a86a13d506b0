"""The front door's allow-list (hjemtilos/workspace/policy.py): the coordinator's tour recorded in chromium
(tests/data/coordinator-tour.json, from tests/browser/test_front_door.py) is admitted call by call, for both roles;
the calls that change infrastructure, delete or force runs, or read Prefect's secrets are refused for both."""

from __future__ import annotations

import json

import pytest

from hjemtilos import PROJECT_ROOT
from hjemtilos.workspace.accounts import Role
from hjemtilos.workspace.policy import RULES, Body, decide

TOUR = json.loads((PROJECT_ROOT / "tests" / "data" / "coordinator-tour.json").read_text())
RUN = "0b6c7a1e-1111-4222-8333-444455556666"

DANGEROUS = [
    ("DELETE", f"/api/flow_runs/{RUN}"),
    ("POST", f"/api/flow_runs/{RUN}/set_state"),
    ("PATCH", f"/api/flow_runs/{RUN}"),
    ("POST", "/api/flow_runs/"),
    ("PATCH", "/api/work_pools/hjemtilos"),
    ("PUT", "/api/work_pools/hjemtilos"),
    ("DELETE", "/api/work_pools/hjemtilos"),
    ("POST", "/api/work_pools/"),
    ("POST", "/api/work_pools/hjemtilos/get_scheduled_flow_runs"),
    ("PATCH", f"/api/deployments/{RUN}"),
    ("DELETE", f"/api/deployments/{RUN}"),
    ("POST", "/api/deployments/"),
    ("POST", f"/api/deployments/{RUN}/set_schedule_inactive"),
    ("POST", f"/api/deployments/{RUN}/pause_deployment"),
    ("POST", "/api/automations/"),
    ("PATCH", f"/api/automations/{RUN}"),
    ("POST", "/api/variables/"),
    ("GET", "/api/variables/name/anything"),
    ("POST", "/api/block_documents/"),
    ("POST", "/api/block_documents/filter"),
    ("GET", f"/api/block_documents/{RUN}?include_secrets=true"),
    ("POST", "/api/concurrency_limits/"),
    ("POST", "/api/v2/concurrency_limits/"),
    ("GET", "/api/admin/version"),
    ("POST", "/api/admin/database/clear"),
    ("DELETE", "/api/admin/database"),
    ("POST", f"/api/task_runs/{RUN}/set_state"),
    ("POST", "/api/logs/"),
    ("POST", "/api/events"),
    ("GET", "/api/events/in"),
    # tricks: an encoded path, a dot segment, a doubled slash reach the same endpoints in Prefect
    ("GET", "/%61pi/admin/settings/../version"),
    ("GET", "/%61pi/variables/"),
    ("POST", "/api/flow_runs/filter/../../work_pools/"),
    ("GET", "//api/variables/"),
]


def concrete(path: str) -> str:
    return path.replace("<id>", RUN).replace("<file>", "index-abc.js")


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMINISTRATOR])
def test_the_recorded_coordinator_tour_is_admitted_call_by_call(role: Role) -> None:
    assert len(TOUR) > 30 and {"method": "POST", "path": "/api/flow_runs/<id>/resume", "admitted": True} in TOUR
    for call in TOUR:
        assert decide(role, call["method"], concrete(call["path"])).allowed, call


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMINISTRATOR])
@pytest.mark.parametrize(("method", "path"), DANGEROUS)
def test_infrastructure_deletes_forced_states_and_secrets_are_refused(role: Role, method: str, path: str) -> None:
    assert not decide(role, method, path).allowed


def test_changes_need_their_body_checked_and_an_unknown_role_gets_nothing() -> None:
    resume = decide(Role.COORDINATOR, "POST", f"/api/flow_runs/{RUN}/resume")
    start = decide(Role.COORDINATOR, "POST", f"/api/deployments/{RUN}/create_flow_run")
    assert resume.needs_body and resume.rule is not None and resume.rule.body is Body.RESUME
    assert start.needs_body and start.rule is not None and start.rule.body is Body.START_RUN
    assert not decide("referrer", "GET", f"/api/flow_runs/{RUN}").allowed
    assert decide(Role.COORDINATOR, "GET", f"/api/flow_runs/{RUN}?x=1").allowed  # the query is not the path
    # every changing method in the table has a body check: the table admits no blind change
    assert all(rule.body is not None for rule in RULES if rule.method != "GET" and not _reads_only(rule.path))


def _reads_only(path: str) -> bool:
    return any(word in path for word in ("filter", "count", "paginate", "history", "lateness", "validate",
                                         "next-runs", "count-by"))
