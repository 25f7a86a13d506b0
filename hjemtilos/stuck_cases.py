"""The stuck-case check: facts from the case database (indexed queries) and from Prefect (one filtered query
for runs in troubled states), rows in ``stuck_case`` and one mail to the administrators per new stuck case."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from casework.clock import format_local
from casework.steps import FINISHED_CASE, Role, Step
from casework.stuck import CaseFacts, Stuck, find_stuck
from hjemtilos.app import App
from hjemtilos.db.models import HumanTask, ReferralCase, StuckCase, Timer
from hjemtilos.mail import contexts as mc
from hjemtilos.mail.outbox import OutboxBatch, Recipient
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
            .where(Timer.consumed_at.is_(None), Timer.due_at <= now, Timer.step != Step.AWAITING_FAMILY)
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
    """Keep ``stuck_case`` in step with the check; mail the administrators once per newly stuck case."""
    new = 0
    current = {(s.case_id, s.reason.value): s for s in stuck}
    with app.session_factory.begin() as session:
        open_rows = session.scalars(select(StuckCase).where(StuckCase.resolved_at.is_(None))).all()
        known = set()
        for row in open_rows:
            if (row.case_id, row.reason) in current:
                known.add((row.case_id, row.reason))
            else:
                row.resolved_at = now
        # an episode (case, reason, since) that was not stuck at one check and is again at the next is the same
        # episode: its row is reopened, and it got its mail when it was first seen
        returning = [key for key in current if key not in known]
        if returning:
            for row in session.scalars(select(StuckCase).where(
                    StuckCase.resolved_at.is_not(None),
                    StuckCase.case_id.in_({case_id for case_id, _ in returning}))):
                item = current.get((row.case_id, row.reason))
                if item is not None and (row.case_id, row.reason) not in known and _same_time(row.since, item.since):
                    row.resolved_at = None
                    known.add((row.case_id, row.reason))
        admin = Recipient(Role.ADMIN, "Administrator", str(app.settings.admin_email), "da")
        outbox = OutboxBatch(session, app.programme, now)
        rows: list[dict[str, object]] = []
        for key, item in current.items():
            if key in known:
                continue
            rows.append(dict(case_id=item.case_id, reason=item.reason.value, since=item.since, first_seen_at=now))
            # one alert per stuck episode: the reason and since when identify it
            outbox.add(case_id=item.case_id, step="stuck", recipient=admin,
                       context=mc.StuckCaseAlert(recipient_name="administrator", case_reference=item.reference,
                                                 reason=item.text_da, since=item.since,
                                                 link=app.settings.ui_base + "/artifacts"),
                       occurrence=f"stuck-{item.reason.value}-{item.since.astimezone(UTC):%Y%m%dT%H%M%S}")
            new += 1
        if rows:
            session.execute(insert(StuckCase), rows)
        outbox.write()
    return new


def _same_time(stored: datetime, found: datetime) -> bool:
    """The same episode: its since to the second, as the alert's outbox key has it."""
    return stored.replace(microsecond=0) == found.astimezone(UTC).replace(microsecond=0)


def stuck_table(stuck: list[Stuck]) -> list[dict[str, str]]:
    return [{"sag": s.reference, "årsag": s.text_da, "reason": s.reason.value,
             "siden": format_local(s.since)} for s in stuck]


def stuck_summary(stuck: list[Stuck], now: datetime, ui_base: str) -> str:
    lines = [f"# Sager der sidder fast: {len(stuck)}", "",
             f"Opdateret {format_local(now)} (dansk tid). Tabellen: artifact `stuck-cases`. "
             f"Alle artifacts: {ui_base}/artifacts", ""]
    for s in stuck:
        lines.append(f"- **{s.reference}**: {s.text_da} (siden {format_local(s.since)})")
    if not stuck:
        lines.append("Ingen sager sidder fast.")
    return "\n".join(lines)
