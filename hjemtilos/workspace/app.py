"""The coordinators' workspace (FastAPI + Jinja, Danish with English words): sign-in with password and TOTP, the
case list and page, families, the administrator's dashboard and access log, and the front door's questions
(``/_auth``: may this browser reach Prefect?). Every page is under ``BASE``; the front door (Caddy) sends
``/arbejde/*`` here, ``/henvisning/*`` to the referral form and the rest to Prefect after asking ``/_auth``.

Sessions live in the case database (``user_session``); the cookie holds a random token, HttpOnly, SameSite=Lax,
Secure under TLS. Every state-changing form carries the session's CSRF token (before sign-in: a double-submit
cookie). Every case page view is written to the access log.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
import threading
import typing
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from casework.clock import format_local, local_date
from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.audit import access
from hjemtilos.cases.ending import CHANGES, ENDED_BY, REASONS
from hjemtilos.db.models import ReferralCase, UserAccount
from hjemtilos.front_door import basic_credentials
from hjemtilos.reports.figures import Report
from hjemtilos.web.headers import add_security_headers
from hjemtilos.workspace import accounts, policy, views
from hjemtilos.workspace.accounts import AccountError, Role, SignedIn
from hjemtilos.workspace.prefect_gate import PrefectGate, start_validators

__all__ = ["BASE", "SESSION_COOKIE", "create_workspace"]

BASE = "/arbejde"
NOT_ALLOWED = ("Det har din rolle ikke adgang til; ændringer af Prefect sker på serveren. / Your role may not do "
               "that; Prefect is changed on the server.")
SESSION_COOKIE = "hjemtilos_session"
PRE_CSRF_COOKIE = "hjemtilos_signin_csrf"
DEVICE_COOKIE = "hjemtilos_device"  # this browser signed in as this user before: exempt from the per-user throttle
ASSET = (PROJECT_ROOT / "templates" / "workspace" / "workspace.css").read_bytes()
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //) is followed after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc or "\\" in value:
        return f"{BASE}/"
    return value


def create_workspace(app: App, *, prefect_api: str | None = None, prefect_auth: str | None = None,
                     health: Callable[[], dict[str, str]] | None = None,
                     wake: Callable[[str], object] | None = None,
                     clock: Callable[[], datetime] = _now,
                     recorder: Callable[[str, str, str, bool], None] | None = None) -> FastAPI:
    """``prefect_api``/``prefect_auth``: the Prefect server behind the front door (for its UI settings);
    ``health``: the dashboard's liveness row (part → up/slow/down); ``wake``: reschedule a case run (an early
    ending is handled by the run at once; the timekeeper wakes it otherwise); ``recorder``: told of every Prefect
    call the front door decides (role, method, URI, admitted), for recording a tour (tests/data)."""
    settings = app.settings
    idle = timedelta(minutes=settings.workspace_idle_minutes)
    lifetime = timedelta(hours=12)
    web = FastAPI(title="Hjem til Os – arbejdsrum", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "workspace")),
                      undefined=StrictUndefined, autoescape=select_autoescape(["html"]))
    env.filters["local"] = lambda value: format_local(value) if value else "–"
    limiter = MovingWindowRateLimiter(MemoryStorage())
    gate = PrefectGate(prefect_api, prefect_auth, app.session_factory, start_validators()) \
        if prefect_api is not None else None
    sign_in_limit = parse("30/minute")  # sign-in and code posts per client
    # failed passwords and codes, counted by the typed user name (known or not: the answer is the same) and client,
    # so that a stranger elsewhere cannot lock a coordinator out; and per user name from browsers that have not
    # signed in as that user before (OWASP ASVS 2.2.1: at most 100 failures an hour on one account)
    failures_here = parse("5/15 minutes")
    failures_anywhere = parse("100/hour")
    device_secret = secrets.token_bytes(32)

    def device_mark(username: str) -> str:
        return hmac.new(device_secret, username.encode(), "sha256").hexdigest()

    def _throttle_key(request: Request, username: str) -> tuple[str, str]:
        return username.strip().lower()[:60], _client(request) or "unknown"

    def throttled(request: Request, username: str) -> bool:
        name, client = _throttle_key(request, username)
        if not limiter.test(failures_here, "failed", name, client):
            return True
        known = hmac.compare_digest(request.cookies.get(DEVICE_COOKIE, ""), device_mark(name))
        return not known and not limiter.test(failures_anywhere, "failed-anywhere", name)

    def failed(request: Request, username: str) -> None:
        name, client = _throttle_key(request, username)
        limiter.hit(failures_here, "failed", name, client)
        limiter.hit(failures_anywhere, "failed-anywhere", name)

    def render(request: Request, name: str, signed: SignedIn | None, status: int = 200, **context: Any) -> Response:
        html = env.get_template(name).render(base=BASE, me=signed.user if signed else None,
                                             csrf=signed.session.csrf_token if signed else "",
                                             ui=settings.ui_base, **context)
        return HTMLResponse(html, status_code=status)

    def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https")

    add_security_headers(web, SECURITY_HEADERS)

    def who(request: Request, session: Session, verified: bool = True) -> SignedIn | None:
        return accounts.signed_in(session, request.cookies.get(SESSION_COOKIE), clock(), idle, lifetime,
                                  verified=verified)

    def to_sign_in(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{BASE}/log-ind?next={quote(target)}", status_code=303)

    def page(handler: Callable[..., Response | Callable[[], Response]],
             administrators_only: bool = False) -> Callable[..., Any]:
        """A signed-in page: the session is checked (and kept alive) in the same transaction as the page's reads."""
        async def endpoint(request: Request) -> Response:
            form = dict((await request.form()).items()) if request.method == "POST" else {}
            return await run_in_threadpool(run, request, {k: str(v) for k, v in form.items()})

        def run(request: Request, form: dict[str, str]) -> Response:
            result = checked(request, form)
            # a handler that writes through the case services returns what to do once the page's own
            # transaction (the session's last-seen time) is committed: SQLite has one writer at a time
            return result if isinstance(result, Response) else result()

        def checked(request: Request, form: dict[str, str]) -> Response | Callable[[], Response]:
            with app.session_factory.begin() as session:
                signed = who(request, session)
                if signed is None:
                    return to_sign_in(request)
                if administrators_only and not signed.is_administrator:
                    return render(request, "message.html", signed, 403, title="Ingen adgang / No access",
                                  text="Siden er kun for administratorer. / This page is for administrators only.")
                if request.method == "POST" and not hmac.compare_digest(form.get("csrf", ""),
                                                                        signed.session.csrf_token):
                    return render(request, "message.html", signed, 403, title="Formularen er udløbet / The form "
                                  "expired", text="Gå tilbage, genindlæs siden og prøv igen. / Go back, reload the "
                                  "page and try again.")
                return handler(request, session, signed, form)
        return endpoint

    @web.get(f"{BASE}/workspace.css")
    def stylesheet() -> Response:
        return Response(ASSET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    # -- sign-in ---------------------------------------------------------------------------------------------------

    def sign_in_page(request: Request, error: str | None = None, status: int = 200, username: str = "") -> Response:
        token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = render(request, "sign_in.html", None, status, error=error, pre_csrf=token, username=username,
                          next=_safe_next(request.query_params.get("next")))
        set_cookie(request, response, PRE_CSRF_COOKIE, token)
        return response

    def pre_csrf_ok(request: Request, form: dict[str, str]) -> bool:
        cookie = request.cookies.get(PRE_CSRF_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, form.get("csrf", ""))

    @web.get(f"{BASE}/log-ind", response_class=HTMLResponse)
    def sign_in_form(request: Request) -> Response:
        return sign_in_page(request)

    @web.post(f"{BASE}/log-ind", response_class=HTMLResponse)
    async def sign_in(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not limiter.hit(sign_in_limit, "sign-in", _client(request) or "unknown"):
            return sign_in_page(request, "For mange forsøg herfra. Vent et minut. / Too many attempts from here. "
                                         "Wait a minute.", 429)
        return await run_in_threadpool(check_sign_in, request, form)

    def check_sign_in(request: Request, form: dict[str, str]) -> Response:
        if not pre_csrf_ok(request, form):
            return sign_in_page(request, "Formularen er udløbet. Prøv igen. / The form expired. Try again.", 403)
        now, username = clock(), form.get("username", "")
        if throttled(request, username):
            return sign_in_page(request, accounts.WRONG, 401, username=username)
        with app.session_factory.begin() as session:
            result = accounts.check_password(session, username, form.get("password", ""), now)
            if result.user is None:
                if result.error == accounts.WRONG:
                    failed(request, username)
                return sign_in_page(request, result.error, 401, username=username)
            token, _ = accounts.open_session(session, result.user, now, _client(request))
        response = RedirectResponse(f"{BASE}/kode?next={quote(_safe_next(form.get('next')))}", status_code=303)
        set_cookie(request, response, SESSION_COOKIE, token)
        return response

    def code_page(request: Request, signed: SignedIn, error: str | None = None, status: int = 200) -> Response:
        secret = signed.session.pending_totp_secret
        return render(request, "code.html", None, status, error=error, setup_secret=secret,
                      setup_uri=accounts.totp_uri(secret, signed.user) if secret else None,
                      pre_csrf=signed.session.csrf_token, next=_safe_next(request.query_params.get("next")))

    @web.get(f"{BASE}/kode", response_class=HTMLResponse)
    def code_form(request: Request) -> Response:
        with app.session_factory.begin() as session:
            signed = who(request, session, verified=False)
            if signed is None:
                return to_sign_in(request)
            return code_page(request, signed)

    @web.post(f"{BASE}/kode", response_class=HTMLResponse)
    async def code(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not limiter.hit(sign_in_limit, "sign-in", _client(request) or "unknown"):
            return HTMLResponse("For mange forsøg. / Too many attempts.", status_code=429)
        return await run_in_threadpool(check_code, request, form)

    def check_code(request: Request, form: dict[str, str]) -> Response:
        with app.session_factory.begin() as session:
            signed = who(request, session, verified=False)
            if signed is None:
                return to_sign_in(request)
            if not hmac.compare_digest(form.get("csrf", ""), signed.session.csrf_token):
                return code_page(request, signed, "Formularen er udløbet. / The form expired.", 403)
            username = signed.user.username
            if throttled(request, username):
                return code_page(request, signed, "For mange forkerte koder; vent 15 minutter. / Too many wrong "
                                                  "codes; wait 15 minutes.", 429)
            error = accounts.confirm_code(signed.user, signed.session, form.get("code", ""), clock())
            if error is not None:
                failed(request, username)
                return code_page(request, signed, error, 401)
        response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        response.set_cookie(DEVICE_COOKIE, device_mark(username), max_age=365 * 24 * 3600, httponly=True,
                            samesite="lax", path=f"{BASE}/", secure=request.url.scheme == "https")
        return response

    @web.post(f"{BASE}/log-ud")
    async def sign_out(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with app.session_factory.begin() as session:
            signed = who(request, session, verified=False)
            if signed is not None:
                if not hmac.compare_digest(form.get("csrf", ""), signed.session.csrf_token):
                    return render(request, "message.html", signed, 403, title="Formularen er udløbet / The form "
                                  "expired", text="Du er stadig logget ind. / You are still signed in.")
                accounts.end_session(signed.session, clock())
        response = RedirectResponse(f"{BASE}/log-ind?ud=1", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- one-time links ------------------------------------------------------------------------------------------

    @web.get(f"{BASE}/opret/{{token}}", response_class=HTMLResponse)
    def link_form(request: Request, token: str) -> Response:
        with app.session_factory() as session:
            link = accounts.find_link(session, token, clock())
            if link is None:
                return render(request, "message.html", None, 410, title="Linket virker ikke / The link does not work",
                              text="Linket er brugt eller udløbet. / The link has been used or has expired.")
            user = session.get(UserAccount, link.user_id) if link.user_id else None
            return link_page(request, token, user, None)

    def link_page(request: Request, token: str, user: UserAccount | None, error: str | None,
                  status: int = 200, values: dict[str, str] | None = None) -> Response:
        pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = render(request, "set_up.html", None, status, token=token, user=user, error=error, pre_csrf=pre,
                          values=values or {})
        set_cookie(request, response, PRE_CSRF_COOKIE, pre)
        return response

    @web.post(f"{BASE}/opret/{{token}}", response_class=HTMLResponse)
    async def use_link(request: Request, token: str) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        return await run_in_threadpool(take_link, request, token, form)

    def take_link(request: Request, token: str, form: dict[str, str]) -> Response:
        now = clock()
        with app.session_factory() as session, session.begin():
            link = accounts.find_link(session, token, now)
            user = session.get(UserAccount, link.user_id) if link and link.user_id else None
            if not pre_csrf_ok(request, form):
                return link_page(request, token, user, "Formularen er udløbet. / The form expired.", 403, form)
            if form.get("password", "") != form.get("password2", ""):
                return link_page(request, token, user, "De to adgangskoder er ikke ens. / The two passwords "
                                                       "differ.", 422, form)
            try:
                link = accounts.take_link(session, token, now)
                if link.purpose == accounts.FIRST_ADMINISTRATOR:
                    accounts.add_user(session, form.get("username", "").strip().lower(),
                                      form.get("display_name", ""), Role.ADMINISTRATOR, now,
                                      email=form.get("email") or None, password=form.get("password", ""))
                elif user is not None:
                    accounts.set_password(user, form.get("password", ""))
            except AccountError as exc:
                session.rollback()
                return link_page(request, token, user, str(exc), 422, form)
        return RedirectResponse(f"{BASE}/log-ind?oprettet=1", status_code=303)

    # -- cases -----------------------------------------------------------------------------------------------------

    def case_list(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        q = request.query_params
        filters = views.CaseFilter(step=q.get("trin", ""), waits_for=q.get("venter", ""),
                                   overdue=q.get("overskredet") == "1", mine=q.get("mine") == "1",
                                   closed=q.get("lukkede") == "1", search=q.get("soeg", "")[:100])
        rows = views.case_list(session, clock(), signed.user.id, filters)
        return render(request, "cases.html", signed, rows=rows, filters=filters, steps=views.STEP_DA,
                      waits=views.WAITS_DA)

    web.add_api_route(f"{BASE}/", page(case_list), methods=["GET"], response_class=HTMLResponse)

    def case_view(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        reference = request.path_params["reference"]
        data = views.case_page(session, reference, clock())
        if data is None:
            return render(request, "message.html", signed, 404, title="Ingen sag / No case",
                          text=f"Der er ingen sag {reference}. / There is no case {reference}.")
        access.record(session, signed, access.VIEWED, clock(), case=data.case, client=_client(request))
        return render(request, "case.html", signed, c=data, resume_url=_resume_url(data.case), error=None,
                      ended_by=ENDED_BY, reasons=END_REASONS, changes=CHANGES)

    def _resume_url(case: ReferralCase) -> str | None:
        return f"{settings.ui_base}/runs/flow-run/{case.flow_run_id}" if case.flow_run_id else None

    web.add_api_route(f"{BASE}/sager/{{reference}}", page(case_view), methods=["GET"], response_class=HTMLResponse)

    def take_case(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        from sqlalchemy import select

        from hjemtilos.approvals import audit

        reference = request.path_params["reference"]
        case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
        if case is None:
            return render(request, "message.html", signed, 404, title="Ingen sag / No case", text=reference)
        case.coordinator_id = signed.user.id
        audit(session, case.id, clock(), signed.user.username, "coordinator-assigned", None,
              {"user": signed.user.username})
        return RedirectResponse(f"{BASE}/sager/{reference}", status_code=303)

    web.add_api_route(f"{BASE}/sager/{{reference}}/overtag", page(take_case), methods=["POST"])

    def end_case(request: Request, session: Session, signed: SignedIn,
                 form: dict[str, str]) -> Response | Callable[[], Response]:
        """An early ending, decided here by the signed-in coordinator (the case run carries it out)."""
        from hjemtilos import cases
        from hjemtilos.approvals import InvalidRequest

        reference, username = request.path_params["reference"], signed.user.username
        ended_by, reason = ENDED_BY.get(form.get("ended_by", "")), form.get("reason", "")
        if ended_by is None or reason not in END_REASONS:
            return lambda: case_error(request, signed, reference, "Vælg hvem der afslutter og hvorfor. / Choose "
                                      "who ends it and why.")

        def carry_out() -> Response:
            try:
                _, run_id = cases.request_ending(app, reference, ended_by=ended_by, reason=reason,
                                                 rematch=form.get("rematch") == "ja", actor=username, now=clock())
            except (InvalidRequest, LookupError) as exc:
                return case_error(request, signed, reference, str(exc))
            if run_id and wake is not None:
                try:
                    wake(run_id)
                except Exception:  # noqa: BLE001 - recorded; the timekeeper wakes the run on its next tick
                    pass
            return RedirectResponse(f"{BASE}/sager/{reference}", status_code=303)
        return carry_out

    def record_change(request: Request, session: Session, signed: SignedIn,
                      form: dict[str, str]) -> Response | Callable[[], Response]:
        from hjemtilos import cases

        reference, username = request.path_params["reference"], signed.user.username
        kind = CHANGES.get(form.get("kind", ""))
        if kind is None:
            return lambda: case_error(request, signed, reference, "Vælg hvad der har ændret sig. / Choose what "
                                      "changed.")

        def carry_out() -> Response:
            try:
                cases.record_change(app, reference, kind, username, clock())
            except LookupError as exc:
                return case_error(request, signed, reference, str(exc))
            return RedirectResponse(f"{BASE}/sager/{reference}", status_code=303)
        return carry_out

    def case_error(request: Request, signed: SignedIn, reference: str, error: str) -> Response:
        """The case page with ``error`` at the top (after the page's transaction: it reads in a session of its own)."""
        with app.session_factory() as session:
            data = views.case_page(session, reference, clock())
            if data is None:
                return render(request, "message.html", signed, 404, title="Ingen sag / No case", text=reference)
            return render(request, "case.html", signed, 422, c=data, resume_url=_resume_url(data.case),
                          error=error, ended_by=ENDED_BY, reasons=END_REASONS, changes=CHANGES)

    web.add_api_route(f"{BASE}/sager/{{reference}}/afslut", page(end_case), methods=["POST"])
    web.add_api_route(f"{BASE}/sager/{{reference}}/forhold", page(record_change), methods=["POST"])

    # -- families --------------------------------------------------------------------------------------------------

    def family_list(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        return render(request, "families.html", signed, rows=views.families(session))

    def family_view(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        try:
            family_id = int(request.path_params["family_id"])
        except ValueError:
            family_id = 0
        data = views.family_page(session, family_id, clock())
        if data is None:
            return render(request, "message.html", signed, 404, title="Ingen familie / No family", text="")
        access.record(session, signed, access.VIEWED, clock(), family_id=family_id, client=_client(request))
        return render(request, "family.html", signed, f=data, error=None, values={})

    def record_certificate(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        """A member's børneattest or straffeattest: dates and outcome, recorded here and never in Prefect."""
        from datetime import date

        from hjemtilos.volunteers.screening import Certificate, CertificateError
        from hjemtilos.volunteers.screening import record_certificate as record

        try:
            family_id = int(request.path_params["family_id"])
        except ValueError:
            family_id = 0

        def parsed(name: str) -> date | None:
            value = form.get(name, "").strip()
            if not value:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise CertificateError(name, "Skriv en dato som ÅÅÅÅ-MM-DD. / Give a date as YYYY-MM-DD.") from None

        try:
            try:
                member_id, certificate = int(form.get("member", "")), Certificate(form.get("certificate", ""))
            except ValueError:
                raise CertificateError("member", "Vælg medlem og attest. / Choose a member and a certificate.") \
                    from None
            outcome = {"": None, "clear": True, "remark": False}.get(form.get("outcome", ""))
            with session.begin_nested():
                record(session, family_id, member_id, certificate, parsed("requested_on"), parsed("received_on"),
                       outcome, signed.user.username, clock())
        except (CertificateError, LookupError) as exc:
            data = views.family_page(session, family_id, clock())
            if data is None:
                return render(request, "message.html", signed, 404, title="Ingen familie / No family", text="")
            return render(request, "family.html", signed, 422, f=data, values=form,
                          error=(getattr(exc, "field", "member"), str(exc)))
        return RedirectResponse(f"{BASE}/familier/{family_id}#attester", status_code=303)

    web.add_api_route(f"{BASE}/familier", page(family_list), methods=["GET"], response_class=HTMLResponse)
    web.add_api_route(f"{BASE}/familier/{{family_id}}", page(family_view), methods=["GET"],
                      response_class=HTMLResponse)
    web.add_api_route(f"{BASE}/familier/{{family_id}}/attest", page(record_certificate), methods=["POST"])

    # -- the programme in figures ---------------------------------------------------------------------------------

    reports_cache: dict[tuple[str, str], Report] = {}
    reports_lock = threading.Lock()

    def report_for(request: Request, session: Session) -> tuple[Report, str | None]:
        """The report of the period the query names (this year when it names none or a wrong one, with the error),
        shared for a minute by the page and its charts and CSV files."""
        from hjemtilos.reports.figures import build_report
        from hjemtilos.reports.periods import PeriodError, parse_period

        q, now = request.query_params, clock()
        error = None
        try:
            period = parse_period(q.get("periode", ""), q.get("fra", ""), q.get("til", ""), local_date(now))
        except PeriodError as exc:
            period, error = parse_period("", "", "", local_date(now)), str(exc)
        key = (period.key, now.strftime("%Y-%m-%dT%H:%M"))
        with reports_lock:
            report = reports_cache.get(key)
        if report is None:
            report = build_report(session, period, now, settings.certificate_renewal_years,
                                  settings.certificate_notice_days)
            with reports_lock:
                if len(reports_cache) > 20:
                    reports_cache.clear()
                reports_cache[key] = report
        return report, error

    def programme(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        from hjemtilos.reports.figures import CERTIFICATE_DA

        report, error = report_for(request, session)
        today = local_date(clock())
        choices = [(str(today.year), f"I år / this year ({today.year})"),
                   (str(today.year - 1), f"Sidste år / last year ({today.year - 1})"),
                   *((f"{year}-K{n}", f"{n}. kvartal {year} / Q{n} {year}") for year in (today.year, today.year - 1)
                     for n in (1, 2, 3, 4))]
        if report.period.key not in dict(choices):
            choices.insert(0, (report.period.key, report.period.label))
        query = urlencode({"periode": report.period.key} if ".." not in report.period.key else
                          {"fra": report.period.start.isoformat(), "til": report.period.end.isoformat()})
        return render(request, "reports.html", signed, 422 if error else 200, r=report, error=error,
                      choices=choices, query=query, today=today, kinds=CERTIFICATE_DA,
                      start=request.query_params.get("fra", ""), end=request.query_params.get("til", ""))

    def programme_file(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        from hjemtilos.reports.exports import table_csv, table_svg

        report, _ = report_for(request, session)
        name, _, kind = request.path_params["name"].rpartition(".")
        table = next((t for t in report.tables if t.key == name), None)
        if table is None or kind not in ("csv", "svg") or (kind == "svg" and not table.chart):
            return Response("Ingen sådan figur / no such figure", status_code=404, media_type="text/plain")
        if kind == "csv":
            return Response(table_csv(table), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{table.key}-{report.period.key}.csv"'})
        # the chart is an image of its own: matplotlib's SVG styles its shapes inline, which the page's CSP forbids;
        # an image runs no script whatever its CSP says
        return Response(table_svg(table), media_type="image/svg+xml", headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    web.add_api_route(f"{BASE}/programmet", page(programme), methods=["GET"], response_class=HTMLResponse)
    web.add_api_route(f"{BASE}/programmet/{{name}}", page(programme_file), methods=["GET"])

    # -- administrators --------------------------------------------------------------------------------------------

    def dashboard(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        alive = health() if health is not None else {}
        return render(request, "dashboard.html", signed, d=views.dashboard(session), alive=alive)

    def access_log(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        reference = request.query_params.get("sag", "").strip().upper()
        rows = access.case_log(session, reference) if reference else []
        if reference and request.query_params.get("csv") == "1":
            access.record(session, signed, access.EXPORTED, clock(),
                          case=session.query(ReferralCase).filter_by(reference=reference).one_or_none(),
                          client=_client(request), purpose="adgangslog / access log")
            return Response(access_log_csv(rows), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="adgangslog-{reference}.csv"'})
        return render(request, "access_log.html", signed, reference=reference, rows=rows, error=None,
                      changes=access.prefect_changes(session))

    def person_export(request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
        """Everything held about one person, as a JSON download (logged as an export of each case in it)."""
        from hjemtilos.person import export_person, log_export

        email = request.query_params.get("email", "").strip().lower()
        reference = request.query_params.get("sag", "").strip().upper()
        if not email and not reference:
            return render(request, "access_log.html", signed, 422, reference="", rows=[], changes=[],
                          error="Giv en e-mailadresse eller et sagsnummer. / Give an e-mail address or a reference.")
        data = export_person(session, email=email or None, reference=None if email else reference)
        log_export(session, data, signed, clock(), _client(request))
        name = (reference or "person") if not email else "person"
        return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="indsigt-{name}.json"'})

    web.add_api_route(f"{BASE}/admin/person", page(person_export, administrators_only=True), methods=["GET"])
    web.add_api_route(f"{BASE}/admin", page(dashboard, administrators_only=True), methods=["GET"],
                      response_class=HTMLResponse)
    web.add_api_route(f"{BASE}/admin/adgangslog", page(access_log, administrators_only=True), methods=["GET"])

    # -- the front door's questions --------------------------------------------------------------------------------

    @web.get(f"{BASE}/_auth")
    def front_door(request: Request) -> Response:
        """Caddy's forward_auth: 200 lets the request through to Prefect; otherwise this answer goes back to the
        browser (401 for the API, a redirect to sign-in for the UI, 403 for a call the signed-in person's role may
        not make: ``policy.RULES``). Reads of a case's run and every refusal are logged."""
        method = request.headers.get("x-forwarded-method", "GET")
        uri = request.headers.get("x-forwarded-uri", "/")
        client = request.headers.get("x-forwarded-for") or _client(request)
        with app.session_factory.begin() as session:
            signed = who(request, session)
            if signed is None:
                if uri.startswith(("/api/", "/ui-settings")) or method.upper() != "GET":
                    return JSONResponse({"detail": "Log ind i arbejdsrummet / sign in to the workspace"},
                                        status_code=401)
                return RedirectResponse(f"{BASE}/log-ind?next={quote(_safe_next(uri))}", status_code=303)
            decision = policy.decide(signed.user.role, method, uri)
            if recorder is not None:
                recorder(signed.user.role, method, uri, decision.allowed and not decision.needs_body)
            if not decision.allowed or decision.needs_body:  # a change with a body goes through the gate only
                access.refused(session, signed, method, uri, clock(), client)
                return JSONResponse({"detail": NOT_ALLOWED}, status_code=403)
            access.prefect_request(session, signed, method, uri, clock(), client)
            return Response(status_code=200)

    @web.post(f"{BASE}/_prefect/{{path:path}}")
    async def prefect_change(request: Request, path: str) -> Response:
        """The changes a coordinator makes in Prefect (Resume, end-case and record-change), sent here by Caddy
        so that their bodies are checked: hjemtilos/workspace/prefect_gate.py."""
        raw = await request.body()
        return await run_in_threadpool(pass_change, request, "/" + path, raw)

    def pass_change(request: Request, path: str, raw: bytes) -> Response:
        client = request.headers.get("x-forwarded-for") or _client(request)
        with app.session_factory.begin() as session:
            signed = who(request, session)
            if signed is None:
                return JSONResponse({"detail": "Log ind i arbejdsrummet / sign in to the workspace"}, status_code=401)
        origin = request.headers.get("origin")
        if (origin is not None and origin != settings.front_origin) or \
                (raw.strip() and not request.headers.get("content-type", "").startswith("application/json")):
            # another site's page (a form or a "simple" request needs no preflight): the UI sends JSON from here
            with app.session_factory.begin() as session:
                access.refused(session, signed, "POST", path, clock(), client, "cross-site or not JSON")
            return JSONResponse({"detail": NOT_ALLOWED}, status_code=403)
        decision = policy.decide(signed.user.role, "POST", path)
        if recorder is not None:
            recorder(signed.user.role, "POST", path, decision.allowed)
        if gate is None or not decision.needs_body:
            with app.session_factory.begin() as session:
                access.refused(session, signed, "POST", path, clock(), client)
            return JSONResponse({"detail": NOT_ALLOWED}, status_code=403)
        answer = gate.handle(signed, path, raw, clock, client)
        return JSONResponse(answer.body, status_code=answer.status)

    @web.get(f"{BASE}/_ui-settings")
    def ui_settings(request: Request) -> Response:
        """Prefect's UI settings as the browser should see them: no login page of Prefect's own (the front door
        signs people in and adds Prefect's credentials upstream). Only for the signed-in."""
        with app.session_factory.begin() as session:
            if who(request, session) is None:
                return JSONResponse({"detail": "Log ind i arbejdsrummet / sign in to the workspace"}, status_code=401)
        if prefect_api is None:
            return JSONResponse({}, status_code=404)
        origin = prefect_api.removesuffix("/api")
        headers = {"Authorization": basic_credentials(prefect_auth)} if prefect_auth else {}
        with urllib.request.urlopen(urllib.request.Request(f"{origin}/ui-settings", headers=headers),
                                    timeout=5) as answer:
            data = json.loads(answer.read())
        data["auth"] = None
        return JSONResponse(data)

    @web.get(f"{BASE}/_ui-admin-settings")
    def ui_admin_settings(request: Request) -> Response:
        """What the Prefect UI's sidebar and dashboard read from ``/api/admin/settings``: only the one display
        setting they use. Prefect's own settings (database address and the like) never reach a browser."""
        with app.session_factory.begin() as session:
            if who(request, session) is None:
                return JSONResponse({"detail": "Log ind i arbejdsrummet / sign in to the workspace"}, status_code=401)
        return JSONResponse({"PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": False})

    @web.get("/")
    def root() -> Response:
        return RedirectResponse(f"{BASE}/", status_code=303)

    return web


END_REASONS: tuple[str, ...] = typing.get_args(REASONS)  # the same choices as the end-case deployment


def access_log_csv(rows: list[access.CaseAccess]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["tidspunkt_utc", "bruger", "handling", "formaal", "fra", "sag"])
    for row in rows:
        writer.writerow([row.at.isoformat(), row.username, row.action, row.purpose or "", row.client or "",
                         row.case_reference or ""])
    return buffer.getvalue()
