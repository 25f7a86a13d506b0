"""Runs that wait for a coordinator's form that Prefect does not have.

A flow stores its form's schema just after its Suspended state (Prefect's order; ``flows/suspension.py``). A
process killed in between, or an answer lost beyond what the suspension already tolerates, leaves a run that waits
with no form: every Resume is refused ("Run input schema not found") and the case would wait for ever. The
timekeeper looks once at every round of every open approval: when the run waits on it with its form, the round is
marked checked; when the form is missing, the round is skipped in the case database and the run rescheduled, so it
re-executes and suspends again under the next round's key, this time with its form. A crash between the two leaves
the run waiting on the round the database has closed: the next tick sees that and reschedules it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from casework.keys import round_key
from hjemtilos.app import App
from hjemtilos.approvals import reject_input
from hjemtilos.db.models import AuditEvent, HumanTask, ReferralCase, VolunteerFamily
from hjemtilos.orchestration import FormStatus, Orchestrator

__all__ = ["repair_missing_forms"]

BATCH = 500
ASKED_AGAIN = "Formularen manglede i Prefect og vises nu igen. / The form was missing in Prefect and is shown again."


def repair_missing_forms(app: App, now: datetime, orchestrator: Orchestrator) -> int:
    """Check the open approvals' current rounds; returns how many runs were made to suspend again."""
    with app.session_factory() as session:
        rows = session.execute(
            select(HumanTask.id, HumanTask.key, HumanTask.round,
                   ReferralCase.flow_run_id, VolunteerFamily.flow_run_id)
            .outerjoin(ReferralCase, ReferralCase.id == HumanTask.case_id)
            .outerjoin(VolunteerFamily, VolunteerFamily.id == HumanTask.family_id)
            .where(HumanTask.completed_at.is_(None), HumanTask.round > 0,
                   or_(HumanTask.form_checked_round.is_(None), HumanTask.form_checked_round != HumanTask.round))
            .order_by(HumanTask.id).limit(BATCH)).all()
    repaired = 0
    for task_id, key, round_, case_run, family_run in rows:
        run_id = case_run or family_run
        if not run_id:
            continue
        status = orchestrator.form_status(run_id, round_key(key, round_))
        if status is FormStatus.NOT_WAITING:
            continue  # not suspended on this round yet (or any more): a later tick looks again
        if status is FormStatus.EARLIER_ROUND:  # the round was skipped, the reschedule did not happen (a crash)
            if orchestrator.reschedule(run_id):
                repaired += 1
            continue
        with app.session_factory.begin() as session:
            task = session.get(HumanTask, task_id)
            if task is None or task.completed_at is not None or task.round != round_:
                continue
            if status is FormStatus.STORED:
                session.execute(update(HumanTask).where(HumanTask.id == task_id).values(form_checked_round=round_))
                continue
            reject_input(session, task, ASKED_AGAIN, now)
            session.add(AuditEvent(case_id=task.case_id, family_id=task.family_id, at=now, actor="timekeeper",
                                   action="form-missing", step=task.step, detail={"key": key, "round": round_}))
        if orchestrator.reschedule(run_id):
            repaired += 1
    return repaired
