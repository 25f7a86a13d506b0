"""Sample data for `hjemtilos up --demo`: a few approved families and the example referrals, loaded once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.families import needs_certificates
from casework.referral import Referral
from casework.steps import FamilyStatus
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, FamilyMember, VolunteerFamily
from hjemtilos.orchestration import OrchestratorScope, orchestrator_scope
from hjemtilos.paths import EXAMPLES
from hjemtilos.referrals.intake import StoredCase
from hjemtilos.referrals.submission import submit_referrals


@dataclass(frozen=True)
class DemoFamily:
    name: str
    email: str
    address: str
    local_area: str
    languages: tuple[str, ...]
    wish_ages: tuple[int, int]
    competences: tuple[str, ...]
    members: tuple[tuple[str, date, bool], ...]  # name, birth date, one of the adult volunteers


DEMO_FAMILIES = (
    DemoFamily("Familien Holm", "holm@example.dk", "Jægersborggade 12, 2200 København N", "Nørrebro", ("da",),
               (6, 12), ("musik", "friluftsliv"),
               (("Peter Holm", date(1982, 4, 2), True), ("Sara Holm", date(1984, 9, 17), True),
                ("Ida Holm", date(2010, 1, 20), False))),
    DemoFamily("Familien Berg", "berg@example.dk", "Valby Langgade 40, 2500 Valby", "Valby", ("da", "en"),
               (4, 10), ("kreativitet", "madlavning"),
               (("Mette Berg", date(1979, 6, 11), True), ("Jonas Berg", date(1977, 2, 28), True))),
    DemoFamily("Familien Dahl", "dahl@example.dk", "Amagerbrogade 101, 2300 København S", "Amager Øst",
               ("da", "en"), (10, 17), ("sport", "lektier"),
               (("Anne Dahl", date(1990, 11, 3), True), ("Omar Dahl", date(1988, 5, 21), True),
                ("Liva Dahl", date(2019, 8, 8), False))),
)


class _AlreadyLoaded(Exception):
    """The demo was loaded before: what this call stored is rolled back."""


def _approved_family(demo: DemoFamily, now: datetime) -> VolunteerFamily:
    """An approved family as screening leaves one: visited, interviewed, e-learning done, and every member aged 15
    or over with both certificates received without remarks a month ago."""
    screened = local_date(now) - timedelta(days=30)
    family = VolunteerFamily(name=demo.name, email=demo.email, local_area=demo.local_area, address=demo.address,
                             languages=list(demo.languages), capacity=1, wish_age_min=demo.wish_ages[0],
                             wish_age_max=demo.wish_ages[1], competences=list(demo.competences),
                             status=FamilyStatus.APPROVED, approved_at=now, created_at=now, home_visit_on=screened,
                             interview_on=screened, elearning_completed_on=screened)
    for name, born, volunteer in demo.members:
        member = FamilyMember(name=name, birth_date=born, is_volunteer=volunteer, lives_at_home=True)
        if needs_certificates(born, screened):
            member.child_certificate_requested_on = member.criminal_record_requested_on = screened
            member.child_certificate_received_on = member.criminal_record_received_on = screened
            member.child_certificate_clear = member.criminal_record_clear = True
        family.members.append(member)
    return family


def _add_families(session: Session, stored: list[StoredCase]) -> None:
    if session.scalar(select(AuditEvent.id).where(AuditEvent.action == "demo-loaded")) is not None:
        raise _AlreadyLoaded
    now = stored[0].created_at if stored else datetime.now(UTC)
    for demo in DEMO_FAMILIES:
        session.add(_approved_family(demo, now))
    session.add(AuditEvent(case_id=None, at=now, actor="demo", action="demo-loaded", step=None, detail=None))


def load_demo(app: App, orchestrator: OrchestratorScope | None = None) -> list[str]:
    """Idempotent: does nothing when the demo was loaded before. Starts the cases' runs (Prefect's, on the server
    of the client's settings, by default)."""
    if orchestrator is None:
        from hjemtilos.adapters.prefect import PrefectOrchestrator

        orchestrator = orchestrator_scope(PrefectOrchestrator())
    referrals = [Referral.model_validate(json.loads((EXAMPLES / example).read_text()))
                 for example in ("referral-standard.json", "referral-residential-home.json", "referral-youth-14.json")]
    try:
        submitted = submit_referrals(app, referrals, actor="demo", now=datetime.now(UTC), orchestrator=orchestrator,
                                     within=_add_families, skip_rejected=True)
    except _AlreadyLoaded:
        return []
    return [case.stored.reference for case in submitted]
