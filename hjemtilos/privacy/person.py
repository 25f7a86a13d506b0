"""Access and erasure for one person (GDPR art. 15 and 17): everything held about a person, found by e-mail
address (a parent, referrer, contact person or volunteer family) or by case reference (the child), as JSON; and
erasure where the rules allow it, with the reason where they do not (an open case needs its parties; a family in
a live match is still needed). Exports and erasures are logged in the access log and the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.inspection import inspect
from sqlalchemy.orm import Session

from casework.matching import family_reference
from casework.steps import FINISHED_CASE, LIVE_MATCH
from hjemtilos.db.models import (
    AccessLogEntry,
    AuditEvent,
    CaseEnding,
    CaseNote,
    CaseVisit,
    CircumstanceChange,
    ConsentReceipt,
    HumanTask,
    Match,
    OutboxMail,
    Party,
    ReferralCase,
    Timer,
    VolunteerFamily,
)
from hjemtilos.privacy.retention import ANONYMOUS, anonymise_case

__all__ = ["Erasure", "erase_person", "export_person", "log_export"]

ANONYMOUS_EMAIL = "anonymised@invalid"


def _row(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in inspect(obj).mapper.column_attrs:
        if column.key in skip:
            continue
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


def _case_export(session: Session, case: ReferralCase) -> dict[str, Any]:
    def rows(model: Any) -> list[dict[str, Any]]:
        return [_row(r) for r in session.scalars(select(model).where(model.case_id == case.id).order_by(model.id))]

    return {
        "case": _row(case), "child": _row(case.child), "placement": _row(case.placement) if case.placement else None,
        "parties": rows(Party), "consent": rows(ConsentReceipt), "matches": rows(Match), "tasks": rows(HumanTask),
        "timers": rows(Timer), "visits": rows(CaseVisit), "changes": rows(CircumstanceChange), "notes": rows(CaseNote),
        "endings": rows(CaseEnding), "mails": rows(OutboxMail), "audit": rows(AuditEvent),
        "access_log": [_row(r) for r in session.scalars(select(AccessLogEntry).where(
            AccessLogEntry.case_reference == case.reference).order_by(AccessLogEntry.id))],
    }


def export_person(session: Session, *, email: str | None = None, reference: str | None = None) -> dict[str, Any]:
    """Everything held about one person. By reference: the child's whole case. By e-mail: each case the person
    is a party to (their own rows, the consent they gave, the mails to them, who read the case), the volunteer
    families with that address (members, matches) and mails to the address without a case."""
    if reference:
        case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
        return {"reference": reference, "child_case": _case_export(session, case) if case else None}
    address = (email or "").strip().lower()
    result: dict[str, Any] = {"email": address, "as_party": [], "families": [], "other_mails": []}
    for party in session.scalars(select(Party).where(func.lower(Party.email) == address).order_by(Party.id)):
        case = session.get(ReferralCase, party.case_id)
        assert case is not None
        result["as_party"].append({
            "case_reference": case.reference, "case_status": case.status.value, "party": _row(party),
            "consent": [_row(r) for r in session.scalars(select(ConsentReceipt).where(
                ConsentReceipt.party_id == party.id))],
            "mails": [_row(m) for m in session.scalars(select(OutboxMail).where(
                OutboxMail.case_id == case.id, func.lower(OutboxMail.recipient_email) == address))],
            "access_log": [_row(r) for r in session.scalars(select(AccessLogEntry).where(
                AccessLogEntry.case_reference == case.reference))],
        })
    for family in session.scalars(select(VolunteerFamily).where(func.lower(VolunteerFamily.email) == address)):
        result["families"].append({
            "family": _row(family), "members": [_row(m) for m in family.members],
            "matches": [_row(m) for m in session.scalars(select(Match).where(Match.family_id == family.id))],
            "access_log": [_row(r) for r in session.scalars(select(AccessLogEntry).where(
                AccessLogEntry.family_id == family.id))],
        })
    result["other_mails"] = [_row(m) for m in session.scalars(select(OutboxMail).where(
        OutboxMail.case_id.is_(None), func.lower(OutboxMail.recipient_email) == address))]
    return result


@dataclass
class Erasure:
    erased: list[str] = field(default_factory=list)  # what was erased or anonymised (references)
    refused: list[str] = field(default_factory=list)  # what was not, with the reason (Danish / English)


def erase_person(session: Session, now: datetime, actor: str, *, email: str | None = None,
                 reference: str | None = None) -> Erasure:
    """Erase or anonymise what the rules allow and say why for the rest, record by record: a finished case is
    anonymised (as retention would), a party of a finished case and a family without a live match lose their
    names and contact data, and mails to the address lose their text; an open case keeps its parties."""
    outcome = Erasure()
    if reference:
        case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
        if case is None:
            outcome.refused.append(f"{reference}: ingen sådan sag / no such case")
        elif case.status not in FINISHED_CASE:
            outcome.refused.append(f"{reference}: sagen er åben og har brug for sine oplysninger; afslut den først "
                                   f"/ the case is open and needs its data; end it first")
        elif case.anonymised_at is None:
            anonymise_case(session, case, now)
            outcome.erased.append(f"{reference}: anonymiseret / anonymised")
        _audit(session, case.id if case else None, now, actor, reference, outcome)
        return outcome
    address = (email or "").strip().lower()
    for party in session.scalars(select(Party).where(func.lower(Party.email) == address)):
        case = session.get(ReferralCase, party.case_id)
        assert case is not None
        if case.status not in FINISHED_CASE:
            outcome.refused.append(f"{case.reference}: sagen er åben og har brug for sine parter / the case is "
                                   "open and needs its parties")
            continue
        party.name, party.email, party.phone = ANONYMOUS, ANONYMOUS_EMAIL, None
        session.execute(update(OutboxMail).where(OutboxMail.case_id == case.id,
                                                 func.lower(OutboxMail.recipient_email) == address).values(
            recipient_name=ANONYMOUS, recipient_email=ANONYMOUS_EMAIL, body_text="", body_html=""))
        outcome.erased.append(f"{case.reference}: {party.role} anonymiseret / anonymised")
    for family in session.scalars(select(VolunteerFamily).where(func.lower(VolunteerFamily.email) == address)):
        reference_of = family_reference(family.id)
        live = session.scalar(select(func.count()).select_from(Match).where(
            Match.family_id == family.id, Match.status.in_(LIVE_MATCH)))
        if live:
            outcome.refused.append(f"{reference_of}: familien er i et forløb / the family is in a live match")
            continue
        family.name, family.email, family.phone, family.address = ANONYMOUS, ANONYMOUS_EMAIL, None, None
        family.rejected_reason = None
        for member in family.members:
            member.name = ANONYMOUS
        outcome.erased.append(f"{reference_of}: anonymiseret / anonymised")
    session.execute(update(OutboxMail).where(OutboxMail.case_id.is_(None),
                                             func.lower(OutboxMail.recipient_email) == address).values(
        recipient_name=ANONYMOUS, recipient_email=ANONYMOUS_EMAIL, body_text="", body_html=""))
    _audit(session, None, now, actor, "(e-mail)", outcome)
    return outcome


def _audit(session: Session, case_id: int | None, now: datetime, actor: str, target: str | None,
           outcome: Erasure) -> None:
    session.add(AuditEvent(case_id=case_id, at=now, actor=actor, action="person-erasure", step=None,
                           detail={"target": target, "erased": len(outcome.erased), "refused": len(outcome.refused)}))


def log_export(session: Session, data: dict[str, Any], who: Any, now: datetime, client: str | None = None) -> None:
    """An export is a read of every case it includes: one access-log entry each."""
    from hjemtilos.audit import access

    references = [entry["case_reference"] for entry in data.get("as_party", [])]
    if data.get("child_case"):
        references.append(data["reference"])
    for reference in dict.fromkeys(references):
        case = session.scalar(select(ReferralCase).where(ReferralCase.reference == reference))
        access.record(session, who, access.EXPORTED, now, case=case, client=client,
                      purpose="indsigt / a person's request for their data")
    for family in data.get("families", []):
        access.record(session, who, access.EXPORTED, now, family_id=family["family"]["id"], client=client,
                      purpose="indsigt / a person's request for their data")
