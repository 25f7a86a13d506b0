"""Reminders for a family's open screening task: e-learning to the family, certificates to the coordinator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.keys import approval_key
from casework.matching import family_reference
from casework.steps import Role
from hjemtilos.app import App
from hjemtilos.cases.context import coordinator_recipient
from hjemtilos.db.models import HumanTask, OutboxMail
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient, enqueue_mail, idempotency_key
from hjemtilos.volunteers.registry import load_family, status_of
from hjemtilos.volunteers.screening import FamilyStep

__all__ = ["RENEWAL_STEP", "family_reminder", "send_renewal_reminders"]

RENEWAL_STEP = "certificate-renewal"


def family_reminder(session: Session, app: App, task: HumanTask,
                    now: datetime) -> list[tuple[Recipient, mc.MailContext]]:
    family = load_family(session, task.family_id or 0)
    reference = family_reference(family.id)
    coordinator = coordinator_recipient(app)
    if task.key != approval_key(FamilyStep.FAMILY_APPROVAL):
        return [(coordinator, mc.CoordinatorReminder(recipient_name=coordinator.name, case_reference=reference,
                                                     task_title=task.title, waiting_since=task.created_at,
                                                     link=app.settings.inbox_url()))]
    status = status_of(family, local_date(now))
    mails: list[tuple[Recipient, mc.MailContext]] = []
    if not status.elearning_done:
        mails.append((Recipient(Role.VOLUNTEER_FAMILY, family.name, family.email, family.language, str(family.id)),
                      mc.VolunteerElearningReminder(recipient_name=family.name,
                                                    course_link=app.settings.elearning_url)))
    if status.missing_certificates:
        mails.append((coordinator, mc.VolunteerCertificatesReminder(recipient_name=coordinator.name,
                                                                    family_reference=reference,
                                                                    missing=status.missing_certificates)))
    return mails


def send_renewal_reminders(app: App, now: datetime) -> int:
    """Tell the coordinator, once per certificate (and per family's e-learning), that it falls due for renewal
    within the notice period (settings: certificate_renewal_years, certificate_notice_days). The mail's key names
    the family, the member, the certificate and the date the current one was received: a renewed certificate
    starts a new reminder, a restart repeats none. Returns how many were queued."""
    from hjemtilos.reports.facts import certificates, families
    from hjemtilos.reports.figures import renewals_due

    settings = app.settings
    coordinator = coordinator_recipient(app)
    with app.session_factory.begin() as session:
        today = local_date(now)
        due = renewals_due(certificates(session, today), families(session), today,
                           settings.certificate_renewal_years, settings.certificate_notice_days)
        occurrences = {f"family-{r.family_id}-member-{r.member_id}-{r.kind}-{r.received_on.isoformat()}": r
                       for r in due}
        keys = {idempotency_key(None, RENEWAL_STEP, coordinator, occurrence): occurrence
                for occurrence in occurrences}
        if not keys:
            return 0
        queued = set(session.scalars(select(OutboxMail.idempotency_key).where(OutboxMail.idempotency_key.in_(keys))))
        for key, occurrence in keys.items():
            if key in queued:
                continue
            renewal = occurrences[occurrence]
            enqueue_mail(session, case_id=None, step=RENEWAL_STEP, recipient=coordinator, programme=app.programme,
                         now=now, occurrence=occurrence, context=mc.CertificateRenewalDue(
                             recipient_name=coordinator.name, family_reference=renewal.family_reference,
                             what=renewal.kind, member_number=renewal.member_number, due_on=renewal.due_on,
                             link=settings.workspace_url(f"/familier/{renewal.family_id}")))
        return len(keys) - len(queued)
