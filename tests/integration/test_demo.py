"""`hjemtilos up --demo`'s sample data, through the one referral use case: families and cases stored together,
the cases' runs started, loaded once however often it is asked."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from casework.clock import local_date
from hjemtilos.app import App
from hjemtilos.db.models import ReferralCase, VolunteerFamily
from hjemtilos.demo import DEMO_FAMILIES, load_demo
from hjemtilos.orchestration import orchestrator_scope
from hjemtilos.volunteers import status_of
from tests.fakes import FakeOrchestrator


def test_demo_loads_once_and_starts_every_case_run(app: App) -> None:
    orchestrator = FakeOrchestrator()
    references = load_demo(app, orchestrator_scope(orchestrator))
    assert len(references) == 3
    assert orchestrator.started_references == references
    with app.session_factory() as session:
        runs = dict(session.execute(select(ReferralCase.reference, ReferralCase.flow_run_id)).tuples().all())
        assert set(runs) == set(references) and all(runs.values())
        assert session.scalar(select(func.count()).select_from(VolunteerFamily)) == len(DEMO_FAMILIES)

    with app.session_factory() as session:  # approved as screening leaves a family: members, wishes, certificates
        for family in session.scalars(select(VolunteerFamily)):
            assert family.members and family.wish_age_min and family.competences
            assert status_of(family, local_date(datetime.now(UTC))).complete, family.name

    assert load_demo(app, orchestrator_scope(orchestrator)) == []  # a second start of `up --demo`
    with app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ReferralCase)) == 3
        assert session.scalar(select(func.count()).select_from(VolunteerFamily)) == len(DEMO_FAMILIES)


def test_demo_cases_are_stored_when_prefect_is_down(app: App) -> None:
    class Down(FakeOrchestrator):
        def start_case(self, case_id: int, reference: str, run_key: str) -> str:
            raise ConnectionError("nothing answers")

    references = load_demo(app, orchestrator_scope(Down()))
    assert len(references) == 3
    with app.session_factory() as session:  # the timekeeper starts the runs of cases without one
        assert session.scalar(select(func.count()).where(ReferralCase.flow_run_id.is_(None))) == 3
