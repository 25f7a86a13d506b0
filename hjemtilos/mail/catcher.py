"""The local mail catcher: an aiosmtpd server on loopback that stores every message in a maildir."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = maildir
        mailbox.Maildir(str(maildir), create=True)  # creates cur/, new/ and tmp/

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        header = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        mailbox.Maildir(str(self.maildir), create=True).add(header + content)
        return "250 Message accepted for delivery"


def start_catcher(maildir: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    controller = Controller(MaildirHandler(maildir), hostname=host, port=port, decode_data=False)
    controller.start()
    return controller


@dataclass(frozen=True)
class CaughtMail:
    id: str
    received: datetime | None
    to: str
    subject: str
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


def list_caught(maildir: Path) -> list[CaughtMail]:
    if not maildir.exists():
        return []
    box = mailbox.Maildir(str(maildir), create=False)
    result = []
    parser = BytesParser(policy=policy.default)
    for key in box.keys():  # noqa: SIM118 - iterating a Maildir yields messages, keys() the keys
        message = parser.parsebytes(box.get_bytes(key))
        if not isinstance(message, EmailMessage):  # policy.default always parses to EmailMessage
            continue
        date_header = message.get("Date")
        received = parsedate_to_datetime(date_header) if date_header else None
        result.append(CaughtMail(key, received, str(message.get("To", "")), str(message.get("Subject", "")), message))
    result.sort(key=lambda m: (m.received.timestamp() if m.received else 0.0, m.id))
    return result
