"""Per-process wiring for tasks: settings are read once per flow process, at this entry point."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from hjemtilos.app import App, build_app


@lru_cache(maxsize=1)
def get_app() -> App:
    return build_app()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
