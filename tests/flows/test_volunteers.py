"""Volunteer families on a real Prefect server: screening, certificates for members aged 15+, approval
blocked until everything is in, reminders, a case that waits for a family, supervision invitations."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from hjemtilos.adapters.prefect import PrefectOrchestrator
from hjemtilos.db.models import FamilyMember, HumanTask, Match, VolunteerFamily
from hjemtilos.timekeeper.timekeeping import tick
from hjemtilos.volunteers import send_supervision_invitations
from tests.flows.driving import TODAY, add_family, agree_and_start, now, register_family, start_case, templates_to


def record_certificates(app, family_id: int, skip: tuple[str, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """What the coordinator records on the family's page in the workspace: every certificate of every member aged
    15+, clear, but ``skip`` (member name, certificate)."""
    from casework.clock import local_date
    from casework.eligibility import age_on
    from casework.families import CERTIFICATE_AGE
    from hjemtilos.volunteers.screening import Certificate, record_certificate

    with app.session_factory.begin() as session:
        for member in session.get(VolunteerFamily, family_id).members:
            if age_on(member.birth_date, local_date(now())) < CERTIFICATE_AGE:
                continue
            for certificate in Certificate:
                if (member.name, certificate.value) != skip:
                    record_certificate(session, family_id, member.id, certificate, now().date(), now().date(), True,
                                       "tina", now())


def test_family_screening_blocks_approval_until_everything_is_in(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    # a case is waiting for a family before any family exists
    _case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert case.answer({"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY}) == "wait-family-1-r1"

    family_id, family = register_family(app)  # two adults, Ida (16) and Oskar (13)
    assert family.run() == "approval-home-visit-r1"
    assert "VF-%04d" % family_id in family.description()
    assert "Holm" not in family.description()
    assert family.answer({"decision": "fortsæt screeningen", "home_visit_on": TODAY,
                          "interview_on": TODAY}) == "approval-family-approval-r1"
    description = family.description()
    assert "| 3 (husstand) | 16 | ja |" in description and "| 4 (husstand) | 13 | nej |" in description
    with app.session_factory() as session:  # the form asks for members 1-3 only (Oskar is under 15)
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            keyset = family.state().state_details.run_input_keyset
            schema = client.read_flow_run_input(family.run_id, keyset["schema"])
    # the form has no certificate fields: certificates and their outcomes are recorded in the workspace
    assert "elearning_completed_on" in str(schema) and "member_" not in str(schema) and "udfald" not in str(schema)
    assert f"/arbejde/familier/{family_id}" in description

    # approving with the 16-year-old's straffeattest and the e-learning missing is refused, with the reason
    record_certificates(app, family_id, skip=("Ida Holm", "criminal_record"))
    assert family.answer({"decision": "godkend"}) == "approval-family-approval-r2"
    description = family.description()
    assert "Kan ikke godkendes endnu" in description
    assert "medlem 3: straffeattest" in description and "e-læringskursus" in description

    # reminders while the family waits: e-learning to the family, certificates to the coordinator
    with app.session_factory() as session:
        created = session.scalars(select(HumanTask.created_at).where(
            HumanTask.key == "approval-family-approval")).one()
    tick(app, created + timedelta(seconds=3.5), PrefectOrchestrator())
    mails = templates_to(smtp_server)
    assert mails[("volunteer-elearning-reminder", "holm@example.dk")] == 1
    assert mails[("volunteer-certificates-reminder", "koordinator@redbarnet.dk")] == 1
    assert case.state().is_paused()  # no approved family yet: the case goes on waiting

    record_certificates(app, family_id)
    assert family.answer({"decision": "godkend", "elearning_completed_on": TODAY}) == "done"
    with app.session_factory() as session:
        stored = session.get(VolunteerFamily, family_id)
        assert stored.status == "approved" and stored.approved_at is not None
        ida = session.scalars(select(FamilyMember).where(FamilyMember.name == "Ida Holm")).one()
        assert ida.criminal_record_received_on is not None and ida.criminal_record_clear is True
        oskar = session.scalars(select(FamilyMember).where(FamilyMember.name == "Oskar Holm")).one()
        assert oskar.child_certificate_requested_on is None and oskar.criminal_record_received_on is None

    # the approval woke the waiting case: it now offers the family
    assert not case.state().is_paused()
    assert case.run() == "approval-match-proposal-1-r1"
    assert "VF-%04d" % family_id in case.description()


def test_rejected_family_is_never_offered(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    family_id, family = register_family(app)
    assert family.run() == "approval-home-visit-r1"
    # the dates are required: an empty answer is refused by the server, the run waits on the same form
    from prefect.flow_runs import resume_flow_run

    with pytest.raises(RuntimeError, match="Cannot resume this run"):
        resume_flow_run(family.run_id, run_input={"decision": "afvis"})
    assert family.state().state_details.pause_key == "approval-home-visit-r1"
    assert family.answer({"decision": "afvis", "home_visit_on": TODAY, "interview_on": TODAY}) \
        == "approval-home-visit-r2"
    assert "begrundelse" in family.description()
    assert family.answer({"decision": "afvis", "reason": "Ikke overskud lige nu.",
                          "home_visit_on": TODAY, "interview_on": TODAY}) == "done"
    with app.session_factory() as session:
        assert session.get(VolunteerFamily, family_id).status == "rejected"


def test_supervision_invitations_once_per_round_to_active_families_only(app, smtp_server) -> None:  # type: ignore[no-untyped-def]
    active = add_family(app, name="Familien Holm")
    add_family(app, name="Familien Idle", local_area="Valby")  # approved, no match: not invited
    _case_id, _, case = start_case(app, "referral-standard.json")
    assert case.run() == "approval-screening-r1"
    assert case.answer({"decision": "godkend"}) == "approval-consent-r1"
    assert case.answer({"parent_1_bbu": TODAY, "parent_1_redbarnet": TODAY}) \
        == "approval-match-proposal-1-r1"
    agree_and_start(case, active)
    with app.session_factory() as session:
        assert session.scalars(select(Match.status)).one() == "active"
    start = now()
    assert send_supervision_invitations(app, start) == 1
    assert send_supervision_invitations(app, start + timedelta(seconds=0.1)) == 0  # same round: nothing new
    next_round = start + timedelta(seconds=10)  # fast profile: a round every 10 s
    assert send_supervision_invitations(app, next_round) == 1
    tick(app, next_round, PrefectOrchestrator())
    invited = Counter(address for template, address in templates_to(smtp_server).elements()
                      if template == "supervision-invitation")
    assert invited == Counter({"holm@example.dk": 2})
