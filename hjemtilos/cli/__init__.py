"""The ``hjemtilos`` command line for coordinators and administrators: small typer sub-apps, one module each."""

from __future__ import annotations

import typer

from hjemtilos.cli.case_commands import cases, refer
from hjemtilos.cli.db_commands import db_app
from hjemtilos.cli.family_commands import family_app
from hjemtilos.cli.mail_commands import mail_app
from hjemtilos.cli.person_commands import person_app
from hjemtilos.cli.retention_commands import retention_app
from hjemtilos.cli.system_commands import deploy, up, worker
from hjemtilos.cli.user_commands import access_log, user_app

__all__ = ["app", "main"]

app = typer.Typer(
    help="Hjem til Os – sagsbehandling og automatik (case handling and automation).\n\n"
    "Settings come from HJEMTILOS_* environment variables or a .env file; see .env.example.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(family_app, name="family")
app.add_typer(db_app, name="db")
app.add_typer(mail_app, name="mail")
app.add_typer(user_app, name="user")
app.add_typer(retention_app, name="retention")
app.add_typer(person_app, name="person")
app.command("access-log")(access_log)
for command in (refer, cases, deploy, worker, up):
    app.command()(command)


def main() -> None:  # pragma: no cover - console entry point
    app()
