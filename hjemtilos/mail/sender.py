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

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from casework.steps import MailStatus
from hjemtilos.db.models import HumanTask, OutboxMail

if TYPE_CHECKING:  # the emails package loads only where mail is sent (flow processes start faster)
    from emails.backend.smtp.backend import SMTPBackend

log = logging.getLogger(__name__)

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
    claim: timedelta = timedelta(seconds=60)  # one row at a time: a sender that dies holds back one mail this long
    ca_file: str | None = None  # CAs that vouch for the server under starttls/ssl; default: the system's

    def backend(self) -> SMTPBackend:
        """The ``emails`` backend; under starttls or ssl one that checks the server's certificate and name."""
        from emails.backend.smtp.backend import SMTPBackend

        login: dict[str, Any] = {"user": self.user, "password": self.password or ""} if self.user else {}
        if self.security == "none":
            return SMTPBackend(fail_silently=True, host=self.host, port=self.port, timeout=self.timeout, **login)
        from hjemtilos.mail.tls import VerifyingSMTPBackend

        return VerifyingSMTPBackend(ssl=self.security == "ssl", fail_silently=True, host=self.host, port=self.port,
                                    timeout=self.timeout, tls=self.security == "starttls", ca_file=self.ca_file,
                                    **login)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    delay: timedelta = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    return delay


def _claim_one(session_factory: sessionmaker[Session], now: datetime, lease: timedelta) -> int | None:
    """Claim the oldest due row, in a short transaction of its own. A row waits while an older mail to the same
    recipient of the same case is not yet sent (a reminder never overtakes the request it reminds of)."""
    earlier = aliased(OutboxMail)
    with session_factory.begin() as session:
        query = (
            select(OutboxMail.id)
            .where(
                or_(
                    (OutboxMail.status == MailStatus.PENDING) & (OutboxMail.next_attempt_at <= now),
                    (OutboxMail.status == MailStatus.SENDING) & (OutboxMail.claimed_until < now),
                ),
                ~exists().where(earlier.case_id == OutboxMail.case_id,
                                earlier.recipient_email == OutboxMail.recipient_email, earlier.id < OutboxMail.id,
                                earlier.status.in_((MailStatus.PENDING, MailStatus.SENDING))),
            )
            .order_by(OutboxMail.id)
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        mail_id = session.scalar(query)
        if mail_id is not None:
            session.execute(update(OutboxMail).where(OutboxMail.id == mail_id).values(
                status=MailStatus.SENDING, claimed_until=now + lease, attempts=OutboxMail.attempts + 1))
        return mail_id


def _reply_text(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code or ''} {text or ''}".strip()[:500]


def deliver_pending(
    session_factory: sessionmaker[Session], smtp: SmtpConfig, now: datetime, limit: int = 100
) -> DeliveryReport:
    """Send due rows, one claimed at a time, at most ``limit``. Safe to run concurrently and repeatedly. ``hjemtilos
    up`` is the one place that runs it (flow processes never send: a worker killed mid-step cannot leave a claim)."""
    report = DeliveryReport()
    backend = None
    try:
        for _ in range(limit):
            mail_id = _claim_one(session_factory, now, smtp.claim)
            if mail_id is None:
                break
            if backend is None:
                backend = smtp.backend()
            if not _send_one(session_factory, smtp, backend, mail_id, now, report):
                backend.close()  # start the next message on a fresh connection
    finally:
        if backend is not None:
            backend.close()
    return report


# mails about an open task (reminders, escalations): dropped at sending when the task has been closed meanwhile
ABOUT_AN_OPEN_TASK = frozenset({"consent-reminder", "coordinator-reminder", "coordinator-escalation",
                                "volunteer-certificates-reminder", "volunteer-elearning-reminder"})


def task_of(idempotency_key: str) -> tuple[int | None, int | None, str] | None:
    """(case id, family id, task key) of a reminder's or escalation's outbox key (hjemtilos.mail.outbox): the
    occurrence is ``<task key>:reminder-n`` or ``<task key>:escalation:…``, for a family
    ``family-<id>:<task key>:reminder-n``."""
    parts = idempotency_key.split(":", 3)
    if len(parts) < 4:
        return None
    scope, occurrence = parts[0], parts[3].split(":")
    case_id = int(scope.removeprefix("case-")) if scope.startswith("case-") else None
    if occurrence[0].startswith("family-") and len(occurrence) > 1:
        return case_id, int(occurrence[0].removeprefix("family-")), occurrence[1]
    return case_id, None, occurrence[0]


def _task_closed(session: Session, idempotency_key: str) -> bool:
    found = task_of(idempotency_key)
    if found is None:
        return False
    case_id, family_id, key = found
    if case_id is None and family_id is None:
        return False
    query = select(HumanTask.completed_at).where(HumanTask.key == key)
    query = query.where(HumanTask.case_id == case_id) if case_id is not None else \
        query.where(HumanTask.family_id == family_id)
    completed = session.execute(query).scalars().all()
    return bool(completed) and all(at is not None for at in completed)


def _send_one(session_factory: sessionmaker[Session], smtp: SmtpConfig, backend: SMTPBackend, mail_id: int,
              now: datetime, report: DeliveryReport) -> bool:
    from emails.message import Message

    with session_factory() as session:
        row = session.get(OutboxMail, mail_id)
        if row is None:
            return True
        if row.template in ABOUT_AN_OPEN_TASK and _task_closed(session, row.idempotency_key):
            # queued while SMTP was away, and the task was answered meanwhile: nobody needs reminding any more
            session.execute(update(OutboxMail).where(OutboxMail.id == mail_id).values(
                status=MailStatus.DROPPED, claimed_until=None, last_error="task closed before sending"))
            session.commit()
            return True
        message = Message(subject=row.subject, text=row.body_text, html=row.body_html,
                          mail_from=(smtp.mail_from_name, smtp.mail_from), message_id=row.message_id,
                          headers={"X-Hjemtilos-Template": row.template})
        recipient, attempts, template = (row.recipient_name, row.recipient_email), row.attempts, row.template
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
    this = update(OutboxMail).where(OutboxMail.id == mail_id)
    with session_factory.begin() as session:
        if ok:  # one statement right after the server's 250: the window for a second copy is as short as it gets
            session.execute(this.values(status=MailStatus.SENT, sent_at=now, smtp_reply=reply, last_error=None,
                                        claimed_until=None))
            report.sent.append(mail_id)
            status = MailStatus.SENT
        elif (code is not None and 500 <= code < 600) or attempts >= MAX_ATTEMPTS:
            session.execute(this.values(status=MailStatus.FAILED, last_error=reply or "permanent failure",
                                        claimed_until=None))
            report.failed.append(mail_id)
            status = MailStatus.FAILED
        else:
            session.execute(this.values(status=MailStatus.PENDING, last_error=reply or "temporary failure",
                                        next_attempt_at=now + backoff(attempts), claimed_until=None))
            report.retrying.append(mail_id)
            status = MailStatus.PENDING
    log.info("mail %s (%s): %s", mail_id, template, status)
    return ok
