"""The programme's vocabulary: steps, approval and timer kinds, statuses of every record, roles."""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    SCREENING = "screening"
    STARTUP_MEETING = "startup-meeting"
    CONSENT = "consent"
    PARENTS_INFORMED = "parents-informed"
    AWAITING_FAMILY = "awaiting-family"
    MATCH_PROPOSAL = "match-proposal"
    FIRST_MEETING = "first-meeting"
    FIRST_VISIT_FOLLOWUP = "first-visit-followup"
    CHILD_VISIT = "child-visit"
    CONCERN_FOLLOWUP = "concern-followup"
    FUTURE_AGREEMENT = "future-agreement"
    FAREWELL = "farewell"
    EARLY_ENDING = "early-ending"
    EXTRA_CHILD_VISIT = "extra-child-visit"
    CLOSED = "closed"


class CaseStatus(StrEnum):
    SCREENING = "screening"  # waiting for the coordinator's screening decision
    ACTIVE = "active"  # accepted, somewhere between consent and farewell
    CLOSED = "closed"  # the year ended or the case ended early
    REJECTED = "rejected"  # the coordinator rejected the referral at screening


FINISHED_CASE = (CaseStatus.CLOSED, CaseStatus.REJECTED)  # a case in one of these has no run to drive


class ApprovalKind(StrEnum):
    """A step that waits for a coordinator's form, in programme order. Its value is part of stable keys."""

    SCREENING = "screening"
    STARTUP_MEETING = "startup-meeting"
    CONSENT = "consent"
    MATCH_PROPOSAL = "match-proposal"
    FAMILY_ANSWER = "family-answer"  # the family says yes first; only then are the parents asked
    MATCH_ANSWERS = "match-answers"  # the parents' (or placement contact's) answer
    FIRST_MEETING_PLAN = "first-meeting-plan"
    FIRST_MEETING = "first-meeting"
    FIRST_VISIT_FOLLOWUP = "first-visit-followup"
    CHILD_VISIT = "child-visit"
    CONCERN_FOLLOWUP = "concern-followup"
    FUTURE_AGREEMENT = "future-agreement"
    EXTRA_CHILD_VISIT = "extra-child-visit"


class TimerKind(StrEnum):
    """A wait until a due date, counted from the start of the visits."""

    FIRST_VISIT_FOLLOWUP = "first-visit-followup"
    CHILD_VISIT = "child-visit"
    FUTURE_AGREEMENT = "future-agreement"
    FAREWELL = "farewell"


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    DECLINED = "declined"
    ACTIVE = "active"
    ENDED = "ended"  # ended early
    COMPLETED = "completed"  # the year was completed


LIVE_MATCH = (MatchStatus.PROPOSED, MatchStatus.AGREED, MatchStatus.ACTIVE)  # these take a family's capacity


class FamilyStatus(StrEnum):
    SCREENING = "screening"
    APPROVED = "approved"
    REJECTED = "rejected"


class MailStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"  # a reminder or escalation whose task was closed before it could go out


class EndedBy(StrEnum):
    """Who ended a match early (or the anniversary, for a completed year)."""

    FAMILY = "family"
    PARENTS = "parents"
    CHILD = "child"
    RED_BARNET = "red-barnet"
    BBU = "bbu"
    ANNIVERSARY = "anniversary"


class ChangeKind(StrEnum):
    MOVING = "moving"
    ILLNESS = "illness"
    DIVORCE = "divorce"
    PLACEMENT = "placement"
    OTHER = "other"


class ConsentForm(StrEnum):
    """The two consent forms each custody holder signs."""

    BBU = "bbu"
    RED_BARNET = "redbarnet"


class Role(StrEnum):
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    REFERRER = "referrer"
    BBU_CONTACT = "bbu_contact"
    CUSTODY_HOLDER = "custody_holder"
    PARENT = "parent"  # a parent without parental responsibility: on the case, not asked for consent
    PLACEMENT_CONTACT = "placement_contact"
    VOLUNTEER_FAMILY = "volunteer_family"


class PlacementKind(StrEnum):
    HOME = "home"  # lives with the parents
    FOSTER_FAMILY = "foster_family"
    RESIDENTIAL_HOME = "residential_home"  # børne- eller ungehjem


class Track(StrEnum):
    STANDARD = "standard"  # age 4-13
    YOUTH = "youth"  # age 14-17, matched by wish and need


class Language(StrEnum):
    DA = "da"
    EN = "en"


class VisitKind(StrEnum):
    CHILD_VISIT_AT_STARTUP = "startup-child-visit"  # residential home: the visit before matching
    STARTUP_MEETING = "startup-meeting"
    FIRST_VISIT_CALL = "first-visit-call"
    CHILD_VISIT = "child-visit"
    CONCERN_FOLLOWUP = "concern-followup"
    EXTRA_CHILD_VISIT = "extra-child-visit"


class VisitAssessment(StrEnum):
    GOOD = "good"
    MIXED = "mixed"
    CONCERN = "concern"  # the coordinator follows up: a task of its own, with reminders
    RESOLVED = "resolved"  # a concern's follow-up: cleared
    WATCH = "watch"  # a concern's follow-up: keep an eye on it


class Continuation(StrEnum):
    """The future agreement: what happens after the year."""

    WEEKLY = "weekly"
    LESS_OFTEN = "less-often"
    STOPS = "stops"
    UNDECIDED = "undecided"


class StepOutcome(StrEnum):
    """How a step that waited for a coordinator (or a family) ended: each handler declares the ones it gives
    (``Handler.outcomes``), the flows branch on them, the reports count them. Stored as these strings."""

    APPROVED = "approved"
    REJECTED = "rejected"
    RECEIVED = "received"  # consent
    PROPOSED = "proposed"  # a match proposed to a family
    NONE_FITS = "none-fits"  # the coordinator found no family that fits: back to waiting
    NO_FAMILY = "no-family"  # no family left to propose
    DECLINED = "declined"  # the family or the parents said no
    ACCEPTED = "accepted"  # the family said yes
    AGREED = "agreed"  # family and parents agreed: the match is made
    PLANNED = "planned"  # a first meeting
    RECORDED = "recorded"
    HELD = "held"  # a visit or meeting took place
    CONCERN = "concern"  # a visit that raised a concern
    REMATCH = "rematch"  # an early ending: the child wants a new family
    NO_REMATCH = "no-rematch"
    CLOSED = "closed"
    DONE = "done"
    CANCELLED = "cancelled"  # an approval closed by an early ending
    # the future agreement's answer is its outcome (Continuation)
    WEEKLY = Continuation.WEEKLY.value
    LESS_OFTEN = Continuation.LESS_OFTEN.value
    STOPS = Continuation.STOPS.value
    UNDECIDED = Continuation.UNDECIDED.value
