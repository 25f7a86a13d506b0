"""Intake: validate a referral, apply the eligibility rules and store the case in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casework.clock import local_date, local_year
from casework.eligibility import Assessment, FlagCode, Reason, assess
from casework.reference import format_reference
from casework.referral import Referral
from casework.steps import CaseStatus, Role, Step
from hjemtilos.db.models import AuditEvent, Child, Party, Placement, ReferenceCounter, ReferralCase
from hjemtilos.mail.contexts import NewReferral, ReferralReceipt
from hjemtilos.mail.outbox import Recipient, enqueue_mail
from hjemtilos.mail.render import Programme

if TYPE_CHECKING:
    from hjemtilos.app import App


class IntakeRejected(Exception):
    """The referral breaks one or more hard rules; nothing was stored."""

    def __init__(self, reasons: tuple[Reason, ...]) -> None:
        super().__init__("; ".join(f"{r.field}: {r.en}" for r in reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class StoredCase:
    case_id: int
    reference: str
    flags: tuple[FlagCode, ...]
    created_at: datetime


def next_reference(session: Session, year: int) -> str:
    """Reserve the next case number of ``year``; the row lock (or SQLite's write lock) serializes callers."""
    updated = session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.year == year)
        .values(last_number=ReferenceCounter.last_number + 1)
        .returning(ReferenceCounter.last_number)
    ).scalar_one_or_none()
    if updated is None:
        session.add(ReferenceCounter(year=year, last_number=1))
        session.flush()
        updated = 1
    return format_reference(year, updated)


def receive_referral(app: App, session: Session, referral: Referral, now: datetime, actor: str) -> StoredCase:
    """A referral from a caseworker (form, CLI, demo): stored, receipt to the referrer, notice to the coordinator."""
    from hjemtilos.cases.context import coordinator_recipient

    return register_referral(session, referral, now, app.programme, actor=actor,
                             coordinator=coordinator_recipient(app), inbox_link=app.settings.inbox_url())


def register_referral(
    session: Session, referral: Referral, now: datetime, programme: Programme, actor: str = "intake",
    coordinator: Recipient | None = None, inbox_link: str = "",
) -> StoredCase:
    """Store an eligible referral with its receipt mail, and with ``coordinator`` a new-referral mail to them
    (the reference and ``inbox_link`` only). Raises IntakeRejected and writes nothing otherwise.

    The caller owns the transaction (``with session_factory.begin() as session``).
    """
    assessment: Assessment = assess(referral, local_date(now))  # the age on the programme's day, not UTC's
    if not assessment.eligible or assessment.track is None:
        raise IntakeRejected(assessment.rejections)
    flags = tuple(flag.code for flag in assessment.flags)
    reference = next_reference(session, local_year(now))
    answers = referral.eligibility
    case = ReferralCase(
        reference=reference,
        status=CaseStatus.SCREENING,
        current_step=Step.SCREENING,
        step_since=now,
        track=assessment.track,
        needs_review=bool(flags),
        review_flags=[code.value for code in flags],
        created_at=now,
        updated_at=now,
    )
    case.child = Child(
        first_name=referral.child.first_name,
        last_name=referral.child.last_name,
        birth_date=referral.child.birth_date,
        gender=referral.child.gender,
        languages=list(referral.child.languages),
        local_area=referral.child.local_area,
        wants_volunteer_family=answers.child_wants_volunteer_family,
        wished_competences=list(referral.wished_competences),
        motivation=referral.child.motivation or None,
        description=referral.child.description or None,
        has_resources_to_start=answers.has_resources_to_start,
        can_say_yes_no=answers.can_say_yes_no,
        manages_toilet_alone=answers.manages_toilet_alone,
        concern_severe_acting_out=answers.severe_acting_out,
        concern_severe_psychiatric_diagnosis=answers.severe_psychiatric_diagnosis,
        concern_suicide_risk_or_self_harm=answers.suicide_risk_or_self_harm,
    )
    placement = referral.placement
    case.placement = Placement(
        kind=placement.kind,
        institution_name=placement.institution_name,
        child_has_parent_contact=placement.child_has_parent_contact,
        parents_back_referral=answers.parents_back_referral,
    )
    referrer = referral.referrer
    parties = [Party(role=Role.REFERRER, name=referrer.name, email=str(referrer.email), phone=referrer.phone,
                     language=referrer.language, unit=referrer.unit)]
    bbu = referral.bbu_contact or referrer
    parties.append(Party(role=Role.BBU_CONTACT, name=bbu.name, email=str(bbu.email), phone=bbu.phone,
                         language=bbu.language))
    for holder in referral.custody_holders:
        parties.append(Party(role=Role.CUSTODY_HOLDER if holder.has_custody else Role.PARENT, name=holder.name,
                             email=str(holder.email), phone=holder.phone, language=holder.language,
                             communicates_in_danish_or_english=holder.communicates_in_danish_or_english))
    if placement.contact_name and placement.contact_email:
        parties.append(Party(role=Role.PLACEMENT_CONTACT, name=placement.contact_name,
                             email=str(placement.contact_email), phone=placement.contact_phone,
                             language=placement.contact_language))
    case.parties = parties
    session.add(case)
    session.flush()
    session.add(AuditEvent(case_id=case.id, at=now, actor=actor, action="case-registered", step=Step.SCREENING,
                           detail={"reference": reference, "track": assessment.track.value,
                                   "flags": [code.value for code in flags]}))
    enqueue_mail(
        session,
        case_id=case.id,
        step=Step.SCREENING,
        recipient=Recipient(Role.REFERRER, referrer.name, str(referrer.email), referrer.language),
        context=ReferralReceipt(recipient_name=referrer.name, case_reference=reference,
                                child_first_name=referral.child.first_name),
        programme=programme,
        now=now,
        occurrence="receipt",
    )
    if coordinator is not None:
        enqueue_mail(session, case_id=case.id, step=Step.SCREENING, recipient=coordinator,
                     context=NewReferral(recipient_name=coordinator.name, case_reference=reference, link=inbox_link),
                     programme=programme, now=now, occurrence="new-referral")
    return StoredCase(case_id=case.id, reference=reference, flags=flags, created_at=now)


def find_case_id(session: Session, reference: str) -> int | None:
    return session.scalar(select(ReferralCase.id).where(ReferralCase.reference == reference))
