"""The programme reports from a known set of cases built through the service layer (rejections with reasons,
early endings, a re-match, a completed year, an anonymised case and a referral retention deleted), on SQLite and
PostgreSQL: every figure equals the value worked out by hand; small groups show "< 5"; the CSV columns are
stable; the workspace serves the page, its charts and its CSV files to a signed-in coordinator."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from casework.clock import local_date
from casework.steps import ApprovalKind, EndedBy, FamilyStatus
from hjemtilos import cases
from hjemtilos.app import App
from hjemtilos.db.models import FamilyMember, ReferralCase, ReferralTally, VolunteerFamily
from hjemtilos.privacy.retention import Due, anonymise_case, apply
from hjemtilos.reports.exports import table_csv, table_svg
from hjemtilos.reports.figures import HIDDEN, Report, build_report
from hjemtilos.reports.periods import PeriodError, parse_period
from tests.integration.test_cases import add_family, answer
from tests.support import new_case

YEAR_2026 = parse_period("2026", "", "", date(2026, 12, 3))
AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def accepted(app: App, received: str, consent_days: int, example: str = "referral-standard.json") -> int:
    case_id = new_case(app, now=at(received), example=example)
    screened = at(received) + timedelta(hours=2)
    assert answer(app, case_id, ApprovalKind.SCREENING, {"decision": "godkend"}, now=screened).accepted
    consented = at(received) + timedelta(days=consent_days)
    day = local_date(consented).isoformat()
    assert answer(app, case_id, ApprovalKind.CONSENT, {"parent_1_bbu": day, "parent_1_redbarnet": day},
                  now=consented).accepted
    return case_id


def rejected(app: App, received: str, reason: str) -> int:
    case_id = new_case(app, now=at(received))
    assert answer(app, case_id, ApprovalKind.SCREENING, {"decision": "afvis", "reason": "Passer ikke nu.",
                                                         "rejection_reason": reason}, now=at(received, 12)).accepted
    return case_id


def matched(app: App, case_id: int, family_id: int, attempt: int, agreed: datetime) -> None:
    """Proposed, agreed by family and parents at ``agreed``, first meeting two days later, visits started."""
    assert cases.prepare_family_wait(app, case_id, attempt, agreed).state.passed
    assert answer(app, case_id, ApprovalKind.MATCH_PROPOSAL, {"family": "VF-%04d" % family_id}, attempt,
                  now=agreed).accepted
    assert answer(app, case_id, ApprovalKind.FAMILY_ANSWER, {"family_answer": "ja"}, attempt, now=agreed).accepted
    assert answer(app, case_id, ApprovalKind.MATCH_ANSWERS, {"parents_answer": "ja"}, attempt, now=agreed).accepted
    meeting = agreed + timedelta(days=2)
    assert answer(app, case_id, ApprovalKind.FIRST_MEETING_PLAN,
                  {"meeting_on": local_date(meeting).isoformat(), "meeting_clock": "16:00"}, attempt,
                  now=agreed).accepted
    assert answer(app, case_id, ApprovalKind.FIRST_MEETING, {"weekday": "onsdag", "brings": "venskabsfamilien",
                                                            "fetches": "venskabsfamilien"}, attempt,
                  now=meeting + timedelta(days=1)).accepted


def reference_of(app: App, case_id: int) -> str:
    with app.session_factory() as session:
        case = session.get(ReferralCase, case_id)
        assert case is not None
        return case.reference


def end(app: App, case_id: int, by: EndedBy, reason: str, when: datetime, rematch: bool) -> str:
    cases.request_ending(app, reference_of(app, case_id), ended_by=by, reason=reason, rematch=rematch, actor="tina",
                         now=when)
    plan = cases.begin_ending(app, case_id, when)
    assert plan is not None
    if plan.extra_child_visit:
        assert answer(app, case_id, ApprovalKind.EXTRA_CHILD_VISIT,
                      {"visit_held_on": local_date(when).isoformat(), "child_wants_rematch": "ja" if rematch else "nej"},
                      plan.ending_id, now=when).accepted
    return cases.finish_ending(app, case_id, plan.ending_id, when)


@pytest.fixture
def programme(app: App) -> App:
    build_programme(app)
    return app


def build_programme(app: App) -> None:
    """The known programme (worked out by hand in the tests):

    2026 referrals (14): Feb E1 E2; Mar 3 rejected 'uden for målgruppen' + 5 'forældrene bakker ikke op' (one
    deleted by retention); Apr Y (14 years, foster family) A4 A5; Nov W (awaiting screening). Accepted 5 with
    consent after 10, 2, 4, 6, 8 days. E1 matched with family A, ended by the family in May and re-matched with
    family B; E2 matched with family C, ended by the parents in June, then anonymised. C1 (referred 2025) completed
    its year in February 2026 after a future agreement in January."""
    family_a, family_b = add_family(app, "Familien Holm"), add_family(app, "Familien Berg", capacity=2)
    family_c, family_d = add_family(app, "Familien Lund", area="Valby"), add_family(app, "Familien Dahl")
    c1 = accepted(app, "2025-01-10", 5)
    matched(app, c1, family_d, 1, at("2025-02-20"))
    assert answer(app, c1, ApprovalKind.FUTURE_AGREEMENT, {"continuation": "fortsætter ugentligt"}, 1,
                  now=at("2026-01-05")).accepted
    cases.finish_year(app, c1, 1, at("2026-02-26"))
    e1 = accepted(app, "2026-02-02", 10)
    matched(app, e1, family_a, 1, at("2026-02-22"))
    assert end(app, e1, EndedBy.FAMILY, "familiens situation", at("2026-05-04"), rematch=True) == "rematch"
    matched(app, e1, family_b, 2, at("2026-05-20"))
    e2 = accepted(app, "2026-02-03", 2)
    matched(app, e2, family_c, 1, at("2026-02-25"))
    assert end(app, e2, EndedBy.PARENTS, "flytning", at("2026-06-01"), rematch=False) == "closed"
    for _ in range(3):
        rejected(app, "2026-03-10", "uden for målgruppen")
    deleted, *_ = [rejected(app, "2026-03-11", "forældrene bakker ikke op") for _ in range(5)]
    accepted(app, "2026-04-01", 4, example="referral-youth-14.json")
    accepted(app, "2026-04-02", 6)
    accepted(app, "2026-04-03", 8)
    new_case(app, now=at("2026-11-20"))
    with app.session_factory.begin() as session:
        case = session.get(ReferralCase, e2)
        assert case is not None
        anonymise_case(session, case, AT)
        holm = session.get(VolunteerFamily, family_a)
        assert holm is not None
        holm.elearning_completed_on = date(2024, 12, 20)  # renewal due 2026-12-20: within 90 days of AT
        holm.members.append(FamilyMember(name="Peter Holm", birth_date=date(1982, 4, 2), is_volunteer=True,
                                         child_certificate_received_on=date(2024, 11, 1), child_certificate_clear=True,
                                         criminal_record_received_on=date(2025, 6, 1), criminal_record_clear=True))
        session.add(VolunteerFamily(name="Familien Ny", email="ny@example.dk", local_area="Valby", languages=["da"],
                                    status=FamilyStatus.SCREENING, created_at=at("2026-10-01")))
    apply(app, [Due("rejected_referrals", "delete", reference_of(app, deleted), ids=(deleted,))], AT)
    with app.session_factory() as session:
        assert session.get(ReferralCase, deleted) is None
        assert session.scalar(select(func.count()).select_from(ReferralTally)) == 1


def report(app: App, hide_below: int = 5) -> Report:
    with app.session_factory() as session:
        return build_report(session, YEAR_2026, AT, hide_below=hide_below)


def rows(result: Report, key: str) -> dict[object, tuple[object, ...]]:
    return {row[0]: row[1:] for row in result.table(key).rows}


def test_the_figures_equal_the_hand_computed_values(programme: App) -> None:
    raw = report(programme, hide_below=1)
    headline = dict(raw.headline)
    assert headline["Henvisninger i perioden / referrals in the period"] == 14
    assert headline["Forløb i gang nu / matches active now"] == 1  # E1 with family B
    assert headline["År gennemført i perioden / years completed in the period"] == 1
    assert headline["Afsluttet før tid i perioden / ended early in the period"] == 2
    assert headline["Nye match efter en afslutning / re-matches after an ending"] == 1
    months = rows(raw, "henvisninger-pr-maaned")
    assert len(months) == 12
    #                     received, accepted, rejected, withdrawn, awaiting, flagged
    assert months["feb 2026"] == (2, 2, 0, 0, 0, 0)
    assert months["mar 2026"] == (8, 0, 8, 0, 0, 0)  # the deleted one counts through its tally row
    assert months["apr 2026"] == (3, 3, 0, 0, 0, 1)  # the youth referral is flagged for review
    assert months["nov 2026"] == (1, 0, 0, 0, 1, 0)
    assert months["jan 2026"] == (0, 0, 0, 0, 0, 0)
    reasons = rows(raw, "afvisningsgrunde")
    assert reasons["uden for målgruppen"] == (3,) and reasons["forældrene bakker ikke op"] == (5,)
    assert reasons["andet"] == (0,)
    assert rows(raw, "henvisninger-alder") == {"4-5 år": (0, 0), "6-9 år": (13, 4), "10-13 år": (0, 0),
                                               "14-17 år": (1, 1)}  # E2, anonymised, is still 6-9 by its year
    assert rows(raw, "henvisninger-spor")["unge (14-17 år)"] == (1, 1)
    assert rows(raw, "henvisninger-bolig")["hjemme hos forældrene"] == (13, 4)
    assert rows(raw, "henvisninger-bolig")["plejefamilie"] == (1, 1)
    waiting = rows(raw, "ventetider")
    assert waiting["Henvisning → samtykke på plads / Referral → consent complete"] == (5, 6.0, 10.0)
    assert waiting["Henvisning → match aftalt / Referral → match agreed"] == (2, 21.0, 22.0)
    matches = rows(raw, "match-pr-maaned")
    assert matches["feb 2026"] == (0, 0, 1) and matches["mar 2026"] == (2, 0, 0)  # visits start a week after
    assert matches["maj 2026"] == (1, 1, 0)
    assert matches["jun 2026"] == (0, 1, 0)
    early = {row[:2]: row[2:] for row in raw.table("tidlig-afslutning").rows}
    assert early == {("venskabsfamilien", "familiens situation"): (1, 1), ("forældrene", "flytning"): (1, 0)}
    assert rows(raw, "fremtidsaftale")["fortsætter ugentligt"] == (1,)
    families = rows(raw, "familier")
    assert families["Godkendt nu / approved now"] == (4,)
    assert families["I screening nu: ikke startet / in screening now: not started"] == (1,)
    assert families["Ledige pladser nu / free places now"] == (4,)  # A, C, D free again; B has E1 and room for one
    assert rows(raw, "familier-bydel")["Valby"] == (1, 1, 1)
    certificates = rows(raw, "attester")
    assert certificates["e-læring"] == (0, 1, 0, 3)  # Holm's due within 90 days; three families have none
    assert certificates["børneattest"] == (0, 0, 1, 0)  # received 2024-11-01: expired 2026-11-01
    assert certificates["straffeattest"] == (1, 0, 0, 0)
    due = [(r.family_name, r.kind, r.due_on) for r in raw.renewals]
    assert due == [("Familien Holm", "child_certificate", date(2026, 11, 1)),
                   ("Familien Holm", "elearning", date(2026, 12, 20))]


def test_small_groups_show_fewer_than_five(programme: App) -> None:
    shown = report(programme)
    assert rows(shown, "afvisningsgrunde")["uden for målgruppen"] == (HIDDEN,)  # three children
    assert rows(shown, "afvisningsgrunde")["forældrene bakker ikke op"] == (5,)
    assert rows(shown, "henvisninger-pr-maaned")["feb 2026"] == (HIDDEN, HIDDEN, 0, 0, 0, 0)
    assert dict(shown.headline)["Forløb i gang nu / matches active now"] == HIDDEN
    waiting = rows(shown, "ventetider")
    assert waiting["Henvisning → match aftalt / Referral → match agreed"] == (HIDDEN, "–", "–")
    assert waiting["Henvisning → samtykke på plads / Referral → consent complete"] == (5, 6.0, 10.0)
    assert rows(shown, "familier")["Godkendt nu / approved now"] == (4,)  # families are not children
    for table in shown.tables:
        if table.children:
            assert not any(isinstance(v, int) and 0 < v < 5 for row in table.rows for v in row), table.key
        assert "Sofie" not in table_csv(table) and "Holm" not in table_csv(table)


def test_csv_columns_are_stable_and_charts_are_svg(programme: App) -> None:
    shown = report(programme)
    headers = {t.key: next(csv.reader(io.StringIO(table_csv(t)))) for t in shown.tables}
    assert headers == {
        "henvisninger-pr-maaned": ["maaned", "modtaget", "godkendt", "afvist", "trukket_tilbage", "venter",
                                   "markeret"],
        "afvisningsgrunde": ["grund", "antal"],
        "henvisninger-alder": ["aldersgruppe", "modtaget", "godkendt"],
        "henvisninger-spor": ["spor", "modtaget", "godkendt"],
        "henvisninger-bolig": ["bor", "modtaget", "godkendt"],
        "henvisninger-enhed": ["enhed", "modtaget", "godkendt"],
        "henvisninger-bydel": ["bydel", "modtaget", "godkendt"],
        "ventetider": ["trin", "boern", "median_dage", "p90_dage"],
        "match-pr-maaned": ["maaned", "startet", "afsluttet_tidligt", "aar_gennemfoert"],
        "tidlig-afslutning": ["afsluttet_af", "grund", "antal", "nyt_match"],
        "fremtidsaftale": ["aftale", "antal"],
        "familier": ["maal", "familier"],
        "familier-bydel": ["bydel", "i_screening", "godkendt", "ledige_pladser"],
        "attester": ["attest", "gyldig", "fornyes_snart", "udloebet", "mangler"],
    }
    body = list(csv.reader(io.StringIO(table_csv(shown.table("afvisningsgrunde")))))
    assert ["uden for målgruppen", HIDDEN] in body
    svg = table_svg(shown.table("afvisningsgrunde"))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and 'role="img"' in svg
    assert HIDDEN.replace("<", "&lt;") in svg  # the bar of three children is labelled, not drawn to scale


@pytest.mark.parametrize(("value", "start", "end", "expected"), [
    ("2026", "", "", (date(2026, 1, 1), date(2026, 12, 31))),
    ("2026-K2", "", "", (date(2026, 4, 1), date(2026, 6, 30))),
    ("2026-q4", "", "", (date(2026, 10, 1), date(2026, 12, 31))),
    ("", "2026-02-10", "2026-03-05", (date(2026, 2, 10), date(2026, 3, 5))),
    ("", "", "", (date(2026, 1, 1), date(2026, 12, 31))),
])
def test_periods(value: str, start: str, end: str, expected: tuple[date, date]) -> None:
    period = parse_period(value, start, end, date(2026, 12, 3))
    assert (period.start, period.end) == expected


@pytest.mark.parametrize(("value", "start", "end", "message"), [
    ("2026-K5", "", "", "Vælg et år"), ("sidste år", "", "", "Vælg et år"),
    ("", "2026-03-01", "2026-02-01", "før fra-datoen"), ("", "2026-13-01", "2026-12-01", "ÅÅÅÅ-MM-DD"),
    ("", "2026-01-01", "", "ÅÅÅÅ-MM-DD"), ("", "2016-01-01", "2026-01-01", "fem år"),
])
def test_a_wrong_period_gets_a_clear_message(value: str, start: str, end: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(value, start, end, date(2026, 12, 3))


def test_a_quarter_counts_only_its_months(programme: App) -> None:
    with programme.session_factory() as session:
        first = build_report(session, parse_period("2026-K1", "", "", date(2026, 12, 3)), AT, hide_below=1)
    assert dict(first.headline)["Henvisninger i perioden / referrals in the period"] == 10
    assert [row[0] for row in first.table("henvisninger-pr-maaned").rows] == ["jan 2026", "feb 2026", "mar 2026"]
    assert dict(first.headline)["Afsluttet før tid i perioden / ended early in the period"] == 0


def test_the_workspace_serves_the_page_its_charts_and_csv_to_the_signed_in(programme: App) -> None:
    from fastapi.testclient import TestClient

    from hjemtilos.workspace.app import create_workspace
    from tests.integration.test_workspace import Clock, add_user, sign_in

    clock = Clock()
    clock.now = AT
    web = TestClient(create_workspace(programme, clock=clock), base_url="http://127.0.0.1")
    assert web.get("/arbejde/programmet", follow_redirects=False).status_code == 303  # not signed in
    assert web.get("/arbejde/programmet/afvisningsgrunde.csv", follow_redirects=False).status_code == 303
    add_user(programme, "tina")
    sign_in(web, programme, "tina", clock)
    page = web.get("/arbejde/programmet?periode=2026")
    assert page.status_code == 200 and "Programmet i tal" in page.text and "År 2026" in page.text
    assert "&lt; 5" in page.text and "Familien Holm" in page.text  # the renewal list, for the coordinator
    charts = re.findall(r'<img class="chart" src="([^"]+)"', page.text)
    assert len(charts) == sum(1 for t in report(programme).tables if t.chart) > 10
    chart = web.get(charts[1].replace("&amp;", "&"))
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert "script-src" not in chart.headers["content-security-policy"] and "<svg" in chart.text
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    data = web.get("/arbejde/programmet/afvisningsgrunde.csv?periode=2026")
    assert data.headers["content-type"].startswith("text/csv") and "attachment" in data.headers["content-disposition"]
    assert data.text.splitlines()[0] == "grund,antal" and "uden for målgruppen,< 5" in data.text
    quarter = web.get("/arbejde/programmet/henvisninger-pr-maaned.csv?periode=2026-K1")
    assert len(quarter.text.splitlines()) == 4  # the header and three months
    wrong = web.get("/arbejde/programmet?fra=2026-03-01&til=2026-02-01")
    assert wrong.status_code == 422 and "Til-datoen ligger før fra-datoen" in wrong.text
    assert web.get("/arbejde/programmet/intet.csv").status_code == 404


def test_the_coordinator_is_reminded_once_of_each_renewal_by_reference_and_number(programme: App) -> None:
    from hjemtilos.db.models import OutboxMail
    from hjemtilos.volunteers.reminders import RENEWAL_STEP, send_renewal_reminders
    from hjemtilos.volunteers.screening import Certificate, record_certificate

    assert send_renewal_reminders(programme, AT) == 2  # Holm: a child certificate expired, e-learning due soon
    assert send_renewal_reminders(programme, AT + timedelta(hours=1)) == 0  # a restart or the next tick
    with programme.session_factory() as session:
        mails = session.scalars(select(OutboxMail).where(OutboxMail.step == RENEWAL_STEP)
                                .order_by(OutboxMail.id)).all()
        assert [m.recipient_role for m in mails] == ["coordinator", "coordinator"]
        assert mails[0].subject.startswith("Fornyelse for familie VF-")
        assert "børneattest" in mails[0].subject and "e-læring" in mails[1].subject
        assert all("Holm" not in m.subject + m.body_text for m in mails)  # the family by reference, never by name
        assert "medlem nr. 1" in mails[0].body_text and "/arbejde/familier/" in mails[0].body_text
        holm = session.scalar(select(VolunteerFamily).where(VolunteerFamily.name == "Familien Holm"))
        assert holm is not None
        family_id, member_id = holm.id, holm.members[-1].id
    with programme.session_factory.begin() as session:  # renewed: the next reminder is two years away
        record_certificate(session, family_id, member_id, Certificate.CHILD, None, date(2026, 12, 1), True, "tina", AT)
    assert send_renewal_reminders(programme, AT + timedelta(days=1)) == 0
    assert send_renewal_reminders(programme, datetime(2028, 9, 20, 9, tzinfo=UTC)) >= 1
