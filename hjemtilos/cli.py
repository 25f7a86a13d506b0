"""The ``hjemtilos`` command line for coordinators and administrators."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from casework.referral import Referral

app = typer.Typer(
    help="Hjem til Os – sagsbehandling og automatik (case handling and automation).\n\n"
    "Settings come from HJEMTILOS_* environment variables or a .env file; see .env.example.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The case database (sagsdatabasen): migrations.", no_args_is_help=True)
mail_app = typer.Typer(help="Mail: the outbox, the sender and the local mail catcher.", no_args_is_help=True)
family_app = typer.Typer(help="Volunteer families (venskabsfamilier): registration and screening.",
                         no_args_is_help=True)
app.add_typer(family_app, name="family")
app.add_typer(db_app, name="db")
app.add_typer(mail_app, name="mail")

_WIDTH = None if sys.stdout.isatty() else 200  # pipes and CI logs get whole lines
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _local(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def _app():  # type: ignore[no-untyped-def]
    from hjemtilos.app import build_app

    try:
        return build_app()
    except (ValueError, ValidationError) as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Bring the case database up to date (creates it if missing)."""
    from hjemtilos.db.migrate import upgrade
    from hjemtilos.settings import Settings

    settings = Settings()
    upgrade(settings.effective_database_url, revision)
    out.print(f"Database is at revision {revision}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base")]) -> None:
    """Roll the schema back to REVISION (base removes every table: all data is lost)."""
    from hjemtilos.db.migrate import downgrade
    from hjemtilos.settings import Settings

    downgrade(Settings().effective_database_url, revision)
    out.print(f"Database is at revision {revision}.")


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def _load(file: Path, model, what_da: str, what_en: str):  # type: ignore[no-untyped-def]
    """Read FILE as JSON and validate it; exit 2 when unreadable, 1 with every bad field when invalid."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        err.print(f"[red]Kan ikke læse / cannot read {file}:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err.print(f"[red]{what_da} er ikke gyldig / {what_en} is not valid ({exc.error_count()} fejl/errors):[/red]")
        for error in exc.errors():
            err.print(f"  {_field_path(error['loc'])}: {error['msg']}", markup=False, highlight=False)
        raise typer.Exit(1) from exc


@app.command()
def refer(
    file: Annotated[Path, typer.Argument(help="A referral (tilmeldingsblanket) as JSON; see examples/")],
) -> None:
    """Register a referral: validate it, apply the intake rules, store the case and print its reference.

    Exit code 0: stored. 1: the referral was rejected (each reason is listed; nothing is stored).
    2: the file could not be read.
    """
    from hjemtilos.intake import IntakeRejected, register_referral

    referral = _load(file, Referral, "Henvisningen", "the referral")
    application = _app()
    try:
        with application.session_factory.begin() as session:
            stored = register_referral(session, referral, _now(), application.programme, actor="cli")
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


def _prefect_reachable(api_url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _api_url(settings) -> str:  # type: ignore[no-untyped-def]
    import os

    return os.environ.get("PREFECT_API_URL") or settings.prefect_api_url


def _start_case_run(application, stored) -> str | None:  # type: ignore[no-untyped-def]
    """Start the case's referral-case run if Prefect is reachable; else the timekeeper starts it later."""
    api_url = _api_url(application.settings)
    if not _prefect_reachable(api_url):
        return None
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tasks.prefect_ops import start_case_run

    from hjemtilos.programme import case_run_key, record_run_started

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        try:
            run_id = start_case_run(stored.case_id, stored.reference, case_run_key(stored.reference, stored.created_at))
            record_run_started(application, stored.case_id, run_id, _now())
            return run_id
        except Exception as exc:  # the case is stored; the timekeeper starts runs for cases without one
            err.print(f"Kunne ikke starte forløbet / could not start the run: {type(exc).__name__}: {exc}")
            return None


@family_app.command("add")
def family_add(
    file: Annotated[Path, typer.Argument(help="A volunteer family as JSON; see examples/family-*.json")],
) -> None:
    """Register a volunteer family and start its screening (volunteer-approval run).

    Exit code 0: stored. 1: not a valid family (each reason is listed; nothing is stored). 2: unreadable file.
    """
    from casework.families import FamilyRegistration
    from hjemtilos.volunteers import FamilyRejected, family_run_key, record_family_run, register_family

    registration = _load(file, FamilyRegistration, "Familien", "the family")
    application = _app()
    try:
        with application.session_factory.begin() as session:
            stored = register_family(session, registration, _now(), actor="cli")
    except FamilyRejected as exc:
        err.print("[red]Familien kan ikke registreres / the family cannot be registered:[/red]")
        for error in exc.errors:
            err.print(f"  {error.field}: {error.da} / {error.en}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    out.print(stored.reference)
    api_url = _api_url(application.settings)
    if _prefect_reachable(api_url):
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from tasks.prefect_ops import start_family_run

        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            run_id = start_family_run(stored.family_id, stored.reference,
                                      family_run_key(stored.reference, stored.created_at))
        record_family_run(application, stored.family_id, run_id)
        err.print(f"Screeningen er startet i Prefect / screening run started: {run_id}")
    else:
        err.print("Prefect kører ikke: screeningen startes, når systemet er oppe. / Prefect is not running: "
                  "the screening run starts when the system is up.")


@family_app.command("list")
def family_list() -> None:
    """List volunteer families: reference, status, local area, capacity and what screening still needs."""
    from sqlalchemy import select

    from casework.matching import family_reference
    from hjemtilos.db.models import VolunteerFamily
    from hjemtilos.volunteers import status_of

    application = _app()
    table = Table(title="Venskabsfamilier / volunteer families")
    for column in ("Reference", "Name", "Status", "Local area", "Capacity", "Missing"):
        table.add_column(column, no_wrap=column != "Missing")
    today = _now().date()
    with application.session_factory() as session:
        for family in session.scalars(select(VolunteerFamily).order_by(VolunteerFamily.id)):
            missing = ", ".join(status_of(family, today).missing) if family.status == "screening" else ""
            table.add_row(family_reference(family.id), family.name, family.status, family.local_area,
                          str(family.capacity), missing)
    out.print(table)


@app.command()
def cases(
    all_cases: Annotated[bool, typer.Option("--all", help="Include closed and rejected cases")] = False,
    stuck: Annotated[bool, typer.Option("--stuck", help="Only stuck cases, with the reason and since when")] = False,
) -> None:
    """List cases: reference, step, what it waits for, since when, and the next due date."""
    from hjemtilos.queries import case_overview

    application = _app()
    if stuck:
        _print_stuck(application)
        return
    with application.session_factory() as session:
        rows = case_overview(session, include_closed=all_cases)
    table = Table(title="Sager / cases")
    for column in ("Reference", "Status", "Step", "Waiting for", "Since", "Next due"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row.reference, row.status, row.step, row.waiting_for, _local(row.waiting_since),
                      _local(row.next_due))
    out.print(table)
    if not rows:
        out.print("No open cases.")


def _print_stuck(application) -> None:  # type: ignore[no-untyped-def]
    from hjemtilos.stuck_cases import gather_facts
    from casework.stuck import find_stuck

    settings = application.settings
    now = _now()
    api_url = _api_url(settings)
    runs = {}
    if _prefect_reachable(api_url):
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from tasks.prefect_ops import read_troubled_runs

        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            runs = read_troubled_runs(now)
    else:
        err.print("Prefect kører ikke: kun sagsdatabasens årsager vises / Prefect is not running: "
                  "only the case database's reasons are shown.")
    threshold = application.profile.timings.stuck_after
    stuck = find_stuck(gather_facts(application, now, runs), now, threshold.after(now) - now)
    table = Table(title="Sager der sidder fast / stuck cases")
    for column in ("Reference", "Reason", "Årsag", "Since"):
        table.add_column(column, no_wrap=column == "Reference")
    for item in stuck:
        table.add_row(item.reference, item.reason.value, item.text_da, _local(item.since))
    out.print(table)
    if not stuck:
        out.print("No stuck cases.")


@mail_app.command("send")
def mail_send() -> None:
    """Deliver every due mail in the outbox once (the timekeeper does this on its own)."""
    from hjemtilos.mail.sender import deliver_pending

    application = _app()
    report = deliver_pending(application.session_factory, application.smtp, _now())
    out.print(f"sent {len(report.sent)}, retrying {len(report.retrying)}, failed {len(report.failed)}")
    if report.failed:
        raise typer.Exit(1)


@mail_app.command("outbox")
def mail_outbox(
    status: Annotated[str | None, typer.Option(help="Only rows with this status: pending, sending, sent, failed")] = None,
) -> None:
    """Show the outbox: what the system has queued, sent, or failed to send (with the server's reply)."""
    from sqlalchemy import select

    from hjemtilos.db.models import OutboxMail, ReferralCase

    application = _app()
    with application.session_factory() as session:
        query = (select(OutboxMail, ReferralCase.reference)
                 .outerjoin(ReferralCase, ReferralCase.id == OutboxMail.case_id).order_by(OutboxMail.id))
        if status:
            query = query.where(OutboxMail.status == status)
        rows = session.execute(query).all()
    table = Table(title="Outbox")
    for column in ("ID", "Case", "Template", "To", "Status", "Tries", "Reply / error"):
        table.add_column(column, no_wrap=column != "Reply / error")
    for mail, reference in rows:
        table.add_row(str(mail.id), reference or "-", mail.template, mail.recipient_email, mail.status,
                      str(mail.attempts), mail.smtp_reply or mail.last_error or "")
    out.print(table)


@mail_app.command("list")
def mail_list() -> None:
    """List the mails the local mail catcher received."""
    from hjemtilos.mail.catcher import list_caught
    from hjemtilos.settings import Settings

    caught = list_caught(Settings().maildir)
    table = Table(title="Mail catcher")
    for column in ("ID", "Received", "To", "Subject"):
        table.add_column(column, no_wrap=column != "Subject")
    for index, mail in enumerate(caught, start=1):
        table.add_row(str(index), _local(mail.received), mail.to, mail.subject)
    out.print(table)
    if not caught:
        out.print("No mail yet.")


@mail_app.command("show")
def mail_show(
    mail_id: Annotated[int, typer.Argument(help="The number shown by 'mail list'")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML body instead of the text body")] = False,
) -> None:
    """Show one caught mail: headers and body."""
    from hjemtilos.mail.catcher import list_caught
    from hjemtilos.settings import Settings

    caught = list_caught(Settings().maildir)
    if not 1 <= mail_id <= len(caught):
        err.print(f"No mail number {mail_id} (there are {len(caught)}).")
        raise typer.Exit(1)
    mail = caught[mail_id - 1]
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        out.print(f"{header}: {mail.message.get(header, '')}", markup=False, highlight=False)
    out.print()
    out.print(mail.html if html else mail.text, markup=False, highlight=False)


@mail_app.command("catcher")
def mail_catcher() -> None:
    """Run the local mail catcher in the foreground (Ctrl-C stops it)."""
    from hjemtilos.mail.catcher import start_catcher
    from hjemtilos.settings import Settings

    settings = Settings()
    controller = start_catcher(settings.maildir, settings.mail_catcher_host, settings.mail_catcher_port)
    out.print(f"Mail catcher on smtp://{settings.mail_catcher_host}:{settings.mail_catcher_port}, "
              f"storing in {settings.maildir}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


@app.command()
def deploy(
    crash_silent_runs: Annotated[bool, typer.Option(
        "--crash-silent-runs", help="Also the automation that marks runs of dead workers Crashed (several "
                                    "workers on PostgreSQL-backed Prefect; not on SQLite)")] = False,
) -> None:
    """Register the deployments of prefect.yaml with the running Prefect server (idempotent)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import deploy_all
    from hjemtilos.settings import Settings

    settings = Settings()
    with temporary_settings(updates={PREFECT_API_URL: _api_url(settings)}):
        ids = deploy_all(crash_silent_runs=crash_silent_runs)
    for name, deployment_id in ids.items():
        out.print(f"{name}: {deployment_id}")


@app.command()
def worker(
    limit: Annotated[int, typer.Option(help="Most case runs executing at once")] = 20,
    sole: Annotated[bool, typer.Option("--sole", help="This is the pool's only worker: at start, reschedule "
                                                      "runs a stopped worker left Running")] = False,
) -> None:
    """Run a worker that executes case runs. Several may serve the pool; each first reschedules runs marked
    Crashed (with --sole also runs left Running by a stopped worker)."""
    import os

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from hjemtilos.settings import Settings
    from hjemtilos.system import PREFECT_BIN, WORK_POOL
    from tasks.prefect_ops import recover_orphaned_runs

    settings = Settings()
    api_url = _api_url(settings)
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        recovered = recover_orphaned_runs(include_running=sole)
    if recovered:
        out.print(f"Rescheduled {len(recovered)} case run(s) left behind by a stopped worker.")
    os.environ["PREFECT_API_URL"] = api_url
    os.environ.setdefault("PREFECT_WORKER_QUERY_SECONDS", "1")
    os.execv(PREFECT_BIN, [PREFECT_BIN, "worker", "start", "--pool", WORK_POOL, "--type", "process",
                           "--limit", str(limit), "--prefetch-seconds", "1"])


def _start_form(application, api_url: str):  # type: ignore[no-untyped-def]
    """Serve the referral form in a thread; a submitted referral starts its case run."""
    import uvicorn
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from hjemtilos.programme import case_run_key, record_run_started
    from hjemtilos.web.app import create_app
    from tasks.prefect_ops import start_case_run

    def start_run(stored) -> str | None:  # type: ignore[no-untyped-def]
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            try:
                run_id = start_case_run(stored.case_id, stored.reference, case_run_key(stored.reference, stored.created_at))
            except Exception:  # the case is stored; the timekeeper starts runs for cases without one
                return None
        record_run_started(application, stored.case_id, run_id, _now())
        return run_id

    settings = application.settings
    config = uvicorn.Config(create_app(application, start_run), host=settings.prefect_host, port=settings.form_port,
                            log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="referral-form", daemon=True).start()
    return server


def _redact(url: str) -> str:
    """A database URL without its password, for the console."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL (the SQLite note): print as is
        return url


@app.command()
def up(
    demo: Annotated[bool, typer.Option("--demo", help="Load sample families and referrals (once)")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Process workers on the pool (PostgreSQL-backed Prefect "
                                                     "for more than one)")] = 1,
    worker_limit: Annotated[int, typer.Option(min=1, help="Most case runs each worker executes at once")] = 20,
) -> None:
    """Run the whole system in the foreground: case database, Prefect server and UI, deployments, worker,
    local mail catcher and mail sender. Ctrl-C stops everything it started."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import deploy_all
    from hjemtilos import system
    from hjemtilos.db.migrate import upgrade
    from hjemtilos.mail.catcher import start_catcher
    from hjemtilos.mail.sender import deliver_pending
    from hjemtilos.housekeeping import Housekeeper
    from flows.timekeeper import publish_stuck_cases_now
    from tasks.prefect_ops import PrefectOrchestrator, recover_orphaned_runs

    application = _app()
    settings = application.settings
    endpoints = system.Endpoints(settings.prefect_host, settings.prefect_port)
    env = system.prefect_env(settings, endpoints)
    system.check_binding(endpoints.host, env)
    upgrade(settings.effective_database_url)
    out.print(f"Case database: {_redact(settings.effective_database_url)}")
    out.print(f"Prefect database: {_redact(settings.prefect_server_database_url or 'SQLite under ' + str(settings.data_dir))}")
    if workers > 1 and not settings.prefect_server_database_url:
        err.print("Several workers on SQLite-backed Prefect: expect 503s under load (README: Running for many offices).")
    controller = start_catcher(settings.maildir, settings.mail_catcher_host, settings.mail_catcher_port)
    processes = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        out.print("Starting the Prefect server ...")
        processes.append(system.start_server(env))
        system.wait_healthy(endpoints.api_url)
        with temporary_settings(updates={PREFECT_API_URL: endpoints.api_url}):
            deploy_all(crash_silent_runs=settings.prefect_server_database_url is not None)
            recovered = recover_orphaned_runs(include_running=True)  # no worker of ours runs yet
        if recovered:
            out.print(f"Rescheduled {len(recovered)} case run(s) left behind when the system stopped.")
        for _ in range(workers):
            processes.append(system.start_worker(env, limit=worker_limit))
        form_server = _start_form(application, endpoints.api_url)
        if demo:
            from hjemtilos.demo import load_demo

            with temporary_settings(updates={PREFECT_API_URL: endpoints.api_url}):
                load_demo(application)
        out.print("")
        out.print(f"Prefect UI:            {endpoints.ui_url}  (waiting cases: {endpoints.ui_url}/runs?state=Suspended&state=Paused)")
        out.print(f"Artifacts:             {endpoints.ui_url}/artifacts  (stuck cases: stuck-cases)")
        out.print(f"Referral form:         http://{settings.prefect_host}:{settings.form_port}/")
        out.print(f"Mail catcher:          smtp://{settings.mail_catcher_host}:{settings.mail_catcher_port}"
                  "  (read it with 'hjemtilos mail list')")
        out.print(f"Profile:               {settings.profile}")
        out.print("Running. Ctrl-C stops everything.")
        # The timekeeper ticks here at the profile's pace (the scheduled deployment ticks hourly as well);
        # mail goes out every 2 seconds.
        every = application.profile.timings.timekeeper_every
        tick_seconds = 3600.0 if every.months else max(every.seconds, 1.0)
        housekeeper = Housekeeper(
            application, PrefectOrchestrator(), tick_seconds, publish=publish_stuck_cases_now,
            deliver=lambda now: deliver_pending(application.session_factory, application.smtp, now),
            report=lambda line: err.print(f"{_local(_now())} {line}"))
        with temporary_settings(updates={PREFECT_API_URL: endpoints.api_url}):
            while not stop.is_set():
                if any(p.poll() is not None for p in processes):
                    err.print("A Prefect process stopped; shutting down.")
                    break
                report = housekeeper.step(_now())
                if report and (report.runs_resumed or report.reminders or report.escalations or report.new_stuck):
                    out.print(f"{_local(_now())} timekeeper: {report.runs_resumed} resumed, "
                              f"{report.reminders} reminders, {report.escalations} escalations, "
                              f"{report.new_stuck} newly stuck")
                stop.wait(min(2.0, tick_seconds))
    except KeyboardInterrupt:
        pass
    finally:
        if "form_server" in locals():
            form_server.should_exit = True
        for process in reversed(processes):
            system.stop(process)
        controller.stop()
        application.engine.dispose()
        out.print("Stopped.")


def main() -> None:  # pragma: no cover - console entry point
    app()
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
