"""``hjemtilos db``: migrations of the case database."""

from __future__ import annotations

from typing import Annotated

import typer

from hjemtilos.cli.common import out, require_case_database

__all__ = ["db_app"]

db_app = typer.Typer(help="The case database (sagsdatabasen): migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Bring the case database up to date (creates it if missing)."""
    from hjemtilos.db.migrate import upgrade
    from hjemtilos.settings import Settings

    settings = Settings()
    require_case_database(settings)
    upgrade(settings.effective_database_url, revision)
    out.print(f"Database is at revision {revision}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base")]) -> None:
    """Roll the schema back to REVISION (base removes every table: all data is lost)."""
    from hjemtilos.db.migrate import downgrade
    from hjemtilos.settings import Settings

    settings = Settings()
    require_case_database(settings)
    downgrade(settings.effective_database_url, revision)
    out.print(f"Database is at revision {revision}.")
