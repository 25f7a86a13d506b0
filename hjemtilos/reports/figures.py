"""The programme's figures for a period, as tables a page, a chart and a CSV file all show the same way.

Every count of children between 1 and 4 is shown as "< 5" (and a median or percentile over fewer than five
children as "–"), in the page, the charts and the CSV files alike: no figure singles out a child. Counts of
volunteer families are shown as they are. Anonymised cases count like any other, and so do the referrals
retention deleted (``referral_tally``): retention does not change the statistics.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from casework.clock import local_date
from casework.matching import family_reference
from casework.steps import Continuation, FamilyStatus, MatchStatus, PlacementKind, StepOutcome, Track
from hjemtilos.cases.screening import REJECTION_REASONS
from hjemtilos.reports import facts as f
from hjemtilos.reports.periods import Period

__all__ = ["HIDDEN", "Column", "Renewal", "Report", "Table", "build_report", "renewals_due", "shown"]

SMALL = 5
HIDDEN = "< 5"
Cell = int | float | str


def shown(count: int, hide_below: int = SMALL) -> Cell:
    """A count of children as it may be shown."""
    return HIDDEN if 0 < count < hide_below else count


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header: stable, ASCII
    da: str
    en: str


@dataclass(frozen=True)
class Table:
    key: str  # the CSV file's and the chart's name
    da: str
    en: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    chart: str | None = None  # bars (horizontal, a group a row), columns or stacked (months); None: no chart
    note: str = ""
    draw: tuple[int, ...] = ()  # the columns the chart draws; () : every column after the first
    label_columns: int = 1  # the leading columns that name a row in the chart
    children: bool = True  # its whole numbers count children (shown as "< 5" when 1-4); False: families

    def protected(self, hide_below: int) -> Table:
        if not self.children:
            return self
        rows = tuple(tuple(shown(v, hide_below) if isinstance(v, int) and not isinstance(v, bool) else v
                           for v in row) for row in self.rows)
        return replace(self, rows=rows)

    @property
    def drawn(self) -> tuple[int, ...]:
        return self.draw or tuple(range(1, len(self.columns)))


@dataclass(frozen=True)
class Renewal:
    """A certificate or course due for renewal: for the coordinator's list (signed in), never for an export."""

    family_id: int
    family_reference: str
    family_name: str
    member_id: int  # 0: the family's e-learning
    member_number: int  # 0: the family's e-learning
    member_name: str
    kind: str
    received_on: date
    due_on: date


@dataclass(frozen=True)
class Report:
    period: Period
    made_at: datetime
    headline: tuple[tuple[str, Cell], ...]
    tables: tuple[Table, ...]
    renewals: tuple[Renewal, ...] = field(default_factory=tuple)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


OUTCOME_DA = {f.Outcome.ACCEPTED: "godkendt", f.Outcome.REJECTED: "afvist", f.Outcome.WITHDRAWN: "trukket tilbage",
              f.Outcome.AWAITING: "venter på visitation"}
REASON_DA = {code: label for label, code in REJECTION_REASONS.items()}
AGE_GROUPS = ((4, 5), (6, 9), (10, 13), (14, 17))
TRACK_DA: dict[str, str] = {Track.STANDARD: "standard (4-13 år)", Track.YOUTH: "unge (14-17 år)"}
PLACEMENT_DA: dict[str, str] = {PlacementKind.HOME: "hjemme hos forældrene", PlacementKind.FOSTER_FAMILY: "plejefamilie",
                PlacementKind.RESIDENTIAL_HOME: "børne- eller ungehjem"}
ENDED_BY_DA = {"family": "venskabsfamilien", "parents": "forældrene", "child": "barnet", "red-barnet": "Red Barnet",
               "bbu": "BBU"}
CONTINUATION_DA: dict[str, str] = {
    Continuation.WEEKLY: "fortsætter ugentligt", Continuation.LESS_OFTEN: "fortsætter sjældnere",
    Continuation.STOPS: "stopper efter året", Continuation.UNDECIDED: "ikke afklaret"}
CERTIFICATE_DA = {"child_certificate": "børneattest", "criminal_record": "straffeattest", "elearning": "e-læring"}
STEP_DA = {"not-started": "ikke startet", "volunteer-home-visit": "hjemmebesøg og samtale",
           "volunteer-family-approval": "attester, e-læring og godkendelse"}
STEP_EN = {"not-started": "not started", "volunteer-home-visit": "home visit and interview",
           "volunteer-family-approval": "certificates, e-learning and approval"}
MONTHS_DA = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def month_label(month: date) -> str:
    return f"{MONTHS_DA[month.month - 1]} {month.year}"


def _age_group(age: int) -> str:
    for low, high in AGE_GROUPS:
        if low <= age <= high:
            return f"{low}-{high} år"
    return "andet"


def _days(since: datetime | None, until: datetime | None) -> float | None:
    if since is None or until is None:
        return None
    return max(0.0, (until - since).total_seconds() / 86400)


def _percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (the smallest value with at least ``share`` of the values at or below it)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * int(share * 100) // 100))
    return ordered[rank - 1]


def _counts(items: Iterable[str], order: Iterable[str]) -> list[tuple[str, int]]:
    counted = Counter(items)
    ordered = list(order)
    return [(key, counted[key]) for key in ordered] + sorted(
        ((key, n) for key, n in counted.items() if key not in ordered), key=lambda kv: (-kv[1], kv[0]))


def _received_in(referral: f.ReferralFact, period: Period) -> bool:
    if referral.received_at is None:  # a tally row keeps only the month
        return period.start <= referral.month <= period.end
    return period.holds(referral.received_at)


def _referral_tables(referrals: list[f.ReferralFact], period: Period) -> list[Table]:
    inside = [r for r in referrals if _received_in(r, period)]
    by_month: list[tuple[Cell, ...]] = []
    for month in period.months():
        here = [r for r in inside if r.month == month]
        outcomes = Counter(r.outcome for r in here)
        by_month.append((month_label(month), len(here), outcomes[f.Outcome.ACCEPTED],
                         outcomes[f.Outcome.REJECTED], outcomes[f.Outcome.WITHDRAWN],
                         outcomes[f.Outcome.AWAITING], sum(r.flagged for r in here)))
    months = Table("henvisninger-pr-maaned", "Henvisninger pr. måned og udfald", "Referrals by month and outcome",
                   (Column("maaned", "Måned", "Month"), Column("modtaget", "Modtaget", "Received"),
                    Column("godkendt", "Godkendt", "Accepted"), Column("afvist", "Afvist", "Rejected"),
                    Column("trukket_tilbage", "Trukket tilbage", "Withdrawn"),
                    Column("venter", "Venter på visitation", "Awaiting screening"),
                    Column("markeret", "Markeret til vurdering", "Flagged for review")),
                   tuple(by_month), chart="stacked", draw=(2, 3, 4, 5),
                   note="Markeret til vurdering tælles også under deres udfald. / Flagged referrals are also counted "
                        "under their outcome.")
    rejected = [r for r in inside if r.outcome is f.Outcome.REJECTED]
    reasons = Table("afvisningsgrunde", "Afviste henvisninger efter grund", "Rejected referrals by reason",
                    (Column("grund", "Grund", "Reason"), Column("antal", "Antal", "Count")),
                    tuple((REASON_DA.get(code, "ikke angivet"), n) for code, n in _counts(
                        (r.rejection_reason or "unknown" for r in rejected), REJECTION_REASONS.values())),
                    chart="bars")

    def split(title: tuple[str, str, str], column: Column, key: Callable[[f.ReferralFact], str],
              order: Iterable[str], labels: dict[str, str] | None = None) -> Table:
        rows = []
        for value, n in _counts((key(r) for r in inside), order):
            accepted = sum(1 for r in inside if key(r) == value and r.outcome is f.Outcome.ACCEPTED)
            rows.append(((labels or {}).get(value, value), n, accepted))
        return Table(title[0], title[1], title[2], (column, Column("modtaget", "Modtaget", "Received"),
                                                    Column("godkendt", "Godkendt", "Accepted")),
                     tuple(rows), chart="bars")

    groups = [f"{low}-{high} år" for low, high in AGE_GROUPS]
    ages = split(("henvisninger-alder", "Henvisninger efter alder", "Referrals by age group"),
                 Column("aldersgruppe", "Alder ved henvisning", "Age when referred"), lambda r: _age_group(r.age),
                 groups)
    tracks = split(("henvisninger-spor", "Henvisninger efter spor", "Referrals by track"),
                   Column("spor", "Spor", "Track"), lambda r: r.track, list(TRACK_DA), TRACK_DA)
    homes = split(("henvisninger-bolig", "Henvisninger efter hvor barnet bor", "Referrals by living situation"),
                  Column("bor", "Barnet bor", "The child lives"), lambda r: r.placement_kind, list(PLACEMENT_DA),
                  PLACEMENT_DA)
    units = split(("henvisninger-enhed", "Henvisninger efter henvisende enhed", "Referrals by referring unit"),
                  Column("enhed", "Enhed", "Unit"), lambda r: r.referrer_unit or "ikke angivet", [])
    areas = split(("henvisninger-bydel", "Henvisninger efter barnets bydel", "Referrals by the child's local area"),
                  Column("bydel", "Bydel", "Local area"), lambda r: r.local_area or "ikke angivet", [])
    return [months, reasons, ages, tracks, homes, units, areas]


def _waiting_table(referrals: list[f.ReferralFact], period: Period, hide_below: int) -> Table:
    rows: list[tuple[Cell, ...]] = []
    milestones: tuple[tuple[str, str, Callable[[f.ReferralFact], datetime | None]], ...] = (
        ("Henvisning → samtykke på plads", "Referral → consent complete", lambda r: r.consent_at),
        ("Henvisning → match aftalt", "Referral → match agreed", lambda r: r.agreed_at),
        ("Henvisning → første møde", "Referral → first meeting", lambda r: r.met_at))
    for da, en, reached in milestones:
        days = [d for r in referrals if period.holds(reached(r))
                if (d := _days(r.received_at, reached(r))) is not None]
        if len(days) < max(1, hide_below):  # a median of two children is two children's dates
            rows.append((f"{da} / {en}", len(days), "–", "–"))
        else:
            rows.append((f"{da} / {en}", len(days), round(statistics.median(days), 1),
                         round(_percentile(days, 0.9), 1)))
    return Table("ventetider", "Ventetider i dage (trin nået i perioden)", "Waiting times in days (step reached in "
                 "the period)", (Column("trin", "Trin", "Step"), Column("boern", "Børn", "Children"),
                                 Column("median_dage", "Median (dage)", "Median (days)"),
                                 Column("p90_dage", "90. percentil (dage)", "90th percentile (days)")),
                 tuple(rows), chart="bars", draw=(2, 3),
                 note="Median og percentil vises først for fem børn eller flere. / Median and percentile are shown "
                      "for five children or more.")


def _match_tables(matches: list[f.MatchFact], endings: list[f.EndingFact], agreements: list[tuple[datetime, str]],
                  period: Period) -> list[Table]:
    by_month: list[tuple[Cell, ...]] = []
    for month in period.months():
        def here(moment: datetime | None, month: date = month) -> bool:
            return moment is not None and local_date(moment).replace(day=1) == month and period.holds(moment)
        started = sum(1 for m in matches if here(m.started_at))
        ended = sum(1 for m in matches if m.status is MatchStatus.ENDED and here(m.ended_at))
        completed = sum(1 for m in matches if m.status is MatchStatus.COMPLETED and here(m.ended_at))
        by_month.append((month_label(month), started, ended, completed))
    months = Table("match-pr-maaned", "Forløb pr. måned", "Matches by month",
                   (Column("maaned", "Måned", "Month"), Column("startet", "Startet", "Started"),
                    Column("afsluttet_tidligt", "Afsluttet før tid", "Ended early"),
                    Column("aar_gennemfoert", "Året gennemført", "Year completed")), tuple(by_month), chart="columns")
    inside = [e for e in endings if period.holds(e.handled_at)]
    counted = Counter((e.ended_by, e.reason) for e in inside)
    early = Table("tidlig-afslutning", "Afsluttet før tid: hvem og hvorfor", "Ended early: by whom and why",
                  (Column("afsluttet_af", "Afsluttet af", "Ended by"), Column("grund", "Grund", "Reason"),
                   Column("antal", "Antal", "Count"),
                   Column("nyt_match", "Heraf nyt match", "Of which re-matched")),
                  draw=(2,), label_columns=2, chart="bars", rows=tuple((ENDED_BY_DA.get(by, by), reason, n,
                         sum(1 for e in inside if (e.ended_by, e.reason) == (by, reason)
                                   and e.outcome == StepOutcome.REMATCH))
                        for (by, reason), n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))))
    said = Counter(outcome for at, outcome in agreements if period.holds(at))
    future = Table("fremtidsaftale", "Fremtidsaftaler (efter 10 måneder)", "Future agreements (after 10 months)",
                   (Column("aftale", "Aftale", "Agreement"), Column("antal", "Antal", "Count")),
                   tuple((CONTINUATION_DA.get(value, value), n)
                         for value, n in _counts(said.elements(), [c.value for c in Continuation])),
                   chart="bars")
    return [months, early, future]


def _family_tables(families: list[f.FamilyFact], period: Period) -> list[Table]:
    screening = [fam for fam in families if fam.status is FamilyStatus.SCREENING]
    approved = [fam for fam in families if fam.status is FamilyStatus.APPROVED]
    rows: list[tuple[Cell, ...]] = [
        ("Tilmeldt i perioden / registered in the period", sum(1 for fam in families if period.holds(fam.created_at))),
        ("Godkendt i perioden / approved in the period", sum(1 for fam in families if period.holds(fam.approved_at))),
        *((f"I screening nu: {STEP_DA.get(step, step)} / in screening now: {STEP_EN.get(step, step)}", n)
          for step, n in _counts((fam.open_step or "not-started" for fam in screening), list(STEP_DA))),
        ("Godkendt nu / approved now", len(approved)),
        ("Godkendt med ledig plads nu / approved with room now", sum(1 for fam in approved if fam.free_places > 0)),
        ("Ledige pladser nu / free places now", sum(fam.free_places for fam in approved)),
    ]
    status = Table("familier", "Frivillige familier", "Volunteer families",
                   (Column("maal", "Mål", "Measure"), Column("familier", "Familier", "Families")),
                   tuple(rows), children=False)
    areas: list[tuple[Cell, ...]] = []
    for area, _ in _counts((fam.local_area or "ikke angivet" for fam in families
                            if fam.status is not FamilyStatus.REJECTED), []):
        here = [fam for fam in families if (fam.local_area or "ikke angivet") == area]
        areas.append((area, sum(1 for fam in here if fam.status is FamilyStatus.SCREENING),
                      sum(1 for fam in here if fam.status is FamilyStatus.APPROVED),
                      sum(fam.free_places for fam in here if fam.status is FamilyStatus.APPROVED)))
    by_area = Table("familier-bydel", "Frivillige familier efter bydel", "Volunteer families by local area",
                    (Column("bydel", "Bydel", "Local area"), Column("i_screening", "I screening", "In screening"),
                     Column("godkendt", "Godkendt", "Approved"), Column("ledige_pladser", "Ledige pladser",
                                                                        "Free places")),
                    tuple(areas), chart="bars", children=False)
    return [status, by_area]


def renewal_date(received: date, years: int) -> date:
    try:
        return received.replace(year=received.year + years)
    except ValueError:  # 29 February
        return received.replace(year=received.year + years, day=28)


def renewals_due(certificates: list[f.CertificateFact], families: list[f.FamilyFact], today: date, years: int,
                 notice_days: int) -> list[Renewal]:
    names = {fam.id: fam.name for fam in families}
    horizon = today + timedelta(days=notice_days)
    due = []
    for item in certificates:
        if item.received_on is None:
            continue
        on = renewal_date(item.received_on, years)
        if on <= horizon:
            due.append(Renewal(item.family_id, family_reference(item.family_id), names.get(item.family_id, ""),
                               item.member_id, item.member_number, item.member_name, item.kind, item.received_on, on))
    return sorted(due, key=lambda r: (r.due_on, r.family_id, r.member_number, r.kind))


def _certificate_table(certificates: list[f.CertificateFact], today: date, years: int, notice_days: int) -> Table:
    horizon = today + timedelta(days=notice_days)
    rows: list[tuple[Cell, ...]] = []
    for kind, label in CERTIFICATE_DA.items():
        items = [c for c in certificates if c.kind == kind]
        dates = [renewal_date(c.received_on, years) for c in items if c.received_on is not None]
        rows.append((label, sum(1 for d in dates if d > horizon), sum(1 for d in dates if today <= d <= horizon),
                     sum(1 for d in dates if d < today), sum(1 for c in items if c.received_on is None)))
    return Table("attester", f"Attester og e-læring i godkendte familier (fornyes hvert {years}. år)",
                 f"Certificates and e-learning in approved families (renewed every {years} years)",
                 (Column("attest", "Attest", "Certificate"), Column("gyldig", "Gyldig", "Valid"),
                  Column("fornyes_snart", f"Fornyes inden {notice_days} dage", f"Due within {notice_days} days"),
                  Column("udloebet", "Udløbet", "Expired"), Column("mangler", "Mangler", "Missing")),
                 tuple(rows), chart="bars", children=False,
                 note="Attester tælles pr. medlem på 15 år eller derover, e-læring pr. familie. / Certificates count "
                      "per member aged 15 or over, e-learning per family.")


def build_report(session: Session, period: Period, now: datetime, renewal_years: int = 2,
                 notice_days: int = 90, hide_below: int = SMALL) -> Report:
    """Every figure of the programme page for ``period`` (``now``: for 'now' figures and renewals). Counts of
    children below ``hide_below`` are shown as "< 5" (1: every count as it is, for tests and checks only)."""
    today = local_date(now)
    referrals, matches = f.referrals(session), f.matches(session)
    families, certificates = f.families(session), f.certificates(session, today)
    active = sum(1 for m in matches if m.status is MatchStatus.ACTIVE)
    at_end = sum(1 for m in matches if m.started_at is not None and m.started_at < period.until
                 and (m.ended_at is None or m.ended_at >= period.until))
    endings = f.endings(session)
    received = sum(1 for r in referrals if _received_in(r, period))
    headline: tuple[tuple[str, int], ...] = (
        ("Henvisninger i perioden / referrals in the period", received),
        ("Forløb i gang nu / matches active now", active),
        ("Forløb i gang ved periodens slutning / active at the end of the period", at_end),
        ("År gennemført i perioden / years completed in the period",
         sum(1 for m in matches if m.status is MatchStatus.COMPLETED and period.holds(m.ended_at))),
        ("Afsluttet før tid i perioden / ended early in the period",
         sum(1 for m in matches if m.status is MatchStatus.ENDED and period.holds(m.ended_at))),
        ("Nye match efter en afslutning / re-matches after an ending",
         sum(1 for e in endings if e.outcome == StepOutcome.REMATCH and period.holds(e.handled_at))),
    )
    tables = [*_referral_tables(referrals, period), _waiting_table(referrals, period, hide_below),
              *_match_tables(matches, endings, f.future_agreements(session), period),
              *_family_tables(families, period), _certificate_table(certificates, today, renewal_years, notice_days)]
    return Report(period, now, tuple((label, shown(n, hide_below)) for label, n in headline),
                  tuple(table.protected(hide_below) for table in tables),
                  tuple(renewals_due(certificates, families, today, renewal_years, notice_days)))
