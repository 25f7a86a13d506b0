"""After a whole fast-profile year of a flagged child with free-text answers, a rejected referral with its reason,
and a volunteer family with a remark on a certificate, a scan of everything the real Prefect server stores (flow
runs with their names, parameters, tags and states, run inputs, task runs, logs, artifacts, variables and events)
finds no name, e-mail address, concern word, flag code, certificate outcome or typed free text."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from sqlalchemy import select

from hjemtilos.db.models import FamilyMember, ReferralCase
from tests.flows.driving import TODAY, add_family, agree_and_start, now, register_family, start_case

FREE_TEXT = ["Hvordan går det i skolen", "Vi har ikke tid i foråret", "Barnet har allerede en mentor",
             "Familien passer ikke til opgaven"]
NEVER = ["Sofie", "Hansen", "Maria", "Jonas", "Berg", "Holm", "Ida", "Oskar", "@example", "@bbu", "+45",
         "selvskade", "selvmord", "psykiatri", "udadreagerende", "outside-target-group", "youth-track",
         "low-resources", "anmærkning", "uden anmærk", "straffeattest modtaget", *FREE_TEXT]


def pages(read: Any) -> list[Any]:
    """Every item of a Prefect read call, 200 at a time (the server's cap)."""
    items: list[Any] = []
    while True:
        page = read(limit=200, offset=len(items))
        items += page
        if len(page) < 200:
            return items


def everything_prefect_stores() -> str:
    """Every word Prefect keeps, as one text."""
    parts: list[str] = []
    with get_client(sync_client=True) as client:
        runs = pages(client.read_flow_runs)
        for run in runs:
            parts += [run.name, json.dumps(run.parameters, default=str), " ".join(run.tags),
                      run.state.message or "" if run.state else "", run.state.name if run.state else ""]
            for item in client.filter_flow_run_input(run.id, key_prefix="", limit=500, exclude_keys=set()):  # type: ignore[arg-type]
                parts += [item.key, item.value]
            for state in client.read_flow_run_states(run.id):
                parts.append(state.message or "")
        for task_run in pages(client.read_task_runs):
            parts += [task_run.name, json.dumps(task_run.task_inputs, default=str),
                      task_run.state.message or "" if task_run.state else ""]
        parts += [log.message for log in pages(client.read_logs)]
        parts += [json.dumps(a.data, default=str) + (a.description or "") for a in pages(client.read_artifacts)]
        parts += [f"{v.name}={v.value}" for v in client.read_variables(limit=200)]
        assert runs, "the scan found no runs at all"
    api = PREFECT_API_URL.value()
    page = httpx.post(f"{api}/events/filter", json={"limit": 50, "filter": {"occurred": {
        "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}}}, timeout=30).json()
    events = 0
    while True:
        events += len(page["events"])
        parts.append(json.dumps(page["events"], default=str))
        if not page.get("next_page"):
            break
        page = httpx.get(page["next_page"], timeout=30).json()
    assert events > 50, "the scan read too few events to be a scan"
    return "\n".join(parts)


def test_prefect_holds_no_personal_word_after_a_year(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from hjemtilos.volunteers.screening import Certificate, record_certificate

    # a volunteer family with a remark on a member's straffeattest, rejected with a reason
    family_id, family = register_family(app)
    assert family.run() == "approval-home-visit-r1"
    assert family.answer({"decision": "fortsæt screeningen", "home_visit_on": TODAY, "interview_on": TODAY}) \
        == "approval-family-approval-r1"
    with app.session_factory.begin() as session:
        for member in session.scalars(select(FamilyMember).where(FamilyMember.family_id == family_id)):
            for certificate in Certificate:
                record_certificate(session, family_id, member.id, certificate, now().date(), now().date(),
                                   member.name != "Ida Holm", "tina", now())
    assert family.answer({"decision": "godkend", "elearning_completed_on": TODAY}) == "approval-family-approval-r2"
    assert family.answer({"decision": "afvis", "reason": FREE_TEXT[3]}) == "done"

    # a referral rejected with a reason
    _, _, rejected = start_case(app, "referral-standard.json")
    assert rejected.run() == "approval-screening-r1"
    assert rejected.answer({"decision": "afvis", "reason": FREE_TEXT[2]}) == "done"

    # a flagged child through a whole year, with free text on the way
    approved = add_family(app, name="Familien Holm")
    second = add_family(app, name="Familien Lund", local_area="Valby")
    case_id, _, case = start_case(app, "referral-youth-14.json")
    with app.session_factory.begin() as session:
        stored = session.get(ReferralCase, case_id)
        stored.child.concern_suicide_risk_or_self_harm = True
        stored.review_flags = [*stored.review_flags, "outside-target-group"]
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "mere information", "reason": FREE_TEXT[0]}) == "approval-screening-r2"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    key = case.answer({"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY})
    if key.startswith("approval-consent"):  # a second custody holder in the example
        key = case.answer({"parent_2_bbu": TODAY, "parent_2_redbarnet": TODAY})
    assert key == "approval-match-proposal-1-r1"
    assert case.answer({"family": "VF-%04d" % approved}) == "approval-family-answer-1-r1"
    assert case.answer({"family_answer": "nej", "reason": FREE_TEXT[1]}) == "approval-match-proposal-2-r1"
    agree_and_start(case, second, attempt=2)
    assert case.wait_for_timekeeper() == "approval-first-visit-followup-2-r1"
    assert case.answer({"call_held_on": TODAY}) == "timer-child-visit-2-r1"
    assert case.wait_for_timekeeper() == "approval-child-visit-2-r1"
    assert case.answer({"visit_held_on": TODAY, "how_it_goes": "godt"}) == "timer-future-agreement-2-r1"
    assert case.wait_for_timekeeper() == "approval-future-agreement-2-r1"
    assert case.answer({"continuation": "fortsætter ugentligt"}) == "timer-farewell-2-r1"
    assert case.wait_for_timekeeper() == "done"

    stored_text = everything_prefect_stores()
    # it saw them (the run inputs of finished approvals may all be swept by now: the timekeeper deletes them)
    assert "HTO-" in stored_text and "step:" in stored_text
    # whole words (a name like "Ida" is inside "valIDAte"); addresses and numbers as they are
    found = [word for word in NEVER if re.search((r"\b" if word[0].isalpha() else "") + re.escape(word) + r"\b",
                                                stored_text, flags=re.IGNORECASE)]
    assert found == [], found
