"""Deliver pending outbox rows over SMTP with the ``emails`` package.

Each row is claimed (status ``sending`` with a lease) in its own short transaction before it is sent and
marked ``sent`` right after the server's 250, so a crash between the two can at worst resend a message
with the *same* Message-ID, never lose one. Transient failures (no connection, 4xx) are retried with
exponential backoff; permanent ones (5xx) mark the row ``failed`` with the server's reply.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from casework.steps import MailStatus
from hjemtilos.db.models import OutboxMail

if TYPE_CHECKING:  # the emails package loads only where mail is sent (flow processes start faster)
    from emails.backend.smtp.backend import SMTPBackend

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str = "none"  # none | starttls | ssl
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0
    mail_from: str = "hjemtilos@redbarnet.dk"
    mail_from_name: str = "Red Barnet – Hjem til Os"

    def backend(self) -> SMTPBackend:
        from emails.backend.smtp.backend import SMTPBackend

        login: dict[str, Any] = {"user": self.user, "password": self.password or ""} if self.user else {}
        return SMTPBackend(ssl=self.security == "ssl", fail_silently=True, host=self.host, port=self.port,
                           timeout=self.timeout, tls=self.security == "starttls", **login)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    delay: timedelta = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return delay


def _claim(session_factory: sessionmaker[Session], now: datetime, limit: int) -> list[int]:
    with session_factory.begin() as session:
        query = (
            select(OutboxMail.id)
            .where(
                or_(
                    (OutboxMail.status == MailStatus.PENDING) & (OutboxMail.next_attempt_at <= now),
                    (OutboxMail.status == MailStatus.SENDING) & (OutboxMail.claimed_until < now),
                )
            )
            .order_by(OutboxMail.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id.in_(ids))
                .values(status=MailStatus.SENDING, claimed_until=now + CLAIM_LEASE, attempts=OutboxMail.attempts + 1)
            )
        return ids


def _reply_text(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code or ''} {text or ''}".strip()[:500]


def deliver_pending(
    session_factory: sessionmaker[Session], smtp: SmtpConfig, now: datetime, limit: int = 100
) -> DeliveryReport:
    """Send every due pending row once. Safe to run concurrently and repeatedly."""
    report = DeliveryReport()
    ids = _claim(session_factory, now, limit)
    if not ids:
        return report
    from emails.message import Message

    backend = smtp.backend()
    try:
        for mail_id in ids:
            with session_factory() as session:
                row = session.get(OutboxMail, mail_id)
                assert row is not None
                message = Message(
                    subject=row.subject,
                    text=row.body_text,
                    html=row.body_html,
                    mail_from=(smtp.mail_from_name, smtp.mail_from),
                    message_id=row.message_id,
                    headers={"X-Hjemtilos-Template": row.template},
                )
                recipient = (row.recipient_name, row.recipient_email)
                attempts = row.attempts
            code: int | None = None
            reply = ""
            try:
                response = message.send(to=recipient, smtp=backend)
                code = response.status_code if response is not None else None
                reply = _reply_text(code, response.status_text if response is not None else None)
                ok = response is not None and response.success
                if not ok and response is not None and response.error is not None and not reply:
                    reply = str(response.error)[:500]
            except (smtplib.SMTPException, OSError) as exc:  # connection lost mid-conversation
                ok = False
                reply = f"{type(exc).__name__}: {exc}"[:500]
            if not ok:
                backend.close()  # start the next message on a fresh connection
            with session_factory.begin() as session:
                row = session.get(OutboxMail, mail_id)
                assert row is not None
                if ok:
                    row.status, row.sent_at, row.smtp_reply, row.last_error = MailStatus.SENT, now, reply, None
                    report.sent.append(mail_id)
                elif (code is not None and 500 <= code < 600) or attempts >= MAX_ATTEMPTS:
                    row.status, row.last_error = MailStatus.FAILED, reply or "permanent failure"
                    report.failed.append(mail_id)
                else:
                    row.status, row.last_error = MailStatus.PENDING, reply or "temporary failure"
                    row.next_attempt_at = now + backoff(attempts)
                    report.retrying.append(mail_id)
                row.claimed_until = None
            log.info("mail %s (%s): %s", mail_id, row.template, row.status)
    finally:
        backend.close()
    return report
