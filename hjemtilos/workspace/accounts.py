"""Workspace accounts: users and roles, argon2 passwords, the TOTP second factor, sessions that end on
sign-out, idle timeout or when the user is disabled, and one-time links (the first administrator's, a new user's).

Pure functions over a SQLAlchemy session that take ``now``; the web app and ``hjemtilos user`` call them. Tokens
are random; the database holds only their SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hjemtilos.db.models import AccountLink, AuditEvent, UserAccount, UserSession

__all__ = ["FIRST_ADMINISTRATOR", "SET_UP", "WRONG", "AccountError", "Role", "SignedIn",
           "add_user", "check_password", "confirm_code", "disable_user", "end_session", "first_administrator_link",
           "new_link", "open_session", "reset_second_factor", "set_password", "signed_in", "take_link",
           "token_hash", "totp_uri"]

LINK_VALID = timedelta(days=3)
FIRST_ADMINISTRATOR = "first-administrator"
SET_UP = "set-up"
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,59}$")
MIN_PASSWORD = 12
_hasher = PasswordHasher()


class Role(StrEnum):
    COORDINATOR = "coordinator"
    ADMINISTRATOR = "administrator"


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message is for people (Danish / English)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise AccountError("Brugernavnet skal være 2-60 tegn: små bogstaver, tal, punktum, bindestreg. / The user "
                           "name must be 2-60 characters: lower-case letters, digits, dot, hyphen.")
    return username


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Adgangskoden skal have mindst {MIN_PASSWORD} tegn. / The password must have at least "
                           f"{MIN_PASSWORD} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise AccountError("Adgangskoden må ikke indeholde styretegn. / The password must not contain control "
                           "characters.")


def _log(session: Session, now: datetime, actor: str, action: str, user: UserAccount) -> None:
    """Every change to an account, in the audit trail (who, when, which account; never a secret)."""
    session.add(AuditEvent(case_id=None, at=now, actor=actor, action=action, step=None,
                           detail={"username": user.username, "role": user.role}))


def add_user(session: Session, username: str, display_name: str, role: Role, now: datetime,
             email: str | None = None, password: str | None = None, *, actor: str = "system") -> UserAccount:
    check_username(username)
    if not display_name.strip() or any(ord(c) < 32 for c in display_name):
        raise AccountError("Skriv personens navn. / Give the person's name.")
    if session.scalar(select(UserAccount.id).where(UserAccount.username == username)) is not None:
        raise AccountError(f"Brugernavnet {username} findes allerede. / The user name {username} is taken.")
    user = UserAccount(username=username, display_name=display_name.strip(), email=email, role=role.value,
                       failed_attempts=0, created_at=now)
    if password is not None:
        check_new_password(password)
        user.password_hash = _hasher.hash(password)
    session.add(user)
    session.flush()
    _log(session, now, actor, "user-added", user)
    return user


def set_password(user: UserAccount, password: str) -> None:
    check_new_password(password)
    user.password_hash = _hasher.hash(password)


def new_link(session: Session, purpose: str, now: datetime, user: UserAccount | None = None,
             valid: timedelta = LINK_VALID) -> str:
    """A one-time link's token (the link is the workspace's /arbejde/opret/<token>)."""
    token = secrets.token_urlsafe(32)
    session.add(AccountLink(token_hash=token_hash(token), purpose=purpose, user_id=user.id if user else None,
                            created_at=now, expires_at=now + valid))
    session.flush()
    return token


def first_administrator_link(session: Session, now: datetime) -> str | None:
    """On a system without users: a fresh one-time link that creates the first administrator (earlier unused
    ones stop working). None once anyone has an account."""
    if session.scalar(select(func.count()).select_from(UserAccount)):
        return None
    session.execute(update(AccountLink).where(AccountLink.purpose == FIRST_ADMINISTRATOR,
                                              AccountLink.used_at.is_(None)).values(used_at=now))
    return new_link(session, FIRST_ADMINISTRATOR, now)


def find_link(session: Session, token: str, now: datetime) -> AccountLink | None:
    link = session.scalar(select(AccountLink).where(AccountLink.token_hash == token_hash(token)))
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    if link.purpose == FIRST_ADMINISTRATOR and session.scalar(select(func.count()).select_from(UserAccount)):
        return None
    return link


def take_link(session: Session, token: str, now: datetime) -> AccountLink:
    """Use a one-time link (once): the caller creates the administrator or sets the user's password."""
    link = find_link(session, token, now)
    if link is None:
        raise AccountError("Linket er brugt eller udløbet. / The link has been used or has expired.")
    link.used_at = now
    return link


@dataclass(frozen=True)
class PasswordCheck:
    user: UserAccount | None
    error: str | None  # for people; the same words for an unknown user and a wrong password


# one answer for an unknown user, a wrong password and a throttled attempt: it tells nobody who has an account
WRONG = ("Forkert brugernavn eller adgangskode – eller for mange forsøg; vent i så fald 15 minutter. / Wrong user "
         "name or password – or too many attempts; then wait 15 minutes.")
DISABLED = "Kontoen er lukket. Kontakt en administrator. / The account is disabled. Contact an administrator."


def check_password(session: Session, username: str, password: str, now: datetime) -> PasswordCheck:
    user = session.scalar(select(UserAccount).where(UserAccount.username == username.strip().lower()))
    if user is None or user.password_hash is None:
        _hasher.hash(password)  # as slow as a real check: the answer's timing does not tell who has an account
        return PasswordCheck(None, WRONG)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(None, WRONG)
    if user.disabled_at is not None:  # said only to someone who knows the password
        return PasswordCheck(None, DISABLED)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return PasswordCheck(user, None)


def open_session(session: Session, user: UserAccount, now: datetime, client: str | None) -> tuple[str, UserSession]:
    """A session after the password; it is verified by ``confirm_code``. Returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    row = UserSession(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                      created_at=now, last_seen_at=now, client=(client or "")[:64] or None,
                      pending_totp_secret=None if user.totp_secret else pyotp.random_base32())
    session.add(row)
    session.flush()
    return token, row


def totp_uri(secret: str, user: UserAccount) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Hjem til Os")


BAD_CODE = "Koden passer ikke. Prøv den nye kode fra din app. / The code is wrong. Try the next code from your app."


def confirm_code(user: UserAccount, row: UserSession, code: str, now: datetime) -> str | None:
    """Check the second factor (the one being set up, or the user's); None when it is right, else the error.
    Wrong codes are throttled by the workspace with the passwords (per user and client)."""
    secret = user.totp_secret or row.pending_totp_secret
    if not secret or not pyotp.TOTP(secret).verify(code.strip().replace(" ", ""), for_time=now, valid_window=1):
        return BAD_CODE
    if user.totp_secret is None:
        user.totp_secret, row.pending_totp_secret = secret, None
    user.failed_attempts, user.locked_until, user.last_sign_in_at = 0, None, now
    row.verified_at = now
    return None


@dataclass(frozen=True)
class SignedIn:
    user: UserAccount
    session: UserSession

    @property
    def is_administrator(self) -> bool:
        return self.user.role == Role.ADMINISTRATOR

    @property
    def actor_id(self) -> int | None:  # an audit.access.Actor
        return self.user.id

    @property
    def actor_name(self) -> str:
        return self.user.username


def signed_in(session: Session, token: str | None, now: datetime, idle: timedelta, lifetime: timedelta,
              verified: bool = True, touch: bool = True) -> SignedIn | None:
    """The session of a cookie, if it is open, not idle too long, not too old and its user not disabled (checked
    on every request, so disabling a user takes effect at once)."""
    if not token:
        return None
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    user = session.get(UserAccount, row.user_id)
    if user is None or user.disabled_at is not None or (verified and row.verified_at is None):
        return None
    if now - row.last_seen_at > idle or now - row.created_at > lifetime:
        row.ended_at = now
        return None
    if touch:
        row.last_seen_at = now
    return SignedIn(user, row)


def end_session(row: UserSession, now: datetime) -> None:
    row.ended_at = row.ended_at or now


def _end_all(session: Session, user: UserAccount, now: datetime) -> None:
    session.execute(update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                    .values(ended_at=now))


def get_user(session: Session, username: str) -> UserAccount:
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if user is None:
        raise AccountError(f"Ingen bruger hedder {username}. / No user is called {username}.")
    return user


def disable_user(session: Session, username: str, now: datetime, *, actor: str = "system") -> UserAccount:
    user = get_user(session, username)
    user.disabled_at = user.disabled_at or now
    _end_all(session, user, now)
    _log(session, now, actor, "user-disabled", user)
    return user


def reset_second_factor(session: Session, username: str, now: datetime, *, actor: str = "system") -> UserAccount:
    """The user sets up a new authenticator at their next sign-in; their open sessions end."""
    user = get_user(session, username)
    user.totp_secret = None
    _end_all(session, user, now)
    _log(session, now, actor, "user-2fa-reset", user)
    return user
