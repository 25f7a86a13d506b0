"""Submitting a referral: the one use case behind the referral form, ``hjemtilos refer`` and the demo.

The case is stored in one transaction (with what the caller adds to it, e.g. the form's one-time link used up),
then its run is started through the orchestrator. A run that cannot be started now is no loss: the case is stored
and the timekeeper starts the run of any case without one at its next tick."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from casework.referral import Referral
from hjemtilos.app import App
from hjemtilos.orchestration import OrchestratorScope
from hjemtilos.referrals.intake import IntakeRejected, StoredCase, receive_referral
from hjemtilos.runs import start_case_run

__all__ = ["Submitted", "submit_referral", "submit_referrals"]

# What the caller adds to the storing transaction, given the cases stored in it (it may raise to roll back).
Within = Callable[[Session, list[StoredCase]], None]


@dataclass(frozen=True)
class Submitted:
    stored: StoredCase
    run_id: str | None  # None: not started now (no orchestrator, or it failed); the timekeeper starts it
    run_error: str | None = None  # the exception's type name when starting failed (never its text)


def submit_referral(app: App, referral: Referral, *, actor: str, now: datetime, orchestrator: OrchestratorScope | None,
                    within: Within | None = None) -> Submitted:
    """Store one referral and start its run. Raises IntakeRejected (nothing stored) when it breaks a hard rule."""
    return submit_referrals(app, [referral], actor=actor, now=now, orchestrator=orchestrator, within=within)[0]


def submit_referrals(app: App, referrals: Sequence[Referral], *, actor: str, now: datetime,
                     orchestrator: OrchestratorScope | None, within: Within | None = None,
                     skip_rejected: bool = False) -> list[Submitted]:
    """Store referrals in one transaction, then start their runs. ``skip_rejected``: leave out a referral that
    breaks a hard rule instead of storing none (the demo's examples age)."""
    stored: list[StoredCase] = []
    with app.session_factory.begin() as session:
        for referral in referrals:
            try:
                stored.append(receive_referral(app, session, referral, now, actor=actor))
            except IntakeRejected:
                if not skip_rejected:
                    raise
        if within is not None:
            within(session, stored)
    return [_start(app, orchestrator, case, now) for case in stored]


def _start(app: App, orchestrator: OrchestratorScope | None, case: StoredCase, now: datetime) -> Submitted:
    if orchestrator is None:
        return Submitted(case, None)
    try:
        with orchestrator() as started_by:
            run_id = start_case_run(app, started_by, case.case_id, case.reference, case.created_at, now)
    except Exception as exc:  # noqa: BLE001 - the case is stored; the timekeeper starts runs for cases without one
        return Submitted(case, None, type(exc).__name__)
    return Submitted(case, run_id)
