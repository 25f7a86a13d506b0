"""Verified referrers: the referral form opens through a one-time link sent to a caseworker's address in an allowed
domain (e.g. the municipality's), so a referral and its receipt belong to a mailbox that was proven, and nobody can
use the form to send Red Barnet's mail to an address they typed. Only the token's SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.steps import Role
from hjemtilos.db.models import ReferrerLink
from hjemtilos.mail.contexts import ReferrerLink as ReferrerLinkMail
from hjemtilos.mail.outbox import Recipient, enqueue_mail
from hjemtilos.mail.render import Programme

__all__ = ["LinkRefused", "domain_allowed", "find_link", "request_link", "use_link"]


class LinkRefused(ValueError):
    """The address cannot have a link; the message is for people (Danish / English)."""

    def __init__(self, da: str, en: str) -> None:
        super().__init__(da)
        self.da, self.en = da, en


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def domain_allowed(email: str, domains: list[str]) -> bool:
    domain = email.rsplit("@", 1)[-1].lower()
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in domains)


def request_link(session: Session, email: str, now: datetime, *, domains: list[str], hours: int, form_url: str,
                 programme: Programme) -> str:
    """Store a link for ``email`` and queue its mail; LinkRefused when the address is malformed or foreign."""
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise LinkRefused("Skriv en gyldig e-mailadresse.", "Give a valid e-mail address.") from None
    if not domain_allowed(address, domains):
        allowed = ", ".join(domains)
        raise LinkRefused(f"Kun adresser hos {allowed} kan henvise her. Ring til Red Barnet, hvis du henviser fra "
                          "et andet sted.", f"Only addresses at {allowed} can refer here. Call Red Barnet if you "
                                            "refer from elsewhere.")
    token = secrets.token_urlsafe(32)
    link = ReferrerLink(token_hash=_hash(token), email=address, created_at=now,
                        expires_at=now + timedelta(hours=hours))
    session.add(link)
    session.flush()
    enqueue_mail(session, case_id=None, step="referral-form", recipient=Recipient(Role.REFERRER, "", address, "da",
                                                                                   key=address),
                 context=ReferrerLinkMail(recipient_name="sagsbehandler", link=f"{form_url}?adgang={token}", valid_hours=hours),
                 programme=programme, now=now, occurrence=f"link-{link.id}")
    return token


def find_link(session: Session, token: str, now: datetime) -> ReferrerLink | None:
    if not token:
        return None
    link = session.scalar(select(ReferrerLink).where(ReferrerLink.token_hash == _hash(token)))
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    return link


def use_link(session: Session, token: str, case_id: int, now: datetime) -> bool:
    """Mark the link used by this referral, once: False when another request used it first."""
    result = session.execute(update(ReferrerLink).where(ReferrerLink.token_hash == _hash(token),
                                                        ReferrerLink.used_at.is_(None))
                             .values(used_at=now, case_id=case_id))
    return bool(getattr(result, "rowcount", 0))
