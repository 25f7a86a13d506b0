"""Opgaver, the coordinator's start page: every open step of every case and family, sorted by due date, with who
works on it; claim a step, release it (``hjemtilos/claims.py``). A claim is written to the Resume dialog's
description in Prefect too (at once when it can; otherwise the timekeeper's show-claims duty does)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from hjemtilos import claims
from hjemtilos.db.models import HumanTask
from hjemtilos.queries import Show, task_list
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, page

__all__ = ["SHOW", "TASKS", "router"]

TASKS = f"{BASE}/opgaver"
SHOW = {"mine": Show.MINE, "ledige": Show.UNASSIGNED, "alle": Show.ALL}  # the filter's words in the address
router = APIRouter()


def tasks(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    shown = request.query_params.get("vis", "alle")
    show = SHOW.get(shown, Show.ALL)
    rows = task_list(session, ws.clock(), signed.user.id, show)
    return ws.render(request, "tasks.html", signed, rows=rows, shown=shown if shown in SHOW else "alle", error=None)


def _back(form: dict[str, str]) -> str:
    """Opgaver with the filter the form was sent from."""
    return f"{TASKS}?vis={form['vis']}" if form.get("vis") in SHOW else TASKS


def _refused(ws: Workspace, request: Request, session: Session, signed: SignedIn, status: int,
             message: str) -> Response:
    return ws.render(request, "tasks.html", signed, status, rows=task_list(session, ws.clock(), signed.user.id),
                     shown="alle", error=message)


def _change(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str],
            act: Callable[[int], HumanTask]) -> Response | Callable[[], Response]:
    try:
        task = act(int(request.path_params["task_id"]))
    except (ValueError, claims.ClaimError) as exc:
        message = str(exc) if isinstance(exc, claims.ClaimError) else "Ukendt trin. / Unknown step."
        return _refused(ws, request, session, signed, 409, message)
    done = RedirectResponse(_back(form), status_code=303)
    shown = claims.dialog_claim(session, task)
    if shown is None:
        return done

    def tell_prefect() -> Response:  # after the claim is committed; the timekeeper's show-claims does it otherwise
        assert shown is not None
        if ws.edit_dialog(shown.flow_run_id, shown.pause_key, partial(claims.with_claim_banner, banner=shown.banner)):
            with ws.app.session_factory.begin() as later:
                claims.mark_shown(later, shown)
        return done
    return tell_prefect


def claim(ws: Workspace, request: Request, session: Session, signed: SignedIn,
          form: dict[str, str]) -> Response | Callable[[], Response]:
    return _change(ws, request, session, signed, form, lambda task_id: claims.claim(
        session, task_id, signed.user, ws.clock(), take_over=form.get("overtag") == "1"))


def release(ws: Workspace, request: Request, session: Session, signed: SignedIn,
            form: dict[str, str]) -> Response | Callable[[], Response]:
    return _change(ws, request, session, signed, form,
                   lambda task_id: claims.release(session, task_id, signed.user, ws.clock()))


def set_follow_up(ws: Workspace, request: Request, session: Session, signed: SignedIn,
                  form: dict[str, str]) -> Response:
    """The follow-up date of a step (empty: none); no Prefect change, so no call to it."""
    try:
        day = date.fromisoformat(form["follow_up_on"]) if form.get("follow_up_on") else None
        claims.follow_up(session, int(request.path_params["task_id"]), signed.user, day, ws.clock())
    except (ValueError, claims.ClaimError) as exc:
        message = str(exc) if isinstance(exc, claims.ClaimError) else "Skriv en gyldig dato. / Give a valid date."
        return _refused(ws, request, session, signed, 422, message)
    return RedirectResponse(_back(form), status_code=303)


router.add_api_route(TASKS, page(tasks), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{TASKS}/{{task_id}}/opfoelgning", page(set_follow_up), methods=["POST"])
router.add_api_route(f"{TASKS}/{{task_id}}/tag", page(claim), methods=["POST"])
router.add_api_route(f"{TASKS}/{{task_id}}/slip", page(release), methods=["POST"])
