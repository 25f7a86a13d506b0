"""python -m benchmarks [all | report | tick | figures | warm | office | office-pg | office-embedded | intake-pg | idle | year | launch]
[--quick]  (office: SQLite; office-pg: an external PostgreSQL; office-embedded: the embedded default)

Each benchmark prints its figures as it goes and stores them in benchmarks/results.json (a later run of one
benchmark replaces its entry); RESULTS.md is written from that file after every run, or with `report`.
Several names may be given: `python -m benchmarks office idle year`.
--quick runs each at a small scale (to check that the benchmarks work, not for figures)."""

from __future__ import annotations

import signal
import sys
import time
from datetime import date

from benchmarks import figures, idle, launch, office, report, tick, warm, year

QUICK = {
    "intake-pg": dict(waiting=(), naive=0, intake_count=60, latency_count=0, burst_count=0, postgresql=True),
    "office": dict(waiting=(20, 50), naive=5, intake_count=60, latency_count=5, burst_count=10),
    "office-pg": dict(waiting=(50,), naive=0, intake_count=60, latency_count=5, burst_count=10, postgresql=True),
    "office-embedded": dict(waiting=(50,), naive=0, intake_count=60, latency_count=5, burst_count=10, embedded=True),
    "idle": dict(runs=300, seconds=20, settle=20, window=10),
    "year": dict(cases=3, bare=6),
    "launch": dict(count=4, rounds=1),
    "figures": dict(cases=300),
    "warm": dict(latency_count=4, burst_count=6, year_cases=2, databases=("SQLite",), poll_variant=False),
}
# The full waiting/intake scale runs on PostgreSQL; on SQLite 1,000 intakes alone took 14 min here (the server
# answers 503 to colliding writes and the client backs off 2 s, 4 s, ...), so SQLite runs at 200.
FULL = {
    "intake-pg": dict(waiting=(), naive=0, intake_count=1000, latency_count=0, burst_count=0, postgresql=True),
    "office-pg": dict(postgresql=True),
    "office-embedded": dict(embedded=True),
    "office": dict(waiting=(200,), intake_count=200),
    "idle": dict(),
    "year": dict(),
    "launch": dict(),
}
RUNNERS = {"intake-pg": office.main, "tick": lambda **_: tick.main(), "figures": figures.main, "warm": warm.main, "office-pg": office.main,
           "office-embedded": office.main, "office": office.main, "idle": idle.main,
           "year": year.main, "launch": launch.main}


def _stop(_signum: int, _frame: object) -> None:
    """A stopped benchmark stops the systems it started: their `finally` blocks run."""
    raise SystemExit(143)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    flags = [a for a in argv[1:] if a.startswith("-")]
    if any(flag != "--quick" for flag in flags):  # --help, -h or a typo: the usage, never a 90-minute run
        print(__doc__)
        return 0 if set(flags) & {"--help", "-h"} else 2
    args = [a for a in argv[1:] if not a.startswith("-")] or ["all"]
    quick = "--quick" in argv
    which = args[0]
    if which == "report":  # RESULTS.md again from the figures of the last runs (benchmarks/results.json)
        report.write(report.load(), date.today())
        return 0
    names = [n for n in RUNNERS if n != "intake-pg"] if which == "all" else args
    if any(name not in RUNNERS for name in names):
        print(__doc__)
        return 2
    results = {}
    started = time.perf_counter()
    for name in names:
        options = (QUICK if quick else FULL).get(name, {})
        try:
            results[name] = RUNNERS[name](**options)
        except Exception as exc:  # one failed benchmark must not lose the others' figures
            import traceback

            traceback.print_exc()
            results[name] = {"error": f"{exc.__class__.__name__}: {exc}"}
    minutes = (time.perf_counter() - started) / 60
    if which == "all":  # RESULTS.md says whether its figures come from one run
        results[report.RUN] = {"benchmarks": names, "minutes": round(minutes, 1)}
    if not quick:
        merged = report.save(results)
        report.write(merged, date.today())
        print(f"benchmarks/results.json and RESULTS.md updated ({minutes:.0f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
