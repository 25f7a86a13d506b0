"""Volunteer families: the list, a family's page (logged as a read) and recording a member's certificate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from hjemtilos.audit import access
from hjemtilos.volunteers.screening import Certificate, CertificateError, current_form
from hjemtilos.volunteers.screening import record_certificate as record
from hjemtilos.workspace import views
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, client_of, page

__all__ = ["router"]

NO_FAMILY = "Ingen familie / No family"

router = APIRouter()


def _family_id(request: Request) -> int:
    try:
        return int(request.path_params["family_id"])
    except ValueError:
        return 0


def family_list(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                form: dict[str, str]) -> Response:
    return ws.render(request, "families.html", signed, rows=views.families(session))


def family_view(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                form: dict[str, str]) -> Response:
    family_id = _family_id(request)
    data = views.family_page(session, family_id, ws.clock())
    if data is None:
        return ws.message(request, signed, 404, NO_FAMILY, "")
    access.record(session, signed, access.VIEWED, ws.clock(), family_id=family_id, client=client_of(request))
    return ws.render(request, "family.html", signed, f=data, error=None, values={})


def _date(form: dict[str, str], name: str) -> date | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CertificateError(name, "Skriv en dato som ÅÅÅÅ-MM-DD. / Give a date as YYYY-MM-DD.") from None


def record_certificate(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                       form: dict[str, str]) -> Response | Callable[[], Response]:
    """A member's børneattest or straffeattest: dates and outcome, recorded here and never in Prefect. The open
    approval's dialog in Prefect then says what is still missing (it was written when the run last asked)."""
    family_id = _family_id(request)
    try:
        try:
            member_id, certificate = int(form.get("member", "")), Certificate(form.get("certificate", ""))
        except ValueError:
            raise CertificateError("member", "Vælg medlem og attest. / Choose a member and a certificate.") from None
        outcome = {"": None, "clear": True, "remark": False}.get(form.get("outcome", ""))
        with session.begin_nested():
            record(session, family_id, member_id, certificate, _date(form, "requested_on"),
                   _date(form, "received_on"), outcome, signed.user.username, ws.clock())
    except (CertificateError, LookupError) as exc:
        data = views.family_page(session, family_id, ws.clock())
        if data is None:
            return ws.message(request, signed, 404, NO_FAMILY, "")
        return ws.render(request, "family.html", signed, 422, f=data, values=form,
                         error=(getattr(exc, "field", "member"), str(exc)))
    done = RedirectResponse(f"{BASE}/familier/{family_id}#attester", status_code=303)
    open_form = current_form(ws.app, session, family_id, ws.clock())
    if open_form is None:
        return done

    def refresh_dialog() -> Response:  # after the certificate is committed; else renewed when the run next asks
        assert open_form is not None
        ws.edit_dialog(open_form.flow_run_id, open_form.pause_key, lambda _: open_form.description)
        return done
    return refresh_dialog


router.add_api_route(f"{BASE}/familier", page(family_list), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{BASE}/familier/{{family_id}}", page(family_view), methods=["GET"],
                     response_class=HTMLResponse)
router.add_api_route(f"{BASE}/familier/{{family_id}}/attest", page(record_certificate), methods=["POST"])
