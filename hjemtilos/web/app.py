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
from starlette.concurrency import run_in_threadpool

from casework.clock import local_date
from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.intake import IntakeRejected, StoredCase, receive_referral
from hjemtilos.web.fields import ALL_FIELDS, GROUPS, to_referral_data
from hjemtilos.web.headers import add_security_headers
from hjemtilos.web.referrers import LinkRefused, find_link, request_link, use_link
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
TEXT = {
    "da": {"title": "Tilmelding til Hjem til Os", "intro": "Henvisning af et barn til en frivillig venskabsfamilie. "
           "Felter med * skal udfyldes.", "submit": "Send henvisningen", "errors": "Henvisningen kan ikke sendes endnu. "
           "Ret felterne markeret nedenfor.", "switch": "English", "thanks": "Tak for henvisningen",
           "received": "Vi har modtaget henvisningen. Sagens nummer er", "receipt": "Du får en kvittering på mail. "
           "En koordinator fra Red Barnet gennemgår henvisningen.", "csrf": "Formularen er udløbet. Send den igen.",
           "new": "Henvis endnu et barn", "privacy": "Sådan behandler vi personoplysninger",
           "busy": "Der er sendt for mange henvisninger herfra på kort tid. Vent lidt, "
           "og prøv igen; ring til Red Barnet, hvis det haster.", "too_big": "Henvisningen er for stor til at blive "
           "sendt."},
    "en": {"title": "Referral to Hjem til Os", "intro": "Referral of a child to a volunteer friendship family. "
           "Fields marked * are required.", "submit": "Send the referral", "errors": "The referral cannot be sent yet. "
           "Please correct the fields marked below.", "switch": "Dansk", "thanks": "Thank you for the referral",
           "received": "We have received the referral. The case number is", "receipt": "You will get a receipt by "
           "e-mail. A coordinator at Red Barnet will review the referral.", "csrf": "The form expired. Please send "
           "it again.", "new": "Refer another child", "privacy": "How we handle personal data",
           "busy": "Too many referrals have been sent from here in a short "
           "time. Please wait a little and try again; call Red Barnet if it is urgent.", "too_big": "The referral is "
           "too large to be sent."},
}
TEXT["da"].update({  # the way in for verified referrers (hjemtilos/web/referrers.py)
    "start": "Skriv din arbejdsmail, så sender vi dig et link til henvisningsformularen. Linket virker én gang; "
             "kvitteringen for henvisningen sendes til samme adresse.", "email": "Din arbejdsmail",
    "send_link": "Send mig et link", "sent": "Tjek din mail",
    "sent_text": "Vi har sendt et link til henvisningsformularen til",
    "link_used": "Linket er brugt eller udløbet. Bed om et nyt nedenfor.",
    "verified": "Henvisningen sendes fra den bekræftede adresse"})
TEXT["en"].update({
    "start": "Give your work e-mail and we send you a link to the referral form. The link works once; the receipt "
             "goes to the same address.", "email": "Your work e-mail", "send_link": "Send me a link",
    "sent": "Check your mail", "sent_text": "We have sent a link to the referral form to",
    "link_used": "The link has been used or has expired. Ask for a new one below.",
    "verified": "The referral is sent from the verified address"})


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


def create_app(app: App, start_run: Callable[[StoredCase], str | None] | None = None, root: str = "") -> FastAPI:
    """``start_run`` starts the case's run (None in tests that only check the form); ``root`` is the path the app
    is mounted under (``/henvisning`` behind the front door)."""
    web = FastAPI(title="Hjem til Os – tilmelding", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "web")), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]))
    env.globals["root"] = root

    def render(name: str, **context: Any) -> str:
        return env.get_template(name).render(**context)

    add_security_headers(web, SECURITY_HEADERS)

    @web.get("/form.css")
    def stylesheet() -> Response:
        return Response(ASSETS["form.css"], media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    @web.get("/form.js")
    def script() -> Response:
        return Response(ASSETS["form.js"], media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})

    def form_page(request: Request, lang: str, values: dict[str, str], errors: dict[str, str],
                  general: list[str], token: str, status: int = 200) -> Response:
        # the summary lists every problem in the form's order, each a link to its field
        summary = [(field_id(name), getattr(spec, lang), errors[name]) for name, spec in ALL_FIELDS.items()
                   if name in errors]
        summary += [(field_id(_group_anchor(name)), _group_label(name, lang), message)
                    for name, message in errors.items() if name not in ALL_FIELDS]
        html = render("form.html", t=TEXT[lang], lang=lang, groups=GROUPS, values=values, errors=errors,
                      general=general, summary=summary, csrf=token, field_id=field_id)
        response = HTMLResponse(html, status_code=status)
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    verify = app.settings.referrer_verification

    def start_page(request: Request, lang: str, error: str | None = None, status: int = 200,
                   email: str = "") -> Response:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = HTMLResponse(render("start.html", t=TEXT[lang], lang=lang, csrf=token, error=error, email=email),
                                status_code=status)
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    def verified_email(token: str) -> str | None:
        with app.session_factory() as session:
            link = find_link(session, token, datetime.now(UTC))
            return link.email if link else None

    @web.get("/", response_class=HTMLResponse)
    def show_form(request: Request) -> Response:
        lang = _lang(request)
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        if not verify:
            return form_page(request, lang, {}, {}, [], token)
        access = request.query_params.get("adgang", "")
        email = verified_email(access)
        if email is None:
            return start_page(request, lang, TEXT[lang]["link_used"] if access else None, 410 if access else 200)
        return form_page(request, lang, {"adgang": access, "referrer.email": email}, {}, [], token)

    link_limit = parse(app.settings.referrer_link_limit)

    @web.post("/link", response_class=HTMLResponse)
    async def ask_for_link(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        posted = {k: str(v) for k, v in (await request.form()).items()}
        lang = _lang(request, posted)
        if not limiter.hit(per_client, "referral-form-client", client):
            return start_page(request, lang, TEXT[lang]["busy"], 429)
        email = posted.get("email", "").strip().lower()[:320]
        if email and not limiter.hit(link_limit, "referrer-link", email):
            return start_page(request, lang, TEXT[lang]["busy"], 429, email)
        return await run_in_threadpool(send_link, request, lang, posted, email)

    def send_link(request: Request, lang: str, posted: dict[str, str], email: str) -> Response:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, posted.get("csrf", "")):
            return start_page(request, lang, TEXT[lang]["csrf"], 403, email)
        settings = app.settings
        try:
            with app.session_factory.begin() as session:
                request_link(session, email, datetime.now(UTC), domains=settings.referrer_domains,
                             hours=settings.referrer_link_hours, form_url=settings.referral_form_url,
                             programme=app.programme)
        except LinkRefused as exc:
            return start_page(request, lang, exc.da if lang == "da" else exc.en, 422, email)
        return HTMLResponse(render("link_sent.html", t=TEXT[lang], lang=lang, email=email))

    limiter = MovingWindowRateLimiter(MemoryStorage())
    per_client = parse(app.settings.form_limit_per_client)
    per_referrer = parse(app.settings.form_limit_per_referrer)

    @web.post("/", response_class=HTMLResponse)
    async def submit(request: Request) -> Response:
        lang = _lang(request)
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return HTMLResponse(TEXT[lang]["too_big"], status_code=413)
        client = request.client.host if request.client else "unknown"
        if not limiter.hit(per_client, "referral-form-client", client):  # every submission counts, also bad ones
            return form_page(request, lang, {}, {}, [TEXT[lang]["busy"]], secrets.token_urlsafe(32), status=429)
        posted = {k: str(v) for k, v in (await request.form()).items()}
        referrer = posted.get("referrer.email", "").strip().lower()
        if referrer and not limiter.hit(per_referrer, "referral-form-referrer", referrer):
            return form_page(request, _lang(request, posted), posted, {}, [TEXT[_lang(request, posted)]["busy"]],
                             request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32), status=429)
        # database work and starting the run are blocking: keep them off the event loop
        return await run_in_threadpool(process, request, posted)

    def process(request: Request, posted: dict[str, str]) -> Response:
        lang = _lang(request, posted)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, posted.get("csrf", "")):
            token = secrets.token_urlsafe(32)
            return form_page(request, lang, posted, {}, [TEXT[lang]["csrf"]], token, status=403)
        errors: dict[str, str] = {}
        general: list[str] = []
        access = posted.get("adgang", "")
        if verify:
            email = verified_email(access)
            if email is None:
                return start_page(request, lang, TEXT[lang]["link_used"], 410)
            posted["referrer.email"] = email  # the verified address, whatever was posted
        referral, problems = check_referral(to_referral_data(posted), local_date(datetime.now(UTC)), set(ALL_FIELDS))
        for problem in problems:
            errors[problem.field] = problem.da if lang == "da" else problem.en
        if referral is None:
            return form_page(request, lang, posted, errors, general, cookie, status=422)
        try:
            with app.session_factory.begin() as session:
                stored = receive_referral(app, session, referral, datetime.now(UTC), actor="web")
                if verify and not use_link(session, access, stored.case_id, datetime.now(UTC)):
                    raise LinkTaken
        except LinkTaken:  # another submission used the link a moment ago: this one is rolled back
            return start_page(request, lang, TEXT[lang]["link_used"], 410)
        except IntakeRejected as exc:  # the rules were checked above; only a day turning over gets here
            for reason in exc.reasons:
                errors[reason.field] = reason.da if lang == "da" else reason.en
            return form_page(request, lang, posted, errors, general, cookie, status=422)
        if start_run is not None:
            start_run(stored)
        return RedirectResponse(f"{root}/tak/{stored.reference}?lang={lang}", status_code=303)

    @web.get("/privatliv", response_class=HTMLResponse)
    def privacy(request: Request) -> Response:
        lang = _lang(request)
        return HTMLResponse(render("privacy.html", t=TEXT[lang], lang=lang))

    @web.get("/tak/{reference}", response_class=HTMLResponse)
    def thanks(request: Request, reference: str) -> Response:
        lang = _lang(request)
        if not reference.startswith("HTO-") or len(reference) > 20:
            return HTMLResponse("Not found", status_code=404)
        return HTMLResponse(render("thanks.html", t=TEXT[lang], lang=lang, reference=reference))

    return web
