"""Typed ORM models of the case database, one module per kind of record (``base``: the declarative base). The
schema is owned by the Alembic migrations (``hjemtilos/db/migrations``). Import models from here."""

from hjemtilos.db.models.accounts import AccessLogEntry, AccountLink, ReferrerLink, UserAccount, UserSession
from hjemtilos.db.models.base import NAMING, Base
from hjemtilos.db.models.cases import (
    CaseEnding,
    CaseNote,
    CaseVisit,
    Child,
    CircumstanceChange,
    ConsentReceipt,
    Party,
    Placement,
    ReferenceCounter,
    ReferralCase,
    ReferralTally,
)
from hjemtilos.db.models.families import FamilyMember, Match, VolunteerFamily
from hjemtilos.db.models.work import AuditEvent, HumanTask, OutboxMail, StuckCase, Timer

__all__ = [
    "NAMING",
    "AccessLogEntry",
    "AccountLink",
    "AuditEvent",
    "Base",
    "CaseEnding",
    "CaseNote",
    "CaseVisit",
    "Child",
    "CircumstanceChange",
    "ConsentReceipt",
    "FamilyMember",
    "HumanTask",
    "Match",
    "OutboxMail",
    "Party",
    "Placement",
    "ReferenceCounter",
    "ReferralCase",
    "ReferralTally",
    "ReferrerLink",
    "StuckCase",
    "Timer",
    "UserAccount",
    "UserSession",
    "VolunteerFamily",
]
