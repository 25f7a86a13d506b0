"""Sample data for `hjemtilos up --demo`: a few approved families and the example referrals, loaded once."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select

from casework.referral import Referral
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, VolunteerFamily
from hjemtilos.intake import IntakeRejected, register_referral
from hjemtilos.paths import EXAMPLES
from hjemtilos.programme import case_run_key, record_run_started

DEMO_FAMILIES = [
    ("Familien Holm", "holm@example.dk", "Nørrebro", ["da"]),
    ("Familien Berg", "berg@example.dk", "Valby", ["da", "en"]),
    ("Familien Dahl", "dahl@example.dk", "Amager Øst", ["da", "en"]),
]


def load_demo(app: App) -> list[str]:
    """Idempotent: does nothing when the demo was loaded before."""
    from tasks.prefect_ops import start_case_run

    now = datetime.now(timezone.utc)
    references: list[tuple[int, str, str]] = []
    with app.session_factory.begin() as session:
        if session.scalar(select(AuditEvent.id).where(AuditEvent.action == "demo-loaded")) is not None:
            return []
        for name, email, area, languages in DEMO_FAMILIES:
            session.add(VolunteerFamily(name=name, email=email, local_area=area, address=f"{area}, København",
                                        languages=languages, capacity=1, status="approved", approved_at=now,
                                        created_at=now))
        for example in ("referral-standard.json", "referral-residential-home.json", "referral-youth-14.json"):
            referral = Referral.model_validate(json.loads((EXAMPLES / example).read_text()))
            try:
                stored = register_referral(session, referral, now, app.programme, actor="demo")
            except IntakeRejected:
                continue
            references.append((stored.case_id, stored.reference, case_run_key(stored.reference, now)))
        session.add(AuditEvent(case_id=None, at=now, actor="demo", action="demo-loaded", step=None, detail=None))
    for case_id, reference, run_key in references:
        record_run_started(app, case_id, start_case_run(case_id, reference, run_key), now)
    return [reference for _, reference, _ in references]
