"""The coordinators' workspace (FastAPI + Jinja, Danish with English words): one router per area, put together
here. Every page is under ``BASE``; the front door (Caddy) sends ``/arbejde/*`` here, ``/henvisning/*`` to the
referral form and the rest to Prefect after asking ``/_auth``.

| area | module |
| --- | --- |
| what every page shares: the ``Workspace``, ``page`` (signed in, role, CSRF, one transaction) | ``pages.py`` |
| sign-in, the code, sign-out, one-time links | ``sign_in.py`` |
| Opgaver: every open step, claim and release | ``task_pages.py`` |
| the case list and a case's page (take, end early, record a change, notes) | ``case_pages.py`` |
| volunteer families and their certificates | ``family_pages.py`` |
| the programme in figures | ``programme_pages.py`` |
| the administrators' dashboard, access log and person export | ``admin_pages.py`` |
| the administrators' user management: add with a one-time link, close, reset the second factor | ``user_pages.py`` |
| the front door's questions and the gate for Prefect changes | ``front_door_auth.py`` |

Sessions live in the case database (``user_session``); the cookie holds a random token, HttpOnly, SameSite=Lax,
Secure under TLS. Every state-changing form carries the session's CSRF token (before sign-in: a double-submit
cookie). Every case page view is written to the access log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.orchestration import OrchestratorScope
from hjemtilos.web.headers import add_security_headers
from hjemtilos.workspace import (
    admin_pages,
    case_pages,
    family_pages,
    front_door_auth,
    programme_pages,
    sign_in,
    task_pages,
    user_pages,
)
from hjemtilos.workspace.admin_pages import access_log_csv
from hjemtilos.workspace.front_door_auth import NOT_ALLOWED
from hjemtilos.workspace.pages import BASE, SESSION_COOKIE, START, Workspace
from hjemtilos.workspace.prefect_gate import PrefectGate, start_validators

__all__ = ["BASE", "NOT_ALLOWED", "SESSION_COOKIE", "access_log_csv", "create_workspace"]

ASSET = (PROJECT_ROOT / "templates" / "workspace" / "workspace.css").read_bytes()
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_workspace(app: App, *, prefect_api: str | None = None, prefect_auth: str | None = None,
                     health: Callable[[], dict[str, str]] | None = None,
                     wake: Callable[[str], object] | None = None,
                     clock: Callable[[], datetime] | None = None,
                     recorder: Callable[[str, str, str, bool], None] | None = None,
                     orchestrator: OrchestratorScope | None = None) -> FastAPI:
    """The workspace's web application (``Workspace`` says what each argument is)."""
    gate = PrefectGate(prefect_api, prefect_auth, app.session_factory, start_validators()) \
        if prefect_api is not None else None
    workspace = Workspace(app, prefect_api=prefect_api, prefect_auth=prefect_auth, health=health, wake=wake,
                          recorder=recorder, gate=gate, orchestrator=orchestrator)
    if clock is not None:
        workspace.clock = clock
    web = FastAPI(title="Hjem til Os – arbejdsrum", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.workspace = workspace
    web.state.sign_in_guard = sign_in.SignInGuard()
    web.state.reports = programme_pages.ReportCache()
    add_security_headers(web, SECURITY_HEADERS)

    @web.get(f"{BASE}/workspace.css")
    def stylesheet() -> Response:
        return Response(ASSET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    for area in (sign_in, task_pages, case_pages, family_pages, programme_pages, admin_pages, user_pages,
                 front_door_auth):
        web.include_router(area.router)

    @web.get("/")
    def root() -> Response:
        return RedirectResponse(START, status_code=303)

    return web
