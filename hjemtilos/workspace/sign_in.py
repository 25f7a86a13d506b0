"""Signing in and out: password, then the TOTP code (set up at the first sign-in), and the one-time links that
create the first administrator or let a new user choose a password.

Failed passwords and codes are counted by the typed user name (known or not: the answer is the same) and client,
so that a stranger elsewhere cannot lock a coordinator out; and per user name from browsers that have not signed
in as that user before (OWASP ASVS 2.2.1: at most 100 failures an hour on one account). Before sign-in, forms
carry a double-submit CSRF cookie.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from hjemtilos.db.models import UserAccount
from hjemtilos.workspace import accounts
from hjemtilos.workspace.accounts import AccountError, Role, SignedIn
from hjemtilos.workspace.pages import BASE, SESSION_COOKIE, Workspace, client_of, safe_next, workspace_of

__all__ = ["DEVICE_COOKIE", "PRE_CSRF_COOKIE", "SignInGuard", "router"]

PRE_CSRF_COOKIE = "hjemtilos_signin_csrf"
DEVICE_COOKIE = "hjemtilos_device"  # this browser signed in as this user before: exempt from the per-user throttle

router = APIRouter()


class SignInGuard:
    """The throttles of one workspace (in memory: a restart forgets them)."""

    sign_in_limit = parse("30/minute")  # sign-in and code posts per client
    failures_here = parse("5/15 minutes")
    failures_anywhere = parse("100/hour")

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self._device_secret = secrets.token_bytes(32)

    def device_mark(self, username: str) -> str:
        return hmac.new(self._device_secret, username.encode(), "sha256").hexdigest()

    @staticmethod
    def _key(request: Request, username: str) -> tuple[str, str]:
        return username.strip().lower()[:60], client_of(request) or "unknown"

    def too_fast(self, request: Request) -> bool:
        return not self.limiter.hit(self.sign_in_limit, "sign-in", client_of(request) or "unknown")

    def throttled(self, request: Request, username: str) -> bool:
        name, client = self._key(request, username)
        if not self.limiter.test(self.failures_here, "failed", name, client):
            return True
        known = hmac.compare_digest(request.cookies.get(DEVICE_COOKIE, ""), self.device_mark(name))
        return not known and not self.limiter.test(self.failures_anywhere, "failed-anywhere", name)

    def failed(self, request: Request, username: str) -> None:
        name, client = self._key(request, username)
        self.limiter.hit(self.failures_here, "failed", name, client)
        self.limiter.hit(self.failures_anywhere, "failed-anywhere", name)


def _guard(request: Request) -> SignInGuard:
    guard: SignInGuard = request.app.state.sign_in_guard
    return guard


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


def _pre_csrf_ok(request: Request, form: dict[str, str]) -> bool:
    cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, form.get("csrf", ""))


def _sign_in_page(ws: Workspace, request: Request, error: str | None = None, status: int = 200,
                  username: str = "") -> Response:
    token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = ws.render(request, "sign_in.html", None, status, error=error, pre_csrf=token, username=username,
                         next=safe_next(request.query_params.get("next")))
    ws.set_cookie(request, response, PRE_CSRF_COOKIE, token)
    return response


@router.get(f"{BASE}/log-ind", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return _sign_in_page(workspace_of(request), request)


@router.post(f"{BASE}/log-ind", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await _form(request)
    if _guard(request).too_fast(request):
        return _sign_in_page(workspace_of(request), request, "For mange forsøg herfra. Vent et minut. / Too many "
                             "attempts from here. Wait a minute.", 429)
    return await run_in_threadpool(_check_sign_in, workspace_of(request), _guard(request), request, form)


def _check_sign_in(ws: Workspace, guard: SignInGuard, request: Request, form: dict[str, str]) -> Response:
    if not _pre_csrf_ok(request, form):
        return _sign_in_page(ws, request, "Formularen er udløbet. Prøv igen. / The form expired. Try again.", 403)
    now, username = ws.clock(), form.get("username", "")
    if guard.throttled(request, username):
        return _sign_in_page(ws, request, accounts.WRONG, 401, username=username)
    with ws.app.session_factory.begin() as session:
        result = accounts.check_password(session, username, form.get("password", ""), now)
        if result.user is None:
            if result.error == accounts.WRONG:
                guard.failed(request, username)
            return _sign_in_page(ws, request, result.error, 401, username=username)
        token, _ = accounts.open_session(session, result.user, now, client_of(request))
    response = RedirectResponse(f"{BASE}/kode?next={quote(safe_next(form.get('next')))}", status_code=303)
    ws.set_cookie(request, response, SESSION_COOKIE, token)
    return response


def _code_page(ws: Workspace, request: Request, signed: SignedIn, error: str | None = None,
               status: int = 200) -> Response:
    secret = signed.session.pending_totp_secret
    return ws.render(request, "code.html", None, status, error=error, setup_secret=secret,
                     setup_uri=accounts.totp_uri(secret, signed.user) if secret else None,
                     pre_csrf=signed.session.csrf_token, next=safe_next(request.query_params.get("next")))


@router.get(f"{BASE}/kode", response_class=HTMLResponse)
def code_form(request: Request) -> Response:
    ws = workspace_of(request)
    with ws.app.session_factory.begin() as session:
        signed = ws.who(request, session, verified=False)
        if signed is None:
            return ws.to_sign_in(request)
        return _code_page(ws, request, signed)


@router.post(f"{BASE}/kode", response_class=HTMLResponse)
async def code(request: Request) -> Response:
    form = await _form(request)
    if _guard(request).too_fast(request):
        return HTMLResponse("For mange forsøg. / Too many attempts.", status_code=429)
    return await run_in_threadpool(_check_code, workspace_of(request), _guard(request), request, form)


def _check_code(ws: Workspace, guard: SignInGuard, request: Request, form: dict[str, str]) -> Response:
    with ws.app.session_factory.begin() as session:
        signed = ws.who(request, session, verified=False)
        if signed is None:
            return ws.to_sign_in(request)
        if not hmac.compare_digest(form.get("csrf", ""), signed.session.csrf_token):
            return _code_page(ws, request, signed, "Formularen er udløbet. / The form expired.", 403)
        username = signed.user.username
        if guard.throttled(request, username):
            return _code_page(ws, request, signed, "For mange forkerte koder; vent 15 minutter. / Too many wrong "
                                                   "codes; wait 15 minutes.", 429)
        error = accounts.confirm_code(signed.user, signed.session, form.get("code", ""), ws.clock())
        if error is not None:
            guard.failed(request, username)
            return _code_page(ws, request, signed, error, 401)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    response.set_cookie(DEVICE_COOKIE, guard.device_mark(username), max_age=365 * 24 * 3600, httponly=True,
                        samesite="lax", path=f"{BASE}/", secure=request.url.scheme == "https")
    return response


@router.post(f"{BASE}/log-ud")
async def sign_out(request: Request) -> Response:
    ws, form = workspace_of(request), await _form(request)
    with ws.app.session_factory.begin() as session:
        signed = ws.who(request, session, verified=False)
        if signed is not None:
            if not hmac.compare_digest(form.get("csrf", ""), signed.session.csrf_token):
                return ws.message(request, signed, 403, "Formularen er udløbet / The form expired",
                                  "Du er stadig logget ind. / You are still signed in.")
            accounts.end_session(signed.session, ws.clock())
    response = RedirectResponse(f"{BASE}/log-ind?ud=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- one-time links ----------------------------------------------------------------------------------------------

@router.get(f"{BASE}/opret/{{token}}", response_class=HTMLResponse)
def link_form(request: Request, token: str) -> Response:
    ws = workspace_of(request)
    with ws.app.session_factory() as session:
        link = accounts.find_link(session, token, ws.clock())
        if link is None:
            return ws.message(request, None, 410, "Linket virker ikke / The link does not work",
                              "Linket er brugt eller udløbet. / The link has been used or has expired.")
        user = session.get(UserAccount, link.user_id) if link.user_id else None
        return _link_page(ws, request, token, user, None)


def _link_page(ws: Workspace, request: Request, token: str, user: UserAccount | None, error: str | None,
               status: int = 200, values: dict[str, str] | None = None) -> Response:
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = ws.render(request, "set_up.html", None, status, token=token, user=user, error=error, pre_csrf=pre,
                         values=values or {})
    ws.set_cookie(request, response, PRE_CSRF_COOKIE, pre)
    return response


@router.post(f"{BASE}/opret/{{token}}", response_class=HTMLResponse)
async def use_link(request: Request, token: str) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_take_link, workspace_of(request), request, token, form)


def _take_link(ws: Workspace, request: Request, token: str, form: dict[str, str]) -> Response:
    now = ws.clock()
    with ws.app.session_factory() as session, session.begin():
        link = accounts.find_link(session, token, now)
        user = session.get(UserAccount, link.user_id) if link and link.user_id else None
        if not _pre_csrf_ok(request, form):
            return _link_page(ws, request, token, user, "Formularen er udløbet. / The form expired.", 403, form)
        if form.get("password", "") != form.get("password2", ""):
            return _link_page(ws, request, token, user, "De to adgangskoder er ikke ens. / The two passwords "
                                                        "differ.", 422, form)
        try:
            link = accounts.take_link(session, token, now)
            if link.purpose == accounts.FIRST_ADMINISTRATOR:
                accounts.add_user(session, form.get("username", "").strip().lower(), form.get("display_name", ""),
                                  Role.ADMINISTRATOR, now, email=form.get("email") or None,
                                  password=form.get("password", ""), actor="first-administrator-link")
            elif user is not None:
                accounts.set_password(user, form.get("password", ""))
        except AccountError as exc:
            session.rollback()
            return _link_page(ws, request, token, user, str(exc), 422, form)
    return RedirectResponse(f"{BASE}/log-ind?oprettet=1", status_code=303)
