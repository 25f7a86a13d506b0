"""Volunteer families, their members (and certificates) and the matches of families with cases."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from casework.steps import (
    EndedBy,
    FamilyStatus,
    MatchStatus,
)
from hjemtilos.db.models.base import Base
from hjemtilos.db.types import StrEnumType


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
