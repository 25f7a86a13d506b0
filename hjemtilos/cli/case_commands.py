"""``hjemtilos refer`` and ``hjemtilos cases``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from casework.referral import Referral
from hjemtilos.app import App
from hjemtilos.cli.common import api_url, build, err, load_json, local, now, out, prefect_reachable
from hjemtilos.intake import StoredCase

__all__ = ["cases", "refer"]


def refer(
    file: Annotated[Path, typer.Argument(help="A referral (tilmeldingsblanket) as JSON; see examples/")],
) -> None:
    """Register a referral: validate it, apply the intake rules, store the case and print its reference.

    Exit code 0: stored. 1: the referral was rejected (each reason is listed; nothing is stored).
    2: the file could not be read.
    """
    from hjemtilos.intake import IntakeRejected, register_referral

    referral = load_json(file, Referral, "Henvisningen", "the referral")
    application = build()
    try:
        with application.session_factory.begin() as session:
            stored = register_referral(session, referral, now(), application.programme, actor="cli")
    except IntakeRejected as exc:
        err.print(f"[red]Henvisningen kan ikke modtages / the referral cannot be accepted "
                  f"({len(exc.reasons)} grunde/reasons):[/red]")
        for reason in exc.reasons:
            err.print(f"  {reason.field}: {reason.da} / {reason.en}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    out.print(stored.reference)
    started = _start_case_run(application, stored)
    err.print(f"Sagens forløb er startet i Prefect / case run started: {started}" if started else
              "Prefect kører ikke: forløbet startes, når systemet er oppe (timekeeper). / Prefect is not running: "
              "the case run starts when the system is up.")
    if stored.flags:
        err.print("Til koordinatoren / for the coordinator: " + ", ".join(flag.value for flag in stored.flags))


def _start_case_run(application: App, stored: StoredCase) -> str | None:
    """Start the case's referral-case run if Prefect is reachable; else the timekeeper starts it later."""
    url = api_url(application.settings)
    if not prefect_reachable(url):
        return None
    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.runs import start_case_run
    from hjemtilos.system import prefect_api

    with prefect_api(url):
        try:
            return start_case_run(application, PrefectOrchestrator(), stored.case_id, stored.reference,
                                  stored.created_at, now())
        except Exception as exc:  # noqa: BLE001 - the case is stored; the timekeeper starts runs for cases without one
            err.print(f"Kunne ikke starte forløbet / could not start the run: {type(exc).__name__}")
            return None


def cases(
    all_cases: Annotated[bool, typer.Option("--all", help="Include closed and rejected cases")] = False,
    stuck: Annotated[bool, typer.Option("--stuck", help="Only stuck cases, with the reason and since when")] = False,
) -> None:
    """List cases: reference, step, what it waits for, since when, and the next due date (Copenhagen time)."""
    from hjemtilos.queries import case_overview

    application = build()
    if stuck:
        _print_stuck(application)
        return
    with application.session_factory() as session:
        rows = case_overview(session, include_closed=all_cases)
    table = Table(title="Sager / cases")
    for column in ("Reference", "Status", "Step", "Waiting for", "Since", "Next due"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row.reference, row.status, row.step, row.waiting_for, local(row.waiting_since),
                      local(row.next_due))
    out.print(table)
    if not rows:
        out.print("No open cases.")


def _print_stuck(application: App) -> None:
    from hjemtilos.orchestration import RunState
    from hjemtilos.stuck_cases import find_stuck_cases

    moment = now()
    url = api_url(application.settings)
    runs: dict[str, RunState] = {}
    if prefect_reachable(url):
        from hjemtilos.adapters.prefect import read_troubled_runs
        from hjemtilos.system import prefect_api

        with prefect_api(url):
            runs = read_troubled_runs(moment)
    else:
        err.print("Prefect kører ikke: kun sagsdatabasens årsager vises / Prefect is not running: "
                  "only the case database's reasons are shown.")
    stuck = find_stuck_cases(application, moment, runs)
    table = Table(title="Sager der sidder fast / stuck cases")
    for column in ("Reference", "Reason", "Årsag", "Since"):
        table.add_column(column, no_wrap=column == "Reference")
    for item in stuck:
        table.add_row(item.reference, item.reason.value, item.text_da, local(item.since))
    out.print(table)
    if not stuck:
        out.print("No stuck cases.")
