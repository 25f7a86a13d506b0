"""The administrators' user management (Brugere): every account with its role, status and last sign-in; add one
(the person gets a one-time link to choose a password; the second factor is set up at the first sign-in), close
one, or make one set up a new second factor. Every change is in the audit trail; ``hjemtilos user`` does the same
on the host."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from hjemtilos.db.models import UserAccount
from hjemtilos.workspace import accounts
from hjemtilos.workspace.accounts import AccountError, Role, SignedIn
from hjemtilos.workspace.pages import BASE, Workspace, page

__all__ = ["USERS", "router"]

USERS = f"{BASE}/admin/brugere"
router = APIRouter()


def _page(ws: Workspace, request: Request, session: Session, signed: SignedIn, status: int = 200, *,
          error: str | None = None, done: str | None = None, link: str | None = None,
          values: dict[str, str] | None = None) -> Response:
    users = list(session.scalars(select(UserAccount).order_by(UserAccount.username)))
    return ws.render(request, "users.html", signed, status, users=users, error=error, done=done, link=link,
                     values=values or {}, roles=[role.value for role in Role])


def users(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    return _page(ws, request, session, signed)


def add(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    username = form.get("username", "").strip().lower()
    role = form.get("role", "")
    try:
        if role not in {r.value for r in Role}:
            raise AccountError("Vælg en rolle. / Choose a role.")
        with session.begin_nested():
            user = accounts.add_user(session, username, form.get("display_name", ""), Role(role), ws.clock(),
                                     email=form.get("email", "").strip() or None, actor=signed.user.username)
            token = accounts.new_link(session, accounts.SET_UP, ws.clock(), user)
    except AccountError as exc:
        return _page(ws, request, session, signed, 422, error=str(exc), values=form)
    link = f"{ws.app.settings.front_origin}{BASE}/opret/{token}"
    return _page(ws, request, session, signed, 201, link=link,
                 done=f"{user.display_name} ({username}) er oprettet. Send dette engangslink til personen (gyldigt i "
                      f"3 dage); det vises kun nu. / {username} is created: send this one-time link (valid 3 days).")


def _change(ws: Workspace, request: Request, session: Session, signed: SignedIn, action: str) -> Response:
    username = request.path_params["username"]
    if username == signed.user.username and action == "disable":
        return _page(ws, request, session, signed, 409, error="Du kan ikke lukke din egen konto. / You cannot "
                                                              "close your own account.")
    try:
        change = accounts.disable_user if action == "disable" else accounts.reset_second_factor
        user = change(session, username, ws.clock(), actor=signed.user.username)
    except AccountError as exc:
        return _page(ws, request, session, signed, 404, error=str(exc))
    done = (f"{user.display_name} er lukket: logget ud og kan ikke logge ind igen. / {username} is closed."
            if action == "disable" else
            f"{user.display_name} opsætter en ny 2-faktor ved næste login (logget ud nu). / {username} sets up a new "
            "second factor at the next sign-in.")
    return _page(ws, request, session, signed, done=done)


def disable(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    return _change(ws, request, session, signed, "disable")


def reset_2fa(ws: Workspace, request: Request, session: Session, signed: SignedIn, form: dict[str, str]) -> Response:
    return _change(ws, request, session, signed, "reset")


router.add_api_route(USERS, page(users, administrators_only=True), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(USERS, page(add, administrators_only=True), methods=["POST"], response_class=HTMLResponse)
router.add_api_route(f"{USERS}/{{username}}/luk", page(disable, administrators_only=True), methods=["POST"],
                     response_class=HTMLResponse)
router.add_api_route(f"{USERS}/{{username}}/ny-2-faktor", page(reset_2fa, administrators_only=True),
                     methods=["POST"], response_class=HTMLResponse)
