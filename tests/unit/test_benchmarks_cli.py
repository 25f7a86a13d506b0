"""The benchmarks' entry point: asking for help or mistyping a flag must never start the 90-minute run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prefect.client.schemas.objects import StateType

from benchmarks import __main__ as entry
from benchmarks import report
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
    start = datetime(2026, 11, 28, tzinfo=UTC)
    history = [(StateType.SCHEDULED, 0.0), (StateType.PENDING, 0.4), (StateType.PENDING, 2.4),
               (StateType.RUNNING, 4.0), (StateType.PAUSED, 4.5),  # the first step, then a resume:
               (StateType.SCHEDULED, 60.0), (StateType.PENDING, 61.0), (StateType.RUNNING, 64.0),
               (StateType.COMPLETED, 65.5)]
    states = [SimpleNamespace(type=kind, timestamp=start + timedelta(seconds=at)) for kind, at in reversed(history)]
    assert step_times(states) == {"pickup": [0.4, 1.0], "process_start": [3.6, 3.0], "execution": [0.5, 1.5]}


@pytest.mark.parametrize(("year_measured_on", "one_run"), [("2026-11-28T16:10", True), ("2026-11-27T09:00", False)])
def test_results_say_whether_every_figure_comes_from_one_run(year_measured_on: str, one_run: bool,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "RESULTS", tmp_path / "RESULTS.md")
    results = {"year": {"error": "ConnectError: refused", "measured_on": year_measured_on},
               report.RUN: {"benchmarks": ["year"], "minutes": 97.4, "measured_on": "2026-11-28T16:10"}}
    report.write(results, date(2026, 11, 28))
    text = report.RESULTS.read_text()
    assert ("one run of `python -m benchmarks all` that ended 2026-11-28T16:10 and took 97 min" in text) is one_run
    assert ("measured: year 2026-11-27T09:00" in text) is not one_run
    assert "**year did not complete**: ConnectError: refused" in text
