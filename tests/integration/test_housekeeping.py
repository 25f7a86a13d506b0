"""`hjemtilos up`'s loop survives a failing round: the Prefect server answering 503, an SMTP or database error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hjemtilos.app import App
from hjemtilos.orchestration import RunState
from hjemtilos.timekeeper.housekeeping import REPUBLISH_SECONDS, RETRY_SECONDS, Housekeeper
from tests.fakes import FakeOrchestrator
from tests.support import NOW, new_case


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_publish_is_reported_and_repeated_not_fatal(app: App) -> None:
    run_id = "00000000-0000-0000-0000-00000000f00d"
    new_case(app, run_id)
    # a run that failed long ago and cannot be continued (its restarts are refused): reported as stuck
    orchestrator = FakeOrchestrator({run_id: RunState("FAILED", "Failed", None, NOW - timedelta(days=30))},
                                    accept=False)
    published: list[list[dict[str, str]]] = []
    lines: list[str] = []
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    request = httpx.Request("POST", "http://127.0.0.1/api/artifacts/")
    unavailable = PrefectHTTPStatusError("Server error '503 Service Unavailable' for HTO-2026-0001",
                                         request=request, response=httpx.Response(503, request=request))
    answers = iter([unavailable, None])

    def publish(table: list[dict[str, str]], summary: str) -> None:
        answer = next(answers, None)
        if answer:
            raise answer
        published.append(table)

    delivered: list[datetime] = []
    clock = Clock()
    keeper = Housekeeper(app, orchestrator, tick_seconds=3600, publish=publish, deliver=delivered.append,
                         report=lines.append, clock=clock)
    assert keeper.step(NOW) is None  # the round failed ...
    assert lines == ["timekeeper round failed, again in 10 s: PrefectHTTPStatusError (HTTP 503)"]
    assert published == []
    assert delivered == [NOW]  # ... mail still went out
    clock.now += RETRY_SECONDS - 1
    keeper.step(NOW)
    assert published == []  # not before the retry delay
    clock.now += 1
    report = keeper.step(NOW)
    assert report is not None and len(published) == 1 and published[0][0]["reason"] == "run-failed"
    clock.now += 60
    keeper.step(NOW)
    assert len(published) == 1  # unchanged table: not published again; the hour has not passed
    clock.now += 3600
    keeper.step(NOW)
    assert REPUBLISH_SECONDS <= 3600 and len(published) == 2  # unchanged, but republished: it says when it ran


def test_crashed_case_runs_are_rescheduled_between_ticks(app: App) -> None:
    from hjemtilos.timekeeper.housekeeping import CRASH_CHECK_SECONDS

    run_id = "00000000-0000-0000-0000-00000000c0de"
    new_case(app, run_id)
    orchestrator = FakeOrchestrator({run_id: RunState("PAUSED", "Suspended", "approval-screening-r1", NOW)})
    clock = Clock()
    keeper = Housekeeper(app, orchestrator, tick_seconds=3600, publish=lambda table, summary: None,
                         deliver=lambda now: None, report=lambda line: None, clock=clock)
    keeper.step(NOW)  # the tick, and the first check
    orchestrator.states[run_id] = RunState("CRASHED", "Crashed", None, NOW - timedelta(minutes=1))  # its worker failed to submit it
    clock.now += CRASH_CHECK_SECONDS - 1
    keeper.step(NOW)
    assert orchestrator.rescheduled == []  # not before the next check
    clock.now += 1
    keeper.step(NOW)  # the next check between ticks
    assert orchestrator.rescheduled == [run_id]
    orchestrator.states[run_id] = RunState("CRASHED", "Crashed", None, NOW - timedelta(minutes=1))
    clock.now += CRASH_CHECK_SECONDS
    keeper.step(NOW + timedelta(minutes=3))  # past the back-off after the first restart
    assert orchestrator.rescheduled == [run_id, run_id]  # long before the hour's tick


def test_failed_mail_round_is_reported_not_fatal(app: App) -> None:
    lines: list[str] = []

    def deliver(now: datetime) -> None:
        raise OSError("database is locked [parameters: ('maria.hansen@example.dk',)]")

    keeper = Housekeeper(app, FakeOrchestrator({}), tick_seconds=3600, publish=lambda table, summary: None,
                         deliver=deliver, report=lines.append, clock=Clock())
    keeper.step(NOW)
    keeper.step(NOW)
    assert lines == ["mail round failed: OSError", "mail round failed: OSError"]  # no message: it may hold addresses
    assert keeper.failures == 2


def test_one_stuck_episode_of_a_case_is_one_row_and_one_mail_whatever_its_reasons(app: App) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from casework.stuck import Stuck, StuckReason
    from hjemtilos.db.models import OutboxMail, StuckCase
    from hjemtilos.timekeeper.stuck_cases import record_stuck

    case_id = new_case(app)
    since = datetime(2026, 3, 2, 8, 0, 0, 250_000, tzinfo=UTC)

    def stuck(reason: StuckReason, when: datetime = since) -> Stuck:
        return Stuck(case_id=case_id, reference="HTO-2026-0001", reason=reason, since=when)

    at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert record_stuck(app, [stuck(StuckReason.APPROVAL_OVERDUE)], at) == 1
    # the reason changes, the case is clear for one check, comes back with yet another reason: the same episode
    assert record_stuck(app, [stuck(StuckReason.RUN_NOT_PICKED_UP, at)], at + timedelta(minutes=1)) == 0
    assert record_stuck(app, [], at + timedelta(minutes=2)) == 0
    assert record_stuck(app, [stuck(StuckReason.TIMER_NOT_RESUMED, at)], at + timedelta(minutes=3)) == 0
    with app.session_factory() as session:
        row = session.scalars(select(StuckCase)).one()
        assert (row.reason, row.resolved_at) == ("timer-not-resumed", None)
    # clear for longer than stuck_after (2 days): stuck again is a new episode, with a new row and a new mail
    assert record_stuck(app, [], at + timedelta(minutes=4)) == 0
    again = at + timedelta(days=3)
    assert record_stuck(app, [stuck(StuckReason.APPROVAL_OVERDUE, again)], again) == 1

    with app.session_factory() as session:
        rows = session.execute(select(StuckCase.since, StuckCase.resolved_at).order_by(StuckCase.id)).all()
        alerts = session.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.template == "stuck-case-alert"))
    assert [(r.since, r.resolved_at) for r in rows] == [(since, at + timedelta(minutes=4)), (again, None)]
    assert alerts == 2
