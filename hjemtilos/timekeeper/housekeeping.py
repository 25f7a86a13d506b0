"""What `hjemtilos up` does between its sleeps: the timekeeper's tick at the profile's pace, between ticks a check
every CRASH_CHECK_SECONDS for silent runs (Running without a heartbeat: marked Crashed), dead case runs (Crashed,
Failed, Cancelled: continued) and early endings not begun (their runs woken), the stuck-cases artifact whenever
it changes, and the outbox's mail.

A round that fails (the Prefect server answering 503 under SQLite write contention, a locked database, an SMTP
server away) is reported and tried again RETRY_SECONDS later; it never stops the system. Every part is safe to
repeat: the tick's reminders, escalations and resumes are keyed in the case database, and the outbox sends each
row once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hjemtilos.app import App
from hjemtilos.orchestration import Orchestrator
from hjemtilos.timekeeper.live_runs import carry_out_endings, restart_crashed_runs
from hjemtilos.timekeeper.stuck_cases import stuck_summary, stuck_table
from hjemtilos.timekeeper.timekeeping import TickReport, tick

RETRY_SECONDS = 10.0
CRASH_CHECK_SECONDS = 30.0  # between ticks (an hour in production), crashed case runs are rescheduled this often
REPUBLISH_SECONDS = 600.0  # the summary says when the check last ran: republished this often even when unchanged


def describe(exc: BaseException) -> str:
    """The error's class and, for an HTTP error, its status: never its message, which may carry SQL parameters
    or mail addresses (no personal data in logs)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")


class Housekeeper:
    def __init__(self, app: App, orchestrator: Orchestrator, tick_seconds: float,
                 publish: Callable[[list[dict[str, str]], str], Any], deliver: Callable[[datetime], Any],
                 report: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
                 silent_after: timedelta | None = None) -> None:
        self.app = app
        self.orchestrator = orchestrator
        self.tick_seconds = tick_seconds
        self.publish = publish
        self.deliver = deliver
        self.report = report
        self.clock = clock
        self.next_tick = 0.0
        self.next_crash_check = 0.0
        self.published: list[dict[str, str]] | None = None
        self.published_at = float("-inf")
        self.failures = 0
        self.silent_after = silent_after  # Running runs without a heartbeat this long are Crashed (None: never)

    def step(self, now: datetime) -> TickReport | None:
        """One pass of the loop: tick if it is due, then mail. Never raises on a failing part."""
        result = None
        if self.clock() >= self.next_tick:
            try:
                result = tick(self.app, now, self.orchestrator, deliver=False)
                table = stuck_table(result.stuck)
                if table != self.published or self.clock() - self.published_at >= REPUBLISH_SECONDS:
                    self.publish(table, stuck_summary(result.stuck, now, self.app.settings.ui_base))
                    self.published, self.published_at = table, self.clock()
                self.next_tick = self.clock() + self.tick_seconds
            except Exception as exc:  # noqa: BLE001 - the next round repeats it; the system keeps running
                self.failures += 1
                self.next_tick = self.clock() + min(self.tick_seconds, RETRY_SECONDS)
                self.report(f"timekeeper round failed, again in {min(self.tick_seconds, RETRY_SECONDS):.0f} s: "
                            f"{describe(exc)}")
                result = None
        if self.clock() >= self.next_crash_check:
            # a run its worker could not start (a 503 while submitting it) or whose process died is Crashed: a
            # case must not wait the hour until the next tick for it (the tick does the same, counted per case)
            self.next_crash_check = self.clock() + CRASH_CHECK_SECONDS
            try:
                if self.silent_after is not None:
                    self.orchestrator.crash_silent_runs(now, self.silent_after)
                restart_crashed_runs(self.app, now, self.orchestrator)
                carry_out_endings(self.app, now, self.orchestrator)
            except Exception as exc:  # noqa: BLE001 - the next check repeats it
                self.failures += 1
                self.report(f"crashed-run check failed: {describe(exc)}")
        try:
            self.deliver(now)
        except Exception as exc:  # noqa: BLE001 - pending rows stay pending and go out on a later pass
            self.failures += 1
            self.report(f"mail round failed: {describe(exc)}")
        return result
