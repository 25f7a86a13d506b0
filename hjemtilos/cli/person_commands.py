"""``hjemtilos person export|erase``: everything held about one person, and erasure where the rules allow it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hjemtilos.cli.common import build, err, now, out

__all__ = ["person_app"]

person_app = typer.Typer(help="One person's data (indsigt og sletning): export as JSON, erase.", no_args_is_help=True)

EMAIL = typer.Option("--email", help="The person's e-mail address (parent, referrer, contact, family)")
CASE = typer.Option("--case", help="A case reference: the child's whole case")


def _target(email: str | None, case: str | None) -> tuple[str | None, str | None]:
    if bool(email) == bool(case):
        err.print("[red]Giv enten --email eller --case / give either --email or --case[/red]")
        raise typer.Exit(2)
    return (email.strip().lower() if email else None), (case.strip().upper() if case else None)


@person_app.command("export")
def person_export(
    email: Annotated[str | None, EMAIL] = None,
    case: Annotated[str | None, CASE] = None,
    output: Annotated[Path | None, typer.Option("--out", help="Write the JSON here (0600) instead of stdout")] = None,
) -> None:
    """Everything held about a person as JSON (case rows, mails, audit, access-log entries, family membership).
    The export is logged in the access log of every case it includes.

    Exit code 0: written. 1: there is no case with that reference. 2: neither --email nor --case."""
    from hjemtilos.privacy.person import export_person, log_export

    address, reference = _target(email, case)
    application = build()
    with application.session_factory.begin() as session:
        data = export_person(session, email=address, reference=reference)
        if reference and data.get("child_case") is None:
            err.print(f"[red]Der er ingen sag {reference} / there is no case {reference}.[/red]")
            raise typer.Exit(1)
        log_export(session, data, "cli", now())
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    output.touch(mode=0o600)
    output.write_text(text, encoding="utf-8")
    out.print(f"Skrevet / written: {output}")


@person_app.command("erase")
def person_erase(
    email: Annotated[str | None, EMAIL] = None,
    case: Annotated[str | None, CASE] = None,
) -> None:
    """Erase or anonymise what the rules allow, and say why for the rest (an open case needs its parties; a family
    in a live match is still needed). Exit 0: all done; 1: something was refused (the rest is done)."""
    from hjemtilos.privacy.person import erase_person

    address, reference = _target(email, case)
    application = build()
    with application.session_factory.begin() as session:
        outcome = erase_person(session, now(), "cli", email=address, reference=reference)
    for line in outcome.erased:
        out.print(f"slettet/anonymiseret / erased: {line}", markup=False)
    for line in outcome.refused:
        err.print(f"afvist / refused: {line}", markup=False)
    if not outcome.erased and not outcome.refused:
        out.print("Intet fundet / nothing found.")
    if outcome.refused:
        raise typer.Exit(1)
