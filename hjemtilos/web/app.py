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
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from casework.referral import Referral
from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.intake import IntakeRejected, StoredCase, receive_referral
from hjemtilos.web.fields import ALL_FIELDS, GROUPS, to_referral_data

CSRF_COOKIE = "hjemtilos_csrf"
TEXT = {
    "da": {"title": "Tilmelding til Hjem til Os", "intro": "Henvisning af et barn til en frivillig venskabsfamilie. "
           "Felter med * skal udfyldes.", "submit": "Send henvisningen", "errors": "Henvisningen kan ikke sendes endnu. "
           "Ret felterne markeret nedenfor.", "switch": "English", "thanks": "Tak for henvisningen",
           "received": "Vi har modtaget henvisningen. Sagens nummer er", "receipt": "Du får en kvittering på mail. "
           "En koordinator fra Red Barnet gennemgår henvisningen.", "csrf": "Formularen er udløbet. Send den igen.",
           "new": "Henvis endnu et barn"},
    "en": {"title": "Referral to Hjem til Os", "intro": "Referral of a child to a volunteer friendship family. "
           "Fields marked * are required.", "submit": "Send the referral", "errors": "The referral cannot be sent yet. "
           "Please correct the fields marked below.", "switch": "Dansk", "thanks": "Thank you for the referral",
           "received": "We have received the referral. The case number is", "receipt": "You will get a receipt by "
           "e-mail. A coordinator at Red Barnet will review the referral.", "csrf": "The form expired. Please send "
           "it again.", "new": "Refer another child"},
}


def _lang(request: Request, form: dict[str, str] | None = None) -> str:
    value = (form or {}).get("lang") or request.query_params.get("lang") or "da"
    return value if value in TEXT else "da"


def _error_text(error: dict[str, Any], lang: str) -> str:
    message = str(error.get("msg", ""))
    if lang == "da":
        kind = error.get("type", "")
        return {"missing": "Skal udfyldes.", "value_error": "Ugyldig værdi.", "date_from_datetime_parsing":
                "Skriv en gyldig dato.", "date_parsing": "Skriv en gyldig dato.", "string_pattern_mismatch":
                "Ugyldigt format.", "string_too_long": "For lang."}.get(kind, message) if "email" not in message \
            else "Skriv en gyldig e-mailadresse."
    return message


def create_app(app: App, start_run: Callable[[StoredCase], str | None] | None = None) -> FastAPI:
    """``start_run`` starts the case's run (None in tests that only check the form)."""
    web = FastAPI(title="Hjem til Os – tilmelding", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates" / "web")), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]))

    def render(name: str, **context: Any) -> str:
        return env.get_template(name).render(**context)

    def form_page(request: Request, lang: str, values: dict[str, str], errors: dict[str, str],
                  general: list[str], token: str, status: int = 200) -> Response:
        unplaced = [message for name, message in errors.items() if name not in ALL_FIELDS]
        html = render("form.html", t=TEXT[lang], lang=lang, groups=GROUPS, values=values, errors=errors,
                      general=general, unplaced=unplaced, csrf=token)
        response = HTMLResponse(html, status_code=status)
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response

    @web.get("/", response_class=HTMLResponse)
    def show_form(request: Request) -> Response:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        return form_page(request, _lang(request), {}, {}, [], token)

    @web.post("/", response_class=HTMLResponse)
    async def submit(request: Request) -> Response:
        posted = {k: str(v) for k, v in (await request.form()).items()}
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
        try:
            referral = Referral.model_validate(to_referral_data(posted))
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"])
                errors.setdefault(field, _error_text(dict(error), lang))
            return form_page(request, lang, posted, errors, general, cookie, status=422)
        try:
            with app.session_factory.begin() as session:
                stored = receive_referral(app, session, referral, datetime.now(UTC), actor="web")
        except IntakeRejected as exc:
            for reason in exc.reasons:
                text = reason.da if lang == "da" else reason.en
                errors[reason.field] = (errors[reason.field] + " " + text) if reason.field in errors else text
            return form_page(request, lang, posted, errors, general, cookie, status=422)
        if start_run is not None:
            start_run(stored)
        return RedirectResponse(f"/tak/{stored.reference}?lang={lang}", status_code=303)

    @web.get("/tak/{reference}", response_class=HTMLResponse)
    def thanks(request: Request, reference: str) -> Response:
        lang = _lang(request)
        if not reference.startswith("HTO-") or len(reference) > 20:
            return HTMLResponse("Not found", status_code=404)
        return HTMLResponse(render("thanks.html", t=TEXT[lang], lang=lang, reference=reference))

    return web
