"""The administrators' pages: the dashboard (Overblik), the access log (with its CSV) and a person's export."""

from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hjemtilos.audit import access
from hjemtilos.db.models import ReferralCase
from hjemtilos.privacy.person import export_person, log_export
from hjemtilos.workspace import views
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, client_of, page

__all__ = ["access_log_csv", "router"]

router = APIRouter()


def access_log_csv(rows: list[access.CaseAccess]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["tidspunkt_utc", "bruger", "handling", "formaal", "fra", "sag"])
    for row in rows:
        writer.writerow([row.at.isoformat(), row.username, row.action, row.purpose or "", row.client or "",
                         row.case_reference or ""])
    return buffer.getvalue()


def dashboard(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    alive = ws.health() if ws.health is not None else {}
    return ws.render(request, "dashboard.html", signed, d=views.dashboard(session), alive=alive)


def access_log(ws: Workspace, request: Request, session: Session, signed: SignedIn,
               form: dict[str, str]) -> Response:
    reference = request.query_params.get("sag", "").strip().upper()
    rows = access.case_log(session, reference) if reference else []
    if reference and request.query_params.get("csv") == "1":
        access.record(session, signed, access.EXPORTED, ws.clock(),
                      case=session.scalar(select(ReferralCase).where(ReferralCase.reference == reference)),
                      client=client_of(request), purpose="adgangslog / access log")
        return Response(access_log_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="adgangslog-{reference}.csv"'})
    return ws.render(request, "access_log.html", signed, reference=reference, rows=rows, error=None,
                     changes=access.prefect_changes(session))


def person_export(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                  form: dict[str, str]) -> Response:
    """Everything held about one person, as a JSON download (logged as an export of each case in it)."""
    email = request.query_params.get("email", "").strip().lower()
    reference = request.query_params.get("sag", "").strip().upper()
    if not email and not reference:
        return ws.render(request, "access_log.html", signed, 422, reference="", rows=[], changes=[],
                         error="Giv en e-mailadresse eller et sagsnummer. / Give an e-mail address or a reference.")
    data = export_person(session, email=email or None, reference=None if email else reference)
    log_export(session, data, signed, ws.clock(), client_of(request))
    name = (reference or "person") if not email else "person"
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="indsigt-{name}.json"'})


router.add_api_route(f"{BASE}/admin/person", page(person_export, administrators_only=True), methods=["GET"])
router.add_api_route(f"{BASE}/admin", page(dashboard, administrators_only=True), methods=["GET"],
                     response_class=HTMLResponse)
router.add_api_route(f"{BASE}/admin/adgangslog", page(access_log, administrators_only=True), methods=["GET"])
