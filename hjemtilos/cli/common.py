"""What every command shares: the consoles, the clock, the App, reading a JSON file, and Prefect's address."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from casework.clock import format_local
from hjemtilos.app import App
from hjemtilos.host.prefect_processes import prefect_healthy
from hjemtilos.settings import Settings

__all__ = ["api_url", "build", "err", "load_json", "local", "now", "out", "prefect_reachable", "require_case_database",
           "stamp"]

_WIDTH = None if sys.stdout.isatty() else 200  # pipes and CI logs get whole lines
out = Console(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True)
M = TypeVar("M", bound=BaseModel)


def now() -> datetime:
    return datetime.now(UTC)


def local(value: datetime | None) -> str:
    """A time for people: Copenhagen time (tables say so in their headers)."""
    return format_local(value)


def stamp(value: datetime) -> str:
    """A time at the start of a console line: Copenhagen time with its zone (CET or CEST)."""
    return format_local(value, "%Y-%m-%d %H:%M:%S %Z")


def build(require_database: bool = True) -> App:
    """The App from the settings; exit 2 on a bad setting, 3 when the case database is the embedded PostgreSQL
    and it is not running (``require_database``)."""
    from hjemtilos.app import build_app

    try:
        application = build_app()
    except (ValueError, ValidationError) as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if require_database:
        require_case_database(application.settings)
    return application


def require_case_database(settings: Settings) -> None:
    """Exit 3 with a clear message when the case database is the embedded PostgreSQL and it is not running."""
    from hjemtilos.host.embedded_pg import answers
    from hjemtilos.settings import EmbeddedDatabase

    if settings.database_url or settings.embedded_database is not EmbeddedDatabase.POSTGRESQL:
        return
    if not answers(settings.embedded_pg_folder):
        err.print("[red]Sagsdatabasen kører ikke / the case database is not running:[/red] it is the embedded "
                  "PostgreSQL that 'hjemtilos up' runs. Start the system with 'hjemtilos up' (or set "
                  "HJEMTILOS_DATABASE_URL).")
        raise typer.Exit(3)


def api_url(settings: Settings) -> str:
    return os.environ.get("PREFECT_API_URL") or settings.prefect_api_url


def prefect_reachable(url: str) -> bool:
    return prefect_healthy(url, timeout=2)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def load_json(file: Path, model: type[M], what_da: str, what_en: str) -> M:
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
        from hjemtilos.web.validation import message_for

        for error in exc.errors():
            da, en = message_for(dict(error))  # the referral form's words, never pydantic's own text
            err.print(f"  {_field_path(error['loc'])}: {da} / {en}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
