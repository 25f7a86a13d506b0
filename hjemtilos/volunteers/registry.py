"""Volunteer families in the case database: registration, what their screening still needs, their run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.families import (
    CompositionError,
    FamilyRegistration,
    MemberRecord,
    ScreeningStatus,
    composition_errors,
    screening_status,
)
from casework.matching import family_reference
from casework.steps import FamilyStatus
from hjemtilos.app import App
from hjemtilos.db.models import AuditEvent, FamilyMember, VolunteerFamily

__all__ = ["FamilyInfo", "FamilyRejected", "StoredFamily", "family_info", "family_run_key", "load_family",
           "members_of", "record_family_run", "register_family", "status_of"]


class FamilyRejected(Exception):
    def __init__(self, errors: list[CompositionError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.en}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class StoredFamily:
    family_id: int
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class FamilyInfo:
    family_id: int
    reference: str
    status: FamilyStatus


def family_run_key(reference: str, created_at: datetime) -> str:
    return f"{reference}:{created_at.isoformat()}"


def register_family(session: Session, registration: FamilyRegistration, now: datetime,
                    actor: str = "intake") -> StoredFamily:
    errors = composition_errors(registration, local_date(now))
    if errors:
        raise FamilyRejected(errors)
    family = VolunteerFamily(
        name=registration.name, email=str(registration.email), phone=registration.phone,
        language=registration.language, address=registration.address, local_area=registration.local_area,
        languages=list(registration.languages), capacity=registration.capacity,
        wish_age_min=registration.wish_age_min, wish_age_max=registration.wish_age_max,
        wish_gender=registration.wish_gender, competences=list(registration.competences),
        status=FamilyStatus.SCREENING, created_at=now,
        members=[FamilyMember(name=m.name, birth_date=m.birth_date, is_volunteer=m.role == "volunteer",
                              lives_at_home=m.lives_at_home) for m in registration.members],
    )
    session.add(family)
    session.flush()
    session.add(AuditEvent(family_id=family.id, at=now, actor=actor, action="family-registered", step="screening",
                           detail={"reference": family_reference(family.id), "members": len(registration.members)}))
    return StoredFamily(family.id, family_reference(family.id), now)


def record_family_run(app: App, family_id: int, flow_run_id: str) -> None:
    with app.session_factory.begin() as session:
        family = session.get(VolunteerFamily, family_id)
        if family is not None and family.flow_run_id is None:
            family.flow_run_id = flow_run_id


def family_info(app: App, family_id: int) -> FamilyInfo:
    with app.session_factory() as session:
        family = load_family(session, family_id)
        return FamilyInfo(family.id, family_reference(family.id), family.status)


def load_family(session: Session, family_id: int) -> VolunteerFamily:
    family = session.get(VolunteerFamily, family_id)
    if family is None:
        raise LookupError(f"no volunteer family with id {family_id}")
    return family


def members_of(family: VolunteerFamily) -> list[FamilyMember]:
    return sorted(family.members, key=lambda m: m.id)


def status_of(family: VolunteerFamily, today: date) -> ScreeningStatus:
    records = [MemberRecord(i, m.birth_date, m.child_certificate_received_on is not None,
                            m.criminal_record_received_on is not None,
                            m.child_certificate_clear is not False and m.criminal_record_clear is not False)
               for i, m in enumerate(members_of(family), start=1)]
    return screening_status(records, family.home_visit_on is not None, family.elearning_completed_on is not None,
                            today)
