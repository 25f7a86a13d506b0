"""Access and erasure for one person, on SQLite and PostgreSQL: the export holds what is kept about them (and is
logged as a read), erasure anonymises what the rules allow and refuses, with the reason, what they do not."""

from __future__ import annotations

import json

from sqlalchemy import select

from casework.steps import CaseStatus
from hjemtilos.app import App
from hjemtilos.audit import access
from hjemtilos.db.models import OutboxMail, Party, ReferralCase
from hjemtilos.privacy.person import erase_person, export_person, log_export
from tests.support import NOW, new_case


def _holder(app: App, case_id: int) -> tuple[str, str, str]:
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        holder = next(p for p in case.parties if p.role == "custody_holder")
        return case.reference, holder.email, holder.name


def test_export_by_address_and_by_case(app: App) -> None:
    case_id = new_case(app)
    reference, email, name = _holder(app, case_id)
    with app.session_factory.begin() as session:
        by_email = export_person(session, email=email.upper())
        log_export(session, by_email, "cli", NOW)
        by_case = export_person(session, reference=reference)
    text = json.dumps(by_email, ensure_ascii=False)
    assert name in text and by_email["as_party"][0]["case_reference"] == reference
    assert by_email["as_party"][0]["party"]["role"] == "custody_holder"
    child = by_case["child_case"]["child"]
    assert child["first_name"] and by_case["child_case"]["mails"]  # the receipt
    with app.session_factory() as session:
        assert [(e.username, e.action) for e in access.case_log(session, reference)] == [("cli", "exported")]


def test_erasure_refuses_an_open_case_and_anonymises_a_finished_one(app: App) -> None:
    case_id = new_case(app)
    reference, email, name = _holder(app, case_id)
    with app.session_factory.begin() as session:
        outcome = erase_person(session, NOW, "cli", email=email)
    assert outcome.erased == [] and "open" in outcome.refused[0] and reference in outcome.refused[0]
    with app.session_factory.begin() as session:
        assert session.scalars(select(Party.name).where(Party.email == email)).all() == [name]  # untouched
        assert "open" in erase_person(session, NOW, "cli", reference=reference).refused[0]
        case = session.get(ReferralCase, case_id)
        assert case is not None
        case.status, case.closed_at = CaseStatus.CLOSED, NOW
    with app.session_factory.begin() as session:
        outcome = erase_person(session, NOW, "cli", email=email)
    assert outcome.refused == [] and reference in outcome.erased[0]
    with app.session_factory() as session:
        assert session.scalars(select(Party).where(Party.email == email)).all() == []
        assert all(m.body_text == "" for m in session.scalars(select(OutboxMail).where(
            OutboxMail.recipient_email == "anonymised@invalid")))
    with app.session_factory.begin() as session:
        outcome = erase_person(session, NOW, "cli", reference=reference)
    assert "anonymised" in outcome.erased[0]
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None and case.child.first_name == "–" and case.anonymised_at is not None
