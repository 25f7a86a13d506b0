"""The case list and a case's page, and what a coordinator does there: take the case, end it early, record a
change of circumstances, write a note. Every view of a case page is written to the access log."""

from __future__ import annotations

import typing
from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import vocabulary as words
from casework.clock import local_date
from hjemtilos.approvals import audit
from hjemtilos.audit import access
from hjemtilos.cases import notes
from hjemtilos.cases.ending import CHANGES, ENDED_BY, REASONS
from hjemtilos.db.models import ReferralCase
from hjemtilos.workspace import views
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.case_view import case_page
from hjemtilos.workspace.pages import BASE, NOT_FOUND_CASE, Workspace, client_of, page

__all__ = ["END_REASONS", "router"]

END_REASONS: tuple[str, ...] = typing.get_args(REASONS)  # the same choices as the end-case deployment

router = APIRouter()


def case_list(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    q = request.query_params
    filters = views.CaseFilter(step=q.get("trin", ""), waits_for=q.get("venter", ""),
                               overdue=q.get("overskredet") == "1", mine=q.get("mine") == "1",
                               closed=q.get("lukkede") == "1", search=q.get("soeg", "")[:100])
    rows = views.case_list(session, ws.clock(), signed.user.id, filters)
    return ws.render(request, "cases.html", signed, rows=rows, filters=filters, steps=views.CASE_STEPS,
                     waits=views.WAITS)


def _resume_url(ws: Workspace, case: ReferralCase) -> str | None:
    return f"{ws.app.settings.ui_base}/runs/flow-run/{case.flow_run_id}" if case.flow_run_id else None


def case_view(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    return _show_case(ws, request, session, signed, request.path_params["reference"])


def _show_case(ws: Workspace, request: Request, session: Session, signed: SignedIn, reference: str,
               status: int = 200, error: str | None = None, note: dict[str, str] | None = None,
               note_errors: dict[str, str] | None = None) -> Response:
    """The case page (every view access-logged), with an error at the top or a note form sent back."""
    data = case_page(session, reference, ws.clock())
    if data is None:
        return ws.message(request, signed, 404, NOT_FOUND_CASE,
                          f"Der er ingen sag {reference}. / There is no case {reference}.")
    access.record(session, signed, access.VIEWED, ws.clock(), case=data.case, client=client_of(request))
    return ws.render(request, "case.html", signed, status, c=data, resume_url=_resume_url(ws, data.case),
                     error=error, ended_by=ENDED_BY, reasons=END_REASONS, changes=CHANGES, note=note or {},
                     note_errors=note_errors or {}, note_kinds=words.NOTE_KINDS.words,
                     today=local_date(ws.clock()).isoformat())


def write_note(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    """A coordinator's note on the case: saved, or the page back with the field's error and what was typed."""
    reference = request.path_params["reference"]
    case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
    if case is None:
        return ws.message(request, signed, 404, NOT_FOUND_CASE, reference)
    try:
        occurred = date.fromisoformat(form.get("occurred_on", "")) if form.get("occurred_on") else None
    except ValueError:
        return _show_case(ws, request, session, signed, reference, 422, note=form,
                          note_errors={"occurred_on": "Skriv en gyldig dato. / Give a valid date."})
    try:
        with session.begin_nested():
            notes.write_note(session, case, kind=form.get("kind", ""), occurred_on=occurred,
                             text=form.get("text", ""), actor=signed.user.username, now=ws.clock())
    except notes.NoteError as exc:
        return _show_case(ws, request, session, signed, reference, 422, note=form, note_errors={exc.field: str(exc)})
    return RedirectResponse(f"{BASE}/sager/{reference}#notater", status_code=303)


def take_case(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    reference = request.path_params["reference"]
    case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
    if case is None:
        return ws.message(request, signed, 404, NOT_FOUND_CASE, reference)
    case.coordinator_id = signed.user.id
    audit(session, case.id, ws.clock(), signed.user.username, "coordinator-assigned", None,
          {"user": signed.user.username})
    return RedirectResponse(f"{BASE}/sager/{reference}", status_code=303)


def end_case(ws: Workspace, request: Request, session: Session, signed: SignedIn,
             form: dict[str, str]) -> Response | Callable[[], Response]:
    """An early ending, decided here by the signed-in coordinator (the case run carries it out)."""
    from hjemtilos import cases
    from hjemtilos.approvals import InvalidRequest

    reference, username = request.path_params["reference"], signed.user.username
    ended_by, reason = ENDED_BY.get(form.get("ended_by", "")), form.get("reason", "")
    if ended_by is None or reason not in END_REASONS:
        return lambda: _case_error(ws, request, signed, reference, "Vælg hvem der afslutter og hvorfor. / Choose "
                                   "who ends it and why.")

    def carry_out() -> Response:
        try:
            _, run_id = cases.request_ending(ws.app, reference, ended_by=ended_by, reason=reason,
                                             rematch=form.get("rematch") == "ja", actor=username, now=ws.clock())
        except (InvalidRequest, LookupError) as exc:
            return _case_error(ws, request, signed, reference, str(exc))
        if run_id and ws.wake is not None:
            try:
                ws.wake(run_id)
            except Exception:  # noqa: BLE001 - recorded; the timekeeper wakes the run on its next tick
                pass
        return RedirectResponse(f"{BASE}/sager/{reference}", status_code=303)
    return carry_out


def record_change(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                  form: dict[str, str]) -> Response | Callable[[], Response]:
    from hjemtilos import cases

    reference, username = request.path_params["reference"], signed.user.username
    kind = CHANGES.get(form.get("kind", ""))
    if kind is None:
        return lambda: _case_error(ws, request, signed, reference, "Vælg hvad der har ændret sig. / Choose what "
                                   "changed.")

    def carry_out() -> Response:
        try:
            cases.record_change(ws.app, reference, kind, username, ws.clock())
        except LookupError as exc:
            return _case_error(ws, request, signed, reference, str(exc))
        return RedirectResponse(f"{BASE}/sager/{reference}", status_code=303)
    return carry_out


def _case_error(ws: Workspace, request: Request, signed: SignedIn, reference: str, error: str) -> Response:
    """The case page with ``error`` at the top (after the page's transaction: it reads in one of its own)."""
    with ws.app.session_factory.begin() as session:
        return _show_case(ws, request, session, signed, reference, 422, error=error)


router.add_api_route(f"{BASE}/", page(case_list), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{BASE}/sager/{{reference}}", page(case_view), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{BASE}/sager/{{reference}}/overtag", page(take_case), methods=["POST"])
router.add_api_route(f"{BASE}/sager/{{reference}}/afslut", page(end_case), methods=["POST"])
router.add_api_route(f"{BASE}/sager/{{reference}}/forhold", page(record_change), methods=["POST"])
router.add_api_route(f"{BASE}/sager/{{reference}}/notat", page(write_note), methods=["POST"], response_class=HTMLResponse)
