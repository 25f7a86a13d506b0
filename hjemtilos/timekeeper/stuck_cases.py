"""The stuck-case check: facts from the case database (indexed queries) and from Prefect (one filtered query
for runs in troubled states), rows in ``stuck_case`` and one mail to the administrators per new stuck case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from casework.clock import format_local
from casework.steps import FINISHED_CASE, Role, Step
from casework.stuck import CaseFacts, Stuck, find_stuck
from hjemtilos.app import App
from hjemtilos.db.models import HumanTask, ReferralCase, StuckCase, Timer
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import Recipient, enqueue_mail
from hjemtilos.orchestration import Orchestrator, RunState

__all__ = ["Stuck", "check_stuck", "find_stuck_cases", "gather_facts", "record_stuck", "stuck_summary", "stuck_table"]


def gather_facts(app: App, now: datetime, runs: dict[str, RunState]) -> list[CaseFacts]:
    with app.session_factory() as session:
        overdue: dict[int, datetime] = {case_id: at for case_id, at in session.execute(
            select(HumanTask.case_id, func.min(HumanTask.escalation_at))
            .where(HumanTask.completed_at.is_(None), HumanTask.case_id.is_not(None), HumanTask.escalation_at <= now)
            .group_by(HumanTask.case_id)) if case_id is not None and at is not None}
        timers: dict[int, datetime] = dict(session.execute(
            select(Timer.case_id, func.min(Timer.due_at))
            .where(Timer.consumed_at.is_(None), Timer.resumed_at.is_(None), Timer.due_at <= now,
                   Timer.step != Step.AWAITING_FAMILY)
            .group_by(Timer.case_id)).tuples().all())
        cases = session.execute(select(ReferralCase.id, ReferralCase.reference, ReferralCase.created_at,
                                       ReferralCase.flow_run_id)
                                .where(ReferralCase.status.not_in(FINISHED_CASE))).all()
    facts = []
    for case_id, reference, created_at, run_id in cases:
        state = runs.get(run_id) if run_id else None
        facts.append(CaseFacts(case_id, reference, created_at, run_id, overdue.get(case_id), timers.get(case_id),
                               state.type if state else None, state.name if state else None,
                               state.since if state else None))
    return facts


def find_stuck_cases(app: App, now: datetime, runs: dict[str, RunState]) -> list[Stuck]:
    """The stuck cases, from the case database and what Prefect said of its troubled runs."""
    threshold = app.profile.timings.stuck_after
    return find_stuck(gather_facts(app, now, runs), now, threshold.after(now) - now)


def check_stuck(app: App, now: datetime, orchestrator: Orchestrator) -> list[Stuck]:
    return find_stuck_cases(app, now, orchestrator.troubled_runs(now))


def record_stuck(app: App, stuck: list[Stuck], now: datetime) -> int:
    """Keep ``stuck_case`` in step with the check: one row per stuck episode of a case, whatever its reasons, and one
    mail to the administrators when an episode begins. A case that was clear for less than ``stuck_after`` and is
    stuck again continues its episode (its row is reopened); its reason is kept up to date."""
    grace = app.profile.timings.stuck_after.after(now) - now
    current = {s.case_id: s for s in stuck}
    new = 0
    with app.session_factory.begin() as session:
        episodes: dict[int, StuckCase] = {}
        for row in session.scalars(select(StuckCase).where(StuckCase.resolved_at.is_(None))):
            if row.case_id in current:
                episodes[row.case_id] = row
            else:
                row.resolved_at = now
        returning = [case_id for case_id in current if case_id not in episodes]
        if returning:
            for row in session.scalars(select(StuckCase).where(
                    StuckCase.case_id.in_(returning), StuckCase.resolved_at >= now - grace)
                    .order_by(StuckCase.resolved_at)):
                row.resolved_at = None
                episodes[row.case_id] = row
        admin = Recipient(Role.ADMIN, "Administrator", str(app.settings.admin_email), "da")
        for case_id, item in current.items():
            episode = episodes.get(case_id)
            if episode is not None:
                episode.reason = item.reason.value
                continue
            episode = StuckCase(case_id=case_id, reason=item.reason.value, since=item.since, first_seen_at=now)
            session.add(episode)
            session.flush()
            enqueue_mail(session, case_id=case_id, step="stuck", recipient=admin, programme=app.programme, now=now,
                         context=mc.StuckCaseAlert(recipient_name="administrator", case_reference=item.reference,
                                                   reason=item.text_da, since=item.since,
                                                   link=app.settings.ui_base + "/artifacts"),
                         occurrence=f"stuck-episode-{episode.id}")  # the episode is what the alert is about
            new += 1
    return new


def stuck_table(stuck: list[Stuck]) -> list[dict[str, str]]:
    return [{"sag": s.reference, "årsag": s.text_da, "reason": s.reason.value,
             "siden": format_local(s.since)} for s in stuck]


def stuck_summary(stuck: list[Stuck], now: datetime, ui_base: str) -> str:
    lines = [f"# Sager der sidder fast: {len(stuck)}", "",
             f"Sidst tjekket {format_local(now)} (dansk tid). Tabellen: artifact `stuck-cases`. "
             f"Alle artifacts: {ui_base}/artifacts", ""]
    for s in stuck:
        lines.append(f"- **{s.reference}**: {s.text_da} (siden {format_local(s.since)})")
    if not stuck:
        lines.append("Ingen sager sidder fast.")
    return "\n".join(lines)
