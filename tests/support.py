"""Helpers several test modules share (test modules never import each other)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from casework.referral import Referral
from hjemtilos.app import App
from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.models import ReferralCase
from hjemtilos.intake import register_referral
from hjemtilos.paths import EXAMPLES
from hjemtilos.settings import Settings

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def example_referral(name: str = "referral-standard.json") -> Referral:
    return Referral.model_validate(json.loads((EXAMPLES / name).read_text()))


def make_app(database_url: str, data_dir: object, profile: str = "production") -> App:
    settings = Settings(database_url=database_url, data_dir=data_dir, profile=profile)
    engine = make_engine(database_url)
    return App(settings=settings, profile=settings.load_profile(), engine=engine,
               session_factory=make_session_factory(engine))


def new_case(app: App, run_id: str | None = None, now: datetime = NOW,
             example: str = "referral-standard.json") -> int:
    """A registered case (its receipt queued), optionally with a flow run id."""
    with app.session_factory.begin() as session:
        stored = register_referral(session, example_referral(example), now, app.programme)
        case = session.get(ReferralCase, stored.case_id)
        if case is not None:
            case.flow_run_id = run_id
    return stored.case_id
