"""Answers that Prefect still keeps after the case database has recorded them.

A run deletes each answer (and its form) from Prefect right after recording it (``flows/approvals.py``); a process
killed in between leaves it there. The timekeeper sweeps every finished approval once: it deletes every round's
answer, schema and description from Prefect and notes the last round it deleted."""

from __future__ import annotations

from sqlalchemy import or_, select, update

from casework.keys import round_key
from hjemtilos.app import App
from hjemtilos.db.models import HumanTask, ReferralCase, VolunteerFamily
from hjemtilos.orchestration import Orchestrator

__all__ = ["sweep_answers"]

BATCH = 200


def sweep_answers(app: App, orchestrator: Orchestrator) -> int:
    """Delete from Prefect what finished approvals left there; returns how many approvals were swept."""
    with app.session_factory() as session:
        rows = session.execute(
            select(HumanTask.id, HumanTask.key, HumanTask.round, ReferralCase.flow_run_id, VolunteerFamily.flow_run_id)
            .outerjoin(ReferralCase, ReferralCase.id == HumanTask.case_id)
            .outerjoin(VolunteerFamily, VolunteerFamily.id == HumanTask.family_id)
            .where(HumanTask.completed_at.is_not(None), HumanTask.round > 0,
                   or_(HumanTask.answers_forgotten_round.is_(None),
                       HumanTask.answers_forgotten_round < HumanTask.round))
            .order_by(HumanTask.id).limit(BATCH)).all()
    swept = 0
    for task_id, key, round_, case_run, family_run in rows:
        run_id = case_run or family_run
        if run_id:
            orchestrator.forget_answers(run_id, [round_key(key, n) for n in range(1, round_ + 1)])
        with app.session_factory.begin() as session:
            session.execute(update(HumanTask).where(HumanTask.id == task_id).values(answers_forgotten_round=round_))
        swept += 1
    return swept
