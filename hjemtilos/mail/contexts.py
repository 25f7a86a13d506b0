"""A typed context per mail template. Constructing one with a field missing fails at once;
rendering with ``StrictUndefined`` fails if a template uses a name the context lacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class MailContext:
    """Fields every mail has."""

    recipient_name: str


@dataclass(frozen=True)
class ReferralReceipt(MailContext):
    case_reference: str
    child_first_name: str


@dataclass(frozen=True)
class ReferrerLink(MailContext):
    """To a caseworker who asked for the referral form: the one-time link, nothing typed by anyone."""
    link: str
    valid_hours: int


@dataclass(frozen=True)
class NewReferral(MailContext):
    """To the coordinator: only the reference and a link (the referral itself is read where people sign in)."""
    case_reference: str
    link: str


@dataclass(frozen=True)
class ConsentRequest(MailContext):
    case_reference: str
    child_first_name: str
    bbu_contact_name: str
    bbu_contact_email: str


@dataclass(frozen=True)
class ConsentReminder(MailContext):
    case_reference: str
    child_first_name: str
    missing_from: tuple[str, ...]
    requested_on: date


@dataclass(frozen=True)
class ParentsInformed(MailContext):
    child_first_name: str


@dataclass(frozen=True)
class StartupMeeting(MailContext):
    """``parents_to_inform``: parents the referrer informs, since they do not read Danish or English (never mailed)."""

    case_reference: str
    child_first_name: str
    institution_name: str
    parents_to_inform: tuple[str, ...]


@dataclass(frozen=True)
class MatchProposalFamily(MailContext):
    child_first_name: str
    child_age: int
    child_local_area: str


@dataclass(frozen=True)
class MatchProposalParents(MailContext):
    child_first_name: str
    family_name: str
    family_local_area: str


@dataclass(frozen=True)
class MatchAgreed(MailContext):
    case_reference: str
    child_first_name: str
    family_local_area: str


@dataclass(frozen=True)
class FirstMeetingInvitation(MailContext):
    child_first_name: str
    family_name: str
    meeting_at: datetime
    address: str  # the family's street address; empty when it is not registered
    family_local_area: str


@dataclass(frozen=True)
class FirstVisitFollowup(MailContext):
    """``contact_phone``: empty when the referral gave none; then the coordinator writes to ``contact_email``."""

    case_reference: str
    contact_name: str
    contact_phone: str
    contact_email: str
    first_visit_on: date


@dataclass(frozen=True)
class SupervisionInvitation(MailContext):
    session_at: datetime
    join_link: str


@dataclass(frozen=True)
class ChildVisitNotice(MailContext):
    child_first_name: str
    coordinator_name: str


@dataclass(frozen=True)
class FutureAgreementRequest(MailContext):
    """``to_family``: the family is written to as "I" (plural), a parent or contact person as "du"."""

    child_first_name: str
    other_party: str
    year_ends_on: date
    to_family: bool


@dataclass(frozen=True)
class FarewellFamily(MailContext):
    child_first_name: str


@dataclass(frozen=True)
class FarewellParents(MailContext):
    child_first_name: str
    family_name: str


@dataclass(frozen=True)
class CourseEnded(MailContext):
    case_reference: str
    child_first_name: str


@dataclass(frozen=True)
class EarlyEndingNotice(MailContext):
    """``next_step``: ``rematch`` (a new family is being found), ``child-visit`` (the coordinator visits the child
    first; nothing is promised yet) or ``closing``. ``after_child_visit``: the notice that follows that visit."""

    child_first_name: str
    next_step: str
    after_child_visit: bool
    to_family: bool  # the family is written to as "I" (plural), the others as "du"


@dataclass(frozen=True)
class CoordinatorReminder(MailContext):
    case_reference: str
    task_title: str
    waiting_since: datetime
    link: str


@dataclass(frozen=True)
class CoordinatorEscalation(MailContext):
    case_reference: str
    task_title: str
    waiting_since: datetime
    link: str


@dataclass(frozen=True)
class VolunteerElearningReminder(MailContext):
    course_link: str


@dataclass(frozen=True)
class VolunteerCertificatesReminder(MailContext):
    family_reference: str
    missing: tuple[str, ...]


@dataclass(frozen=True)
class StuckCaseAlert(MailContext):
    case_reference: str
    reason: str
    since: datetime
    link: str


TEMPLATES: dict[str, type[MailContext]] = {
    "referral-receipt": ReferralReceipt,
    "new-referral": NewReferral,
    "referrer-link": ReferrerLink,
    "consent-request": ConsentRequest,
    "consent-reminder": ConsentReminder,
    "parents-informed": ParentsInformed,
    "startup-meeting": StartupMeeting,
    "match-proposal-family": MatchProposalFamily,
    "match-proposal-parents": MatchProposalParents,
    "match-agreed": MatchAgreed,
    "first-meeting-invitation": FirstMeetingInvitation,
    "first-visit-followup": FirstVisitFollowup,
    "supervision-invitation": SupervisionInvitation,
    "child-visit-notice": ChildVisitNotice,
    "future-agreement-request": FutureAgreementRequest,
    "farewell-family": FarewellFamily,
    "farewell-parents": FarewellParents,
    "course-ended": CourseEnded,
    "early-ending-notice": EarlyEndingNotice,
    "coordinator-reminder": CoordinatorReminder,
    "coordinator-escalation": CoordinatorEscalation,
    "volunteer-elearning-reminder": VolunteerElearningReminder,
    "volunteer-certificates-reminder": VolunteerCertificatesReminder,
    "stuck-case-alert": StuckCaseAlert,
}


def template_name(context: MailContext) -> str:
    for name, cls in TEMPLATES.items():
        if type(context) is cls:
            return name
    raise KeyError(f"no template for {type(context).__name__}")


@dataclass(frozen=True)
class MoreInformationRequest(MailContext):
    case_reference: str
    child_first_name: str
    question: str


@dataclass(frozen=True)
class ReferralRejected(MailContext):
    case_reference: str
    child_first_name: str
    reason: str


@dataclass(frozen=True)
class CircumstancesChanged(MailContext):
    child_first_name: str
    change: str


@dataclass(frozen=True)
class CertificateRenewalDue(MailContext):
    """To the coordinator: a member's certificate (or the family's e-learning) is due for renewal. Names the family
    by reference and the member by number, never by name."""
    family_reference: str
    what: str  # børneattest, straffeattest or e-læring (English in the English template)
    member_number: int  # 0: the family's e-learning
    due_on: date
    link: str


TEMPLATES.update({
    "certificate-renewal-due": CertificateRenewalDue,
    "more-information-request": MoreInformationRequest,
    "referral-rejected": ReferralRejected,
    "circumstances-changed": CircumstancesChanged,
})
