"""Every open case keeps a live way forward: a case without a run gets one (``start_missing_runs``), a run that
crashed, failed, was cancelled or was deleted is continued (``restart_crashed_runs``, bounded and backed off), and
an early ending whose wake was lost is carried out (``carry_out_endings``). Duties of the timekeeper
(hjemtilos/timekeeper/timekeeping.py) and of the housekeeper's crash check (hjemtilos/timekeeper/housekeeping.py)."""


from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from casework.durations import Duration
from casework.matching import family_reference
from casework.steps import FINISHED_CASE, FamilyStatus
from hjemtilos.app import App
from hjemtilos.db.models import (
    AuditEvent,
    ReferralCase,
    VolunteerFamily,
)
from hjemtilos.orchestration import Orchestrator
from hjemtilos.runs import start_case_run, start_family_run

BATCH = 500  # cases a round

__all__ = ["MAX_RESTARTS", "RESTART_WINDOW", "RUN_RESTARTED", "carry_out_endings", "restart_crashed_runs",
           "start_missing_runs"]


def start_missing_runs(app: App, orchestrator: Orchestrator, now: datetime) -> int:
    """Open cases without a flow run (intake while Prefect was down): start their runs."""
    with app.session_factory() as session:
        rows = session.execute(select(ReferralCase.id, ReferralCase.reference, ReferralCase.created_at).where(
            ReferralCase.flow_run_id.is_(None), ReferralCase.status.not_in(FINISHED_CASE)).limit(BATCH)).all()
        families = session.execute(select(VolunteerFamily.id, VolunteerFamily.created_at).where(
            VolunteerFamily.flow_run_id.is_(None), VolunteerFamily.status == FamilyStatus.SCREENING)
            .limit(BATCH)).all()
    for case_id, reference, created_at in rows:
        start_case_run(app, orchestrator, case_id, reference, created_at, now)
    for family_id, created_at in families:
        start_family_run(app, orchestrator, family_id, family_reference(family_id), created_at)
    return len(rows) + len(families)



MAX_RESTARTS = 3  # within RESTART_WINDOW; after that the stuck-case check reports the case
RESTART_WINDOW = timedelta(hours=24)
RESTART_BACKOFF = (0, 1, 4)  # before the 1st, 2nd and 3rd restart, in the profile's restart_backoff
DEAD_RUN = ("CRASHED", "FAILED", "CANCELLED")
# a run is continued once its dead state has settled: the worker may report a crash a moment after the engine did,
# and that late report would overwrite a restart made in between (one crash, restarted twice)
SETTLE = timedelta(seconds=10)
RUN_RESTARTED = "run-restarted"


def _restarts(session: Session, case_ids: list[int], now: datetime) -> dict[int, tuple[int, datetime]]:
    """Per case: how often its run was continued within RESTART_WINDOW, and when last."""
    if not case_ids:
        return {}
    rows = session.execute(select(AuditEvent.case_id, func.count(), func.max(AuditEvent.at)).where(
        AuditEvent.action == RUN_RESTARTED, AuditEvent.case_id.in_(case_ids),
        AuditEvent.at >= now - RESTART_WINDOW).group_by(AuditEvent.case_id)).all()
    return {case_id: (count, last) for case_id, count, last in rows if case_id is not None}


def _may_restart(restarts: tuple[int, datetime] | None, now: datetime, backoff: Duration) -> bool:
    count, last = restarts if restarts is not None else (0, None)
    if count >= MAX_RESTARTS:
        return False
    return last is None or now - _aware(last) >= timedelta(seconds=backoff.seconds * RESTART_BACKOFF[count])


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def restart_crashed_runs(app: App, now: datetime, orchestrator: Orchestrator, *, gone: bool = False) -> int:
    """The case database is the truth, so every open case can be continued: a case whose run is Crashed, Failed
    or Cancelled (a dead worker, a run that failed, someone's cancel) has its run set going again; it re-executes
    from the top and the case database tells it what is done (an unanswered form is asked again). ``gone``: also
    cases whose run Prefect no longer has (deleted), which get a fresh run. At most MAX_RESTARTS within
    RESTART_WINDOW per case, with back-off between them; after that the stuck-case check reports it."""
    dead = {run_id: state for run_id, state in orchestrator.troubled_runs(now).items()
            if state.type in DEAD_RUN and (state.since is None or now - _aware(state.since) >= SETTLE)}
    with app.session_factory() as session:
        query = select(ReferralCase.id, ReferralCase.reference, ReferralCase.created_at, ReferralCase.flow_run_id) \
            .where(ReferralCase.flow_run_id.is_not(None), ReferralCase.status.not_in(FINISHED_CASE))
        if not gone:
            if not dead:
                return 0
            query = query.where(ReferralCase.flow_run_id.in_(list(dead)))
        cases = session.execute(query).all()
        missing = orchestrator.missing_runs([run for *_, run in cases if run not in dead]) if gone else set()
        counts = _restarts(session, [c for c, *_ in cases if c is not None], now)
    restarted = 0
    for case_id, reference, created_at, run_id in cases:
        if run_id not in dead and run_id not in missing:
            continue
        if not _may_restart(counts.get(case_id), now, app.profile.timings.restart_backoff):
            continue
        attempt = counts.get(case_id, (0, now))[0] + 1
        if run_id in dead:
            if not orchestrator.reschedule(run_id):
                continue
            detail = {"flow_run_id": run_id, "was": dead[run_id].type, "attempt": attempt}
        else:  # the run is gone: a fresh one continues from what the case database says
            from hjemtilos.cases import case_run_key

            # named by the run it replaces: a timekeeper that dies before recording the new run gets the same run
            # back on its next try, never a second one
            key = f"{case_run_key(reference, created_at)}:continues-{run_id}"
            new_run = orchestrator.start_case(case_id, reference, key)
            detail = {"flow_run_id": new_run, "was": "gone", "attempt": attempt}
        with app.session_factory.begin() as session:
            if run_id in missing:
                session.execute(update(ReferralCase).where(ReferralCase.id == case_id)
                                .values(flow_run_id=detail["flow_run_id"]))
            session.add(AuditEvent(case_id=case_id, at=now, actor="timekeeper", action=RUN_RESTARTED, detail=detail))
        restarted += 1
    return restarted


def carry_out_endings(app: App, now: datetime, orchestrator: Orchestrator,
                      grace: timedelta = timedelta(seconds=20)) -> int:
    """Early endings recorded on the case page (or by end-case) that the case run has not begun: its wake was lost
    (the workspace wakes the run at once). The run is woken here; it sends the notices and asks the extra child
    visit. A lost wake costs at most one check."""
    from hjemtilos.db.models import CaseEnding

    with app.session_factory() as session:
        rows = session.execute(select(ReferralCase.flow_run_id).join(CaseEnding, CaseEnding.case_id == ReferralCase.id)
                               .where(CaseEnding.handled_at.is_(None), CaseEnding.begun_at.is_(None),
                                      CaseEnding.requested_at <= now - grace,
                                      ReferralCase.flow_run_id.is_not(None))).scalars().all()
    woken = 0
    for run_id in rows:
        if run_id is None:
            continue
        state = orchestrator.run_state(run_id)
        if state is not None and state.type == "PAUSED" and orchestrator.reschedule(run_id):
            woken += 1
    return woken


