"""Sample data for `hjemtilos up --demo`: a few approved families and the example referrals, loaded once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from casework.referral import Referral
from casework.steps import FamilyStatus
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, VolunteerFamily
from hjemtilos.intake import IntakeRejected, StoredCase, receive_referral
from hjemtilos.orchestration import Orchestrator
from hjemtilos.paths import EXAMPLES
from hjemtilos.runs import start_case_run

DEMO_FAMILIES = [  # name, e-mail, street address, local area, languages
    ("Familien Holm", "holm@example.dk", "Jægersborggade 12, 2200 København N", "Nørrebro", ["da"]),
    ("Familien Berg", "berg@example.dk", "Valby Langgade 40, 2500 Valby", "Valby", ["da", "en"]),
    ("Familien Dahl", "dahl@example.dk", "Amagerbrogade 101, 2300 København S", "Amager Øst", ["da", "en"]),
]


def load_demo(app: App, orchestrator: Orchestrator | None = None) -> list[str]:
    """Idempotent: does nothing when the demo was loaded before. Starts the cases' runs (Prefect's by default)."""
    if orchestrator is None:
        from hjemtilos.adapters.prefect import PrefectOrchestrator

        orchestrator = PrefectOrchestrator()
    now = datetime.now(UTC)
    stored_cases: list[StoredCase] = []
    with app.session_factory.begin() as session:
        if session.scalar(select(AuditEvent.id).where(AuditEvent.action == "demo-loaded")) is not None:
            return []
        for name, email, address, area, languages in DEMO_FAMILIES:
            session.add(VolunteerFamily(name=name, email=email, local_area=area, address=address,
                                        languages=languages, capacity=1, status=FamilyStatus.APPROVED, approved_at=now,
                                        created_at=now))
        for example in ("referral-standard.json", "referral-residential-home.json", "referral-youth-14.json"):
            referral = Referral.model_validate(json.loads((EXAMPLES / example).read_text()))
            try:
                stored = receive_referral(app, session, referral, now, actor="demo")
            except IntakeRejected:
                continue
            stored_cases.append(stored)
        session.add(AuditEvent(case_id=None, at=now, actor="demo", action="demo-loaded", step=None, detail=None))
    for stored in stored_cases:
        start_case_run(app, orchestrator, stored.case_id, stored.reference, stored.created_at, now)
    return [stored.reference for stored in stored_cases]
