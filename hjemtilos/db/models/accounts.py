"""People who sign in and what is kept of them: accounts, sessions, one-time links, the access log and referrers' links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hjemtilos.db.models.base import Base


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
