"""No case is stranded, tried through a real `hjemtilos up` (embedded PostgreSQL, fast profile), never through
pieces wired for the test: a suspended run forced to Crashed continues and asks its form again; kill -9 of Prefect's
worker, of the warm worker's supervisor, of the zygote and of the embedded PostgreSQL, each in turn while cases
move: `up` stays up, the front door answers, and each case takes its next step once; an early ending submitted on
the case page sends its notices within a minute (up wires the workspace's wake). Run as root, the worker, the zygote
and the flow runs are the system user hjemtilos-run, which reaches the case tables and nothing else."""

from __future__ import annotations

import grp
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest

from hjemtilos import PROJECT_ROOT
from hjemtilos.mail.catcher import list_caught
from tests.browser.test_front_door import PASSWORD, _csrf, sign_in
from tests.support import AUTH_HEADER, stop_up, up_process_env


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("stranded") / "var"
    env = up_process_env(data)
    log = data.parent / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "hjemtilos.cli", "up"], env=env, cwd=PROJECT_ROOT,
                          stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: b"Running. Ctrl-C" in log.read_bytes() or up.poll() is not None, 300, "hjemtilos up")
        assert up.poll() is None, log.read_text(errors="replace")[-3000:]
        link = re.search(r"(http://\S+/arbejde/opret/\S+)", log.read_text(errors="replace"))
        assert link
        front = f"http://127.0.0.1:{env['HJEMTILOS_FRONT_PORT']}"
        yield {"up": up, "env": env, "log": log, "data": data, "front": front, "link": link.group(1),
               "prefect": f"http://127.0.0.1:{env['HJEMTILOS_PREFECT_PORT']}/api"}
    finally:
        stop_up(up)


def refer(system: dict[str, Any]) -> str:
    done = subprocess.run([sys.executable, "-m", "hjemtilos.cli", "refer", "examples/referral-standard.json"],
                          env=system["env"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return re.search(r"(HTO-\d{4}-\d{4})", done.stdout).group(1)  # type: ignore[union-attr]


def prefect(system: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=system["prefect"], headers=AUTH_HEADER, timeout=30)


def run_of(system: dict[str, Any], reference: str) -> dict[str, Any]:
    with prefect(system) as api:
        answer = api.post("/flow_runs/filter", json={"flow_runs": {"name": {"any_": [reference]}}})
    answer.raise_for_status()  # a 500 while the database restarts: wait_for tries again
    runs = answer.json()
    assert len(runs) == 1, runs
    return dict(runs[0])


def waits_on(system: dict[str, Any], reference: str, key: str) -> bool:
    """The case's run waits Suspended on ``key`` with its form stored."""
    run = run_of(system, reference)
    state = run["state"]
    if state["type"] != "PAUSED" or state["state_details"].get("pause_key") != key:
        return False
    schema = state["state_details"]["run_input_keyset"]["schema"]
    with prefect(system) as api:
        return api.get(f"/flow_runs/{run['id']}/input/{schema}").status_code == 200


def state_types(system: dict[str, Any], reference: str) -> list[str]:
    with prefect(system) as api:
        states = api.get("/flow_run_states/", params={"flow_run_id": run_of(system, reference)["id"]}).json()
    return [s["type"] for s in states]


def resume(system: dict[str, Any], reference: str, answer: dict[str, Any]) -> None:
    """Answer the case's form as the Resume dialog does (again after a 5xx: the server reconnecting to a restarted
    database answers 500 for a moment, and took nothing)."""
    def answered() -> dict[str, Any] | None:
        with prefect(system) as api:
            response = api.post(f"/flow_runs/{run_of(system, reference)['id']}/resume", json={"run_input": answer})
        return None if response.status_code >= 500 else dict(response.json())

    result = wait_for(answered, 60, f"the answer to {reference}'s form")
    assert result["status"] == "ACCEPT", result


def tree(system: dict[str, Any]) -> list[psutil.Process]:
    return psutil.Process(system["up"].pid).children(recursive=True)


def _command(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) if proc.status() != psutil.STATUS_ZOMBIE else ""
    except psutil.Error:  # gone or a zombie meanwhile
        return ""


def find(system: dict[str, Any], *words: str) -> psutil.Process | None:
    """The oldest process of up's tree whose command has all ``words`` (the supervisor's command line holds
    Prefect's worker's, so that one is told by what it is not)."""
    found = [p for p in tree(system) if all(w in _command(p) for w in words)
             and ("supervisor" in words or "hjemtilos.warm.supervisor" not in _command(p))]
    return sorted(found, key=lambda p: p.create_time())[0] if found else None


def process(system: dict[str, Any], *words: str) -> psutil.Process:
    found = find(system, *words)
    assert found is not None, (words, [_command(p)[:120] for p in tree(system)])
    return found


def replaced(system: dict[str, Any], old: psutil.Process, *words: str) -> bool:
    new = find(system, *words)
    return new is not None and new.pid != old.pid


def front_door_answers(system: dict[str, Any]) -> bool:
    return httpx.get(f"{system['front']}/arbejde/log-ind", timeout=10).status_code == 200


SCREENING = {"decision": "godkend", "reason": "", "rejection_reason": "andet"}


def test_a_waiting_run_forced_to_crashed_continues_and_asks_its_form_again(system: dict[str, Any]) -> None:
    reference = refer(system)
    wait_for(lambda: waits_on(system, reference, "approval-screening-r1"), 180, "the screening form")
    with prefect(system) as api:
        forced = api.post(f"/flow_runs/{run_of(system, reference)['id']}/set_state",
                          json={"state": {"type": "CRASHED", "name": "Crashed"}, "force": True})
    assert forced.status_code in (200, 201), forced.text
    wait_for(lambda: waits_on(system, reference, "approval-screening-r2"), 120, "the screening form asked again")
    assert "FAILED" not in state_types(system, reference)
    resume(system, reference, SCREENING)
    wait_for(lambda: waits_on(system, reference, "approval-consent-r1"), 120, "the consent step")
    assert "FAILED" not in state_types(system, reference)


def test_up_restarts_what_dies_and_every_case_takes_its_next_step_once(system: dict[str, Any]) -> None:
    up = system["up"]
    first, second = refer(system), refer(system)
    for reference in (first, second):
        wait_for(lambda r=reference: waits_on(system, r, "approval-screening-r1"), 180, f"{reference} screening")

    # Prefect's worker, under the warm worker's supervisor: the supervisor starts a new one
    worker = process(system, "prefect", "worker", "start")
    worker.send_signal(signal.SIGKILL)
    wait_for(lambda: replaced(system, worker, "prefect", "worker", "start"), 60, "a new Prefect worker")
    resume(system, first, SCREENING)
    wait_for(lambda: waits_on(system, first, "approval-consent-r1"), 120, f"{first} to move on")

    # the supervisor itself: up starts a new one (with its worker and zygote)
    supervisor = process(system, "hjemtilos.warm.supervisor", "supervisor")
    supervisor.send_signal(signal.SIGKILL)
    wait_for(lambda: replaced(system, supervisor, "hjemtilos.warm.supervisor", "supervisor"), 60, "a new supervisor")
    assert front_door_answers(system)
    resume(system, second, SCREENING)
    wait_for(lambda: waits_on(system, second, "approval-consent-r1"), 180, f"{second} to move on")

    # the zygote: the supervisor starts a new one
    zygote = process(system, "hjemtilos.warm.zygote")
    zygote.send_signal(signal.SIGKILL)
    wait_for(lambda: replaced(system, zygote, "hjemtilos.warm.zygote"), 60, "a new zygote")
    third = refer(system)
    wait_for(lambda: waits_on(system, third, "approval-screening-r1"), 180, f"{third} screening")

    # the embedded PostgreSQL: up starts it again; the front door answers while it is away
    postgres = process(system, "postgres", "-D")
    postgres.send_signal(signal.SIGKILL)
    assert front_door_answers(system)
    wait_for(lambda: replaced(system, postgres, "postgres", "-D"), 60, "a new PostgreSQL")
    wait_for(lambda: front_door_answers(system), 60, "the front door")
    resume(system, third, SCREENING)
    wait_for(lambda: waits_on(system, third, "approval-consent-r1"), 180, f"{third} to move on")

    assert up.poll() is None, system["log"].read_text(errors="replace")[-3000:]
    for reference in (first, second, third):
        assert "FAILED" not in state_types(system, reference)
    # every step once: one consent request a case

    def consent_requests() -> Counter[str]:
        return Counter(m.message["X-Hjemtilos-Case"] or m.message["Subject"] for m in list_caught(
            system["data"] / "mailcatcher") if m.message["X-Hjemtilos-Template"] == "consent-request")
    def asked(reference: str) -> bool:
        return any(reference in subject for subject in consent_requests())

    wait_for(lambda: all(asked(r) for r in (first, second, third)), 60, "the consent requests")
    time.sleep(3)
    assert set(consent_requests().values()) == {1}, consent_requests()  # each case asked once, none twice
    text = system["log"].read_text(errors="replace")
    assert "Prefect's worker exited" in text  # the supervisor brought Prefect's worker back
    assert text.count("The worker 1 stopped; restarting it") == 1  # up brought the supervisor back, once
    assert "The embedded PostgreSQL stopped; restarting it" in text and "is running again" in text


def test_an_early_ending_on_the_case_page_is_carried_out_within_a_minute(system: dict[str, Any]) -> None:
    reference = refer(system)
    wait_for(lambda: waits_on(system, reference, "approval-screening-r1"), 180, "the screening form")
    resume(system, reference, SCREENING)
    wait_for(lambda: waits_on(system, reference, "approval-consent-r1"), 180, "the consent step")
    with httpx.Client(base_url=system["front"], timeout=30, follow_redirects=True) as browser:
        path = system["link"].replace(system["front"], "")
        form = browser.get(path)
        browser.post(path, data={"csrf": _csrf(form.text), "username": "ulla", "display_name": "Ulla Admin",
                                 "password": PASSWORD, "password2": PASSWORD})
        sign_in(browser, "ulla")
        page = browser.get(f"/arbejde/sager/{reference}")
        ended = browser.post(f"/arbejde/sager/{reference}/afslut", data={
            "csrf": _csrf(page.text), "ended_by": "forældrene", "reason": "flytning", "rematch": "nej"})
        assert ended.status_code == 200, ended.text[-2000:]
    started = time.monotonic()

    def notices() -> int:
        return sum(1 for m in list_caught(system["data"] / "mailcatcher")
                   if m.message["X-Hjemtilos-Template"] == "early-ending-notice")
    wait_for(notices, 60, "the early-ending notices")
    assert time.monotonic() - started < 60


# What the flow runs' system user tries, run as that user (hjemtilos/host/run_user.py): each line prints what it met.
PROBE = r"""
import os, sys, psycopg
data = sys.argv[1]
def attempt(name, fn):
    try:
        fn(); print(name, "ok")
    except Exception as exc:
        print(name, type(exc).__name__)
def query(sql, user="hjemtilos_run", dbname="hjemtilos"):
    with psycopg.connect(host=f"{data}/pg-run", port=5432, user=user, dbname=dbname) as connection:
        return connection.execute(sql).fetchall()
attempt("list-data", lambda: os.listdir(data))
attempt("read-pg-log", lambda: open(f"{data}/pg.log").read())
attempt("read-caddyfile", lambda: open(f"{data}/Caddyfile").read())
attempt("list-prefect-home", lambda: os.listdir(f"{data}/prefect"))
attempt("list-pg", lambda: os.listdir(f"{data}/pg"))
attempt("as-postgres", lambda: query("select 1", user="postgres"))
attempt("prefect-database", lambda: query("select 1", dbname="prefect"))
attempt("cases", lambda: query("select count(*) from referral_case"))
attempt("names", lambda: query("select display_name from user_account"))
attempt("sessions", lambda: query("select count(*) from user_session"))
attempt("password-hashes", lambda: query("select password_hash from user_account"))
attempt("program", lambda: query("copy (select 1) to program 'id'"))
attempt("ddl", lambda: query("create table probe (n int)"))
attempt("own-home", lambda: open(f"{data}/worker/probe", "w").write("x"))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="only an `up` run as root can run the flows as another user")
def test_the_worker_and_its_flow_runs_are_a_system_user_who_reaches_the_case_tables_and_nothing_else(
        system: dict[str, Any]) -> None:
    run_user = pwd.getpwnam("hjemtilos-run")
    assert "Flow runs run as:      the system user hjemtilos-run" in system["log"].read_text(errors="replace")
    tree = psutil.Process(system["up"].pid).children(recursive=True)
    worker_side = [p for p in tree if any(part in " ".join(p.cmdline()) for part in
                                          ("hjemtilos.warm.supervisor", "hjemtilos.warm.zygote", "worker start"))]
    assert len(worker_side) >= 3, [p.cmdline() for p in tree]  # supervisor, zygote, Prefect's worker
    assert {p.uids().real for p in worker_side} == {run_user.pw_uid}  # their forks and runs can be no one else
    server = [p for p in tree if "server start" in " ".join(p.cmdline())]
    assert server and server[0].uids().real == 0  # the server, which holds Prefect's database, stays root's
    zygote = next(p for p in worker_side if "hjemtilos.warm.zygote" in " ".join(p.cmdline()))
    assert zygote.environ()["HJEMTILOS_DATABASE_URL"].startswith("postgresql+psycopg://hjemtilos_run@/hjemtilos?")
    assert not any(key.startswith("PREFECT_SERVER_DATABASE") for key in zygote.environ())
    reference = refer(system)  # a case's run, forked by that zygote, stores its step through the run role
    wait_for(lambda: waits_on(system, reference, "approval-screening-r1"), 180, "the screening form")

    done = subprocess.run([sys.executable, "-c", PROBE, str(system["data"])], capture_output=True, text=True,
                          cwd="/", timeout=60, user=run_user.pw_uid, group=run_user.pw_gid,
                          extra_groups=[grp.getgrnam("hjemtilos").gr_gid])
    met = dict(line.split() for line in done.stdout.splitlines())
    assert met == {"list-data": "PermissionError", "read-pg-log": "PermissionError",
                   "read-caddyfile": "PermissionError", "list-prefect-home": "PermissionError",
                   "list-pg": "PermissionError", "as-postgres": "OperationalError",
                   "prefect-database": "OperationalError", "cases": "ok", "names": "ok",
                   "sessions": "InsufficientPrivilege", "password-hashes": "InsufficientPrivilege",
                   "program": "InsufficientPrivilege", "ddl": "InsufficientPrivilege", "own-home": "ok"}, done.stderr
