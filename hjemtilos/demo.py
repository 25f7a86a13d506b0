"""Sample data for `hjemtilos up --demo`: a few approved families and the example referrals, loaded once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.referral import Referral
from casework.steps import FamilyStatus
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, VolunteerFamily
from hjemtilos.intake import StoredCase
from hjemtilos.paths import EXAMPLES
from hjemtilos.submission import OrchestratorScope, orchestrator_scope, submit_referrals

DEMO_FAMILIES = [  # name, e-mail, street address, local area, languages
    ("Familien Holm", "holm@example.dk", "Jægersborggade 12, 2200 København N", "Nørrebro", ["da"]),
    ("Familien Berg", "berg@example.dk", "Valby Langgade 40, 2500 Valby", "Valby", ["da", "en"]),
    ("Familien Dahl", "dahl@example.dk", "Amagerbrogade 101, 2300 København S", "Amager Øst", ["da", "en"]),
]


class _AlreadyLoaded(Exception):
    """The demo was loaded before: what this call stored is rolled back."""


def _add_families(session: Session, stored: list[StoredCase]) -> None:
    if session.scalar(select(AuditEvent.id).where(AuditEvent.action == "demo-loaded")) is not None:
        raise _AlreadyLoaded
    now = stored[0].created_at if stored else datetime.now(UTC)
    for name, email, address, area, languages in DEMO_FAMILIES:
        session.add(VolunteerFamily(name=name, email=email, local_area=area, address=address, languages=languages,
                                    capacity=1, status=FamilyStatus.APPROVED, approved_at=now, created_at=now))
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
