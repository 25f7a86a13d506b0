"""Opgaver, the coordinator's start page: every open step of every case and family, sorted by due date, with who
works on it; claim a step, release it (``hjemtilos/claims.py``). A claim is written to the Resume dialog's
description in Prefect too (best effort: the run writes it itself the next time it asks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.keys import round_key
from hjemtilos import claims
from hjemtilos.db.models import HumanTask, ReferralCase, VolunteerFamily
from hjemtilos.queries import Show, task_list
from hjemtilos.workspace.accounts import SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, page

__all__ = ["SHOW", "TASKS", "router"]

TASKS = f"{BASE}/opgaver"
SHOW = {"mine": Show.MINE, "ledige": Show.UNASSIGNED, "alle": Show.ALL}  # the filter's words in the address
log = logging.getLogger(__name__)
router = APIRouter()


def tasks(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    shown = request.query_params.get("vis", "alle")
    show = SHOW.get(shown, Show.ALL)
    rows = task_list(session, ws.clock(), signed.user.id, show)
    return ws.render(request, "tasks.html", signed, rows=rows, shown=shown if shown in SHOW else "alle", error=None)


def _run_and_key(session: Session, task: HumanTask) -> tuple[str | None, str]:
    owner = ReferralCase if task.case_id is not None else VolunteerFamily
    run = session.scalar(select(owner.flow_run_id).where(owner.id == (task.case_id or task.family_id)))
    return run, round_key(task.key, task.round)


def _change(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str],
            act: Callable[[int], HumanTask]) -> Response | Callable[[], Response]:
    back = f"{TASKS}?vis={form.get('vis', 'alle')}" if form.get("vis") in SHOW else TASKS
    try:
        task = act(int(request.path_params["task_id"]))
    except (ValueError, claims.ClaimError) as exc:
        message = str(exc) if isinstance(exc, claims.ClaimError) else "Ukendt trin. / Unknown step."
        return ws.render(request, "tasks.html", signed, 409, rows=task_list(session, ws.clock(), signed.user.id),
                         shown="alle", error=message)
    run, pause_key = _run_and_key(session, task)
    if run is None or ws.orchestrator is None or task.round == 0:
        return RedirectResponse(back, status_code=303)
    shown = claims.DialogClaim(task.id, run, pause_key, claims.banner_of(session, task), task.round, task.claimed_at)

    def tell_prefect() -> Response:  # after the claim is committed; the timekeeper's show-claims does it otherwise
        assert ws.orchestrator is not None
        try:
            with ws.orchestrator() as orchestrator:
                told = orchestrator.edit_form_description(run, pause_key, partial(claims.with_claim_banner,
                                                                                  banner=shown.banner))
            if told:
                with ws.app.session_factory.begin() as later:
                    claims.mark_shown(later, shown)
        except Exception as exc:  # noqa: BLE001 - the claim stands; the timekeeper writes it into the dialog
            log.warning("claim not written to the Resume dialog (%s)", type(exc).__name__)
        return RedirectResponse(back, status_code=303)
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
    back = f"{TASKS}?vis={form.get('vis', 'alle')}" if form.get("vis") in SHOW else TASKS
    try:
        day = date.fromisoformat(form["follow_up_on"]) if form.get("follow_up_on") else None
        claims.follow_up(session, int(request.path_params["task_id"]), signed.user, day, ws.clock())
    except (ValueError, claims.ClaimError) as exc:
        message = str(exc) if isinstance(exc, claims.ClaimError) else "Skriv en gyldig dato. / Give a valid date."
        return ws.render(request, "tasks.html", signed, 422, rows=task_list(session, ws.clock(), signed.user.id),
                         shown="alle", error=message)
    return RedirectResponse(back, status_code=303)


router.add_api_route(TASKS, page(tasks), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(f"{TASKS}/{{task_id}}/opfoelgning", page(set_follow_up), methods=["POST"])
router.add_api_route(f"{TASKS}/{{task_id}}/tag", page(claim), methods=["POST"])
router.add_api_route(f"{TASKS}/{{task_id}}/slip", page(release), methods=["POST"])
