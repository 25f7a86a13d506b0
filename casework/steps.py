"""The programme's steps, case statuses and roles."""

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


class Role(StrEnum):
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    REFERRER = "referrer"
    BBU_CONTACT = "bbu_contact"
    CUSTODY_HOLDER = "custody_holder"
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
