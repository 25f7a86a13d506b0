"""Who may call what of Prefect through the front door: one table, deny by default.

Prefect OSS has no users or roles; whoever reaches its API can start runs with their own ``job_variables``, delete
runs, force states, change work pools, deployments, automations, variables and blocks. The front door admits only
the calls in ``RULES`` for the signed-in person's role; everything else is refused (403) and written to the access
log. The coordinator's list is what the Prefect UI really calls on a coordinator's tour (recorded in chromium:
``tests/data/coordinator-tour.json``, replayed by ``tests/unit/test_front_door_policy.py``).

A rule with a ``body`` check changes something: Caddy sends those requests to the workspace's own proxy
(``/arbejde/_prefect/…``), which sees the body, checks it, passes it on with Prefect's credentials and logs the
outcome. ``forward_auth`` (``/arbejde/_auth``) never admits such a call, since it cannot see the body.

Infrastructure (work pools and their job templates, blocks, deployments' definitions, automations, variables,
concurrency limits, ``/api/admin/*``, deleting runs, forcing states) is changed on the host, through the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

from hjemtilos.workspace.accounts import Role

__all__ = ["RULES", "Body", "Decision", "Rule", "decide"]

_ID = r"[0-9a-fA-F-]{36}"
_NAME = r"[A-Za-z0-9._%-]{1,100}"
COORDINATORS = frozenset({Role.COORDINATOR, Role.ADMINISTRATOR})


class Body(StrEnum):
    """What the workspace's proxy checks in the body of a change."""

    RESUME = "resume"  # a case's or family's run, answered with run_input only
    START_RUN = "start-run"  # end-case or record-change, with validated parameters only (no job_variables)


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # a regular expression matched against the whole path (the query string is not part of it)
    roles: frozenset[Role] = COORDINATORS
    body: Body | None = None
    why: str = ""

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path, path) is not None


def _reads(*paths: str, why: str) -> tuple[Rule, ...]:
    return tuple(Rule("GET", path, why=why) for path in paths)


def _queries(*paths: str, why: str) -> tuple[Rule, ...]:
    """POSTs that only read (Prefect's filter, count, paginate and history endpoints take their query as a body)."""
    return tuple(Rule("POST", path, why=why) for path in paths)


RULES: tuple[Rule, ...] = (
    # the UI itself: its page and assets (any path outside /api that is not the workspace's or the form's)
    Rule("GET", r"/(?!api(/|$))[^\0]*", why="the Prefect UI's pages and assets"),
    *_reads(r"/api/health", r"/api/version", why="the UI checks that the server answers"),
    Rule("GET", r"/api/admin/settings", why="answered by the workspace with the one setting the UI's sidebar reads "
                                            "(no promotions); Prefect's own settings are never passed on"),
    # runs, their states, graphs, logs, task runs and the Resume dialog's schema and description
    *_reads(rf"/api/flow_runs/{_ID}", rf"/api/flow_runs/{_ID}/graph-v2", rf"/api/flow_runs/{_ID}/graph",
            rf"/api/flow_runs/{_ID}/input/{_NAME}", rf"/api/flow_runs/{_ID}/logs/download",
            r"/api/flow_run_states/?", rf"/api/flow_run_states/{_ID}", r"/api/task_run_states/?",
            rf"/api/task_runs/{_ID}", why="a run's page and the Resume dialog"),
    *_queries(r"/api/flow_runs/(filter|count|paginate|history|lateness)",
              r"/api/task_runs/(filter|count|paginate|history)", r"/api/saved_searches/filter",
              r"/api/logs/filter", r"/api/ui/flow_runs/(history|count-task-runs)",
              r"/api/ui/task_runs/(dashboard/counts|count)", why="the runs list, dashboard and a run's page"),
    # flows, deployments (read only), artifacts, events, work pools (read only: the dashboard's and run's page)
    *_reads(rf"/api/flows/{_ID}", rf"/api/flows/name/{_NAME}", rf"/api/deployments/{_ID}",
            rf"/api/deployments/name/{_NAME}/{_NAME}", rf"/api/deployments/{_ID}/schedules",
            rf"/api/artifacts/{_ID}", rf"/api/artifacts/{_NAME}/latest", rf"/api/work_pools/{_NAME}",
            rf"/api/work_pools/{_NAME}/queues/{_NAME}", rf"/api/work_queues/{_ID}",
            r"/api/collections/views/aggregate-worker-metadata", rf"/api/automations/related-to/{_NAME}",
            why="flows, deployments, artifacts and work pools shown by the UI"),
    *_queries(r"/api/flows/(filter|count|paginate)", r"/api/deployments/(filter|count|paginate)",
              r"/api/ui/flows/(count-deployments|next-runs)", r"/api/artifacts/(filter|count)",
              r"/api/artifacts/latest/(filter|count)", r"/api/work_pools/(filter|count)",
              rf"/api/work_pools/{_NAME}/(workers/filter|workers/paginate|queues/filter)",
              r"/api/work_queues/filter", r"/api/events/filter", r"/api/events/count-by/[a-z_]+",
              r"/api/ui/schemas/validate", r"/api/ui/schemas/validate/?",
              why="lists and counts the UI shows; the custom-run form's parameter check"),
    # the two changes a coordinator makes in Prefect, checked by the workspace's proxy
    Rule("POST", rf"/api/flow_runs/{_ID}/resume", body=Body.RESUME, why="answering a step's form (Resume)"),
    Rule("POST", rf"/api/deployments/{_ID}/create_flow_run", body=Body.START_RUN,
         why="ending a case early or recording a change (end-case, record-change)"),
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: Rule | None

    @property
    def needs_body(self) -> bool:
        return self.rule is not None and self.rule.body is not None


def decide(role: Role | str, method: str, uri: str) -> Decision:
    """The first rule that admits ``method`` on ``uri`` (its path; the query string is ignored) for ``role``."""
    path = unquote(uri.split("?", 1)[0].split("#", 1)[0])  # Prefect decodes the path too: decide on what it sees
    if "%" in path or "\\" in path or "/../" in path or "/./" in path or path.endswith("/..") or "//" in path:
        return Decision(False, None)
    method = method.upper()
    for rule in RULES:
        if role in rule.roles and rule.matches(method, path if rule.path.endswith("/?") else path.rstrip("/") or "/"):
            return Decision(True, rule)
    return Decision(False, None)
