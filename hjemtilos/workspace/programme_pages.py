"""The programme in figures: the report of a period (this year by default), its charts and CSV files."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from casework.clock import local_date
from hjemtilos.reports.exports import table_csv, table_svg
from hjemtilos.reports.figures import CERTIFICATE_DA, Report, build_report
from hjemtilos.reports.periods import PeriodError, parse_period
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, page

__all__ = ["ReportCache", "router"]

router = APIRouter()


class ReportCache:
    """Reports by period and minute, shared by the page and its charts and CSV files."""

    def __init__(self) -> None:
        self._reports: dict[tuple[str, str], Report] = {}
        self._lock = threading.Lock()

    def report_for(self, ws: Workspace, request: Request, session: Session) -> tuple[Report, str | None]:
        """The report of the period the query names (this year when it names none or a wrong one, with the
        error)."""
        q, now = request.query_params, ws.clock()
        error = None
        try:
            period = parse_period(q.get("periode", ""), q.get("fra", ""), q.get("til", ""), local_date(now))
        except PeriodError as exc:
            period, error = parse_period("", "", "", local_date(now)), str(exc)
        key = (period.key, now.strftime("%Y-%m-%dT%H:%M"))
        with self._lock:
            report = self._reports.get(key)
        if report is None:
            settings = ws.app.settings
            report = build_report(session, period, now, settings.certificate_renewal_years,
                                  settings.certificate_notice_days)
            with self._lock:
                if len(self._reports) > 20:
                    self._reports.clear()
                self._reports[key] = report
        return report, error


def _cache(request: Request) -> ReportCache:
    cache: ReportCache = request.app.state.reports
    return cache


def programme(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    report, error = _cache(request).report_for(ws, request, session)
    today = local_date(ws.clock())
    choices = [(str(today.year), f"I år / this year ({today.year})"),
               (str(today.year - 1), f"Sidste år / last year ({today.year - 1})"),
               *((f"{year}-K{n}", f"{n}. kvartal {year} / Q{n} {year}") for year in (today.year, today.year - 1)
                 for n in (1, 2, 3, 4))]
    if report.period.key not in dict(choices):
        choices.insert(0, (report.period.key, report.period.label))
    query = urlencode({"periode": report.period.key} if ".." not in report.period.key else
                      {"fra": report.period.start.isoformat(), "til": report.period.end.isoformat()})
    return ws.render(request, "reports.html", signed, 422 if error else 200, r=report, error=error,
                     choices=choices, query=query, today=today, kinds=CERTIFICATE_DA,
                     start=request.query_params.get("fra", ""), end=request.query_params.get("til", ""))


def programme_file(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                   form: dict[str, str]) -> Response:
    report, _ = _cache(request).report_for(ws, request, session)
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


router.add_api_route(f"{BASE}/programmet", page(programme), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{BASE}/programmet/{{name}}", page(programme_file), methods=["GET"])
