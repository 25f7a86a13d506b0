"""``hjemtilos up``, ``worker`` and ``deploy``: running the system."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hjemtilos.cli.common import api_url, build, err, now, out, stamp
from hjemtilos.host.embedded_pg import EmbeddedPostgresError
from hjemtilos.host.prefect_processes import WORKER_LIMIT, prefect_api, worker_command
from hjemtilos.host.system import System
from hjemtilos.timekeeper.timekeeping import TickReport

__all__ = ["deploy", "up", "worker"]


def deploy() -> None:
    """Register the deployments of prefect.yaml with the running Prefect server (idempotent)."""
    from flows.deployments import deploy_all
    from hjemtilos.settings import Settings

    with prefect_api(api_url(Settings())):
        ids = deploy_all()
    for name, deployment_id in ids.items():
        out.print(f"{name}: {deployment_id}")


def worker(
    limit: Annotated[int, typer.Option(help="Most case runs executing at once")] = WORKER_LIMIT,
    sole: Annotated[bool, typer.Option("--sole", help="This is the pool's only worker: at start, reschedule "
                                                      "runs a stopped worker left Running")] = False,
    cold: Annotated[bool, typer.Option("--cold", help="Prefect's process worker alone: every step in a new "
                                                      "interpreter (no zygote)")] = False,
) -> None:
    """Run a worker that executes case runs. Several may serve the pool; each first reschedules runs marked
    Crashed (with --sole also runs left Running by a stopped worker)."""
    from hjemtilos.adapters.prefect import recover_orphaned_runs
    from hjemtilos.settings import Settings

    if os.geteuid() == 0:
        err.print("Advarsel: arbejderen kører som root, og dens forløb gør det også. / Warning: this worker runs as "
                  "root, and so do its flow runs. 'hjemtilos up' runs them as the system user hjemtilos-run; for a "
                  "worker of its own, start it as an unprivileged user (e.g. 'runuser -u hjemtilos-run -- hjemtilos "
                  "worker') with a case database that user may reach.")
    url = api_url(Settings())
    with prefect_api(url):
        recovered = recover_orphaned_runs(include_running=sole)
    if recovered:
        out.print(f"Rescheduled {len(recovered)} case run(s) left behind by a stopped worker.")
    os.environ["PREFECT_API_URL"] = url
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", "1")
    command = worker_command(limit, warm=not cold)
    os.execv(command[0], command)


def _redact(url: str) -> str:
    """A database URL without its password, for the console."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL (the SQLite note): print as is
        return url


def _print_tick(report: TickReport) -> None:
    if report.runs_resumed or report.reminders or report.escalations or report.new_stuck:
        out.print(f"{stamp(now())} timekeeper: {report.runs_resumed} resumed, {report.reminders} reminders, "
                  f"{report.escalations} escalations, {report.new_stuck} newly stuck")


def up(
    demo: Annotated[bool, typer.Option("--demo", help="Load sample families and referrals (once)")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Process workers on the pool (PostgreSQL-backed Prefect "
                                                     "for more than one)")] = 1,
    worker_limit: Annotated[int, typer.Option(
        min=1, help="Most case runs each worker executes at once")] = WORKER_LIMIT,
    cold: Annotated[bool, typer.Option("--cold", help="Prefect's process worker alone: every step in a new "
                                                      "interpreter (no zygote)")] = False,
) -> None:
    """Run the whole system in the foreground: case database, Prefect server and UI, deployments, worker,
    local mail catcher and mail sender. Ctrl-C (or SIGTERM) stops everything it started."""
    application = build(require_database=False)  # up starts the embedded database itself
    settings = application.settings
    system = System(application, workers=workers, worker_limit=worker_limit, demo=demo, report=out.print,
                    warn=lambda line: err.print(f"{stamp(now())} {line}"), warm=not cold)
    system.install_signal_handlers()
    out.print(f"Case database: {_redact(settings.effective_database_url)}")
    out.print(f"Prefect database: "
              f"{_redact(settings.prefect_server_database_url or 'SQLite under ' + str(settings.data_dir))}")
    try:
        system.start()
        out.print("")
        for line in system.banner():
            out.print(line)
        out.print("Running. Ctrl-C stops everything.")
        system.serve(_print_tick)
    except KeyboardInterrupt:
        pass
    except EmbeddedPostgresError as exc:
        err.print(f"[red]Den indlejrede database / the embedded database:[/red] {exc}", markup=True)
        raise typer.Exit(1) from exc
    finally:
        system.stop()
        out.print("Stopped.")
    if system.gave_up:
        raise typer.Exit(3)  # a part could not be brought back (said above)
