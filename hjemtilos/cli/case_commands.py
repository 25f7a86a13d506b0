"""``hjemtilos refer`` and ``hjemtilos cases``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from casework.referral import Referral
from hjemtilos.app import App
from hjemtilos.cli.common import api_url, build, err, load_json, local, now, out, prefect_reachable

if TYPE_CHECKING:
    from hjemtilos.orchestration import Orchestrator, OrchestratorScope
    from hjemtilos.referrals.submission import Submitted

__all__ = ["cases", "refer"]


def refer(
    file: Annotated[Path, typer.Argument(help="A referral (tilmeldingsblanket) as JSON; see examples/")],
) -> None:
    """Register a referral: validate it, apply the intake rules, store the case and print its reference.

    Exit code 0: stored. 1: the referral was rejected (each reason is listed; nothing is stored).
    2: the file could not be read.
    """
    from hjemtilos.referrals.intake import IntakeRejected
    from hjemtilos.referrals.submission import submit_referral

    referral = load_json(file, Referral, "Henvisningen", "the referral")
    application = build()
    orchestrator = _orchestrator(application)
    try:
        submitted = submit_referral(application, referral, actor="cli", now=now(), orchestrator=orchestrator)
    except IntakeRejected as exc:
        err.print(f"[red]Henvisningen kan ikke modtages / the referral cannot be accepted "
                  f"({len(exc.reasons)} grunde/reasons):[/red]")
        for reason in exc.reasons:
            err.print(f"  {reason.field}: {reason.da} / {reason.en}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    out.print(submitted.stored.reference)
    _say_how_the_run_went(application, orchestrator, submitted)
    if submitted.stored.flags:
        err.print("Til koordinatoren / for the coordinator: " + ", ".join(flag.value for flag in submitted.stored.flags))


LATER_DA, LATER_EN = "timekeeperen starter forløbet ved sin næste runde", "the timekeeper starts its run at its next tick"


def _orchestrator(application: App) -> OrchestratorScope | None:
    """Prefect on the system's server, or None when nothing answers there (the case is stored all the same)."""
    from hjemtilos.host.prefect_processes import prefect_status

    url = api_url(application.settings)
    status = prefect_status(url)
    if status == "down":
        return None
    if status == "slow":
        err.print(f"Prefect svarer langsomt (ikke inden for 2 s); prøver stadig. / Prefect is slow to answer (not "
                  f"within 2 s at {url}); trying anyway.")

    @contextmanager
    def on_server() -> Iterator[Orchestrator]:
        from hjemtilos.adapters.prefect import PrefectOrchestrator
        from hjemtilos.host.prefect_processes import prefect_api

        with prefect_api(url):
            yield PrefectOrchestrator()

    return on_server


def _say_how_the_run_went(application: App, orchestrator: OrchestratorScope | None, submitted: Submitted) -> None:
    if orchestrator is None:
        err.print(f"Sagen er gemt. Prefect kører ikke (intet svar på {api_url(application.settings)}): {LATER_DA}, når "
                  f"systemet er oppe. / The case is stored. Prefect is not running (nothing answers at "
                  f"{api_url(application.settings)}): {LATER_EN} once the system is up.")
    elif submitted.run_id is None:
        err.print(f"Sagen er gemt, men forløbet kunne ikke startes nu ({submitted.run_error}): {LATER_DA}. / "
                  f"The case is stored, but its run could not be started now: {LATER_EN}.")
    else:
        err.print("Sagen er gemt, og forløbet er startet i Prefect / the case is stored and its run started: "
                  f"{submitted.run_id}")


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
    from hjemtilos.timekeeper.stuck_cases import find_stuck_cases

    moment = now()
    url = api_url(application.settings)
    runs: dict[str, RunState] = {}
    if prefect_reachable(url):
        from hjemtilos.adapters.prefect import read_troubled_runs
        from hjemtilos.host.prefect_processes import prefect_api

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
