"""The referral form over HTTP (FastAPI's test client): CSRF, field-level errors that keep what was typed,
the confirmation page, nothing stored on error."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hjemtilos.app import App
from hjemtilos.db.engine import make_engine, make_session_factory
from hjemtilos.db.models import ReferralCase
from hjemtilos.orchestration import orchestrator_scope
from hjemtilos.settings import Settings
from hjemtilos.web.app import create_app
from tests.fakes import FakeOrchestrator

VALID = {
    "child.first_name": "Sofie", "child.last_name": "Hansen", "child.birth_date": "2018-05-14",
    "child.languages.da": "on", "child.languages.ar": "on", "child.local_area": "Nørrebro",
    "custody_holders.0.name": "Maria Hansen", "custody_holders.0.email": "maria@example.dk",
    "custody_holders.0.language": "da", "custody_holders.0.communicates_in_danish_or_english": "on",
    "custody_holders.1.language": "da",
    "placement.kind": "home",
    "referrer.name": "Jonas Berg", "referrer.email": "jonas@bbu.kk.dk",
    "eligibility.child_wants_volunteer_family": "on", "eligibility.parents_back_referral": "on",
    "eligibility.has_resources_to_start": "on", "eligibility.can_say_yes_no": "", "eligibility.manages_toilet_alone": "",
}


@pytest.fixture
def client(database_url: str, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(database_url=database_url, data_dir=tmp_path, referrer_verification=False)
    engine = make_engine(database_url)
    application = App(settings=settings, profile=settings.load_profile(), engine=engine,
                      session_factory=make_session_factory(engine))
    orchestrator = FakeOrchestrator()
    web = create_app(application, orchestrator_scope(orchestrator))
    with TestClient(web) as test_client:
        test_client.started = orchestrator.started_references  # type: ignore[attr-defined]
        test_client.app_state = application  # type: ignore[attr-defined]
        yield test_client
    engine.dispose()


def token(client: TestClient) -> str:
    page = client.get("/")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def count(client) -> int:  # type: ignore[no-untyped-def]
    with client.app_state.session_factory() as session:
        return session.scalar(select(func.count()).select_from(ReferralCase))


def test_valid_referral_is_stored_and_confirmed(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/", data={**VALID, "csrf": token(client), "lang": "da"})
    assert response.status_code == 200 and response.url.path.startswith("/tak/HTO-")
    reference = response.url.path.rsplit("/", 1)[1]
    assert f'id="case-reference">{reference}<' in response.text
    assert client.started == [reference]
    with client.app_state.session_factory() as session:
        case = session.scalars(select(ReferralCase)).one()
        assert case.child.languages == ["da", "ar"] and len(case.parties) == 3  # referrer, BBU contact, parent


def test_missing_csrf_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    client.get("/")
    response = client.post("/", data={**VALID, "csrf": "forged"})
    assert response.status_code == 403 and "Formularen er udløbet" in response.text
    assert count(client) == 0


def test_every_error_in_one_round_next_to_its_field_keeping_what_was_typed(client) -> None:  # type: ignore[no-untyped-def]
    bad = {**VALID, "child.birth_date": "2024-09-01", "referrer.email": "not-an-address",
           "csrf": token(client), "lang": "da"}
    bad.pop("eligibility.child_wants_volunteer_family")
    bad.pop("eligibility.parents_back_referral")
    response = client.post("/", data=bad)
    assert response.status_code == 422
    # the malformed address and the intake rules' reasons (age, motivation, the parents' backing) at once
    assert 'id="referrer-email-error">Skriv en gyldig e-mailadresse.' in response.text
    assert re.search(r'id="child-birth_date-error">Barnet er \d år', response.text)
    assert 'id="eligibility-child_wants_volunteer_family-error">Barnet skal selv ønske en venskabsfamilie.' \
        in response.text
    assert 'id="eligibility-parents_back_referral-error">Forældrene skal bakke op' in response.text
    assert 'value="not-an-address"' in response.text and 'value="Sofie"' in response.text
    # accessible: the summary links each problem to its field, fields say they are invalid and why
    assert 'id="error-summary" tabindex="-1"' in response.text and 'href="#referrer-email">Din e-mail:' in response.text
    assert re.search(r'id="referrer-email" name="referrer.email" value="not-an-address" aria-invalid="true" '
                     r'aria-describedby="referrer-email-error"', response.text)
    assert count(client) == 0
    fixed = {**VALID, "csrf": token(client), "lang": "da"}
    assert client.post("/", data=fixed).status_code == 200


def test_an_empty_form_names_every_required_field(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/", data={"csrf": token(client), "lang": "da"})
    assert response.status_code == 422
    for field in ("child-first_name", "child-last_name", "child-birth_date", "child-local_area", "referrer-name",
                  "referrer-email"):
        assert f'id="{field}-error">Skal udfyldes.' in response.text, field
    assert "Angiv mindst én forældremyndighedsindehaver." in response.text
    assert "Field required" not in response.text


def test_english_messages_are_english_words_not_pydantic(client) -> None:  # type: ignore[no-untyped-def]
    bad = {**VALID, "referrer.email": "nope", "referrer.phone": "call me", "child.birth_date": "soon",
           "csrf": token(client), "lang": "en"}
    text = client.post("/", data=bad).text
    assert 'id="referrer-email-error">Enter a valid e-mail address.' in text
    assert 'id="referrer-phone-error">Enter the phone number in digits' in text
    assert 'id="child-birth_date-error">Enter a valid date.' in text
    for pydantic_words in ("value is not a valid", "String should match", "Input should be"):
        assert pydantic_words not in text


def test_english_switch(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/?lang=en")
    assert "Referral to Hjem til Os" in page.text and "Date of birth" in page.text
    bad = {**VALID, "placement.kind": "foster_family", "csrf": token(client), "lang": "en"}
    response = client.post("/", data=bad)
    assert 'id="placement-contact_name-error">A child placed out of home needs a contact person' in response.text


def test_wished_competences_are_asked_for_and_stored(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/")
    assert 'name="wished_competences"' in page.text and "Ønskede kompetencer hos familien" in page.text
    response = client.post("/", data={**VALID, "wished_competences": "musik; friluftsliv, lektiehjælp",
                                      "csrf": token(client), "lang": "da"})
    assert response.status_code == 200
    from hjemtilos.db.models import Child

    with client.app_state.session_factory() as session:
        assert session.scalars(select(Child.wished_competences)).one() == ["musik", "friluftsliv", "lektiehjælp"]


def test_a_new_referral_tells_the_coordinator_its_reference_and_inbox_only(client) -> None:  # type: ignore[no-untyped-def]
    from hjemtilos.db.models import OutboxMail

    response = client.post("/", data={**VALID, "csrf": token(client), "lang": "da"})
    reference = response.url.path.rsplit("/", 1)[1]
    settings = client.app_state.settings
    with client.app_state.session_factory() as session:
        notices = session.scalars(select(OutboxMail).where(OutboxMail.template == "new-referral")).all()
    assert [(n.recipient_email, n.subject) for n in notices] == [(settings.coordinator_email,
                                                                  f"Ny henvisning: {reference}")]
    body = notices[0].body_text
    assert settings.inbox_url() in body and reference in body
    assert "Sofie" not in body + notices[0].body_html and "Hansen" not in body  # no child's name in a mail


def test_the_form_asks_what_matching_and_consent_need(client) -> None:  # type: ignore[no-untyped-def]
    from casework.steps import Role
    from hjemtilos.db.models import Child, Party

    page = client.get("/").text
    assert '<option value="Amager Øst"' in page and 'name="child.languages.so"' in page  # choices, not codes
    assert 'name="custody_holders.3.name"' in page and 'name="placement.contact_language"' in page
    data = {**VALID, "child.motivation": "Sofie vil gerne\nhave en familie at bage med.",
            "child.description": "Glad for dyr og fodbold.",
            "custody_holders.1.name": "Ali Hansen", "custody_holders.1.email": "ali@example.dk",
            "custody_holders.1.has_custody": "false",
            "placement.institution_name": "typed before switching back to home",
            "csrf": token(client), "lang": "da"}
    assert client.post("/", data=data).status_code == 200
    with client.app_state.session_factory() as session:
        child = session.scalars(select(Child)).one()
        assert child.motivation == "Sofie vil gerne\nhave en familie at bage med."
        assert child.description == "Glad for dyr og fodbold." and child.languages == ["da", "ar"]
        roles = {p.name: p.role for p in session.scalars(select(Party))}
        assert roles["Maria Hansen"] == Role.CUSTODY_HOLDER and roles["Ali Hansen"] == Role.PARENT  # no consent
        assert child.case.placement.institution_name is None  # placement fields are read only for a placed child


def test_a_parent_without_custody_does_not_count_as_the_custody_holder(client) -> None:  # type: ignore[no-untyped-def]
    data = {**VALID, "custody_holders.0.has_custody": "false", "csrf": token(client), "lang": "en"}
    text = client.post("/", data=data).text
    assert "Name at least one custody holder." in text
    assert count(client) == 0


def test_control_characters_are_refused_in_every_text_field(client) -> None:  # type: ignore[no-untyped-def]
    for field in ("child.gender", "child.first_name", "wished_competences", "referrer.unit"):
        bad = {**VALID, field: "pige\x00", "csrf": token(client), "lang": "da"}
        response = client.post("/", data=bad)
        assert response.status_code == 422, field  # a clear error, never a 500 with the child's data in a log
        assert "uden linjeskift eller kontroltegn" in response.text, field
    assert count(client) == 0


def test_submissions_beyond_the_limits_are_refused_and_store_nothing(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(database_url=database_url, data_dir=tmp_path, referrer_verification=False,
                        form_limit_per_client="100/hour", form_limit_per_referrer="2/hour")
    engine = make_engine(database_url)
    application = App(settings=settings, profile=settings.load_profile(), engine=engine,
                      session_factory=make_session_factory(engine))
    with TestClient(create_app(application)) as client:
        client.app_state = application  # type: ignore[attr-defined]
        for _ in range(2):
            assert client.post("/", data={**VALID, "csrf": token(client), "lang": "da"}).status_code == 200
        third = client.post("/", data={**VALID, "csrf": token(client), "lang": "da"})
        assert third.status_code == 429 and "for mange henvisninger" in third.text.lower()
        assert count(client) == 2
        other = {**VALID, "referrer.email": "anden@bbu.kk.dk", "csrf": token(client), "lang": "da"}
        assert client.post("/", data=other).status_code == 200  # another caseworker is not held back
        big = client.post("/", data={**VALID, "child.description": "x" * 70_000, "csrf": token(client)})
        assert big.status_code == 413
    engine.dispose()

    tight = Settings(database_url=database_url, data_dir=tmp_path, referrer_verification=False,
                     form_limit_per_client="3/hour")
    engine = make_engine(database_url)
    application = App(settings=tight, profile=tight.load_profile(), engine=engine,
                      session_factory=make_session_factory(engine))
    with TestClient(create_app(application)) as client:
        codes = [client.post("/", data={"csrf": "x"}).status_code for _ in range(4)]
        assert codes == [403, 403, 403, 429]  # bad submissions count too: no guessing at speed
    engine.dispose()


def test_pages_carry_security_headers_and_are_never_cached(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and "<style>" not in page.text  # nothing inline for the policy to refuse
    refused = client.post("/", data={**VALID, "child.first_name": "", "csrf": token(client), "lang": "da"})
    assert refused.headers["cache-control"] == "no-store"  # what was typed about the child is not kept
    assert client.get("/form.js").headers["content-type"].startswith("text/javascript")


def test_the_privacy_notice_is_linked_from_the_form_in_both_languages(client) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/privatliv?lang=da">Sådan behandler vi personoplysninger' in client.get("/").text
    assert "Dataansvarlig" in client.get("/privatliv").text
    assert "Controller" in client.get("/privatliv?lang=en").text


def test_verified_referrers_open_the_form_through_a_one_time_link(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hjemtilos.db.models import OutboxMail, ReferrerLink

    settings = Settings(database_url=database_url, data_dir=tmp_path, referrer_link_limit="3/hour")
    engine = make_engine(database_url)
    application = App(settings=settings, profile=settings.load_profile(), engine=engine,
                      session_factory=make_session_factory(engine))
    with TestClient(create_app(application)) as client:
        client.app_state = application  # type: ignore[attr-defined]
        start = client.get("/")
        assert start.status_code == 200 and 'action="/link"' in start.text and "child.first_name" not in start.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', start.text).group(1)  # type: ignore[union-attr]
        # no form without a link: a direct submission is refused and nothing is stored
        assert client.post("/", data={**VALID, "csrf": csrf}).status_code == 410 and count(client) == 0
        foreign = client.post("/link", data={"csrf": csrf, "email": "someone@gmail.com"})
        assert foreign.status_code == 422 and "kk.dk" in foreign.text
        malformed = client.post("/link", data={"csrf": csrf, "email": "ikke en adresse"})
        assert malformed.status_code == 422 and "gyldig" in malformed.text
        sent = client.post("/link", data={"csrf": csrf, "email": "Jonas.Berg@BBU.kk.dk"})
        assert sent.status_code == 200 and "jonas.berg@bbu.kk.dk" in sent.text
        with application.session_factory() as session:
            mail = session.scalars(select(OutboxMail)).one()
            assert mail.recipient_email == "jonas.berg@bbu.kk.dk" and mail.template == "referrer-link"
            assert "Sofie" not in mail.subject
            token_match = re.search(r"adgang=([A-Za-z0-9_-]+)", mail.body_text)
            assert token_match
            assert session.scalars(select(ReferrerLink.token_hash)).one() != token_match.group(1)  # only a hash
        form = client.get(f"/?adgang={token_match.group(1)}")
        assert form.status_code == 200 and 'id="verified-referrer"' in form.text and "jonas.berg@bbu.kk.dk" in form.text
        # the referral is the verified address's, whatever was typed in its place
        posted = {**VALID, "referrer.email": "phish@evil.example", "adgang": token_match.group(1), "csrf": csrf}
        done = client.post("/", data=posted)
        assert done.status_code == 200 and "HTO-" in done.text
        with application.session_factory() as session:
            receipt = session.scalars(select(OutboxMail).where(OutboxMail.template == "referral-receipt")).one()
            assert receipt.recipient_email == "jonas.berg@bbu.kk.dk"
        again = client.post("/", data=posted)  # a second use of the link
        assert again.status_code == 410 and count(client) == 1
        assert client.get(f"/?adgang={token_match.group(1)}").status_code == 410
        # the n+1th link for one address within the limit is refused
        codes = [client.post("/link", data={"csrf": csrf, "email": "ane@kk.dk"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
    engine.dispose()
