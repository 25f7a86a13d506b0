"""What every page of the workspace shares: the ``Workspace`` (the application, the clock, templates and the
parts ``up`` wires in), reached from a request with ``workspace_of``, and ``page``, which turns a handler into
a signed-in endpoint.

A handler is ``handler(ws, request, session, signed, form)``: ``page`` has already checked the session (and kept
it alive) in the transaction the handler reads in, the administrator's role where asked, and the CSRF token of a
POST. A handler that writes through the case services (which own their transactions) returns a callable instead
of a response: it runs once the page's own transaction is committed (SQLite has one writer at a time).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from casework import vocabulary as words
from casework.clock import format_local
from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.workspace import accounts
from hjemtilos.workspace.accounts import SignedIn

if TYPE_CHECKING:
    from hjemtilos.orchestration import OrchestratorScope
    from hjemtilos.workspace.prefect_gate import PrefectGate

__all__ = ["BASE", "SESSION_COOKIE", "START", "Handler", "Workspace", "client_of", "page", "safe_next", "workspace_of"]

BASE = "/arbejde"
log = logging.getLogger(__name__)
START = f"{BASE}/opgaver"  # where a coordinator lands after signing in: Opgaver
SESSION_COOKIE = "hjemtilos_session"
NOT_FOUND_CASE = "Ingen sag / No case"


def _now() -> datetime:
    return datetime.now(UTC)


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //) is followed after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc or "\\" in value:
        return START
    return value


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "workspace")),
                      undefined=StrictUndefined, autoescape=select_autoescape(["html"]))
    env.filters["local"] = lambda value: format_local(value) if value else "–"
    env.filters["words"] = _words
    return env


def _words(code: object, vocabulary: str) -> str:
    """``{{ code | words("steps") }}``: the code in Danish / English words (``casework/vocabulary.py``)."""
    return getattr(words, vocabulary.upper()).both(None if code is None else str(code))  # type: ignore[no-any-return]


@dataclass
class Workspace:
    """One workspace: ``prefect_api``/``prefect_auth``: the Prefect server behind the front door; ``health``: the
    dashboard's liveness row (part → up/slow/down); ``wake``: reschedule a case run (an early ending is handled by
    the run at once; the timekeeper wakes it otherwise); ``recorder``: told of every Prefect call the front door
    decides (role, method, URI, admitted), for recording a tour (tests/data); ``orchestrator``: Prefect as the
    application sees it (a claim is written to the Resume dialog)."""

    app: App
    clock: Callable[[], datetime] = _now
    prefect_api: str | None = None
    prefect_auth: str | None = None
    health: Callable[[], dict[str, str]] | None = None
    wake: Callable[[str], object] | None = None
    recorder: Callable[[str, str, str, bool], None] | None = None
    gate: PrefectGate | None = None
    orchestrator: OrchestratorScope | None = None
    templates: Environment = field(default_factory=_templates)
    lifetime: timedelta = timedelta(hours=12)

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.app.settings.workspace_idle_minutes)

    def render(self, request: Request, name: str, signed: SignedIn | None, status: int = 200,
               **context: Any) -> Response:
        html = self.templates.get_template(name).render(
            base=BASE, me=signed.user if signed else None, csrf=signed.session.csrf_token if signed else "",
            ui=self.app.settings.ui_base, **context)
        return HTMLResponse(html, status_code=status)

    def edit_dialog(self, flow_run_id: str, pause_key: str, edit: Callable[[str], str]) -> bool:
        """Rewrite a Resume dialog's description in Prefect, best effort: False when it could not be done now (no
        Prefect wired in, the run not waiting with that form, Prefect not answering); the caller says who does it
        later (the run itself when it asks again, or the timekeeper)."""
        if self.orchestrator is None:
            return False
        try:
            with self.orchestrator() as orchestrator:
                return orchestrator.edit_form_description(flow_run_id, pause_key, edit)
        except Exception as exc:  # noqa: BLE001 - what the page recorded stands
            log.warning("a Resume dialog was not rewritten (%s)", type(exc).__name__)
            return False

    def message(self, request: Request, signed: SignedIn | None, status: int, title: str, text: str) -> Response:
        return self.render(request, "message.html", signed, status, title=title, text=text)

    @staticmethod
    def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https")

    def who(self, request: Request, session: Session, verified: bool = True) -> SignedIn | None:
        return accounts.signed_in(session, request.cookies.get(SESSION_COOKIE), self.clock(), self.idle,
                                  self.lifetime, verified=verified)

    @staticmethod
    def to_sign_in(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{BASE}/log-ind?next={quote(target)}", status_code=303)


def workspace_of(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


Handler = Callable[[Workspace, Request, Session, SignedIn, dict[str, str]], Response | Callable[[], Response]]


def page(handler: Handler, administrators_only: bool = False) -> Callable[[Request], Any]:
    """A signed-in page: the session is checked (and kept alive) in the same transaction as the page's reads."""

    async def endpoint(request: Request) -> Response:
        form = dict((await request.form()).items()) if request.method == "POST" else {}
        return await run_in_threadpool(_run, workspace_of(request), request, {k: str(v) for k, v in form.items()})

    def _run(ws: Workspace, request: Request, form: dict[str, str]) -> Response:
        result = _checked(ws, request, form)
        return result if isinstance(result, Response) else result()

    def _checked(ws: Workspace, request: Request, form: dict[str, str]) -> Response | Callable[[], Response]:
        with ws.app.session_factory.begin() as session:
            signed = ws.who(request, session)
            if signed is None:
                return ws.to_sign_in(request)
            if administrators_only and not signed.is_administrator:
                return ws.message(request, signed, 403, "Ingen adgang / No access",
                                  "Siden er kun for administratorer. / This page is for administrators only.")
            if request.method == "POST" and not hmac.compare_digest(form.get("csrf", ""), signed.session.csrf_token):
                return ws.message(request, signed, 403, "Formularen er udløbet / The form expired",
                                  "Gå tilbage, genindlæs siden og prøv igen. / Go back, reload the page and try again.")
            return handler(ws, request, session, signed, form)

    return endpoint
