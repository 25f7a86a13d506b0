"""Typed records of what coordinators report: visits held, consent forms received. Never keyed by display text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from casework.steps import ConsentForm, Role, VisitAssessment, VisitKind
from hjemtilos.approvals import InvalidRequest
from hjemtilos.cases.context import CaseContext
from hjemtilos.db.models import CaseVisit, ConsentReceipt, Party, ReferralCase

__all__ = ["ConsentSlot", "consent_label", "consent_slots", "not_in_future", "record_visit"]

FORM_LABEL = {ConsentForm.BBU: "BBU", ConsentForm.RED_BARNET: "Red Barnet"}


def not_in_future(ctx: CaseContext, day: date, *more: date) -> date:
    """``day`` (for chaining) when neither it nor ``more`` lies after today; else the answer is refused."""
    if any(d > ctx.today for d in (day, *more)):
        raise InvalidRequest("Datoen ligger i fremtiden. / The date is in the future.")
    return day


def record_visit(ctx: CaseContext, kind: VisitKind, held_on: date,
                 assessment: VisitAssessment | None = None) -> CaseVisit:
    scope = ctx.scope or 0
    visit = ctx.session.scalar(select(CaseVisit).where(CaseVisit.case_id == ctx.case.id, CaseVisit.kind == kind,
                                                       CaseVisit.scope == scope))
    if visit is None:
        visit = CaseVisit(case_id=ctx.case.id, kind=kind, scope=scope, held_on=held_on, assessment=assessment,
                          recorded_at=ctx.now, recorded_by=ctx.actor)
        ctx.session.add(visit)
    return visit


@dataclass(frozen=True)
class ConsentSlot:
    """One form one custody holder signs: the holder's number on the case (1, 2, ...), the party, the form and,
    once recorded, the day it arrived."""

    number: int
    party_id: int
    holder_name: str
    form: ConsentForm
    received_on: date | None


def consent_label(slot: ConsentSlot) -> str:
    """How the form is shown to a coordinator (display only)."""
    return f"forælder {slot.number} ({FORM_LABEL[slot.form]})"


def consent_slots(case: ReferralCase, receipts: list[ConsentReceipt]) -> list[ConsentSlot]:
    received = {(r.party_id, r.form): r.received_on for r in receipts}
    holders: list[Party] = sorted((p for p in case.parties if p.role == Role.CUSTODY_HOLDER), key=lambda p: p.id)
    return [ConsentSlot(number, holder.id, holder.name, form, received.get((holder.id, form)))
            for number, holder in enumerate(holders, start=1) for form in ConsentForm]


def receipts_of(ctx: CaseContext) -> list[ConsentReceipt]:
    return list(ctx.session.scalars(select(ConsentReceipt).where(ConsentReceipt.case_id == ctx.case.id)))
