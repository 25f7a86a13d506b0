"""Every mail template renders in Danish and English from its typed context."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, date, datetime

import jinja2
import pytest

from hjemtilos.mail.contexts import TEMPLATES, FarewellParents, MailContext, ReferralReceipt
from hjemtilos.mail.render import LANGUAGES, TEMPLATE_DIR, Programme, pick_language, render

PROGRAMME = Programme(phone="+45 35 36 55 55", email="hjemtilos@redbarnet.dk")


def sample(cls: type[MailContext]) -> MailContext:
    hints = typing.get_type_hints(cls)
    values: dict[str, object] = {}
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        if kind is str:
            values[field.name] = f"Søren Ærø-Åberg <{field.name}>"
        elif kind is int:
            values[field.name] = 9
        elif kind is bool:
            values[field.name] = True
        elif kind is datetime:
            values[field.name] = datetime(2027, 3, 4, 14, 30, tzinfo=UTC)
        elif kind is date:
            values[field.name] = date(2027, 3, 4)
        elif kind == tuple[str, ...]:
            values[field.name] = ("Første Ølund", "Anden Åsen")
        else:  # pragma: no cover - a new field type needs a sample here
            raise AssertionError(f"no sample for {field.name}: {kind}")
    return cls(**values)  # type: ignore[arg-type]


def test_every_template_folder_has_a_context_and_vice_versa() -> None:
    for lang in LANGUAGES:
        folders = {p.name for p in (TEMPLATE_DIR / lang).iterdir() if p.is_dir() and not p.name.startswith("_")}
        assert folders == set(TEMPLATES), lang


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_renders(name: str, lang: str) -> None:
    context = sample(TEMPLATES[name])
    mail = render(context, lang, PROGRAMME)
    assert mail.language == lang and mail.template == name
    assert mail.subject and "\n" not in mail.subject and len(mail.subject) < 200
    for body in (mail.text, mail.html):
        assert body.strip()
        assert "{{" not in body and "{%" not in body and "}}" not in body
        assert PROGRAMME.phone in body
    greeting = "Kære" if lang == "da" else "Dear"
    assert mail.text.startswith(f"{greeting} Søren Ærø-Åberg <recipient_name>")
    # HTML is escaped; the text body is not
    assert "&lt;recipient_name&gt;" in mail.html and "<recipient_name>" not in mail.html
    assert mail.html.lstrip().startswith("<!DOCTYPE html>")
    for field in dataclasses.fields(context):
        value = getattr(context, field.name)
        if isinstance(value, tuple):  # lists are rendered item by item
            assert all(item in mail.text for item in value)


def test_dates_are_written_in_the_recipients_language() -> None:
    da = render(sample(TEMPLATES["first-meeting-invitation"]), "da", PROGRAMME)
    en = render(sample(TEMPLATES["first-meeting-invitation"]), "en", PROGRAMME)
    assert "4. marts 2027 kl. 15.30" in da.text  # Copenhagen time
    assert "4 March 2027 at 15:30" in en.text


def test_the_early_ending_notice_says_what_was_decided_and_promises_nothing_before() -> None:
    from hjemtilos.mail.contexts import EarlyEndingNotice

    def text(next_step: str, after: bool = False, lang: str = "da") -> str:
        notice = EarlyEndingNotice(recipient_name="Maria", child_first_name="Sofie", next_step=next_step,
                                   after_child_visit=after, to_family=False)
        return render(notice, lang, PROGRAMME).text

    assert "Vi leder nu efter en ny venskabsfamilie" in text("rematch") and "afsluttes" not in text("rematch")
    assert "afsluttes" in text("closing") and "ny venskabsfamilie" not in text("closing")
    pending = text("child-visit")
    assert "Vi leder nu" not in pending and "afsluttes hermed" not in pending and "besøger Sofie" in pending
    assert text("closing", after=True).startswith("Kære Maria") and "har nu besøgt Sofie" in text("closing", True)
    assert "We are now looking" in text("rematch", lang="en")
    family = render(EarlyEndingNotice(recipient_name="Familien Holm", child_first_name="Sofie", next_step="closing",
                                      after_child_visit=False, to_family=True), "da", PROGRAMME).text
    assert "kontakter jer" in family and "I er også velkomne" in family and " dig" not in family


def test_unknown_language_falls_back_to_danish() -> None:
    context = ReferralReceipt(recipient_name="Jonas", case_reference="HTO-2026-0001", child_first_name="Sofie")
    assert pick_language("ar", "referral-receipt") == "da"
    assert render(context, "ar", PROGRAMME).text.startswith("Kære Jonas")
    assert render(context, None, PROGRAMME).language == "da"


def test_missing_context_field_fails_at_construction() -> None:
    with pytest.raises(TypeError):
        FarewellParents(recipient_name="Maria", child_first_name="Sofie")  # type: ignore[call-arg]


def test_template_using_a_name_the_context_lacks_fails_at_render(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "da" / "referral-receipt"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("Sag {{ case_reference }}")
    (folder / "body.txt").write_text("Hej {{ child_nickname }}")
    (folder / "body.html").write_text("<p>Hej</p>")
    context = ReferralReceipt(recipient_name="Jonas", case_reference="HTO-2026-0001", child_first_name="Sofie")
    with pytest.raises(jinja2.UndefinedError, match="child_nickname"):
        render(context, "da", PROGRAMME, template_dir=tmp_path)


def test_subject_with_line_breaks_in_a_value_stays_one_line() -> None:
    context = ReferralReceipt(recipient_name="Jonas", case_reference="HTO-2026-0001",
                              child_first_name="Sofie\r\nBcc: evil@example.com")
    mail = render(context, "da", PROGRAMME)
    assert "\r" not in mail.subject and "\n" not in mail.subject


def test_mails_read_as_red_barnet_would_write_them() -> None:
    from hjemtilos.mail import contexts as mc

    programme = Programme(phone="+45 35 36 55 55", email="hjemtilos@redbarnet.dk", coordinator="Tina Holm")

    def da(context: MailContext) -> str:
        return render(context, "da", programme).text

    parents = da(mc.MatchProposalParents(recipient_name="Maria Hansen", child_first_name="Sofie",
                                         family_name="Familien Holm", family_local_area="Nørrebro"))
    assert "familien Holm" in parents and "familien Familien" not in parents and "Familien Holm" not in parents
    family = da(mc.FarewellFamily(recipient_name="Familien Dahl", child_first_name="Sofie"))
    assert family.startswith("Kære familie Dahl\n") and "Tina Holm\nHjem til Os, Red Barnet" in family
    assert render(mc.FarewellFamily(recipient_name="Familien Dahl", child_first_name="Sofie"), "en",
                  programme).text.startswith("Dear Dahl family\n")
    coordinator = da(mc.CoordinatorReminder(recipient_name="Koordinator, Hjem til Os", case_reference="HTO-2026-0001",
                                            task_title="Screening", waiting_since=datetime(2027, 3, 4, 9, tzinfo=UTC),
                                            link="http://127.0.0.1:4200"))
    assert coordinator.startswith("Kære koordinator\n")
    no_phone = da(mc.FirstVisitFollowup(recipient_name="Koordinator, Hjem til Os", case_reference="HTO-2026-0001",
                                        contact_name="Tina", contact_phone="", contact_email="tina@example.dk",
                                        first_visit_on=date(2027, 3, 4)))
    assert "Ring til" not in no_phone and "skriv til tina@example.dk" in no_phone
    with_phone = da(mc.FirstVisitFollowup(recipient_name="K", case_reference="HTO-2026-0001", contact_name="Tina",
                                          contact_phone="+45 11 22 33 44", contact_email="tina@example.dk",
                                          first_visit_on=date(2027, 3, 4)))
    assert "Ring til Tina på +45 11 22 33 44" in with_phone
    meeting = da(mc.FirstMeetingInvitation(recipient_name="Maria", child_first_name="Sofie", family_name="Familien Holm",
                                           meeting_at=datetime(2027, 3, 4, 15, tzinfo=UTC), address="",
                                           family_local_area="Nørrebro"))
    assert "Sted: hjemme hos familien Holm i Nørrebro (koordinatoren sender adressen)" in meeting
    to_family = da(mc.FutureAgreementRequest(recipient_name="Familien Holm", child_first_name="Sofie",
                                             other_party="Sofie", year_ends_on=date(2027, 3, 4), to_family=True))
    to_parent = da(mc.FutureAgreementRequest(recipient_name="Maria", child_first_name="Sofie",
                                             other_party="familien Holm", year_ends_on=date(2027, 3, 4), to_family=False))
    assert "hvordan I ønsker" in to_family and "kontakter jer" in to_family and " dig " not in to_family
    assert "hvordan du ønsker" in to_parent and "kontakter dig" in to_parent
    agreed = da(mc.MatchAgreed(recipient_name="Jonas", case_reference="HTO-2026-0001", child_first_name="Sofie",
                               family_local_area="Valby"))
    proposal = da(mc.MatchProposalFamily(recipient_name="Familien Holm", child_first_name="Sofie", child_age=8,
                                         child_local_area="Nørrebro"))
    assert "Vi er glade for at kunne fortælle" in agreed and "giv os besked om, hvorvidt I siger ja" in proposal


def test_html_mails_fit_a_phone() -> None:
    html = render(ReferralReceipt(recipient_name="Jonas", case_reference="HTO-2026-0001", child_first_name="Sofie"),
                  "da", PROGRAMME).html
    assert 'name="viewport"' in html and 'width="600"' not in html and "max-width:600px" in html
    assert "width:100%;max-width:600px" in html


def test_no_subject_names_a_child_or_a_family() -> None:
    """Subjects are shown in every mailbox list and notification: they carry the case reference, never a name."""
    from hjemtilos import PROJECT_ROOT

    for subject in sorted((PROJECT_ROOT / "templates" / "email").glob("*/*/subject.txt")):
        text = subject.read_text(encoding="utf-8")
        assert "child_first_name" not in text and "family_name" not in text and "recipient_name" not in text, subject


@pytest.mark.parametrize("language", ["da", "en"])
def test_every_mail_links_the_privacy_notice(language: str) -> None:
    programme = Programme(phone="+45 35 36 55 55", email="hjemtilos@redbarnet.dk",
                          privacy_url="https://redbarnet.dk/privatliv/hjem-til-os")
    mail = render(ReferralReceipt(recipient_name="Jonas", case_reference="HTO-2026-0001", child_first_name="Sofie"),
                  language, programme)
    assert "https://redbarnet.dk/privatliv/hjem-til-os" in mail.text
    assert 'href="https://redbarnet.dk/privatliv/hjem-til-os"' in (mail.html or "")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("flags", [True, False])
def test_every_text_mail_has_a_blank_line_before_a_sign_off_that_names_the_coordinator(
        name: str, lang: str, flags: bool) -> None:
    """Whichever branch a template takes (every yes/no of its context), the plain text ends its message with a
    blank line, then the sign-off with the coordinator's name, in English as in Danish."""
    context = sample(TEMPLATES[name])
    context = dataclasses.replace(context, **{f.name: flags for f in dataclasses.fields(context)  # type: ignore[type-var]
                                              if isinstance(getattr(context, f.name), bool)})
    mail = render(context, lang, PROGRAMME)
    sign_off = "Venlig hilsen" if lang == "da" else "Kind regards"
    assert f"\n\n{sign_off}\n{PROGRAMME.coordinator}\n" in mail.text, mail.text
    assert "\n\n\n" not in mail.text
    assert f"{sign_off}<br>{PROGRAMME.coordinator}<br>" in mail.html
