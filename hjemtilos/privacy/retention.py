"""Retention as data: ``config/retention.toml`` says, per kind of record, how long it is kept and what happens
then; ``plan`` lists what is due at ``now`` and ``apply`` does it, each action audited by reference and kind.

Kinds and actions: rejected referrals (delete), closed cases (anonymise: names, contact data and free text
removed, notes emptied, birth date reduced to 1 January of its year, concern flags dropped, statistics kept), mail bodies (drop
the text, keep the metadata), the mail catcher's folder (delete files), the audit and access logs (delete rows),
families that left (delete), Prefect's runs of closed cases (delete, with their inputs).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from casework.durations import Duration
from casework.matching import family_reference
from casework.steps import FINISHED_CASE, CaseStatus, FamilyStatus, MailStatus
from hjemtilos import PROJECT_ROOT
from hjemtilos.app import App
from hjemtilos.db.models import (
    AccessLogEntry,
    AccountLink,
    AuditEvent,
    CaseEnding,
    CaseNote,
    HumanTask,
    Match,
    OutboxMail,
    ReferralCase,
    ReferrerLink,
    UserSession,
    VolunteerFamily,
)
from hjemtilos.reports.facts import tally_of

__all__ = ["ANONYMOUS", "DEFAULT_POLICY", "Due", "Policy", "anonymise_case", "apply", "load_policy", "plan"]

DEFAULT_POLICY = PROJECT_ROOT / "config" / "retention.toml"
ANONYMOUS = "–"
ACTIONS = {"rejected_referrals": "delete", "closed_cases": "anonymise", "mail_bodies": "drop-body",
           "mail_catcher": "delete", "audit_log": "delete", "access_log": "delete", "families_left": "delete",
           "prefect_runs": "delete", "sign_in_records": "delete"}


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    after: str
    from_: str = Field(alias="from")
    action: Literal["delete", "anonymise", "drop-body"]
    dpo_confirmed: bool = False

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str) -> str:
        Duration.parse(value)
        return value

    @property
    def period(self) -> Duration:
        return Duration.parse(self.after)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rejected_referrals: Rule
    closed_cases: Rule
    mail_bodies: Rule
    mail_catcher: Rule
    audit_log: Rule
    access_log: Rule
    families_left: Rule
    prefect_runs: Rule
    sign_in_records: Rule

    def check(self) -> None:
        for kind, action in ACTIONS.items():
            if getattr(self, kind).action != action:
                raise ValueError(f"{kind}: the action must be {action!r}")

    def unconfirmed(self) -> list[str]:
        return [kind for kind in ACTIONS if not getattr(self, kind).dpo_confirmed]


def load_policy(path: Path = DEFAULT_POLICY) -> Policy:
    """Read and check the policy; ValueError with the reason when it is not valid."""
    try:
        with path.open("rb") as handle:
            policy = Policy.model_validate(tomllib.load(handle))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    policy.check()
    return policy


@dataclass(frozen=True)
class Due:
    kind: str
    action: str
    target: str  # a case reference, a family reference, a count of rows or files: never a name
    count: int = 1
    ids: tuple[int | str, ...] = ()


def _before(rule: Rule, now: datetime) -> datetime:
    """Records older than this (by their ``from`` moment) are due: ``now`` minus the period."""
    period = rule.period
    return now - (period.after(now) - now)


def plan(session: Session, policy: Policy, now: datetime, maildir: Path | None = None,
         prefect_runs: bool = True) -> list[Due]:
    due: list[Due] = []
    cutoff = _before(policy.rejected_referrals, now)
    for case in session.scalars(select(ReferralCase).where(ReferralCase.status == CaseStatus.REJECTED,
                                                           ReferralCase.closed_at < cutoff)):
        due.append(Due("rejected_referrals", "delete", case.reference, ids=(case.id,)))
    cutoff = _before(policy.closed_cases, now)
    for case in session.scalars(select(ReferralCase).where(ReferralCase.status == CaseStatus.CLOSED,
                                                           ReferralCase.closed_at < cutoff,
                                                           ReferralCase.anonymised_at.is_(None))):
        due.append(Due("closed_cases", "anonymise", case.reference, ids=(case.id,)))
    cutoff = _before(policy.mail_bodies, now)
    mails = tuple(session.scalars(select(OutboxMail.id).where(OutboxMail.status == MailStatus.SENT,
                                                              OutboxMail.sent_at < cutoff, OutboxMail.body_text != "")))
    if mails:
        due.append(Due("mail_bodies", "drop-body", f"{len(mails)} mail(s)", len(mails), mails))
    if maildir is not None and maildir.is_dir():
        cutoff_ts = _before(policy.mail_catcher, now).timestamp()
        files = tuple(str(p) for p in maildir.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff_ts)
        if files:
            due.append(Due("mail_catcher", "delete", f"{len(files)} file(s)", len(files), files))
    for kind, model in (("audit_log", AuditEvent), ("access_log", AccessLogEntry)):
        cutoff = _before(getattr(policy, kind), now)
        rows = tuple(session.scalars(select(model.id).where(model.at < cutoff)))
        if rows:
            due.append(Due(kind, "delete", f"{len(rows)} row(s)", len(rows), rows))
    cutoff = _before(policy.families_left, now)
    matched = select(Match.family_id)
    for family in session.scalars(select(VolunteerFamily).where(VolunteerFamily.status == FamilyStatus.REJECTED,
                                                                VolunteerFamily.created_at < cutoff,
                                                                VolunteerFamily.id.not_in(matched))):
        due.append(Due("families_left", "delete", family_reference(family.id), ids=(family.id,)))
    cutoff = _before(policy.sign_in_records, now)
    sessions = tuple(session.scalars(select(UserSession.id).where(UserSession.last_seen_at < cutoff)))
    links = tuple(session.scalars(select(AccountLink.id).where(AccountLink.expires_at < cutoff)))
    referrer_links = tuple(session.scalars(select(ReferrerLink.id).where(ReferrerLink.expires_at < cutoff)))
    if sessions or links or referrer_links:
        count = len(sessions) + len(links) + len(referrer_links)
        due.append(Due("sign_in_records", "delete", f"{count} row(s)", count,
                       (*(f"s{i}" for i in sessions), *(f"a{i}" for i in links), *(f"r{i}" for i in referrer_links))))
    if prefect_runs:
        cutoff = _before(policy.prefect_runs, now)
        for reference, run_id in session.execute(select(ReferralCase.reference, ReferralCase.flow_run_id).where(
                ReferralCase.status.in_(FINISHED_CASE), ReferralCase.closed_at < cutoff,
                ReferralCase.flow_run_id.is_not(None))):
            due.append(Due("prefect_runs", "delete", reference, ids=(run_id,)))
        for family_id, run_id in session.execute(select(VolunteerFamily.id, VolunteerFamily.flow_run_id).where(
                VolunteerFamily.status.in_((FamilyStatus.APPROVED, FamilyStatus.REJECTED)),
                VolunteerFamily.created_at < cutoff, VolunteerFamily.flow_run_id.is_not(None))):
            due.append(Due("prefect_runs", "delete", family_reference(family_id), ids=(run_id,)))
    return due


def anonymise_case(session: Session, case: ReferralCase, now: datetime) -> None:
    child = case.child
    child.first_name = child.last_name = ANONYMOUS
    child.birth_date = date(child.birth_date.year, 1, 1)
    child.gender, child.motivation, child.description = None, None, None
    child.wished_competences = []
    child.concern_severe_acting_out = child.concern_severe_psychiatric_diagnosis = False
    child.concern_suicide_risk_or_self_harm = False
    case.review_flags = [flag for flag in case.review_flags if flag != "outside-target-group"]
    for party in case.parties:
        party.name, party.email, party.phone = ANONYMOUS, "anonymised@invalid", None
    if case.placement is not None:
        case.placement.institution_name = None
    session.execute(update(Match).where(Match.case_id == case.id).values(end_reason=None, transport_to=None,
                                                                         transport_from=None))
    session.execute(update(HumanTask).where(HumanTask.case_id == case.id).values(data=None, last_error=None))
    session.execute(update(AuditEvent).where(AuditEvent.case_id == case.id).values(detail=None))
    session.execute(update(OutboxMail).where(OutboxMail.case_id == case.id).values(
        recipient_name=ANONYMOUS, recipient_email="anonymised@invalid", subject=ANONYMOUS, body_text="",
        body_html="", last_error=None))
    session.execute(update(CaseEnding).where(CaseEnding.case_id == case.id).values(requested_by="anonymised"))
    session.execute(update(CaseNote).where(CaseNote.case_id == case.id).values(text=ANONYMOUS))  # kind, day kept
    case.anonymised_at = now


def _audit(session: Session, due: Due, now: datetime, actor: str, case_id: int | None = None) -> None:
    session.add(AuditEvent(case_id=case_id, at=now, actor=actor, action=f"retention-{due.kind}", step=None,
                           detail={"action": due.action, "target": due.target, "count": due.count}))


RunDeleter = Callable[[str], None]


def _rejected_referral(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    session.execute(delete(OutboxMail).where(OutboxMail.case_id == item.ids[0]))
    case = session.get(ReferralCase, item.ids[0])
    if case is not None:
        session.add(tally_of(session, case, now))  # the reports go on counting it, namelessly
        session.delete(case)
    return None


def _closed_case(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    case = session.get(ReferralCase, item.ids[0])
    if case is None:
        return None
    anonymise_case(session, case, now)
    return case.id


def _mail_bodies(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    session.execute(update(OutboxMail).where(OutboxMail.id.in_(item.ids)).values(body_text="", body_html=""))
    return None


def _caught_mail(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    for name in item.ids:
        Path(str(name)).unlink(missing_ok=True)
    return None


def _log_rows(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    model = AuditEvent if item.kind == "audit_log" else AccessLogEntry
    session.execute(delete(model).where(model.id.in_(item.ids)))
    return None


def _sign_in_records(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    tables: tuple[tuple[type[UserSession | AccountLink | ReferrerLink], str], ...] = (
        (UserSession, "s"), (AccountLink, "a"), (ReferrerLink, "r"))
    for table, prefix in tables:
        ids = [int(str(i)[1:]) for i in item.ids if str(i).startswith(prefix)]
        if ids:
            session.execute(delete(table).where(table.id.in_(ids)))
    return None


def _family_left(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    family = session.get(VolunteerFamily, item.ids[0])
    if family is not None:
        session.delete(family)
    return None


def _prefect_run(session: Session, item: Due, now: datetime, delete_run: RunDeleter | None) -> int | None:
    assert delete_run is not None  # apply skips these without one
    run_id = str(item.ids[0])
    delete_run(run_id)
    session.execute(update(ReferralCase).where(ReferralCase.flow_run_id == run_id).values(flow_run_id=None))
    session.execute(update(VolunteerFamily).where(VolunteerFamily.flow_run_id == run_id).values(flow_run_id=None))
    return None


def _nothing(session: Session, item: Due, now: datetime, _: RunDeleter | None) -> int | None:
    return None


# how each kind of due item is carried out; it returns the case to name in the audit row, if any
CARRY_OUT: dict[str, Callable[[Session, Due, datetime, RunDeleter | None], int | None]] = {
    "rejected_referrals": _rejected_referral, "closed_cases": _closed_case, "mail_bodies": _mail_bodies,
    "mail_catcher": _caught_mail, "audit_log": _log_rows, "access_log": _log_rows,
    "sign_in_records": _sign_in_records, "families_left": _family_left, "prefect_runs": _prefect_run,
}


def apply(app: App, due: list[Due], now: datetime, actor: str = "retention",
          delete_run: RunDeleter | None = None) -> int:
    """Carry out ``due`` (from ``plan``); each item in its own transaction, audited. Returns how many were done
    (Prefect's runs are left alone without ``delete_run``)."""
    done = 0
    for item in due:
        if item.kind == "prefect_runs" and delete_run is None:
            continue
        with app.session_factory.begin() as session:
            case_id = CARRY_OUT.get(item.kind, _nothing)(session, item, now, delete_run)
            _audit(session, item, now, actor, case_id)
        done += 1
    return done
