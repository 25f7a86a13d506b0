"""The outbox and the sender against a real SMTP server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hjemtilos.db.models import OutboxMail
from hjemtilos.mail.catcher import list_caught, start_catcher
from hjemtilos.mail.contexts import ConsentReminder, ReferralReceipt
from hjemtilos.mail.outbox import Recipient, enqueue_mail
from hjemtilos.mail.render import Programme
from hjemtilos.mail.sender import SmtpConfig, deliver_pending
from tests.support import SmtpServer, free_port

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PROGRAMME = Programme(phone="+45 35 36 55 55", email="hjemtilos@redbarnet.dk")


def smtp_for(port: int) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, timeout=5, mail_from="hjemtilos@redbarnet.dk",
                      mail_from_name="Red Barnet – Hjem til Os")


def queue(session_factory: sessionmaker[Session], count: int, language: str = "da", email_of=None) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with session_factory.begin() as session:
        for n in range(count):
            email = email_of(n) if email_of else f"modtager{n}@example.dk"
            row = enqueue_mail(
                session, case_id=None, step="screening",
                recipient=Recipient("referrer", f"Søren Ærø {n}", email, language, key=str(n)),
                context=ReferralReceipt(recipient_name=f"Søren Ærø {n}", case_reference=f"HTO-2026-{n + 1:04d}",
                                        child_first_name="Åse"),
                programme=PROGRAMME, now=NOW)
            ids.append(row.id)
    return ids


def statuses(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        return dict(session.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())  # type: ignore[arg-type]


def test_delivered_mail_has_headers_both_bodies_and_utf8(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as session:
        enqueue_mail(session, case_id=None, step="consent",
                     recipient=Recipient("referrer", "Jonas Bæk", "jonas@bbu.kk.dk", "da"),
                     context=ConsentReminder(recipient_name="Jonas Bæk", case_reference="HTO-2026-0007",
                                             child_first_name="Ærlige Øjvind",
                                             missing_from=("Åse Ørsted",), requested_on=NOW.date()),
                     programme=PROGRAMME, now=NOW)
    report = deliver_pending(session_factory, smtp_for(smtp_server.port), NOW)
    assert len(report.sent) == 1 and not report.failed and not report.retrying
    [received] = smtp_server.received
    assert received.rcpt_tos == ["jonas@bbu.kk.dk"]
    assert received.mail_from == "hjemtilos@redbarnet.dk"
    message = received.message
    assert str(message["Subject"]) == "Påmindelse: samtykke mangler (HTO-2026-0007)"
    assert "Jonas Bæk" in str(message["To"]) and "jonas@bbu.kk.dk" in str(message["To"])
    assert "Red Barnet" in str(message["From"])
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Kære Jonas Bæk" in text and "- Åse Ørsted" in text
    assert "<li>Åse Ørsted</li>" in html and "Kære Jonas Bæk" in html
    with session_factory() as session:
        row = session.scalars(select(OutboxMail)).one()
        assert row.status == "sent" and row.sent_at == NOW
        assert row.smtp_reply and row.smtp_reply.startswith("250")
        assert str(message["Message-ID"]) == row.message_id


def test_english_recipient_gets_english(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    queue(session_factory, 1, language="en")
    deliver_pending(session_factory, smtp_for(smtp_server.port), NOW)
    assert smtp_server.received[0].message["Subject"].startswith("We have received the referral")


def test_enqueue_and_send_again_creates_and_sends_nothing_new(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    first = queue(session_factory, 3)
    again = queue(session_factory, 3)  # the step runs again (a re-executed flow)
    assert first == again
    deliver_pending(session_factory, smtp_for(smtp_server.port), NOW)
    deliver_pending(session_factory, smtp_for(smtp_server.port), NOW + timedelta(hours=2))
    assert len(smtp_server.received) == 3
    assert statuses(session_factory) == {"sent": 3}


def test_smtp_outage_mid_batch_then_every_mail_exactly_once(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    queue(session_factory, 6)
    smtp = smtp_for(smtp_server.port)

    delivered = {"count": 0}
    original = smtp_server.handler.handle_DATA

    async def stop_after_three(server, session, envelope):  # type: ignore[no-untyped-def]
        reply = await original(server, session, envelope)
        delivered["count"] += 1
        return reply

    smtp_server.handler.handle_DATA = stop_after_three  # type: ignore[method-assign]
    # deliver the first three, then the server goes away mid-batch
    report = deliver_pending(session_factory, smtp, NOW, limit=3)
    assert len(report.sent) == 3
    smtp_server.stop()
    report = deliver_pending(session_factory, smtp, NOW)
    assert report.sent == [] and len(report.retrying) == 3
    assert statuses(session_factory) == {"sent": 3, "pending": 3}
    with session_factory() as session:
        waiting = session.scalars(select(OutboxMail).where(OutboxMail.status == "pending")).all()
        assert all(row.next_attempt_at > NOW and row.last_error for row in waiting)
    # before the backoff has passed nothing is retried, even with the server back
    smtp_server.start()
    assert deliver_pending(session_factory, smtp, NOW).sent == []
    report = deliver_pending(session_factory, smtp, NOW + timedelta(minutes=5))
    assert len(report.sent) == 3
    assert statuses(session_factory) == {"sent": 6}
    recipients = sorted(r.rcpt_tos[0] for r in smtp_server.received)
    assert recipients == sorted(f"modtager{n}@example.dk" for n in range(6))
    assert delivered["count"] == 6


def test_server_dying_inside_a_batch(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    queue(session_factory, 5)
    smtp = smtp_for(smtp_server.port)
    original = smtp_server.handler.handle_DATA
    count = {"n": 0}

    async def die_after_two(server, session, envelope):  # type: ignore[no-untyped-def]
        count["n"] += 1
        if count["n"] > 2:
            server.transport.close()  # the connection drops in the middle of the conversation
            return "421 going away"
        return await original(server, session, envelope)

    smtp_server.handler.handle_DATA = die_after_two  # type: ignore[method-assign]
    report = deliver_pending(session_factory, smtp, NOW)
    assert len(report.sent) == 2 and len(report.retrying) == 3 and not report.failed
    smtp_server.handler.handle_DATA = original  # type: ignore[method-assign]
    later = NOW + timedelta(minutes=5)
    assert len(deliver_pending(session_factory, smtp, later).sent) == 3
    assert deliver_pending(session_factory, smtp, later + timedelta(hours=1)).sent == []
    assert len(smtp_server.received) == 5
    assert len({r.rcpt_tos[0] for r in smtp_server.received}) == 5


def test_550_marks_the_row_failed_and_visible(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    smtp_server.handler.reject.add("modtager1@example.dk")
    queue(session_factory, 3)
    report = deliver_pending(session_factory, smtp_for(smtp_server.port), NOW)
    assert len(report.sent) == 2 and len(report.failed) == 1
    with session_factory() as session:
        failed = session.scalars(select(OutboxMail).where(OutboxMail.status == "failed")).one()
        assert failed.recipient_email == "modtager1@example.dk"
        assert failed.last_error and "550" in failed.last_error
    # a failed row is not retried
    assert deliver_pending(session_factory, smtp_for(smtp_server.port), NOW + timedelta(days=1)).failed == []
    assert len(smtp_server.received) == 2


def test_crashed_sender_lease_expires_and_the_row_is_sent(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    [mail_id] = queue(session_factory, 1)
    with session_factory.begin() as session:  # a sender claimed it and died before sending
        row = session.get(OutboxMail, mail_id)
        row.status, row.claimed_until, row.attempts = "sending", NOW + timedelta(minutes=5), 1
    smtp = smtp_for(smtp_server.port)
    assert deliver_pending(session_factory, smtp, NOW).sent == []
    assert deliver_pending(session_factory, smtp, NOW + timedelta(minutes=6)).sent == [mail_id]
    assert len(smtp_server.received) == 1


def test_mail_catcher_stores_and_lists(session_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    controller = start_catcher(tmp_path / "maildir", "127.0.0.1", port)
    try:
        queue(session_factory, 2)
        report = deliver_pending(session_factory, smtp_for(port), NOW)
        assert len(report.sent) == 2
    finally:
        controller.stop()
    caught = list_caught(tmp_path / "maildir")
    assert len(caught) == 2
    assert {m.subject for m in caught} == {"Vi har modtaget henvisningen (HTO-2026-0001)",
                                           "Vi har modtaget henvisningen (HTO-2026-0002)"}
    assert all("Kære Søren Ærø" in m.text and "<p>" in m.html for m in caught)


def _case(session_factory: sessionmaker[Session]) -> int:
    from hjemtilos.referrals.intake import register_referral
    from tests.support import example_referral

    with session_factory.begin() as session:
        return register_referral(session, example_referral(), NOW, PROGRAMME).case_id


def test_a_reminder_never_overtakes_the_mail_it_reminds_of(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    case_id = _case(session_factory)
    parent = Recipient("custody_holder", "Maria Hansen", "maria@example.dk", "da", key="7")

    def queue_for_parent(occurrence: str, at: datetime) -> OutboxMail:
        with session_factory.begin() as session:
            return enqueue_mail(session, case_id=case_id, step="consent", recipient=parent, programme=PROGRAMME,
                                now=at, occurrence=occurrence,
                                context=ReferralReceipt(recipient_name="Maria", case_reference="HTO-2026-0001",
                                                        child_first_name=occurrence))

    request = queue_for_parent("request", NOW)
    smtp_server.stop()  # the request's first attempt fails: it waits 30 s for its retry
    assert request.id in deliver_pending(session_factory, smtp_for(smtp_server.port), NOW).retrying
    smtp_server.start()
    reminder = queue_for_parent("reminder-1", NOW + timedelta(seconds=5))  # due while the request waits
    report = deliver_pending(session_factory, smtp_for(smtp_server.port), NOW + timedelta(seconds=5))
    assert report.sent == [] and smtp_server.received == []  # the reminder waits behind the request
    sent = deliver_pending(session_factory, smtp_for(smtp_server.port), NOW + timedelta(minutes=2)).sent
    assert {request.id, reminder.id} <= set(sent)
    to_parent = [r.message["Message-ID"] for r in smtp_server.received if r.rcpt_tos == ["maria@example.dk"]]
    assert to_parent == [request.message_id, reminder.message_id]


def test_a_sender_that_dies_holds_back_one_mail_for_a_minute(session_factory, smtp_server: SmtpServer) -> None:  # type: ignore[no-untyped-def]
    from hjemtilos.mail.sender import _claim_one

    lease = smtp_for(smtp_server.port).claim
    queue(session_factory, 3)
    claimed = _claim_one(session_factory, NOW, lease)  # ... and the sender is killed before it sends
    with session_factory() as session:
        status = dict(session.execute(select(OutboxMail.id, OutboxMail.status)).tuples().all())
    assert sorted(status.values()) == ["pending", "pending", "sending"] and status[claimed] == "sending"
    assert timedelta(minutes=1) >= lease
    report = deliver_pending(session_factory, smtp_for(smtp_server.port), NOW + timedelta(seconds=1))
    assert claimed not in report.sent and len(report.sent) == 2  # the others go at once
    report = deliver_pending(session_factory, smtp_for(smtp_server.port), NOW + lease + timedelta(seconds=1))
    assert report.sent == [claimed] and len(smtp_server.received) == 3
