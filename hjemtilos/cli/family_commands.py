"""``hjemtilos family``: registration and screening of volunteer families."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from casework.clock import local_date
from hjemtilos.cli.common import api_url, build, err, load_json, now, out, prefect_reachable

__all__ = ["family_app"]

family_app = typer.Typer(help="Volunteer families (venskabsfamilier): registration and screening.",
                         no_args_is_help=True)


@family_app.command("add")
def family_add(
    file: Annotated[Path, typer.Argument(help="A volunteer family as JSON; see examples/family-*.json")],
) -> None:
    """Register a volunteer family and start its screening (volunteer-approval run).

    Exit code 0: stored. 1: not a valid family (each reason is listed; nothing is stored). 2: unreadable file.
    """
    from casework.families import FamilyRegistration
    from hjemtilos.volunteers import FamilyRejected, register_family

    registration = load_json(file, FamilyRegistration, "Familien", "the family")
    application = build()
    try:
        with application.session_factory.begin() as session:
            stored = register_family(session, registration, now(), actor="cli")
    except FamilyRejected as exc:
        err.print("[red]Familien kan ikke registreres / the family cannot be registered:[/red]")
        for error in exc.errors:
            err.print(f"  {error.field}: {error.da} / {error.en}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    out.print(stored.reference)
    url = api_url(application.settings)
    if not prefect_reachable(url):
        err.print("Prefect kører ikke: screeningen startes, når systemet er oppe. / Prefect is not running: "
                  "the screening run starts when the system is up.")
        return
    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.host.prefect_processes import prefect_api
    from hjemtilos.runs import start_family_run

    with prefect_api(url):
        run_id = start_family_run(application, PrefectOrchestrator(), stored.family_id, stored.reference,
                                  stored.created_at)
    err.print(f"Screeningen er startet i Prefect / screening run started: {run_id}")


@family_app.command("list")
def family_list() -> None:
    """List volunteer families: reference, status, local area, capacity and what screening still needs."""
    from sqlalchemy import select

    from casework.matching import family_reference
    from casework.steps import FamilyStatus
    from hjemtilos.db.models import VolunteerFamily
    from hjemtilos.volunteers import status_of

    application = build()
    table = Table(title="Venskabsfamilier / volunteer families")
    for column in ("Reference", "Name", "Status", "Local area", "Capacity", "Missing"):
        table.add_column(column, no_wrap=column != "Missing")
    today = local_date(now())
    with application.session_factory() as session:
        for family in session.scalars(select(VolunteerFamily).order_by(VolunteerFamily.id)):
            missing = ", ".join(status_of(family, today).missing) if family.status == FamilyStatus.SCREENING else ""
            table.add_row(family_reference(family.id), family.name, family.status.value, family.local_area,
                          str(family.capacity), missing)
    out.print(table)
