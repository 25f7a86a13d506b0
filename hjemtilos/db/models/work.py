"""The work around cases and families: tasks waiting for a coordinator, timers, the mail outbox, the audit trail
and stuck-case episodes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from casework.steps import (
    MailStatus,
)
from hjemtilos.db.models.base import Base
from hjemtilos.db.types import StrEnumType


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
    # who works on it (a coordinator claimed it on the task list): shown on Opgaver, the case page and in the
    # Resume dialog, so a colleague is warned before answering it too
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    # the claim the Resume dialog in Prefect says (its round and claimed_at): the timekeeper writes it when they differ
    claim_shown_round: Mapped[int | None] = mapped_column(Integer)
    claim_shown_at: Mapped[datetime | None]
    follow_up_on: Mapped[date | None] = mapped_column(Date)  # when whoever works on it looks at it again (Opgaver)


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
