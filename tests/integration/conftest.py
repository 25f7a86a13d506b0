from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hjemtilos.app import App
from tests.support import make_app


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The application on a migrated, empty case database (SQLite and PostgreSQL), production timings."""
    application = make_app(database_url, tmp_path)
    yield application
    application.engine.dispose()
