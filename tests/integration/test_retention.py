"""Retention by config/retention.toml, on SQLite and PostgreSQL, skipping time across every period: mail bodies
dropped (metadata kept), rejected referrals deleted, closed cases anonymised with their statistics kept, families
that left deleted, old audit and access-log rows deleted, Prefect's runs of closed cases deleted; every action
audited, nothing done twice, and the timekeeper applies it once a day."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from casework.steps import CaseStatus, FamilyStatus, MailStatus
from hjemtilos.app import App
from hjemtilos.audit import access
from hjemtilos.db.models import (
    AccessLogEntry,
    AccountLink,
    AuditEvent,
    Child,
    HumanTask,
    OutboxMail,
    Party,
    ReferralCase,
    UserAccount,
    UserSession,
    VolunteerFamily,
)
from hjemtilos.privacy.retention import DEFAULT_POLICY, apply, load_policy, plan
from hjemtilos.timekeeper.timekeeping import apply_retention_daily
from tests.fakes import FakeOrchestrator
from tests.support import NOW, new_case


def _close(app: App, case_id: int, status: CaseStatus, run_id: str) -> str:
    with app.session_factory.begin() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        case.status, case.closed_at, case.flow_run_id = status, NOW, run_id
        case.child.concern_severe_acting_out = True
        case.review_flags = ["outside-target-group", "youth-track"]
        session.add(HumanTask(case_id=case_id, key="approval-screening", step="screening", title="Screening",
                              assignee_role="coordinator", created_at=NOW, completed_at=NOW, outcome="approved",
                              decided_by="tina", data={"input": {"reason": "fri tekst om barnet"}}))
        for mail in session.scalars(select(OutboxMail).where(OutboxMail.case_id == case_id)):
            mail.status, mail.sent_at = MailStatus.SENT, NOW
        access.record(session, "tina", access.VIEWED, NOW, case=case)
        return case.reference


def _family(app: App) -> int:
    with app.session_factory.begin() as session:
        family = VolunteerFamily(name="Familien Nej", email="nej@example.dk", local_area="Valby", languages=["da"],
                                 status=FamilyStatus.REJECTED, rejected_reason="ikke overskud", created_at=NOW)
        session.add(family)
        session.flush()
        return family.id


def test_every_period_in_turn(app: App, tmp_path: Path) -> None:
    policy = load_policy()
    assert policy.unconfirmed()  # the defaults wait for the DPO
    rejected_id, closed_id = new_case(app), new_case(app)
    rejected = _close(app, rejected_id, CaseStatus.REJECTED, "11111111-1111-4111-8111-111111111111")
    closed = _close(app, closed_id, CaseStatus.CLOSED, "22222222-2222-4222-8222-222222222222")
    family_id = _family(app)
    with app.session_factory.begin() as session:  # a sign-in and a one-time link
        from hjemtilos.workspace.accounts import SET_UP, Role, add_user, new_link, open_session

        user = add_user(session, "tina", "Tina", Role.COORDINATOR, NOW, password="et langt kodeord 42")
        open_session(session, user, NOW, "127.0.0.1")
        new_link(session, SET_UP, NOW, user)
    maildir = tmp_path / "mailcatcher"
    (maildir / "new").mkdir(parents=True)
    caught = maildir / "new" / "1.eml"
    caught.write_text("Subject: x\n\nbody")
    os.utime(caught, (NOW.timestamp(), NOW.timestamp()))
    fake = FakeOrchestrator()

    def due_at(days: int) -> list[tuple[str, str]]:
        with app.session_factory() as session:
            return sorted((d.kind, d.target) for d in plan(session, policy, NOW + timedelta(days=days), maildir))

    def run_at(days: int) -> int:
        with app.session_factory() as session:
            due = plan(session, policy, NOW + timedelta(days=days), maildir)
        return apply(app, due, NOW + timedelta(days=days), delete_run=fake.delete_run)

    assert due_at(1) == []
    assert due_at(15) == [("mail_catcher", "1 file(s)")]
    assert run_at(31) == 4  # the catcher's file, the mail bodies, and Prefect's runs of both finished cases
    assert not caught.exists()
    with app.session_factory() as session:
        mails = session.scalars(select(OutboxMail)).all()
        assert mails and all(m.body_text == "" and m.body_html == "" for m in mails)
        assert all(m.subject and m.recipient_email and m.sent_at for m in mails)  # metadata kept
    assert sorted(fake.deleted) == ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"]
    assert due_at(32) == []  # nothing twice

    assert run_at(200) == 2  # the sign-in records (90 days); six months: the rejected referral, with its rows
    with app.session_factory() as session:
        assert session.scalar(select(ReferralCase.id).where(ReferralCase.reference == rejected)) is None
        assert session.scalar(select(func.count()).select_from(Child)) == 1
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0
        assert session.scalar(select(func.count()).select_from(AccountLink)) == 0
        assert session.scalar(select(func.count()).select_from(UserAccount)) == 1  # the account itself stays
        # the access log outlives the case (its own period), by reference
        assert [e.action for e in access.case_log(session, rejected)] == ["viewed"]

    assert run_at(370) == 1  # a year: the family that left
    with app.session_factory() as session:
        assert session.get(VolunteerFamily, family_id) is None

    assert run_at(3 * 366) == 1  # three years: the closed case is anonymised
    with app.session_factory() as session:
        case = session.scalars(select(ReferralCase).where(ReferralCase.reference == closed)).one()
        child = case.child
        assert (child.first_name, child.last_name, child.motivation, child.description) == ("–", "–", None, None)
        assert child.birth_date.month == child.birth_date.day == 1
        assert not child.concern_severe_acting_out and "outside-target-group" not in case.review_flags
        assert "youth-track" in case.review_flags  # statistics kept: track, status, dates
        assert case.status == CaseStatus.CLOSED and case.closed_at is not None and case.anonymised_at is not None
        parties = session.scalars(select(Party).where(Party.case_id == case.id)).all()
        assert all(p.name == "–" and p.email == "anonymised@invalid" and p.phone is None for p in parties)
        assert session.scalars(select(HumanTask.data).where(HumanTask.case_id == case.id)).all() == [None]
        assert all(d is None for d in session.scalars(select(AuditEvent.detail).where(
            AuditEvent.case_id == case.id, AuditEvent.action.not_like("retention-%"))))
        assert session.scalars(select(HumanTask.outcome).where(HumanTask.case_id == case.id)).all() == ["approved"]
    assert due_at(3 * 366 + 1) == []

    assert run_at(5 * 366) == 2  # five years: the old audit and access-log rows
    with app.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == 0
        actions = set(session.scalars(select(AuditEvent.action)))
        # what is left of the audit log is retention's own record (newer than five years), by kind and reference
        assert actions <= {"retention-audit_log", "retention-access_log", "retention-closed_cases",
                           "retention-families_left", "retention-rejected_referrals", "retention-mail_bodies",
                           "retention-mail_catcher", "retention-prefect_runs", "retention-sign_in_records"}
        details = [e.detail for e in session.scalars(select(AuditEvent))]
        assert all("Sofie" not in str(d) and "@" not in str(d) for d in details)


def test_the_timekeeper_applies_it_once_a_day(app: App) -> None:
    app = replace(app, settings=app.settings.model_copy(update={"retention_daily": True}))
    case_id = new_case(app)
    _close(app, case_id, CaseStatus.REJECTED, "33333333-3333-4333-8333-333333333333")
    fake = FakeOrchestrator()
    later = NOW + timedelta(days=200)
    assert apply_retention_daily(app, later, fake) >= 2  # mail bodies, the run, the referral
    assert apply_retention_daily(app, later + timedelta(hours=23), fake) == 0  # not again the same day
    with app.session_factory() as session:
        assert session.get(ReferralCase, case_id) is None
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "retention-ran")) == 1
    assert fake.deleted == ["33333333-3333-4333-8333-333333333333"]


def test_a_policy_that_is_not_valid_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text()
    broken = tmp_path / "retention.toml"
    broken.write_text(text.replace('after = "3 years"', 'after = "tre år"'))
    with pytest.raises(ValueError, match="cannot read duration"):
        load_policy(broken)
    broken.write_text(text.replace('action = "anonymise"', 'action = "delete"'))
    with pytest.raises(ValueError, match="closed_cases: the action must be 'anonymise'"):
        load_policy(broken)
    confirmed = tmp_path / "confirmed.toml"
    confirmed.write_text(text.replace("dpo_confirmed = false", "dpo_confirmed = true"))
    assert load_policy(confirmed).unconfirmed() == []
