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
    from hjemtilos.intake import IntakeRejected, receive_referral

    referral = load_json(file, Referral, "Henvisningen", "the referral")
    application = build()
    try:
        with application.session_factory.begin() as session:
            stored = receive_referral(application, session, referral, now(), actor="cli")
    except IntakeRejected as exc:
        err.print(f"[red]Henvisningen kan ikke modtages / the referral cannot be accepted "
                  f"({len(exc.reasons)} grunde/reasons):[/red]")
        for reason in exc.reasons:
            err.print(f"  {reason.field}: {reason.da} / {reason.en}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    out.print(stored.reference)
    _start_case_run(application, stored)
    if stored.flags:
        err.print("Til koordinatoren / for the coordinator: " + ", ".join(flag.value for flag in stored.flags))


def _start_case_run(application: App, stored: StoredCase) -> str | None:
    """Start the case's referral-case run and say what happened; the case is stored either way, and the
    timekeeper starts the run of a case that has none at its next tick."""
    from hjemtilos.prefect_processes import prefect_status

    url = api_url(application.settings)
    status = prefect_status(url)
    later_da, later_en = "timekeeperen starter forløbet ved sin næste runde", "the timekeeper starts its run at its next tick"
    if status == "down":
        err.print(f"Sagen er gemt. Prefect kører ikke (intet svar på {url}): {later_da}, når systemet er oppe. / "
                  f"The case is stored. Prefect is not running (nothing answers at {url}): {later_en} once the "
                  "system is up.")
        return None
    if status == "slow":
        err.print(f"Prefect svarer langsomt (ikke inden for 2 s); prøver stadig. / Prefect is slow to answer (not "
                  f"within 2 s at {url}); trying anyway.")
    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.prefect_processes import prefect_api
    from hjemtilos.runs import start_case_run

    with prefect_api(url):
        try:
            run_id = start_case_run(application, PrefectOrchestrator(), stored.case_id, stored.reference,
                                    stored.created_at, now())
        except Exception as exc:  # noqa: BLE001 - the case is stored; the timekeeper starts runs for cases without one
            err.print(f"Sagen er gemt, men forløbet kunne ikke startes nu ({type(exc).__name__}): {later_da}. / "
                      f"The case is stored, but its run could not be started now: {later_en}.")
            return None
    err.print(f"Sagen er gemt, og forløbet er startet i Prefect / the case is stored and its run started: {run_id}")
    return run_id


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
    for column in ("Reference", "Status", "Step", "Waiting for", "Since (Copenhagen)", "Next due (Copenhagen)"):
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
        from hjemtilos.prefect_processes import prefect_api

        with prefect_api(url):
            runs = read_troubled_runs(moment)
    else:
        err.print("Prefect kører ikke: kun sagsdatabasens årsager vises / Prefect is not running: "
                  "only the case database's reasons are shown.")
    stuck = find_stuck_cases(application, moment, runs)
    table = Table(title="Sager der sidder fast / stuck cases")
    for column in ("Reference", "Reason", "Årsag", "Since (Copenhagen)"):
        table.add_column(column, no_wrap=column == "Reference")
    for item in stuck:
        table.add_row(item.reference, item.reason.value, item.text_da, local(item.since))
    out.print(table)
    if not stuck:
        out.print("No stuck cases.")
