"""``hjemtilos mail``: the outbox, the sender and the local mail catcher."""

from __future__ import annotations

import threading
from typing import Annotated

import typer
from rich.table import Table

from casework.steps import MailStatus
from hjemtilos.cli.common import build, err, local, now, out

__all__ = ["mail_app"]

mail_app = typer.Typer(help="Mail: the outbox, the sender and the local mail catcher.", no_args_is_help=True)


@mail_app.command("send")
def mail_send() -> None:
    """Deliver every due mail in the outbox once (the timekeeper does this on its own)."""
    from hjemtilos.mail.sender import deliver_pending

    application = build()
    report = deliver_pending(application.session_factory, application.smtp, now())
    out.print(f"sent {len(report.sent)}, retrying {len(report.retrying)}, failed {len(report.failed)}")
    if report.failed:
        raise typer.Exit(1)


@mail_app.command("outbox")
def mail_outbox(
    status: Annotated[MailStatus | None, typer.Option(help="Only rows with this status")] = None,
) -> None:
    """Show the outbox: what the system has queued, sent, or failed to send (with the server's reply)."""
    from sqlalchemy import select

    from hjemtilos.db.models import OutboxMail, ReferralCase

    application = build()
    with application.session_factory() as session:
        query = (select(OutboxMail, ReferralCase.reference)
                 .outerjoin(ReferralCase, ReferralCase.id == OutboxMail.case_id).order_by(OutboxMail.id))
        if status:
            query = query.where(OutboxMail.status == status)
        rows = session.execute(query).all()
    table = Table(title="Outbox")
    for column in ("ID", "Case", "Template", "To", "Status", "Tries", "Reply / error"):
        table.add_column(column, no_wrap=column != "Reply / error")
    for mail, reference in rows:
        table.add_row(str(mail.id), reference or "-", mail.template, mail.recipient_email, mail.status.value,
                      str(mail.attempts), mail.smtp_reply or mail.last_error or "")
    out.print(table)


@mail_app.command("list")
def mail_list() -> None:
    """List the mails the local mail catcher received."""
    from hjemtilos.mail.catcher import list_caught
    from hjemtilos.settings import Settings

    caught = list_caught(Settings().maildir)
    table = Table(title="Mail catcher")
    for column in ("ID", "Received (Copenhagen)", "To", "Subject"):
        table.add_column(column, no_wrap=column != "Subject")
    for index, mail in enumerate(caught, start=1):
        table.add_row(str(index), local(mail.received), mail.to, mail.subject)
    out.print(table)
    if not caught:
        out.print("No mail yet.")


@mail_app.command("show")
def mail_show(
    mail_id: Annotated[int, typer.Argument(help="The number shown by 'mail list'")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML body instead of the text body")] = False,
) -> None:
    """Show one caught mail: headers and body."""
    from hjemtilos.mail.catcher import list_caught
    from hjemtilos.settings import Settings

    caught = list_caught(Settings().maildir)
    if not 1 <= mail_id <= len(caught):
        err.print(f"No mail number {mail_id} (there are {len(caught)}).")
        raise typer.Exit(1)
    mail = caught[mail_id - 1]
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        out.print(f"{header}: {mail.message.get(header, '')}", markup=False, highlight=False)
    out.print()
    out.print(mail.html if html else mail.text, markup=False, highlight=False)


@mail_app.command("catcher")
def mail_catcher() -> None:
    """Run the local mail catcher in the foreground (Ctrl-C stops it)."""
    from hjemtilos.mail.catcher import start_catcher
    from hjemtilos.settings import Settings

    settings = Settings()
    controller = start_catcher(settings.maildir, settings.mail_catcher_host, settings.mail_catcher_port)
    out.print(f"Mail catcher on smtp://{settings.mail_catcher_host}:{settings.mail_catcher_port}, "
              f"storing in {settings.maildir}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
