"""The outbox: a mail is rendered and written as a row in the same transaction as the step that caused it.

The idempotency key makes enqueueing a no-op when the step runs again, so a re-executed flow or task never
creates a second copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hjemtilos.db.models import OutboxMail
from hjemtilos.mail.contexts import MailContext
from hjemtilos.mail.render import Programme, render

MESSAGE_ID_DOMAIN = "hjemtilos.redbarnet.dk"


@dataclass(frozen=True)
class Recipient:
    role: str
    name: str
    email: str
    language: str = "da"
    key: str = ""  # distinguishes recipients of the same role, e.g. the party id


def idempotency_key(case_id: int | None, step: str, recipient: Recipient, occurrence: str | int = 1) -> str:
    scope = f"case-{case_id}" if case_id is not None else "programme"
    who = f"{recipient.role}-{recipient.key}" if recipient.key else recipient.role
    return f"{scope}:{step}:{who}:{occurrence}"


def message_id_for(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def enqueue_mail(
    session: Session,
    *,
    case_id: int | None,
    step: str,
    recipient: Recipient,
    context: MailContext,
    programme: Programme,
    now: datetime,
    occurrence: str | int = 1,
) -> OutboxMail:
    """Render and store one mail unless a mail with the same key exists. Does not commit."""
    key = idempotency_key(case_id, step, recipient, occurrence)
    existing = session.scalar(select(OutboxMail).where(OutboxMail.idempotency_key == key))
    if existing is not None:
        return existing
    row = _outbox_row(key, case_id, step, recipient, context, programme, now)
    session.add(row)
    session.flush()
    return row


def _outbox_row(key: str, case_id: int | None, step: str, recipient: Recipient, context: MailContext,
                programme: Programme, now: datetime) -> OutboxMail:
    rendered = render(context, recipient.language, programme)
    return OutboxMail(
        idempotency_key=key,
        case_id=case_id,
        step=step,
        recipient_role=recipient.role,
        recipient_name=recipient.name,
        recipient_email=recipient.email,
        template=rendered.template,
        language=rendered.language,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        message_id=message_id_for(key),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


@dataclass(frozen=True)
class _Pending:
    key: str
    case_id: int | None
    step: str
    recipient: Recipient
    context: MailContext


class OutboxBatch:
    """Many mails for one transaction (the timekeeper's reminders): one query finds the keys already in the
    outbox, the rest are added at once and inserted in the transaction's single flush. Same idempotency keys
    as :func:`enqueue_mail`."""


    def __init__(self, session: Session, programme: Programme, now: datetime) -> None:
        self._session, self._programme, self._now = session, programme, now
        self._pending: dict[str, _Pending] = {}

    def add(self, *, case_id: int | None, step: str, recipient: Recipient, context: MailContext,
            occurrence: str | int = 1) -> None:
        key = idempotency_key(case_id, step, recipient, occurrence)
        self._pending.setdefault(key, _Pending(key, case_id, step, recipient, context))

    def write(self) -> int:
        """Insert the mails not yet in the outbox; return how many."""
        if not self._pending:
            return 0
        keys = list(self._pending)
        existing: set[str] = set()
        for start in range(0, len(keys), 1000):
            existing.update(self._session.scalars(select(OutboxMail.idempotency_key).where(
                OutboxMail.idempotency_key.in_(keys[start:start + 1000]))))
        columns = [c.key for c in OutboxMail.__table__.columns if c.key != "id"]
        new = [{name: getattr(row, name) for name in columns} for row in (
            _outbox_row(p.key, p.case_id, p.step, p.recipient, p.context, self._programme, self._now)
            for key, p in self._pending.items() if key not in existing)]
        if new:  # one executemany: the ORM would insert row by row to fetch ids nobody needs here
            self._session.execute(insert(OutboxMail), new)
        self._pending.clear()
        return len(new)
