"""Migrations and intake against real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from casework.referral import Referral
from casework.steps import Role
from hjemtilos.db.migrate import downgrade, upgrade
from hjemtilos.db.models import AuditEvent, Base, Child, OutboxMail, Party, ReferralCase
from hjemtilos.mail.render import Programme
from hjemtilos.referrals.intake import IntakeRejected, register_referral

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
PROGRAMME = Programme(phone="+45 35 36 55 55", email="hjemtilos@redbarnet.dk")


def example(name: str) -> Referral:
    return Referral.model_validate(json.loads((EXAMPLES / name).read_text()))


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    expected = {table.name for table in Base.metadata.sorted_tables}
    assert _tables(database_url) == expected
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    assert _tables(database_url) == expected


def test_register_stores_the_whole_case(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        stored = register_referral(session, example("referral-youth-14.json"), NOW, PROGRAMME)
    assert stored.reference == "HTO-2026-0001"
    with session_factory() as session:
        case = session.get(ReferralCase, stored.case_id)
        assert case is not None
        assert (case.status, case.current_step, case.track) == ("screening", "screening", "youth")
        assert case.needs_review and case.review_flags == ["youth-track"]
        assert case.created_at == NOW and case.created_at.tzinfo is not None
        assert case.child.first_name == "Noah" and case.child.languages == ["en", "so"]
        assert case.placement.kind == "foster_family"
        roles = sorted((p.role, p.email) for p in case.parties)
        assert roles == sorted([
            (Role.REFERRER, "line.madsen@bbu.kk.dk"),
            (Role.BBU_CONTACT, "ole.sorensen@bbu.kk.dk"),
            (Role.CUSTODY_HOLDER, "amina.jensen@example.com"),
            (Role.PLACEMENT_CONTACT, "henrik.olsen@example.dk"),
        ])
        audit = session.scalars(select(AuditEvent)).all()
        assert [(a.action, a.actor, a.case_id) for a in audit] == [("case-registered", "intake", case.id)]
        mails = session.scalars(select(OutboxMail)).all()
        assert [(m.template, m.recipient_email, m.status) for m in mails] == [
            ("referral-receipt", "line.madsen@bbu.kk.dk", "pending")]
        assert "HTO-2026-0001" in mails[0].subject


def test_references_count_up_per_year(session_factory: sessionmaker[Session]) -> None:
    refs = []
    for when in (NOW, NOW, datetime(2027, 1, 2, tzinfo=UTC)):
        with session_factory.begin() as session:
            refs.append(register_referral(session, example("referral-standard.json"), when, PROGRAMME).reference)
    assert refs == ["HTO-2026-0001", "HTO-2026-0002", "HTO-2027-0001"]


def test_rejected_referral_writes_nothing(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(IntakeRejected) as info, session_factory.begin() as session:
        register_referral(session, example("referral-invalid.json"), NOW, PROGRAMME)
    assert {r.code for r in info.value.reasons} >= {"too-young", "no-motivation", "no-common-language",
                                                   "placement-contact-missing"}
    with session_factory() as session:
        for model in (ReferralCase, Child, Party, OutboxMail, AuditEvent):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_failure_mid_transaction_leaves_nothing(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_factory.begin() as session:
        register_referral(session, example("referral-standard.json"), NOW, PROGRAMME)
        raise RuntimeError("crash after the insert, before commit")
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ReferralCase)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_intake_at_half_past_midnight_on_new_years_day_uses_copenhagens_date(
        session_factory: sessionmaker[Session]) -> None:
    from datetime import date

    referral = example("referral-standard.json")
    child = referral.child.model_copy(update={"birth_date": date(2023, 1, 1)})  # four on 1 January 2027
    eligibility = referral.eligibility.model_copy(update={"can_say_yes_no": True, "manages_toilet_alone": True})
    referral = referral.model_copy(update={"child": child, "eligibility": eligibility})
    at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 in Copenhagen
    with session_factory.begin() as session:
        stored = register_referral(session, referral, at, PROGRAMME)
    assert stored.reference == "HTO-2027-0001"


def test_the_migrations_make_exactly_the_models_schema(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
