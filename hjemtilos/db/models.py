"""Typed ORM models of the case database. The schema is owned by the Alembic migrations beside this file."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from casework.steps import (
    CaseStatus,
    ConsentForm,
    EndedBy,
    FamilyStatus,
    MailStatus,
    MatchStatus,
    VisitAssessment,
    VisitKind,
)
from hjemtilos.db.types import StrEnumType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class ReferenceCounter(Base):
    """Next case number per year, for references like HTO-2026-0001."""

    __tablename__ = "reference_counter"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class ReferralCase(Base):
    __tablename__ = "referral_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[CaseStatus] = mapped_column(StrEnumType(CaseStatus), index=True)
    current_step: Mapped[str] = mapped_column(String(40))
    step_since: Mapped[datetime]
    track: Mapped[str] = mapped_column(String(20))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # flag codes only, never details
    flow_run_id: Mapped[str | None] = mapped_column(String(40), index=True)
    match_attempt: Mapped[int] = mapped_column(Integer, default=1)  # bumped by a declined proposal or a re-match
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(200))
    rejection_reason: Mapped[str | None] = mapped_column(String(40))  # a code of hjemtilos.cases.screening
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    anonymised_at: Mapped[datetime | None]  # retention removed names, contact data and free text

    child: Mapped[Child] = relationship(back_populates="case", uselist=False, cascade="all, delete-orphan")
    placement: Mapped[Placement] = relationship(back_populates="case", uselist=False, cascade="all, delete-orphan")
    parties: Mapped[list[Party]] = relationship(back_populates="case", cascade="all, delete-orphan")


class ReferralTally(Base):
    """What the programme reports need of a referral that retention deleted (a rejected or withdrawn one): its
    month and categories, no name, no date of birth, no case number. Written in the transaction that deletes it."""

    __tablename__ = "referral_tally"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date, index=True)  # the first day of the month it was received
    outcome: Mapped[str] = mapped_column(String(20))  # hjemtilos.reports.figures.Outcome
    rejection_reason: Mapped[str | None] = mapped_column(String(40))
    age: Mapped[int] = mapped_column(Integer)  # whole years when referred
    track: Mapped[str] = mapped_column(String(20))
    placement_kind: Mapped[str] = mapped_column(String(30))
    flagged: Mapped[bool] = mapped_column(Boolean)
    referrer_unit: Mapped[str | None] = mapped_column(String(200))
    local_area: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]


class Child(Base):
    __tablename__ = "child"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), unique=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(30))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    local_area: Mapped[str] = mapped_column(String(200))
    wants_volunteer_family: Mapped[bool] = mapped_column(Boolean)
    wished_competences: Mapped[list[str]] = mapped_column(JSON, default=list)
    motivation: Mapped[str | None] = mapped_column(Text)  # in the referrer's words: why the child wants a family
    description: Mapped[str | None] = mapped_column(Text)  # interests, everyday life: what matching needs
    has_resources_to_start: Mapped[bool] = mapped_column(Boolean)
    can_say_yes_no: Mapped[bool | None] = mapped_column(Boolean)
    manages_toilet_alone: Mapped[bool | None] = mapped_column(Boolean)
    # Special-category flags: never leave this database.
    concern_severe_acting_out: Mapped[bool] = mapped_column(Boolean, default=False)
    concern_severe_psychiatric_diagnosis: Mapped[bool] = mapped_column(Boolean, default=False)
    concern_suicide_risk_or_self_harm: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[ReferralCase] = relationship(back_populates="child")


class Placement(Base):
    __tablename__ = "placement"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    institution_name: Mapped[str | None] = mapped_column(String(200))
    child_has_parent_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    parents_back_referral: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[ReferralCase] = relationship(back_populates="placement")


class Party(Base):
    """A person on a case: custody holder, placement contact, referrer or BBU contact."""

    __tablename__ = "party"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2), default="da")
    unit: Mapped[str | None] = mapped_column(String(200))
    communicates_in_danish_or_english: Mapped[bool | None] = mapped_column(Boolean)

    case: Mapped[ReferralCase] = relationship(back_populates="parties")


class VolunteerFamily(Base):
    __tablename__ = "volunteer_family"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(2), default="da")
    address: Mapped[str | None] = mapped_column(String(300))
    local_area: Mapped[str] = mapped_column(String(200))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    wish_age_min: Mapped[int | None] = mapped_column(Integer)
    wish_age_max: Mapped[int | None] = mapped_column(Integer)
    wish_gender: Mapped[str | None] = mapped_column(String(30))
    competences: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[FamilyStatus] = mapped_column(StrEnumType(FamilyStatus), default=FamilyStatus.SCREENING,
                                                 index=True)
    home_visit_on: Mapped[date | None] = mapped_column(Date)
    interview_on: Mapped[date | None] = mapped_column(Date)
    elearning_completed_on: Mapped[date | None] = mapped_column(Date)
    approved_at: Mapped[datetime | None]
    rejected_reason: Mapped[str | None] = mapped_column(String(500))
    flow_run_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]

    members: Mapped[list[FamilyMember]] = relationship(back_populates="family", cascade="all, delete-orphan")


class FamilyMember(Base):
    __tablename__ = "family_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("volunteer_family.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    is_volunteer: Mapped[bool] = mapped_column(Boolean, default=False)  # one of the family's adult volunteers
    lives_at_home: Mapped[bool] = mapped_column(Boolean, default=True)
    # Certificates: outcome and dates only, never copies.
    child_certificate_requested_on: Mapped[date | None] = mapped_column(Date)
    child_certificate_received_on: Mapped[date | None] = mapped_column(Date)
    child_certificate_clear: Mapped[bool | None] = mapped_column(Boolean)
    criminal_record_requested_on: Mapped[date | None] = mapped_column(Date)
    criminal_record_received_on: Mapped[date | None] = mapped_column(Date)
    criminal_record_clear: Mapped[bool | None] = mapped_column(Boolean)

    family: Mapped[VolunteerFamily] = relationship(back_populates="members")


class Match(Base):
    __tablename__ = "match"
    __table_args__ = (UniqueConstraint("case_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("volunteer_family.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[MatchStatus] = mapped_column(StrEnumType(MatchStatus))
    proposed_at: Mapped[datetime]
    family_answer: Mapped[str | None] = mapped_column(String(20))
    family_answered_on: Mapped[date | None] = mapped_column(Date)
    parents_answer: Mapped[str | None] = mapped_column(String(20))
    parents_answered_on: Mapped[date | None] = mapped_column(Date)
    first_meeting_at: Mapped[datetime | None]
    start_date: Mapped[date | None] = mapped_column(Date)
    weekday: Mapped[str | None] = mapped_column(String(10))
    transport_to: Mapped[str | None] = mapped_column(String(200))
    transport_from: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]  # the programme year runs from here
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[EndedBy | None] = mapped_column(StrEnumType(EndedBy, 30))
    end_reason: Mapped[str | None] = mapped_column(String(500))
    continuation: Mapped[str | None] = mapped_column(String(40))  # the future agreement: casework.steps.Continuation


class CaseEnding(Base):
    """An early ending requested by a coordinator; the case run handles it at its next execution."""

    __tablename__ = "case_ending"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("match.id"))
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(200))
    ended_by: Mapped[EndedBy] = mapped_column(StrEnumType(EndedBy, 30))
    reason: Mapped[str] = mapped_column(String(60))
    rematch_wanted: Mapped[bool] = mapped_column(Boolean, default=False)
    begun_at: Mapped[datetime | None]  # the case run started handling it
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # rematch or closed


class ConsentReceipt(Base):
    """One signed consent form received from one custody holder: the date it arrived, who recorded it."""

    __tablename__ = "consent_receipt"
    __table_args__ = (UniqueConstraint("party_id", "form"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    form: Mapped[ConsentForm] = mapped_column(StrEnumType(ConsentForm))
    received_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class CaseVisit(Base):
    """A visit, call or meeting the coordinator held and recorded: the start-up visit and meeting, the follow-up
    call after the first visit, the child visits, a concern's follow-up."""

    __tablename__ = "case_visit"
    __table_args__ = (UniqueConstraint("case_id", "kind", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[VisitKind] = mapped_column(StrEnumType(VisitKind, 30))
    scope: Mapped[int] = mapped_column(Integer, default=0)  # the match attempt or ending it belongs to; 0: the case
    held_on: Mapped[date] = mapped_column(Date)
    assessment: Mapped[VisitAssessment | None] = mapped_column(StrEnumType(VisitAssessment))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class CircumstanceChange(Base):
    """A change of circumstances during the year (moving, illness, divorce, placement)."""

    __tablename__ = "circumstance_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class HumanTask(Base):
    """An approval or a task that waits for a person (coordinator, family, parents)."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        UniqueConstraint("family_id", "key"),
        Index("ix_human_task_open_reminder", "completed_at", "reminder_at"),
        Index("ix_human_task_open_escalation", "completed_at", "escalation_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # a task belongs to a referral case or to a volunteer family's screening
    case_id: Mapped[int | None] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_family.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80))  # stable, e.g. approval-consent-1 or approval-match-proposal-2
    step: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))  # what the person must do, shown in reminders
    assignee_role: Mapped[str] = mapped_column(String(30))
    reminder_role: Mapped[str] = mapped_column(String(30), default="coordinator")  # who gets the reminders
    round: Mapped[int] = mapped_column(Integer, default=0)  # suspensions so far; the Prefect key is f"{key}-r{round}"
    form_checked_round: Mapped[int | None] = mapped_column(Integer)  # the round whose form was seen stored in Prefect
    answers_forgotten_round: Mapped[int | None] = mapped_column(Integer)  # rounds up to this one deleted from Prefect
    last_error: Mapped[str | None] = mapped_column(String(500))  # why the last form was not accepted
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    reminder_at: Mapped[datetime | None]  # when the next reminder is due
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None]
    escalation_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Timer(Base):
    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        Index("ix_timer_open_due", "consumed_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    step: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]  # the timekeeper (or the flow) found it due
    consumed_at: Mapped[datetime | None]  # the flow went past it (or it was cancelled)
    resumed_at: Mapped[datetime | None]  # the timekeeper resumed the suspended run for it
    round: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class OutboxMail(Base):
    """One outgoing mail, rendered in the transaction of the step that caused it and sent once."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("referral_case.id", ondelete="SET NULL"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    recipient_role: Mapped[str] = mapped_column(String(30))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_email: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[MailStatus] = mapped_column(StrEnumType(MailStatus), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    smtp_reply: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only: who did what to which case, when."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("referral_case.id", ondelete="SET NULL"), index=True)
    family_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_family.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    step: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class StuckCase(Base):
    """A stuck episode of a case (its reason and since), found by the timekeeper; the administrators get one mail
    per episode. An episode that clears for one check and comes back has its row reopened."""

    __tablename__ = "stuck_case"
    __table_args__ = (Index("ix_stuck_case_open", "resolved_at", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(40))
    since: Mapped[datetime]
    first_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class UserAccount(Base):
    """A person who signs in to the workspace: a coordinator or an administrator. Passwords are argon2 hashes;
    the TOTP secret is the second factor (set up at the first sign-in)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))  # coordinator or administrator (hjemtilos.workspace.accounts)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None until the person chooses one
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # None until the second factor is set up
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; this row holds only its SHA-256, so a copy of the
    database signs no one in. Ended by sign-out, idle timeout, disabling the user or resetting their factor."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None]  # the second factor was given; until then only the code page opens
    pending_totp_secret: Mapped[str | None] = mapped_column(String(64))  # a factor being set up at this sign-in
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    client: Mapped[str | None] = mapped_column(String(64))


class AccountLink(Base):
    """A one-time link: the first administrator's (printed by `hjemtilos up` on a fresh system) or a new user's
    (printed by `hjemtilos user add`). Only the token's SHA-256 is kept."""

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(30))  # first-administrator or set-up
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AccessLogEntry(Base):
    """Append-only: who read or acted on which case, when and from where (case page views, exports, and Prefect
    requests that concern a case's flow run, seen by the front door). The reference is kept beside the id so the
    log outlives the case row."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_case", "case_reference", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("referral_case.id", ondelete="SET NULL"))
    case_reference: Mapped[str | None] = mapped_column(String(20))
    family_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_family.id", ondelete="SET NULL"))
    flow_run_id: Mapped[str | None] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(30))  # viewed, viewed-in-prefect, resumed, exported, ...
    purpose: Mapped[str | None] = mapped_column(String(200))
    client: Mapped[str | None] = mapped_column(String(64))


class ReferrerLink(Base):
    """A one-time link to the referral form, sent to a caseworker's address in an allowed domain: the referral
    made through it is the verified address's, and its receipt goes only there. Only the token's SHA-256 is kept."""

    __tablename__ = "referrer_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("referral_case.id", ondelete="SET NULL"))
