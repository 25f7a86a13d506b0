"""``hjemtilos user`` (workspace accounts) and ``hjemtilos access-log`` (who read a case)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from hjemtilos.cli.common import build, err, local, now, out

__all__ = ["access_log", "user_app"]

user_app = typer.Typer(help="Workspace accounts (brugere): coordinators and administrators.", no_args_is_help=True)


def _link(settings: object, token: str) -> str:
    from hjemtilos.settings import Settings

    assert isinstance(settings, Settings)
    return f"{settings.front_origin}/arbejde/opret/{token}"


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Brugernavn / user name: lower-case letters, digits, . _ -")],
    name: Annotated[str, typer.Option("--name", help="Personens navn / the person's name")],
    role: Annotated[str, typer.Option("--role", help="coordinator or administrator")] = "coordinator",
    email: Annotated[str | None, typer.Option("--email", help="E-mail address")] = None,
) -> None:
    """Create an account and print a one-time link (valid 3 days) where the person chooses a password; the
    second factor is set up at the first sign-in. Exit 1 when the account cannot be created."""
    from hjemtilos.workspace.accounts import SET_UP, AccountError, Role, add_user, new_link

    if role not in {r.value for r in Role}:
        err.print(f"[red]Ukendt rolle / unknown role {role!r}:[/red] coordinator or administrator")
        raise typer.Exit(1)
    application = build()
    try:
        with application.session_factory.begin() as session:
            user = add_user(session, username, name, Role(role), now(), email=email, actor="cli")
            token = new_link(session, SET_UP, now(), user)
    except AccountError as exc:
        err.print(f"[red]{exc}[/red]", markup=False)
        raise typer.Exit(1) from exc
    out.print(f"Oprettet / created {username} ({role}). Send this one-time link to the person (valid 3 days):")
    out.print(_link(application.settings, token), markup=False, highlight=False)


@user_app.command("list")
def user_list() -> None:
    """Every account: role, status and last sign-in (Copenhagen time)."""
    from hjemtilos.db.models import UserAccount

    application = build()
    table = Table("Bruger", "Navn", "Rolle", "Status", "2-faktor", "Sidst logget ind (København)")
    with application.session_factory() as session:
        for user in session.scalars(select(UserAccount).order_by(UserAccount.username)):
            status = "lukket / disabled" if user.disabled_at else "aktiv / active"
            table.add_row(user.username, user.display_name, user.role, status,
                          "ja" if user.totp_secret else "nej", local(user.last_sign_in_at))
    out.print(table)


def _change(username: str, action: str) -> None:
    from hjemtilos.workspace.accounts import AccountError, disable_user, reset_second_factor

    application = build()
    try:
        with application.session_factory.begin() as session:
            (disable_user if action == "disable" else reset_second_factor)(session, username, now(), actor="cli")
    except AccountError as exc:
        err.print(f"[red]{exc}[/red]", markup=False)
        raise typer.Exit(1) from exc


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="Brugernavn / user name")]) -> None:
    """Close an account: its sessions end at once and it cannot sign in again. Exit 1: no such user."""
    _change(username, "disable")
    out.print(f"{username}: lukket / disabled")


@user_app.command("reset-2fa")
def user_reset_2fa(username: Annotated[str, typer.Argument(help="Brugernavn / user name")]) -> None:
    """Forget a user's authenticator (a lost phone): they set up a new one at their next sign-in; their open
    sessions end. Exit 1: no such user."""
    _change(username, "reset")
    out.print(f"{username}: ny 2-faktor ved næste login / a new second factor at the next sign-in")


def access_log(
    case: Annotated[str, typer.Option("--case", help="Sagsnummer / case reference, e.g. HTO-2026-0001")],
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output")] = False,
) -> None:
    """Who read or acted on a case, when, why and from where (the access log). The reading is itself logged
    as an export. Exit 1: no entries for that reference."""
    from hjemtilos.audit.access import EXPORTED, case_log, record
    from hjemtilos.db.models import ReferralCase
    from hjemtilos.workspace.admin_pages import access_log_csv

    application = build()
    reference = case.strip().upper()
    with application.session_factory.begin() as session:
        rows = case_log(session, reference)
        record(session, "cli", EXPORTED, now(), client="cli", purpose="adgangslog / access log",
               case=session.scalar(select(ReferralCase).where(ReferralCase.reference == reference)))
    if not rows:
        err.print(f"Ingen adgang registreret for / no access recorded for {reference}")
        raise typer.Exit(1)
    if as_csv:
        sys.stdout.write(access_log_csv(rows))
        return
    table = Table("Tid (København)", "Bruger", "Handling", "Formål", "Fra")
    for row in rows:
        table.add_row(local(row.at), row.username, f"{row.action_da} ({row.action})", row.purpose or "",
                      row.client or "")
    out.print(table)
