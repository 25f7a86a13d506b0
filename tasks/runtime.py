"""Per-process wiring for tasks: settings are read once per flow process, at this entry point; the clock every
task reads (a test can set a synthetic one); the one way a task is declared."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import SQLAlchemyError

from hjemtilos.app import App, build_app

__all__ = ["CaseDatabaseError", "db_task", "get_app", "once_task", "set_clock", "side_effect_task", "utcnow"]

P = ParamSpec("P")
R = TypeVar("R")


def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: list[Callable[[], datetime]] = [_system_clock]


@lru_cache(maxsize=1)
def get_app() -> App:
    return build_app()


def utcnow() -> datetime:
    return _clock[0]()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Use ``clock`` for every task's ``now`` in this process (None: the system clock again)."""
    _clock[0] = clock or _system_clock


class CaseDatabaseError(RuntimeError):
    """A case-database error as Prefect may see it: its kind and SQLSTATE, never its text (PostgreSQL's own
    message names the values, e.g. "Key (email)=(...) already exists")."""


def _withheld(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with database errors replaced by a CaseDatabaseError that carries no personal data (Prefect copies
    exception text into the failed state's message and the retry logs). The original is not chained."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            original = getattr(exc, "orig", None)
            code = getattr(original, "sqlstate", None) or getattr(original, "sqlite_errorname", None) or "-"
            kind = type(original or exc).__name__
            raise CaseDatabaseError(f"{kind} (SQLSTATE {code}) in the case database in {fn.__name__}; details "
                                    "withheld: they may name people") from None

    return wrapper


def db_task(fn: Callable[P, R]) -> Task[P, R]:
    """A task that is one transaction in the case database: retried (the transaction is idempotent), never
    cached, no result stored in Prefect, and its database errors told without their data."""
    return task(name=fn.__name__, retries=3, retry_delay_seconds=[1.0, 5.0, 15.0], cache_policy=NO_CACHE,
                persist_result=False)(_withheld(fn))


def side_effect_task(fn: Callable[P, R]) -> Task[P, R]:
    """A task with one side effect outside the case database (mail, Prefect's API): retried with longer waits."""
    return task(name=fn.__name__, retries=3, retry_delay_seconds=[2.0, 10.0, 30.0], cache_policy=NO_CACHE,
                persist_result=False)(_withheld(fn))


def once_task(fn: Callable[P, R]) -> Task[P, R]:
    """A task that records a person's decision once (an early ending, a change of circumstances): not retried,
    since a second attempt after a lost answer would be refused as a repeat; never cached, no result stored in
    Prefect, and its database errors told without their data."""
    return task(name=fn.__name__, retries=0, cache_policy=NO_CACHE, persist_result=False)(_withheld(fn))
