"""Volunteer families: registration, screening (one approval run per family, on the shared approval machinery),
reminders, and the programme-wide supervision invitations."""

from hjemtilos.volunteers.registry import (
    FamilyInfo,
    FamilyRejected,
    StoredFamily,
    family_info,
    family_run_key,
    record_family_run,
    register_family,
    status_of,
)
from hjemtilos.volunteers.reminders import family_reminder
from hjemtilos.volunteers.screening import (
    FamilyApprovalView,
    FamilyStep,
    answer_model,
    prepare_family_approval,
    skip_family_round,
    submit_family_approval,
)
from hjemtilos.volunteers.supervision import SUPERVISION_ANCHOR, send_supervision_invitations, supervision_round

__all__ = [
    "SUPERVISION_ANCHOR", "FamilyApprovalView", "FamilyInfo", "FamilyRejected", "FamilyStep", "StoredFamily",
    "answer_model", "family_info", "family_reminder", "family_run_key", "prepare_family_approval",
    "record_family_run", "register_family", "send_supervision_invitations", "skip_family_round", "status_of",
    "submit_family_approval", "supervision_round",
]
