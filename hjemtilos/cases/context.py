"""What a case step works with: one transaction's session, the case, the clock and who acts, with the lookups
and the mail helper every handler needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.eligibility import age_on
from casework.matching import Candidate, ChildProfile, FamilyProfile, family_reference, rank_candidates
from casework.steps import LIVE_MATCH, FamilyStatus, PlacementKind, Role
from hjemtilos.app import App
from hjemtilos.approvals import FORM_PARTLY_RECORDED, FORM_RETURNED, audit, reject_input, set_step
from hjemtilos.db.models import AuditEvent, HumanTask, Match, Party, ReferralCase, VolunteerFamily
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient, enqueue_mail

__all__ = ["CaseContext", "candidates_for", "coordinator_recipient", "family_recipient", "load_case", "recipient",
           "ui_link"]


def load_case(session: Session, case_id: int) -> ReferralCase:
    case = session.get(ReferralCase, case_id)
    if case is None:
        raise LookupError(f"no case with id {case_id}")
    return case


def recipient(party: Party) -> Recipient:
    return Recipient(party.role, party.name, party.email, party.language, key=str(party.id))


def family_recipient(family: VolunteerFamily) -> Recipient:
    return Recipient(Role.VOLUNTEER_FAMILY, family.name, family.email, family.language, key=str(family.id))


def coordinator_recipient(app: App) -> Recipient:
    settings = app.settings
    return Recipient(Role.COORDINATOR, settings.coordinator_name, str(settings.coordinator_email), "da")


def ui_link(app: App, case: ReferralCase) -> str:
    base = app.settings.ui_base
    if case.flow_run_id:
        return f"{base}/runs/flow-run/{case.flow_run_id}"
    return app.settings.inbox_url()


def child_age(case: ReferralCase, now: datetime) -> int:
    return age_on(case.child.birth_date, local_date(now))


PASSED_OVER = "match-proposal-none-fits"  # the audit action naming the families a coordinator passed over


def candidates_for(session: Session, case: ReferralCase, now: datetime) -> list[Candidate]:
    """Approved families with free capacity the case has not been proposed to, best first."""
    used: dict[int, int] = dict(session.execute(
        select(Match.family_id, func.count()).where(Match.status.in_(LIVE_MATCH)).group_by(Match.family_id)).tuples().all())
    proposed_before = set(session.scalars(select(Match.family_id).where(Match.case_id == case.id)))
    for passed in session.scalars(select(AuditEvent.detail).where(  # "none of them fits" (matching.py)
            AuditEvent.case_id == case.id, AuditEvent.action == PASSED_OVER)):
        proposed_before.update(int(family_id) for family_id in (passed or {}).get("families", ()))
    families = session.scalars(select(VolunteerFamily).where(VolunteerFamily.status == FamilyStatus.APPROVED)).all()
    profiles = [
        FamilyProfile(f.id, family_reference(f.id), f.local_area, tuple(f.languages), f.capacity - used.get(f.id, 0),
                      f.wish_age_min, f.wish_age_max, f.wish_gender, tuple(f.competences))
        for f in families if f.id not in proposed_before
    ]
    child = ChildProfile(child_age(case, now), case.child.local_area, tuple(case.child.languages), case.child.gender,
                         tuple(case.child.wished_competences or ()))
    return rank_candidates(child, profiles)


@dataclass
class CaseContext:
    session: Session
    app: App
    case: ReferralCase
    now: datetime
    scope: int | None = None  # the match attempt (or ending) an approval belongs to
    task: HumanTask | None = None
    actor: str = "system"

    @property
    def today(self) -> date:
        return local_date(self.now)

    @property
    def child_name(self) -> str:
        return self.case.child.first_name

    @property
    def child_age(self) -> int:
        return child_age(self.case, self.now)

    @property
    def attempt(self) -> int:
        return self.scope or self.case.match_attempt

    def parties(self, role: Role) -> list[Party]:
        return sorted((p for p in self.case.parties if p.role == role), key=lambda p: p.id)

    def guardians(self) -> list[Party]:
        """Who speaks for the child: the placement contact when placed out of home, else the custody holders."""
        if self.case.placement.kind != PlacementKind.HOME:
            contacts = self.parties(Role.PLACEMENT_CONTACT)
            if contacts:
                return contacts
        return self.parties(Role.CUSTODY_HOLDER)

    def referrer(self) -> Party:
        return self.parties(Role.REFERRER)[0]

    def referrer_recipient(self) -> Recipient:
        return recipient(self.referrer())

    @staticmethod
    def party_recipient(party: Party) -> Recipient:
        return recipient(party)

    def coordinator(self) -> Recipient:
        return coordinator_recipient(self.app)

    def match(self, attempt: int | None = None) -> Match | None:
        return self.session.scalar(select(Match).where(Match.case_id == self.case.id,
                                                       Match.attempt == (attempt or self.attempt)))

    def current_match(self) -> Match:
        match = self.match()
        if match is None:
            raise LookupError(f"case {self.case.id} has no match for attempt {self.attempt}")
        return match

    def family(self, match: Match) -> VolunteerFamily:
        family = self.session.get(VolunteerFamily, match.family_id)
        if family is None:
            raise LookupError(f"no volunteer family with id {match.family_id}")
        return family

    def mail(self, step: str, to: Recipient, context: mc.MailContext, occurrence: str | int) -> None:
        enqueue_mail(self.session, case_id=self.case.id, step=step, recipient=to, context=context,
                     programme=self.app.programme, now=self.now, occurrence=occurrence)

    def audit(self, action: str, step: str | None, detail: dict[str, Any] | None = None,
              actor: str | None = None) -> None:
        audit(self.session, self.case.id, self.now, actor or self.actor, action, step, detail)

    def set_step(self, step: str) -> None:
        set_step(self.session, self.case, step, self.now)

    @property
    def round(self) -> int:
        return self.open_task().round

    def open_task(self) -> HumanTask:
        if self.task is None:
            raise LookupError(f"case {self.case.id}: no approval is being answered")
        return self.task

    def ask_again(self, message: str, *, recorded: bool = True) -> None:
        """The step is not finished: the form comes back with ``message``. ``recorded``: something of the answer
        was kept (the dialog is headed so); otherwise the choice was refused and nothing of it kept."""
        reject_input(self.session, self.open_task(), message, self.now,
                     action=FORM_PARTLY_RECORDED if recorded else FORM_RETURNED)

    def ui_link(self) -> str:
        return ui_link(self.app, self.case)
