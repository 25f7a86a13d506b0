"""``hjemtilos retention``: what the retention file (config/retention.toml) makes due, and doing it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hjemtilos.cli.common import api_url, build, err, now, out, prefect_reachable

if TYPE_CHECKING:
    from hjemtilos.app import App
    from hjemtilos.privacy.retention import Due, Policy

__all__ = ["retention_app"]

retention_app = typer.Typer(help="Retention (sletning og anonymisering) by config/retention.toml.")


def _policy(application: App) -> Policy:
    from hjemtilos.privacy.retention import load_policy

    try:
        return load_policy(application.settings.retention_file)
    except ValueError as exc:
        err.print(f"[red]Retention-filen er ikke gyldig / the retention file is not valid:[/red] {exc}", markup=True)
        raise typer.Exit(2) from exc


def _show(due: list[Due], unconfirmed: list[str]) -> None:
    table = Table("Slags / kind", "Handling / action", "Hvad / what")
    for item in due:
        table.add_row(item.kind, item.action, item.target)
    out.print(table if due else "Intet er forfaldent / nothing is due.")
    if unconfirmed:
        out.print("Ikke bekræftet af DPO / periods not yet confirmed by the DPO: " + ", ".join(unconfirmed))


@retention_app.callback(invoke_without_command=True)
def retention(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due, change nothing")] = False,
) -> None:
    """List what the retention file makes due now (with --dry-run, or without a command)."""
    if ctx.invoked_subcommand is not None:
        return
    from hjemtilos.privacy.retention import plan

    application = build()
    policy = _policy(application)
    with application.session_factory() as session:
        due = plan(session, policy, now(), application.settings.maildir)
    _show(due, policy.unconfirmed())


@retention_app.command("run")
def retention_run() -> None:
    """Carry out what is due, each action audited; Prefect's runs of closed cases are deleted when Prefect is
    reachable (otherwise they wait for the next run). Exit 2: the retention file is not valid."""
    from hjemtilos.adapters.prefect import PrefectOrchestrator
    from hjemtilos.host.prefect_processes import prefect_api
    from hjemtilos.privacy.retention import apply, plan

    application = build()
    policy = _policy(application)
    url = api_url(application.settings)
    reachable = prefect_reachable(url)
    with application.session_factory() as session:
        due = plan(session, policy, now(), application.settings.maildir, prefect_runs=reachable)
    with prefect_api(url):
        done = apply(application, due, now(), actor="cli", delete_run=PrefectOrchestrator().delete_run)
    _show(due, [])
    out.print(f"Udført / done: {done}" + ("" if reachable else " (Prefect not reachable: its runs wait)"))
