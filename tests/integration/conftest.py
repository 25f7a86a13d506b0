from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hjemtilos.app import App
from hjemtilos.workspace.app import create_workspace
from tests.support import Clock, make_app


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The application on a migrated, empty case database (SQLite and PostgreSQL), production timings."""
    application = make_app(database_url, tmp_path)
    yield application
    application.engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(app: App, clock: Clock) -> TestClient:
    """The workspace on ``app`` and ``clock``, as a signed-out browser would reach it."""
    return TestClient(create_workspace(app, clock=clock), base_url="http://127.0.0.1")
