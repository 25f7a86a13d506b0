"""The programme-wide group supervision: every active family is invited once per round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from casework.durations import Duration
from casework.steps import MatchStatus, Role
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, Match, VolunteerFamily
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient, enqueue_mail

__all__ = ["SUPERVISION_ANCHOR", "next_session", "send_supervision_invitations", "supervision_round"]

SUPERVISION_ANCHOR = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)  # a Monday; rounds count from here


def supervision_round(every: Duration, now: datetime) -> tuple[int, datetime]:
    """The programme-wide supervision round ``now`` falls in, and when it started."""
    if every.months:
        months = (now.year - SUPERVISION_ANCHOR.year) * 12 + now.month - SUPERVISION_ANCHOR.month
        number = max(months // every.months, 0)
        start = Duration(months=number * every.months).after(SUPERVISION_ANCHOR)
        if start > now and number > 0:
            number -= 1
            start = Duration(months=number * every.months).after(SUPERVISION_ANCHOR)
        return number, start
    seconds = max((now - SUPERVISION_ANCHOR).total_seconds(), 0.0)
    number = int(seconds // every.seconds)
    return number, SUPERVISION_ANCHOR + timedelta(seconds=number * every.seconds)


def _session_of(every: Duration, start: datetime) -> datetime:
    """A round's online session: two weeks into the round (half a round in the fast profile)."""
    return start + timedelta(days=14) if every.months else start + timedelta(seconds=every.seconds / 2)


def next_session(every: Duration, now: datetime) -> tuple[int, datetime]:
    """The round whose session is still to come at ``now``, and when its session is: this round's, or the next
    round's once this one's session is over."""
    number, start = supervision_round(every, now)
    session_at = _session_of(every, start)
    if session_at <= now:
        number += 1
        start = Duration(months=number * every.months).after(SUPERVISION_ANCHOR) if every.months else \
            SUPERVISION_ANCHOR + timedelta(seconds=number * every.seconds)
        session_at = _session_of(every, start)
    return number, session_at


def send_supervision_invitations(app: App, now: datetime) -> int:
    """Invite every family with an active match to the next group supervision still to come, once per round."""
    number, session_at = next_session(app.profile.timings.supervision_every, now)
    sent = 0
    with app.session_factory.begin() as session:
        families = session.scalars(select(VolunteerFamily).where(VolunteerFamily.id.in_(
            select(Match.family_id).where(Match.status == MatchStatus.ACTIVE)))).all()
        for family in families:
            recipient = Recipient(Role.VOLUNTEER_FAMILY, family.name, family.email, family.language, str(family.id))
            before = session.scalar(select(AuditEvent.id).where(
                AuditEvent.family_id == family.id, AuditEvent.action == "supervision-invited",
                AuditEvent.step == f"supervision-{number}"))
            if before is not None:
                continue
            enqueue_mail(session, case_id=None, step="supervision", recipient=recipient,
                         context=mc.SupervisionInvitation(recipient_name=family.name, session_at=session_at,
                                                          join_link=app.settings.supervision_url),
                         programme=app.programme, now=now, occurrence=f"round-{number}")
            session.add(AuditEvent(family_id=family.id, at=now, actor="timekeeper", action="supervision-invited",
                                   step=f"supervision-{number}", detail=None))
            sent += 1
    return sent
