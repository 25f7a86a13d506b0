"""The referral form as a small FastAPI app: Danish with an English switch, field-level errors that keep
what was typed, CSRF protection (double-submit token bound to a cookie), a confirmation page with the
case reference. A submitted referral is stored and its referral-case run started."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from casework.clock import local_date
from casework.referral import Referral
from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.orchestration import OrchestratorScope
from hjemtilos.referrals.intake import IntakeRejected, StoredCase
from hjemtilos.referrals.submission import submit_referral
from hjemtilos.web.fields import ALL_FIELDS, GROUPS, to_referral_data
from hjemtilos.web.headers import add_security_headers
from hjemtilos.web.referrers import LinkRefused, find_link, request_link, use_link
from hjemtilos.web.texts import TEXT
from hjemtilos.web.validation import check_referral, field_id

CSRF_COOKIE = "hjemtilos_csrf"
MAX_BODY = 64 * 1024  # a referral is a few kilobytes
ASSETS = {name: (PROJECT_ROOT / "templates" / "web" / name).read_bytes() for name in ("form.css", "form.js")}
# Every response: no script or style but our own files, no framing, no sniffing, no referrer, and pages that may
# hold what a caseworker typed about a child are never cached (the assets set their own Cache-Control).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
class LinkTaken(Exception):
    """The one-time link was used by another submission in the meantime."""


def _lang(request: Request, form: dict[str, str] | None = None) -> str:
    value = (form or {}).get("lang") or request.query_params.get("lang") or "da"
    return value if value in TEXT else "da"


def _group_anchor(name: str) -> str:
    """Where a problem without a field of its own (e.g. "no custody holder") is shown: its group."""
    head = name.split(".", 1)[0]
    return next((f"group-{group.key}" for group in GROUPS if any(f.name.startswith(head) for f in group.fields)),
                "group-child")


def _group_label(name: str, lang: str) -> str:
    anchor = _group_anchor(name)
    return next((getattr(group, lang) for group in GROUPS if f"group-{group.key}" == anchor), "")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _csrf_ok(request: Request, posted: dict[str, str]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, posted.get("csrf", ""))


async def _posted(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


class ReferralForm:
    """The form's pages. ``orchestrator`` starts the case's run (None in tests that only check the form); ``root``
    is the path the app is mounted under (``/henvisning`` behind the front door)."""

    def __init__(self, app: App, orchestrator: OrchestratorScope | None, root: str) -> None:
        self.app = app
        self.orchestrator = orchestrator
        self.root = root
        self.verify = app.settings.referrer_verification
        self.env = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "web")),
                               undefined=StrictUndefined, autoescape=select_autoescape(["html"]))
        self.env.globals["root"] = root
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.per_client = parse(app.settings.form_limit_per_client)
        self.per_referrer = parse(app.settings.form_limit_per_referrer)
        self.link_limit = parse(app.settings.referrer_link_limit)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    @staticmethod
    def _with_cookie(request: Request, response: Response, token: str) -> Response:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    def form_page(self, request: Request, lang: str, values: dict[str, str], errors: dict[str, str],
                  general: list[str], token: str, status: int = 200) -> Response:
        # the summary lists every problem in the form's order, each a link to its field
        summary = [(field_id(name), getattr(spec, lang), errors[name]) for name, spec in ALL_FIELDS.items()
                   if name in errors]
        summary += [(field_id(_group_anchor(name)), _group_label(name, lang), message)
                    for name, message in errors.items() if name not in ALL_FIELDS]
        html = self.render("form.html", t=TEXT[lang], lang=lang, groups=GROUPS, values=values, errors=errors,
                           general=general, summary=summary, csrf=token, field_id=field_id)
        return self._with_cookie(request, HTMLResponse(html, status_code=status), token)

    def start_page(self, request: Request, lang: str, error: str | None = None, status: int = 200,
                   email: str = "") -> Response:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        html = self.render("start.html", t=TEXT[lang], lang=lang, csrf=token, error=error, email=email)
        return self._with_cookie(request, HTMLResponse(html, status_code=status), token)

    def verified_email(self, token: str) -> str | None:
        with self.app.session_factory() as session:
            link = find_link(session, token, datetime.now(UTC))
            return link.email if link else None

    def show_form(self, request: Request) -> Response:
        lang = _lang(request)
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        if not self.verify:
            return self.form_page(request, lang, {}, {}, [], token)
        access = request.query_params.get("adgang", "")
        email = self.verified_email(access)
        if email is None:
            return self.start_page(request, lang, TEXT[lang]["link_used"] if access else None,
                                   410 if access else 200)
        return self.form_page(request, lang, {"adgang": access, "referrer.email": email}, {}, [], token)

    async def ask_for_link(self, request: Request) -> Response:
        posted = await _posted(request)
        lang = _lang(request, posted)
        if not self.limiter.hit(self.per_client, "referral-form-client", _client(request)):
            return self.start_page(request, lang, TEXT[lang]["busy"], 429)
        email = posted.get("email", "").strip().lower()[:320]
        if email and not self.limiter.hit(self.link_limit, "referrer-link", email):
            return self.start_page(request, lang, TEXT[lang]["busy"], 429, email)
        return await run_in_threadpool(self.send_link, request, lang, posted, email)

    def send_link(self, request: Request, lang: str, posted: dict[str, str], email: str) -> Response:
        if not _csrf_ok(request, posted):
            return self.start_page(request, lang, TEXT[lang]["csrf"], 403, email)
        settings = self.app.settings
        try:
            with self.app.session_factory.begin() as session:
                request_link(session, email, datetime.now(UTC), domains=settings.referrer_domains,
                             hours=settings.referrer_link_hours, form_url=settings.referral_form_url,
                             programme=self.app.programme)
        except LinkRefused as exc:
            return self.start_page(request, lang, exc.da if lang == "da" else exc.en, 422, email)
        return HTMLResponse(self.render("link_sent.html", t=TEXT[lang], lang=lang, email=email))

    async def submit(self, request: Request) -> Response:
        lang = _lang(request)
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return HTMLResponse(TEXT[lang]["too_big"], status_code=413)
        if not self.limiter.hit(self.per_client, "referral-form-client", _client(request)):  # bad ones count too
            return self.form_page(request, lang, {}, {}, [TEXT[lang]["busy"]], secrets.token_urlsafe(32), 429)
        posted = await _posted(request)
        referrer = posted.get("referrer.email", "").strip().lower()
        if referrer and not self.limiter.hit(self.per_referrer, "referral-form-referrer", referrer):
            lang = _lang(request, posted)
            return self.form_page(request, lang, posted, {}, [TEXT[lang]["busy"]],
                                  request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32), 429)
        # database work and starting the run are blocking: keep them off the event loop
        return await run_in_threadpool(self.process, request, posted)

    def process(self, request: Request, posted: dict[str, str]) -> Response:
        lang = _lang(request, posted)
        if not _csrf_ok(request, posted):
            return self.form_page(request, lang, posted, {}, [TEXT[lang]["csrf"]], secrets.token_urlsafe(32), 403)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        access = posted.get("adgang", "")
        if self.verify:
            email = self.verified_email(access)
            if email is None:
                return self.start_page(request, lang, TEXT[lang]["link_used"], 410)
            posted["referrer.email"] = email  # the verified address, whatever was posted
        referral, problems = check_referral(to_referral_data(posted), local_date(datetime.now(UTC)), set(ALL_FIELDS))
        errors = {problem.field: problem.da if lang == "da" else problem.en for problem in problems}
        if referral is None:
            return self.form_page(request, lang, posted, errors, [], cookie, status=422)
        try:
            stored = self._store(referral, access)
        except LinkTaken:  # another submission used the link a moment ago: this one is rolled back
            return self.start_page(request, lang, TEXT[lang]["link_used"], 410)
        except IntakeRejected as exc:  # the rules were checked above; only a day turning over gets here
            errors.update({reason.field: reason.da if lang == "da" else reason.en for reason in exc.reasons})
            return self.form_page(request, lang, posted, errors, [], cookie, status=422)
        return RedirectResponse(f"{self.root}/tak/{stored.reference}?lang={lang}", status_code=303)

    def _store(self, referral: Referral, access: str) -> StoredCase:
        def use_up_link(session: Session, stored: list[StoredCase]) -> None:
            if self.verify and not use_link(session, access, stored[0].case_id, datetime.now(UTC)):
                raise LinkTaken

        return submit_referral(self.app, referral, actor="web", now=datetime.now(UTC), orchestrator=self.orchestrator,
                               within=use_up_link).stored

    def privacy(self, request: Request) -> Response:
        lang = _lang(request)
        return HTMLResponse(self.render("privacy.html", t=TEXT[lang], lang=lang))

    def thanks(self, request: Request, reference: str) -> Response:
        lang = _lang(request)
        if not reference.startswith("HTO-") or len(reference) > 20:
            return HTMLResponse("Not found", status_code=404)
        return HTMLResponse(self.render("thanks.html", t=TEXT[lang], lang=lang, reference=reference))


def _asset(name: str, media_type: str) -> Callable[[], Response]:
    def serve() -> Response:
        return Response(ASSETS[name], media_type=media_type, headers={"Cache-Control": "max-age=3600"})
    return serve


def create_app(app: App, orchestrator: OrchestratorScope | None = None, root: str = "") -> FastAPI:
    """The referral form's web application (``ReferralForm`` says what the arguments are)."""
    form = ReferralForm(app, orchestrator, root)
    web = FastAPI(title="Hjem til Os – tilmelding", docs_url=None, redoc_url=None, openapi_url=None)
    add_security_headers(web, SECURITY_HEADERS)
    web.add_api_route("/form.css", _asset("form.css", "text/css"), methods=["GET"])
    web.add_api_route("/form.js", _asset("form.js", "text/javascript"), methods=["GET"])
    for path, endpoint, method in (("/", form.show_form, "GET"), ("/", form.submit, "POST"),
                                   ("/link", form.ask_for_link, "POST"), ("/privatliv", form.privacy, "GET"),
                                   ("/tak/{reference}", form.thanks, "GET")):
        web.add_api_route(path, endpoint, methods=[method], response_class=HTMLResponse)
    return web
