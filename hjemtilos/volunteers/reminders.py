"""Reminders for a family's open screening task: e-learning to the family, certificates to the coordinator."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.matching import family_reference
from casework.steps import Role
from hjemtilos.app import App
from hjemtilos.cases.context import coordinator_recipient
from hjemtilos.db.models import HumanTask
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient
from hjemtilos.volunteers.registry import load_family, status_of
from hjemtilos.volunteers.screening import FamilyStep

__all__ = ["family_reminder"]


def family_reminder(session: Session, app: App, task: HumanTask,
                    now: datetime) -> list[tuple[Recipient, mc.MailContext]]:
    family = load_family(session, task.family_id or 0)
    reference = family_reference(family.id)
    coordinator = coordinator_recipient(app)
    if task.key != f"approval-{FamilyStep.FAMILY_APPROVAL}":
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
