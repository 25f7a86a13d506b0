"""A fast-profile year of two cases through a real `hjemtilos up`, with faults a user can cause: a random process of
its tree killed (kill -9) at random moments, and `up` itself restarted while cases wait on forms and timers, so that
timers come due while it is down. Every case must still reach its farewell, with no Failed run, and every mail of
the programme must go out once (counted at the SMTP server on loopback, the mail catcher). The seed is printed;
``HJEMTILOS_FAULT_SEED`` repeats a run."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings
from sqlalchemy import func, select

from benchmarks.harness import BENCH_AUTH, UpSystem, intake
from benchmarks.year import PROGRAMME_MAILS, add_families, robot_round
from hjemtilos.db.models import OutboxMail, ReferralCase

CASES = 2
KILLS = 6
SEED = int(os.environ.get("HJEMTILOS_FAULT_SEED", "0")) or random.SystemRandom().randrange(1, 10**6)


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()) if process.status() != psutil.STATUS_ZOMBIE else ""
    except psutil.Error:
        return ""


def victims(system: UpSystem) -> dict[str, psutil.Process]:
    """What may be killed now, by kind: Prefect's worker, the warm supervisor, the zygote, a forked flow run, the
    front door, the embedded PostgreSQL (its postmaster)."""
    found: dict[str, psutil.Process] = {}
    tree = psutil.Process(system.pid).children(recursive=True)
    zygotes = [p for p in tree if "hjemtilos.warm.zygote" in _command(p)]
    zygote = next((z for z in zygotes if z.ppid() not in {y.pid for y in zygotes}), None)
    for process in tree:
        command = _command(process)
        if "hjemtilos.warm.supervisor" in command:
            found["supervisor"] = process
        elif "prefect worker start" in command:
            found["prefect worker"] = process
        elif zygote is not None and process.pid == zygote.pid:
            found["zygote"] = process
        elif zygote is not None and process.ppid() == zygote.pid:
            found["flow run"] = process
        elif command.endswith("--adapter caddyfile") or "caddy run" in command:
            found["front door"] = process
        elif "bin/postgres -D" in command:
            found["postgres"] = process
    return found


def test_a_year_of_cases_lives_through_random_kills_and_a_restart_of_up(tmp_path: Path) -> None:
    print(f"\nfault test seed: {SEED} (HJEMTILOS_FAULT_SEED={SEED} repeats it)", flush=True)
    saved = dict(os.environ)  # the harness points this process's settings at the system: put them back after
    rng = random.Random(SEED)
    system = UpSystem(tmp_path / "var", profile="fast")
    system.start()
    kills: list[str] = []
    try:
        with temporary_settings(updates={PREFECT_API_URL: system.api_url, PREFECT_API_AUTH_STRING: BENCH_AUTH}):
            app = system.app()
            add_families(app, CASES)
            started = intake(app, CASES)
            answered: Counter[str] = Counter()
            too_early: Counter[str] = Counter()
            next_kill = time.monotonic() + rng.uniform(3, 8)
            restarted = False
            deadline = time.monotonic() + 600

            def closed() -> int:
                with app.session_factory() as session:
                    return int(session.scalar(select(func.count()).select_from(ReferralCase).where(
                        ReferralCase.status == "closed")) or 0)

            while True:
                try:
                    robot_round(answered, too_early)
                    if closed() == CASES:
                        break
                except Exception as exc:
                    print(f"   round: {type(exc).__name__}", flush=True)
                assert time.monotonic() < deadline, (kills, system.log.read_text(errors="replace")[-4000:])
                if not restarted and sum(answered.values()) >= 2 * CASES:
                    print("   restarting hjemtilos up (cases wait on forms and timers)", flush=True)
                    system.stop()
                    time.sleep(rng.uniform(4, 8))  # fast-profile timers come due meanwhile
                    system.start()
                    app.engine.dispose()
                    restarted = True
                elif len(kills) < KILLS and time.monotonic() >= next_kill:
                    found = victims(system)
                    if "postgres" in kills:  # the database once: each of its restarts costs every run in flight
                        found.pop("postgres", None)
                    kind = rng.choice(sorted(found)) if found else None
                    if kind is not None:
                        try:
                            found[kind].send_signal(signal.SIGKILL)
                            kills.append(kind)
                            print(f"   kill -9 {kind} (pid {found[kind].pid})", flush=True)
                        except psutil.Error:
                            pass
                        if kind == "postgres":
                            app.engine.dispose()
                    next_kill = time.monotonic() + rng.uniform(4, 12)
                time.sleep(0.5)
            assert system.process is not None and system.process.poll() is None
            assert restarted and len(kills) >= 3, kills

            def drained() -> bool:
                with app.session_factory() as session:
                    return session.scalar(select(func.count()).select_from(OutboxMail).where(
                        OutboxMail.status.in_(("pending", "sending")))) == 0

            deadline = time.monotonic() + 120
            while not drained():
                assert time.monotonic() < deadline, "the outbox did not drain"
                time.sleep(1)
            time.sleep(3)
            with get_client(sync_client=True) as client:
                histories = {reference: [s.type.value for s in client.read_flow_run_states(UUID(run_id))]
                             for _, reference, run_id in started}
    finally:
        system.stop()
        from tasks.runtime import get_app

        get_app.cache_clear()
        os.environ.clear()
        os.environ.update(saved)
    print(f"   kills: {Counter(kills)}; robot answers {sum(answered.values())}", flush=True)
    assert all("FAILED" not in states for states in histories.values()), histories
    caught = system.mails_caught()
    message_ids = Counter(m.message["Message-ID"] for m in caught)
    assert all(n == 1 for n in message_ids.values()), [m for m, n in message_ids.items() if n > 1]  # none twice
    programme: Counter[Any] = Counter(m.message["X-Hjemtilos-Template"] for m in caught
                                      if m.message["X-Hjemtilos-Template"] in PROGRAMME_MAILS)
    assert programme == Counter({t: n * CASES for t, n in PROGRAMME_MAILS.items()}), programme
