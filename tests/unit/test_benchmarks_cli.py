"""The benchmarks' entry point: asking for help or mistyping a flag must never start the 90-minute run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from prefect.client.schemas.objects import StateType

from benchmarks import __main__ as entry
from benchmarks.year import step_times


@pytest.fixture
def no_benchmark_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []
    for name in entry.RUNNERS:
        monkeypatch.setitem(entry.RUNNERS, name, lambda _name=name, **_: started.append(_name) or {})
    return started


@pytest.mark.parametrize(("argv", "code"), [(["--help"], 0), (["-h"], 0), (["office", "--help"], 0),
                                            (["--qiuck"], 2), (["offise"], 2)])
def test_help_and_mistakes_print_the_usage_and_run_nothing(argv: list[str], code: int, no_benchmark_runs: list[str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.main(["benchmarks", *argv]) == code
    assert "python -m benchmarks [all" in capsys.readouterr().out
    assert no_benchmark_runs == []


def test_quick_runs_the_named_benchmarks_without_touching_the_results(no_benchmark_runs: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry.report, "save", lambda _results: pytest.fail("a quick run stored its figures"))
    assert entry.main(["benchmarks", "tick", "idle", "--quick"]) == 0
    assert no_benchmark_runs == ["tick", "idle"]


def test_step_times_split_each_execution_of_a_run() -> None:
    start = datetime(2026, 11, 28, tzinfo=timezone.utc)
    history = [(StateType.SCHEDULED, 0.0), (StateType.PENDING, 0.4), (StateType.PENDING, 2.4),
               (StateType.RUNNING, 4.0), (StateType.PAUSED, 4.5),  # the first step, then a resume:
               (StateType.SCHEDULED, 60.0), (StateType.PENDING, 61.0), (StateType.RUNNING, 64.0),
               (StateType.COMPLETED, 65.5)]
    states = [SimpleNamespace(type=kind, timestamp=start + timedelta(seconds=at)) for kind, at in reversed(history)]
    assert step_times(states) == {"pickup": [0.4, 1.0], "process_start": [3.6, 3.0], "execution": [0.5, 1.5]}
