"""A case and what belongs to it: the referral's child, placement and parties, its ending, consents, visits and
changes of circumstances; the reference counter and the nameless tallies of deleted referrals."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.steps import (
    CaseStatus,
    ConsentForm,
    EndedBy,
    VisitAssessment,
    VisitKind,
)
from hjemtilos.db.models.base import Base
from hjemtilos.db.types import StrEnumType


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


class CaseNote(Base):
    """A coordinator's note on a case: a phone call with a parent, a family's worry, a meeting. Free text about
    people: it stays in the case database and the signed-in workspace (never in Prefect), every read of the case is
    access-logged, it is in the person export, and retention anonymises it with the case."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referral_case.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # casework.vocabulary.NOTE_KINDS
    occurred_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime]
    written_by: Mapped[str] = mapped_column(String(200))  # the coordinator's user name

