"""The front door's questions (Caddy asks them; hjemtilos/host/front_door.py): may this browser make this Prefect call
(``/_auth``, decided by ``policy.RULES``), the changes whose bodies must be checked (``/_prefect/…``, passed to
the gate), and Prefect's UI settings as a browser may see them."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hjemtilos.audit import access
from hjemtilos.host.front_door import basic_credentials
from hjemtilos.workspace import policy
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, client_of, safe_next, workspace_of

__all__ = ["NOT_ALLOWED", "router"]

NOT_ALLOWED = ("Det har din rolle ikke adgang til; ændringer af Prefect sker på serveren. / Your role may not do "
               "that; Prefect is changed on the server.")
SIGN_IN_FIRST = {"detail": "Log ind i arbejdsrummet / sign in to the workspace"}

router = APIRouter()


def _forwarded_client(request: Request) -> str | None:
    return request.headers.get("x-forwarded-for") or client_of(request)


@router.get(f"{BASE}/_auth")
def front_door(request: Request) -> Response:
    """Caddy's forward_auth: 200 lets the request through to Prefect; otherwise this answer goes back to the
    browser (401 for the API, a redirect to sign-in for the UI, 403 for a call the signed-in person's role may
    not make: ``policy.RULES``). Reads of a case's run and every refusal are logged."""
    ws = workspace_of(request)
    method = request.headers.get("x-forwarded-method", "GET")
    uri = request.headers.get("x-forwarded-uri", "/")
    client = _forwarded_client(request)
    with ws.app.session_factory.begin() as session:
        signed = ws.who(request, session)
        if signed is None:
            if uri.startswith(("/api/", "/ui-settings")) or method.upper() != "GET":
                return JSONResponse(SIGN_IN_FIRST, status_code=401)
            return RedirectResponse(f"{BASE}/log-ind?next={quote(safe_next(uri))}", status_code=303)
        decision = policy.decide(signed.user.role, method, uri)
        if ws.recorder is not None:
            ws.recorder(signed.user.role, method, uri, decision.allowed and not decision.needs_body)
        if not decision.allowed or decision.needs_body:  # a change with a body goes through the gate only
            access.refused(session, signed, method, uri, ws.clock(), client)
            return JSONResponse({"detail": NOT_ALLOWED}, status_code=403)
        access.prefect_request(session, signed, method, uri, ws.clock(), client)
        return Response(status_code=200)


@router.post(f"{BASE}/_prefect/{{path:path}}")
async def prefect_change(request: Request, path: str) -> Response:
    """The changes a coordinator makes in Prefect (Resume, end-case and record-change), sent here by Caddy so
    that their bodies are checked: hjemtilos/workspace/prefect_gate.py."""
    raw = await request.body()
    return await run_in_threadpool(_pass_change, workspace_of(request), request, "/" + path, raw)


def _refuse(ws: Workspace, request: Request, signed: SignedIn, path: str, why: str = "") -> Response:
    with ws.app.session_factory.begin() as session:
        access.refused(session, signed, "POST", path, ws.clock(), _forwarded_client(request), why)
    return JSONResponse({"detail": NOT_ALLOWED}, status_code=403)


def _pass_change(ws: Workspace, request: Request, path: str, raw: bytes) -> Response:
    with ws.app.session_factory.begin() as session:
        signed = ws.who(request, session)
        if signed is None:
            return JSONResponse(SIGN_IN_FIRST, status_code=401)
    origin = request.headers.get("origin")
    if (origin is not None and origin != ws.app.settings.front_origin) or \
            (raw.strip() and not request.headers.get("content-type", "").startswith("application/json")):
        # another site's page (a form or a "simple" request needs no preflight): the UI sends JSON from here
        return _refuse(ws, request, signed, path, "cross-site or not JSON")
    decision = policy.decide(signed.user.role, "POST", path)
    if ws.recorder is not None:
        ws.recorder(signed.user.role, "POST", path, decision.allowed)
    if ws.gate is None or not decision.needs_body:
        return _refuse(ws, request, signed, path)
    answer = ws.gate.handle(signed, path, raw, ws.clock, _forwarded_client(request))
    return JSONResponse(answer.body, status_code=answer.status)


def _signed_in(ws: Workspace, request: Request) -> bool:
    with ws.app.session_factory.begin() as session:
        return ws.who(request, session) is not None


@router.get(f"{BASE}/_ui-settings")
def ui_settings(request: Request) -> Response:
    """Prefect's UI settings as the browser should see them: no login page of Prefect's own (the front door signs
    people in and adds Prefect's credentials upstream). Only for the signed-in."""
    ws = workspace_of(request)
    if not _signed_in(ws, request):
        return JSONResponse(SIGN_IN_FIRST, status_code=401)
    if ws.prefect_api is None:
        return JSONResponse({}, status_code=404)
    origin = ws.prefect_api.removesuffix("/api")
    headers = {"Authorization": basic_credentials(ws.prefect_auth)} if ws.prefect_auth else {}
    with urllib.request.urlopen(urllib.request.Request(f"{origin}/ui-settings", headers=headers),
                                timeout=5) as answer:
        data = json.loads(answer.read())
    data["auth"] = None
    return JSONResponse(data)


@router.get(f"{BASE}/_ui-admin-settings")
def ui_admin_settings(request: Request) -> Response:
    """What the Prefect UI's sidebar and dashboard read from ``/api/admin/settings``: only the one display setting
    they use. Prefect's own settings (database address and the like) never reach a browser."""
    if not _signed_in(workspace_of(request), request):
        return JSONResponse(SIGN_IN_FIRST, status_code=401)
    return JSONResponse({"PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": False})
