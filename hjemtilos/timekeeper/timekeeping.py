"""The timekeeper: one table of named duties (``DUTIES``), run in order by whichever loop runs it: ``tick`` (every
few seconds under ``hjemtilos up``, then the outbox is delivered) and the hourly ``timekeeper`` flow (one task a
duty, flows/timekeeper.py). A new duty is one row. The duties here resume runs whose timers are due, wake cases
waiting for a family, send reminders and escalations and apply retention; those that keep every case's run alive
are in hjemtilos/timekeeper/live_runs.py. Due work is found with indexed queries on the case database; Prefect is only asked
about the runs that have due work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from casework.clock import local_date
from casework.matching import family_reference
from casework.profiles import Timings
from casework.steps import Role, Step
from casework.stuck import StuckReason
from hjemtilos.app import App
from hjemtilos.cases.context import candidates_for, coordinator_recipient, ui_link
from hjemtilos.cases.records import consent_slots
from hjemtilos.claims import claims_to_show, mark_shown, with_claim_banner
from hjemtilos.db.models import (
    AuditEvent,
    ConsentReceipt,
    HumanTask,
    Party,
    ReferralCase,
    StuckCase,
    Timer,
)
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import OutboxBatch, Recipient
from hjemtilos.mail.sender import DeliveryReport, deliver_pending
from hjemtilos.orchestration import Orchestrator
from hjemtilos.timekeeper.answer_sweep import sweep_answers
from hjemtilos.timekeeper.form_repair import repair_missing_forms
from hjemtilos.timekeeper.live_runs import carry_out_endings, restart_crashed_runs, start_missing_runs
from hjemtilos.timekeeper.stuck_cases import Stuck, check_stuck, record_stuck
from hjemtilos.volunteers import family_reminder, send_supervision_invitations
from hjemtilos.volunteers.reminders import send_renewal_reminders

__all__ = ["DUTIES", "Duty", "TickReport", "apply_retention_daily", "fire_due_timers", "send_reminders",
           "tick", "wake_family_waits"]

log = logging.getLogger(__name__)
BATCH = 500
NO_WAY_FORWARD = (StuckReason.RUN_FAILED.value, StuckReason.NO_LIVE_RUN.value)


@dataclass
class TickReport:
    runs_started: int = 0  # open cases that had no run
    timers_fired: int = 0
    runs_resumed: int = 0
    runs_restarted: int = 0
    endings_woken: int = 0  # early endings recorded but not begun (a lost wake), their runs woken
    reminders: int = 0
    escalations: int = 0
    supervision_invitations: int = 0
    renewal_reminders: int = 0  # certificates and e-learning due for renewal, told to the coordinator
    forms_repaired: int = 0  # runs that waited without their form, made to suspend again
    answers_swept: int = 0  # finished approvals whose answers were deleted from Prefect
    claims_shown: int = 0  # Resume dialogs told who works on their step (or that nobody does any more)
    retention_done: int = 0  # retention actions carried out (once a day)
    stuck: list[Stuck] = field(default_factory=list)
    new_stuck: int = 0
    mail: DeliveryReport = field(default_factory=DeliveryReport)


def _wake(orchestrator: Orchestrator, flow_run_id: str | None, key: str) -> bool:
    """Resume the run if it is suspended on this wait."""
    if not flow_run_id:
        return False
    state = orchestrator.run_state(flow_run_id)
    if state is None or state.type != "PAUSED" or not (state.pause_key or "").startswith(key + "-r"):
        return False
    return orchestrator.resume(flow_run_id)


def fire_due_timers(app: App, now: datetime, orchestrator: Orchestrator) -> tuple[int, int]:
    fired = resumed = 0
    with app.session_factory.begin() as session:
        rows = session.execute(
            select(Timer.id, Timer.key, ReferralCase.flow_run_id, Timer.fired_at)
            .join(ReferralCase, ReferralCase.id == Timer.case_id)
            .where(Timer.consumed_at.is_(None), Timer.due_at <= now, Timer.step != Step.AWAITING_FAMILY)
            .order_by(Timer.due_at).limit(BATCH)
        ).all()
        unfired = [timer_id for timer_id, _key, _run, fired_at in rows if fired_at is None]
        if unfired:
            session.execute(update(Timer).where(Timer.id.in_(unfired)).values(fired_at=now))
            fired = len(unfired)
    for timer_id, key, flow_run_id, _ in rows:
        if _wake(orchestrator, flow_run_id, key):
            resumed += 1
            _mark_resumed(app, timer_id, now)
    return fired, resumed


def _mark_resumed(app: App, timer_id: int, now: datetime) -> None:
    with app.session_factory.begin() as session:
        session.execute(update(Timer).where(Timer.id == timer_id).values(resumed_at=now))


def wake_family_waits(app: App, now: datetime, orchestrator: Orchestrator) -> tuple[int, int]:
    fired = resumed = 0
    to_wake: list[tuple[int, str, str | None]] = []
    with app.session_factory.begin() as session:
        waits = session.scalars(select(Timer).where(Timer.consumed_at.is_(None),
                                                    Timer.step == Step.AWAITING_FAMILY).limit(BATCH)).all()
        for timer in waits:
            case = session.get(ReferralCase, timer.case_id)
            if case is not None and candidates_for(session, case, now):
                if timer.fired_at is None:
                    timer.fired_at = now
                    fired += 1
                to_wake.append((timer.id, timer.key, case.flow_run_id))
    for timer_id, key, flow_run_id in to_wake:
        if _wake(orchestrator, flow_run_id, key):
            resumed += 1
            _mark_resumed(app, timer_id, now)
    return fired, resumed


def _consent_missing(case: ReferralCase, receipts: list[ConsentReceipt]) -> tuple[str, ...]:
    """The custody holders a consent form is still missing from (names, for the referrer's reminder)."""
    missing = {slot.holder_name: None for slot in consent_slots(case, receipts) if slot.received_on is None}
    return tuple(missing)


def _bump_reminder(task: HumanTask, now: datetime, timings: Timings) -> dict[str, Any]:
    """Move the task's next reminder on; return its audit row."""
    task.reminders_sent += 1
    task.last_reminder_at = now
    task.reminder_at = timings.reminder_repeat_every.after(now)
    return _audit(task, now, "reminder-sent", {"key": task.key, "n": task.reminders_sent})


def _audit(task: HumanTask, now: datetime, action: str, detail: dict[str, Any]) -> dict[str, Any]:
    return dict(case_id=task.case_id, family_id=task.family_id, at=now, actor="timekeeper", action=action,
                step=task.step, detail=detail)


def _load_cases(session: Session, case_ids: set[int]) -> dict[int, ReferralCase]:
    """The cases (with child and parties) the reminders need, in one query instead of one per task."""
    if not case_ids:
        return {}
    return {case.id: case for case in session.scalars(
        select(ReferralCase).where(ReferralCase.id.in_(sorted(case_ids)))
        .options(selectinload(ReferralCase.parties), selectinload(ReferralCase.child)))}


def _load_receipts(session: Session, case_ids: set[int]) -> dict[int, list[ConsentReceipt]]:
    receipts: dict[int, list[ConsentReceipt]] = {case_id: [] for case_id in case_ids}
    if case_ids:
        for receipt in session.scalars(select(ConsentReceipt).where(ConsentReceipt.case_id.in_(sorted(case_ids)))):
            receipts[receipt.case_id].append(receipt)
    return receipts


def _case_reminder(app: App, case: ReferralCase, task: HumanTask,
                   receipts: list[ConsentReceipt]) -> tuple[Recipient, mc.MailContext]:
    """Consent goes to the referrer, with the holders a form is missing from; the rest to the coordinator."""
    if task.reminder_role == Role.REFERRER:
        referrer: Party = next(p for p in case.parties if p.role == Role.REFERRER)
        return (Recipient(Role.REFERRER, referrer.name, referrer.email, referrer.language, str(referrer.id)),
                mc.ConsentReminder(recipient_name=referrer.name, case_reference=case.reference,
                                   child_first_name=case.child.first_name,
                                   missing_from=_consent_missing(case, receipts) or ("forældrene",),
                                   requested_on=local_date(task.created_at)))
    coordinator = coordinator_recipient(app)
    return coordinator, mc.CoordinatorReminder(recipient_name=coordinator.name, case_reference=case.reference,
                                               task_title=task.title, waiting_since=task.created_at,
                                               link=ui_link(app, case))


def send_reminders(app: App, now: datetime) -> tuple[int, int]:
    """One reminder per interval and one escalation per task, each in the transaction that records it.

    Batched: the due tasks, their cases and the outbox keys are each read with one query, and the new mails,
    audit events and task updates are written in the transaction's one flush."""
    timings = app.profile.timings
    reminders = escalations = 0
    with app.session_factory.begin() as session, session.no_autoflush:
        outbox = OutboxBatch(session, app.programme, now)
        # a task nobody can answer (its case has no live run: reported to an administrator) is not reminded of
        unanswerable = select(StuckCase.case_id).where(StuckCase.resolved_at.is_(None),
                                                       StuckCase.reason.in_(NO_WAY_FORWARD))
        answerable = HumanTask.case_id.is_(None) | HumanTask.case_id.not_in(unanswerable)
        due = session.scalars(select(HumanTask).where(HumanTask.completed_at.is_(None), HumanTask.reminder_at <= now,
                                                      answerable)
                              .order_by(HumanTask.reminder_at).limit(BATCH)).all()
        overdue = session.scalars(select(HumanTask).where(HumanTask.completed_at.is_(None),
                                                          HumanTask.escalated_at.is_(None),
                                                          HumanTask.escalation_at <= now, answerable)
                                  .limit(BATCH)).all()
        cases = _load_cases(session, {t.case_id for t in (*due, *overdue) if t.case_id is not None})
        receipts = _load_receipts(session, {t.case_id for t in due
                                            if t.case_id is not None and t.reminder_role == Role.REFERRER})
        audit: list[dict[str, Any]] = []
        for task in due:
            occurrence = f"reminder-{task.reminders_sent + 1}"
            if task.family_id is not None:
                for recipient, context in family_reminder(session, app, task, now):
                    # no case: the family's id is what tells one family's reminder from another's
                    outbox.add(case_id=None, step=task.step, recipient=recipient, context=context,
                               occurrence=f"family-{task.family_id}:{task.key}:{occurrence}")
                audit.append(_bump_reminder(task, now, timings))
                reminders += 1
                continue
            case = cases[task.case_id or 0]
            recipient, context = _case_reminder(app, case, task, receipts.get(case.id, []))
            outbox.add(case_id=case.id, step=task.step, recipient=recipient, context=context,
                       occurrence=f"{task.key}:{occurrence}")
            audit.append(_bump_reminder(task, now, timings))
            reminders += 1
        for task in overdue:
            escalated = cases.get(task.case_id) if task.case_id is not None else None
            if escalated is not None:
                reference, link = escalated.reference, ui_link(app, escalated)
            else:
                reference, link = family_reference(task.family_id or 0), app.settings.inbox_url()
            recipient = coordinator_recipient(app)
            outbox.add(case_id=task.case_id, step=task.step, recipient=recipient,
                       context=mc.CoordinatorEscalation(recipient_name=recipient.name, case_reference=reference,
                                                        task_title=task.title, waiting_since=task.created_at,
                                                        link=link),
                       occurrence=f"{task.key}:escalation:{task.family_id or ''}")
            task.escalated_at = now
            audit.append(_audit(task, now, "escalated", {"key": task.key}))
            escalations += 1
        outbox.write()
        if audit:
            session.execute(insert(AuditEvent), audit)
    return reminders, escalations


RETENTION_RAN = "retention-ran"


def apply_retention_daily(app: App, now: datetime, orchestrator: Orchestrator) -> int:
    """Apply the retention file once a day (the day's run is an audit row, so a restart does not repeat it)."""
    from hjemtilos.privacy.retention import apply, load_policy, plan

    with app.session_factory() as session:
        last = session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.action == RETENTION_RAN))
    if last is not None and now - last < timedelta(days=1):
        return 0
    policy = load_policy(app.settings.retention_file)  # a broken file stops here, reported by the loop
    with app.session_factory() as session:
        due = plan(session, policy, now, app.settings.maildir)
    done = apply(app, due, now, actor="timekeeper", delete_run=orchestrator.delete_run)
    with app.session_factory.begin() as session:
        session.add(AuditEvent(at=now, actor="timekeeper", action=RETENTION_RAN, detail={"done": done}))
    return done


Run = Callable[[App, datetime, Orchestrator, TickReport], None]


@dataclass(frozen=True)
class Duty:
    """One thing the timekeeper does every round; ``run`` does it and adds its counts to the report. ``in_flow``:
    also in the hourly flow (False for what only the host may do: retention removes caught mail from the data
    folder, which the flow runs' user cannot reach)."""

    name: str
    run: Run
    in_flow: bool = True


def _start_missing(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.runs_started += start_missing_runs(app, orchestrator, now)


def _restart_crashed(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.runs_restarted += restart_crashed_runs(app, now, orchestrator, gone=True)


def _carry_out_endings(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.endings_woken += carry_out_endings(app, now, orchestrator)


def _fire_timers(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    fired, resumed = fire_due_timers(app, now, orchestrator)
    report.timers_fired += fired
    report.runs_resumed += resumed


def _wake_families(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    fired, resumed = wake_family_waits(app, now, orchestrator)
    report.timers_fired += fired
    report.runs_resumed += resumed


def _remind(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    reminders, escalations = send_reminders(app, now)
    report.reminders += reminders
    report.escalations += escalations


def _invite(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.supervision_invitations += send_supervision_invitations(app, now)


def _renewals(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.renewal_reminders += send_renewal_reminders(app, now)


def _repair_forms(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.forms_repaired += repair_missing_forms(app, now, orchestrator)


def show_claims(app: App, orchestrator: Orchestrator) -> int:
    """Write each changed claim into its Resume dialog: the workspace does it at once when it can, this catches a
    claim made before the run had stored its form (and a failed call)."""
    shown = 0
    with app.session_factory() as session:
        pending = claims_to_show(session)
    for claim in pending:
        if orchestrator.edit_form_description(claim.flow_run_id, claim.pause_key, partial(with_claim_banner,
                                                                                          banner=claim.banner)):
            with app.session_factory.begin() as session:
                mark_shown(session, claim)
            shown += 1
    return shown


def _show_claims(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.claims_shown += show_claims(app, orchestrator)


def _sweep(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.answers_swept += sweep_answers(app, orchestrator)


def _retention(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    if app.settings.retention_daily:
        report.retention_done += apply_retention_daily(app, now, orchestrator)


def _stuck(app: App, now: datetime, orchestrator: Orchestrator, report: TickReport) -> None:
    report.stuck = check_stuck(app, now, orchestrator)
    report.new_stuck += record_stuck(app, report.stuck, now)


DUTIES: tuple[Duty, ...] = (
    Duty("start-missing-runs", _start_missing),
    Duty("restart-crashed-runs", _restart_crashed),
    Duty("carry-out-endings", _carry_out_endings),
    Duty("fire-due-timers", _fire_timers),
    Duty("wake-family-waits", _wake_families),
    Duty("send-reminders", _remind),
    Duty("supervision-invitations", _invite),
    Duty("renewal-reminders", _renewals),
    Duty("repair-missing-forms", _repair_forms),
    Duty("show-claims", _show_claims),
    Duty("sweep-answers", _sweep),
    Duty("retention", _retention, in_flow=False),
    Duty("check-stuck-cases", _stuck),  # last: it sees what the others left
)


def tick(app: App, now: datetime, orchestrator: Orchestrator, deliver: bool = True) -> TickReport:
    """Every duty in turn, then (``deliver``) the outbox."""
    report = TickReport()
    for duty in DUTIES:
        duty.run(app, now, orchestrator, report)
    if deliver:
        report.mail = deliver_pending(app.session_factory, app.smtp, now)
    log.info("tick: %s timers fired, %s runs resumed, %s reminders, %s escalations, %s mails sent",
             report.timers_fired, report.runs_resumed, report.reminders, report.escalations, len(report.mail.sent))
    return report
