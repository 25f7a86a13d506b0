"""The narrow facts the programme reports count, read from the case database in a few set-wise queries (no query
per case): one row per referral (live, anonymised, or a tally row left by retention), per match, per early
ending, per family and per certificate. Nothing here carries a name or a case number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.eligibility import age_on
from casework.families import needs_certificates
from casework.keys import any_scope, approval_key
from casework.steps import LIVE_MATCH, ApprovalKind, CaseStatus, FamilyStatus, MatchStatus, Role, Step, StepOutcome
from hjemtilos.db.models import (
    CaseEnding,
    Child,
    FamilyMember,
    HumanTask,
    Match,
    Party,
    Placement,
    ReferralCase,
    ReferralTally,
    VolunteerFamily,
)

__all__ = ["CertificateFact", "EndingFact", "FamilyFact", "MatchFact", "Outcome", "ReferralFact", "certificates",
           "endings", "families", "future_agreements", "matches", "referrals", "tally_of"]

SCREENING_KEY = approval_key(ApprovalKind.SCREENING)
FUTURE_KEY = any_scope(ApprovalKind.FUTURE_AGREEMENT)
AGREED_KEY = any_scope(ApprovalKind.MATCH_ANSWERS)


class Outcome(StrEnum):
    """What became of a referral at screening."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # closed before the screening decision
    AWAITING = "awaiting"  # the coordinator has not decided yet


@dataclass(frozen=True)
class ReferralFact:
    received_at: datetime | None  # None for a tally row (only its month is kept)
    month: date
    outcome: Outcome
    rejection_reason: str | None
    age: int
    track: str
    placement_kind: str
    flagged: bool
    referrer_unit: str | None
    local_area: str
    consent_at: datetime | None = None  # consent complete
    agreed_at: datetime | None = None  # the first match agreed by family and parents
    met_at: datetime | None = None  # the first meeting of a match that started


@dataclass(frozen=True)
class MatchFact:
    status: MatchStatus
    attempt: int
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class EndingFact:
    handled_at: datetime
    ended_by: str
    reason: str
    outcome: str  # rematch or closed


@dataclass(frozen=True)
class FamilyFact:
    id: int
    name: str  # for the coordinator's renewal list only, never in a figure
    status: FamilyStatus
    created_at: datetime
    approved_at: datetime | None
    local_area: str
    free_places: int
    open_step: str | None  # the screening task it waits on
    elearning_on: date | None


@dataclass(frozen=True)
class CertificateFact:
    family_id: int
    member_id: int  # 0: the family's e-learning
    member_number: int  # 1-based within the family, as the family page numbers them
    member_name: str  # for the coordinator's renewal list only
    kind: str  # child_certificate, criminal_record or elearning
    received_on: date | None


def _month(moment: datetime) -> date:
    return local_date(moment).replace(day=1)


def _outcome(status: CaseStatus, screening: str | None) -> Outcome:
    if screening == StepOutcome.APPROVED:
        return Outcome.ACCEPTED
    if screening == StepOutcome.REJECTED or status is CaseStatus.REJECTED:
        return Outcome.REJECTED
    if status is CaseStatus.SCREENING:
        return Outcome.AWAITING
    return Outcome.WITHDRAWN if status is CaseStatus.CLOSED else Outcome.ACCEPTED


def referrals(session: Session) -> list[ReferralFact]:
    """Every referral ever received: the cases in the database (anonymised ones included) and the tally rows of
    the referrals retention deleted."""
    referrer = (select(Party.case_id, func.min(Party.unit).label("unit")).where(Party.role == Role.REFERRER)
                .group_by(Party.case_id).subquery())
    screening = (select(HumanTask.case_id, HumanTask.outcome).where(HumanTask.key == SCREENING_KEY)
                 .where(HumanTask.case_id.is_not(None)).subquery())
    rows = session.execute(
        select(ReferralCase.id, ReferralCase.created_at, ReferralCase.status, ReferralCase.rejection_reason,
               ReferralCase.track, ReferralCase.needs_review, Child.birth_date, Child.local_area, Placement.kind,
               referrer.c.unit, screening.c.outcome)
        .join(Child, Child.case_id == ReferralCase.id)
        .join(Placement, Placement.case_id == ReferralCase.id, isouter=True)
        .join(referrer, referrer.c.case_id == ReferralCase.id, isouter=True)
        .join(screening, screening.c.case_id == ReferralCase.id, isouter=True)).all()
    consent = dict(session.execute(
        select(HumanTask.case_id, func.min(HumanTask.completed_at))
        .where(HumanTask.step == Step.CONSENT, HumanTask.outcome == StepOutcome.RECEIVED, HumanTask.case_id.is_not(None))
        .group_by(HumanTask.case_id)).tuples().all())
    agreed = dict(session.execute(
        select(HumanTask.case_id, func.min(HumanTask.completed_at))
        .where(HumanTask.key.like(AGREED_KEY), HumanTask.outcome == StepOutcome.AGREED, HumanTask.case_id.is_not(None))
        .group_by(HumanTask.case_id)).tuples().all())
    met = dict(session.execute(
        select(Match.case_id, func.min(Match.first_meeting_at))
        .where(Match.started_at.is_not(None), Match.first_meeting_at.is_not(None))
        .group_by(Match.case_id)).tuples().all())
    facts = [ReferralFact(
        received_at=created, month=_month(created), outcome=_outcome(status, screened), rejection_reason=reason,
        age=age_on(born, local_date(created)), track=track, placement_kind=kind or "home", flagged=review,
        referrer_unit=(unit or "").strip() or None, local_area=area.strip(), consent_at=consent.get(case_id),
        agreed_at=agreed.get(case_id), met_at=met.get(case_id))
        for case_id, created, status, reason, track, review, born, area, kind, unit, screened in rows]
    for tally in session.scalars(select(ReferralTally)):
        facts.append(ReferralFact(
            received_at=None, month=tally.month, outcome=Outcome(tally.outcome), rejection_reason=tally.rejection_reason,
            age=tally.age, track=tally.track, placement_kind=tally.placement_kind, flagged=tally.flagged,
            referrer_unit=tally.referrer_unit, local_area=tally.local_area))
    return facts


def tally_of(session: Session, case: ReferralCase, now: datetime) -> ReferralTally:
    """The row that keeps a deleted referral in the statistics (added by the caller in the deleting transaction)."""
    screened = session.scalar(select(HumanTask.outcome).where(HumanTask.case_id == case.id,
                                                              HumanTask.key == SCREENING_KEY))
    unit = next((p.unit for p in case.parties if p.role == Role.REFERRER and p.unit), None)
    return ReferralTally(
        month=_month(case.created_at), outcome=_outcome(case.status, screened).value,
        rejection_reason=case.rejection_reason, age=age_on(case.child.birth_date, local_date(case.created_at)),
        track=case.track, placement_kind=case.placement.kind if case.placement is not None else "home",
        flagged=case.needs_review, referrer_unit=(unit or "").strip() or None, local_area=case.child.local_area.strip(),
        recorded_at=now)


def matches(session: Session) -> list[MatchFact]:
    return [MatchFact(status, attempt, started, ended) for status, attempt, started, ended in session.execute(
        select(Match.status, Match.attempt, Match.started_at, Match.ended_at)).tuples()]


def endings(session: Session) -> list[EndingFact]:
    return [EndingFact(handled, ended_by.value, reason, outcome or "closed")
            for handled, ended_by, reason, outcome in session.execute(
                select(CaseEnding.handled_at, CaseEnding.ended_by, CaseEnding.reason, CaseEnding.outcome)
                .where(CaseEnding.handled_at.is_not(None))).tuples() if handled is not None]


def future_agreements(session: Session) -> list[tuple[datetime, str]]:
    """When each future agreement was recorded, and what it said (casework.steps.Continuation)."""
    return [(at, outcome) for at, outcome in session.execute(
        select(HumanTask.completed_at, HumanTask.outcome)
        .where(HumanTask.key.like(FUTURE_KEY), HumanTask.completed_at.is_not(None),
               HumanTask.outcome.is_not(None))).tuples() if at is not None and outcome is not None]


def families(session: Session) -> list[FamilyFact]:
    live = dict(session.execute(select(Match.family_id, func.count()).where(Match.status.in_(LIVE_MATCH))
                                .group_by(Match.family_id)).tuples().all())
    waiting = dict(session.execute(
        select(HumanTask.family_id, func.min(HumanTask.step))
        .where(HumanTask.family_id.is_not(None), HumanTask.completed_at.is_(None))
        .group_by(HumanTask.family_id)).tuples().all())
    return [FamilyFact(fid, name, status, created, approved, area.strip(), max(0, capacity - live.get(fid, 0))
                       if status is FamilyStatus.APPROVED else 0, waiting.get(fid), elearning)
            for fid, name, status, created, approved, area, capacity, elearning in session.execute(
                select(VolunteerFamily.id, VolunteerFamily.name, VolunteerFamily.status, VolunteerFamily.created_at,
                       VolunteerFamily.approved_at, VolunteerFamily.local_area, VolunteerFamily.capacity,
                       VolunteerFamily.elearning_completed_on)).tuples()]


def certificates(session: Session, today: date) -> list[CertificateFact]:
    """The certificates of every member of an approved family who needs them (the screening's rule: aged 15 or
    over), and each approved family's e-learning. A certificate with a remark counts as missing."""
    rows = session.execute(
        select(FamilyMember.family_id, FamilyMember.id, FamilyMember.name, FamilyMember.birth_date,
               FamilyMember.child_certificate_received_on,
               FamilyMember.child_certificate_clear, FamilyMember.criminal_record_received_on,
               FamilyMember.criminal_record_clear)
        .join(VolunteerFamily, and_(VolunteerFamily.id == FamilyMember.family_id,
                                    VolunteerFamily.status == FamilyStatus.APPROVED))
        .order_by(FamilyMember.family_id, FamilyMember.id)).tuples().all()
    facts: list[CertificateFact] = []
    number: dict[int, int] = {}
    for family_id, member_id, name, born, child_on, child_clear, record_on, record_clear in rows:
        number[family_id] = number.get(family_id, 0) + 1
        if not needs_certificates(born, today):
            continue
        facts.append(CertificateFact(family_id, member_id, number[family_id], name, "child_certificate",
                                     child_on if child_clear is not False else None))
        facts.append(CertificateFact(family_id, member_id, number[family_id], name, "criminal_record",
                                     record_on if record_clear is not False else None))
    for family in session.scalars(select(VolunteerFamily).where(VolunteerFamily.status == FamilyStatus.APPROVED)):
        facts.append(CertificateFact(family.id, 0, 0, "", "elearning", family.elearning_completed_on))
    return facts
