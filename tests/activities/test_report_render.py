"""The periodic analysis as people see it: the HTML report, its charts, and each table as CSV and JSON."""

from __future__ import annotations

import csv
import json
import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from activities import report_render
from activities.report_render import TABLES, policy_labels, render_report
from complaints.config import PROJECT_ROOT
from domain.policy import PolicyStore
from models.analysis import (
    Analysis,
    ClauseRow,
    ClockRow,
    CountRow,
    DurationRow,
    EducationRow,
    Headline,
    Period,
    RegulatorReportRow,
    RiskMeasure,
    RiskPoint,
    SatisfactionRow,
    TeamRow,
)

# The policy's names for the codes (policies/standard.yaml), as the reporting activity passes them.
LABELS = {
    "product": {
        "working_capital": "Working capital loan (流动资金贷款)",
        "equipment_finance": "Equipment finance (设备融资)",
        "trade_finance": "Trade finance (贸易融资)",
        "commercial_property": "Commercial property loan (经营性物业贷款)",
        "overdraft": "Business overdraft (法人账户透支)",
    },
    "root_cause": {
        "pricing_error": "Fee or interest charged in error",
        "contract_wording": "Ambiguous or unclear contract wording",
        "process_delay": "Slow or broken internal process",
        "staff_conduct": "Staff attitude or conduct",
        "customer_misunderstanding": "Customer misunderstanding; no fault found",
        "collection_practice": "Collection practice",
        "product_design": "Product design defect",
        "data_handling": "Personal data handling",
        "other": "Other (explain in the text)",
    },
    "clock": {
        "acknowledgement": "Acknowledgement",
        "solution_simple": "Solution (simple)",
        "first_feedback_complex": "First feedback (complex)",
        "investigation_major": "Investigation opened (major)",
        "decision_regulatory": "Decision (regulatory, 15 days)",
        "follow_up": "Follow-up call (回访)",
    },
}
STANDARD = PROJECT_ROOT / "policies" / "standard.yaml"
CHARTS = 8  # five count dimensions, durations, clocks, satisfaction


def _counts(dimension: str, rows: dict[str, tuple[int, int]]) -> list[CountRow]:
    return [CountRow(dimension=dimension, key=k, count=n, previous=p) for k, (n, p) in rows.items()]


def sample_analysis() -> Analysis:
    """October 2026 at a mid-size business lender: 182 complaints received, five risk points."""
    counts = [
        *_counts(
            "category",
            {
                "fees_and_interest": (58, 41),
                "contract_dispute": (37, 35),
                "service_attitude": (29, 33),
                "repayment_collection": (24, 22),
                "product_design": (14, 13),
                "other": (14, 13),
                "privacy": (6, 7),
            },
        ),
        *_counts("tier", {"simple": (131, 121), "complex": (42, 36), "major": (9, 7)}),
        *_counts(
            "channel",
            {
                "phone": (64, 60),
                "app": (38, 30),
                "email": (31, 29),
                "web_platform": (27, 22),
                "in_person": (11, 10),
                "letter": (6, 8),
                "regulator_referral": (5, 5),
            },
        ),
        *_counts(
            "product",
            {
                "working_capital": (71, 66),
                "equipment_finance": (39, 35),
                "overdraft": (32, 25),
                "trade_finance": (22, 21),
                "commercial_property": (18, 17),
            },
        ),
        *_counts(
            "root_cause",
            {
                "pricing_error": (44, 27),
                "contract_wording": (31, 30),
                "process_delay": (26, 25),
                "customer_misunderstanding": (24, 27),
                "staff_conduct": (17, 19),
                "collection_practice": (11, 10),
                "product_design": (8, 8),
                "other": (6, 7),
                "data_handling": (4, 5),
            },
        ),
    ]
    durations = [
        DurationRow(
            measure=m, tier=t, cases=c, median_hours=a, p90_hours=b, previous_median_hours=pa, previous_p90_hours=pb
        )
        for m, t, c, a, b, pa, pb in [
            ("acknowledge", "simple", 131, 1.2, 5.8, 1.4, 6.2),
            ("acknowledge", "complex", 42, 1.5, 6.9, 1.3, 7.4),
            ("acknowledge", "major", 9, 0.6, 2.1, 0.8, 2.5),
            ("first_response", "simple", 131, 3.9, 18.5, 3.5, 14.0),
            ("first_response", "complex", 42, 46.0, 101.5, 41.2, 96.0),
            ("first_response", "major", 9, 2.2, 3.8, 2.0, 3.5),
            ("resolution", "simple", 125, 14.5, 26.0, 12.8, 22.4),
            ("resolution", "complex", 38, 196.0, 410.0, 188.5, 377.0),
            ("resolution", "major", 8, 330.0, 610.0, 352.0, 655.0),
        ]
    ]
    clocks = [
        ClockRow(clock=c, met=m, breached=b, breach_rate=r, previous_breach_rate=p)
        for c, m, b, r, p in [
            ("acknowledgement", 178, 2, 1.1, 0.6),
            ("solution_simple", 104, 21, 16.8, 8.9),
            ("first_feedback_complex", 37, 3, 7.5, 5.6),
            ("investigation_major", 9, 0, 0.0, 0.0),
            ("decision_regulatory", 14, 1, 6.7, 0.0),
            ("follow_up", 150, 6, 3.8, 4.1),
        ]
    ]
    satisfaction = [
        SatisfactionRow(score=s, count=n, previous=p)
        for s, n, p in [(1, 9, 5), (2, 14, 9), (3, 31, 27), (4, 52, 55), (5, 40, 42)]
    ]
    clauses = [
        ClauseRow(clause=c, complaints=n, previous=p)
        for c, n, p in [
            ("PF-2025 §7.3 prepayment fee (提前还款违约金)", 9, 4),
            ("CL-2024 §12.1 penalty interest (罚息)", 7, 6),
            ("EQ-LEASE-3Y §5 balloon payment", 5, 1),
            ("WC-2023 §9.2 early repayment notice", 3, 3),
            ("TF-2024 §4.1 letter of credit handling fee", 2, 1),
        ]
    ]
    risks = [
        RiskPoint(
            rule="root-cause-rising",
            measure=RiskMeasure.ROOT_CAUSE_SHARE_CHANGE,
            subject="pricing_error",
            figure=8.6,
            threshold=5,
            direction="above",
            cases=44,
            owner="compliance",
            detail="44 of 171 closed complaints (25.7%) against 27 of 158 (17.1%) in 2026-09. "
            "Proposal: trace the cause to its process and fix it at source.",
        ),
        RiskPoint(
            rule="clock-breaches",
            measure=RiskMeasure.CLOCK_BREACH_RATE,
            subject="solution_simple",
            figure=16.8,
            threshold=10,
            direction="above",
            cases=125,
            owner="complaints manager",
            detail="21 of 125 simple complaints missed the 24-hour solution clock (8.9% in 2026-09). "
            "Proposal: review staffing and the hand-offs on this clock.",
        ),
        RiskPoint(
            rule="reopened",
            measure=RiskMeasure.REOPEN_RATE,
            subject="all closed complaints",
            figure=11.7,
            threshold=10,
            direction="above",
            cases=171,
            owner="complaints manager",
            detail="20 of 171 closed complaints reopened after a follow-up call scored below 3 (7.0% in 2026-09).",
        ),
        RiskPoint(
            rule="clause-cited",
            measure=RiskMeasure.CLAUSE_CITATIONS,
            subject="PF-2025 §7.3 prepayment fee (提前还款违约金)",
            figure=9,
            threshold=2,
            direction="above",
            cases=9,
            owner="legal",
            detail="Cited by 9 complaints (4 in 2026-09). Proposal: send the clause to legal review for plain wording.",
        ),
        RiskPoint(
            rule="clause-cited",
            measure=RiskMeasure.CLAUSE_CITATIONS,
            subject="CL-2024 §12.1 penalty interest (罚息)",
            figure=7,
            threshold=2,
            direction="above",
            cases=7,
            owner="legal",
            detail="Cited by 7 complaints (6 in 2026-09) where penalty interest ran past a grace period <5 days>.",
        ),
    ]

    def headline(
        received: int,
        closed: int,
        open_: int,
        esc: int,
        ext: int,
        sat: float,
        reopen: float,
        rep: int,
        share: float,
        paid: str,
    ) -> Headline:
        return Headline(
            received=received,
            closed=closed,
            open_at_end=open_,
            escalations=esc,
            extensions=ext,
            satisfaction_average=sat,
            reopen_rate=reopen,
            repeat_complainants=rep,
            repeat_complainant_share=share,
            remedy_paid=Decimal(paid),
        )

    return Analysis(
        period=Period(label="2026-10", start=date(2026, 10, 1), end=date(2026, 10, 31)),
        previous=Period(label="2026-09", start=date(2026, 9, 1), end=date(2026, 9, 30)),
        policy_version="2026.11-standard",
        currency="CNY",
        generated_at=datetime(2026, 11, 1, 6, 0, 12, tzinfo=UTC),
        headline=headline(182, 171, 47, 11, 6, 3.68, 11.7, 23, 14.2, "486230.50"),
        previous_headline=headline(164, 158, 36, 8, 4, 3.87, 7.0, 17, 11.3, "371905.00"),
        counts=counts,
        durations=durations,
        clocks=clocks,
        satisfaction=satisfaction,
        clauses=clauses,
        regulator_reports=[
            RegulatorReportRow(regulator="NFRA", filed=4, late=0, previous_filed=3),
            RegulatorReportRow(regulator="PBOC", filed=1, late=1, previous_filed=0),
        ],
        risk_points=risks,
    )


def test_the_report_shows_every_section_with_its_charts(tmp_path: Path) -> None:
    analysis = sample_analysis()
    started = time.perf_counter()
    files = render_report(analysis, tmp_path, labels=LABELS)
    elapsed = time.perf_counter() - started
    assert elapsed < 15, f"rendering took {elapsed:.1f} s"

    assert files["html"] == "report.html" and files["analysis"] == "analysis.json"
    assert {f"{t}_{x}" for t in TABLES for x in ("csv", "json")} <= set(files)
    assert all((tmp_path / name).is_file() for name in files.values())
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"

    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    # Nothing to load: the only URLs are XML namespace names.
    loaded = [m.group(0) for m in re.finditer(r'(xmlns(?::\w+)?=")?https?://[^"\s<>]*', html) if not m.group(1)]
    assert loaded == []
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert html.count("<svg") == CHARTS
    assert "Complaint analysis: 2026-10" in html and "policy 2026.11-standard" in html
    assert "generated 2026-11-01 06:00 UTC" in html
    assert "How to read this report" in html
    for text in ("Received", "182", "+18 (+11%)", "486,230.50", "Remedy paid (CNY)", "Reopen rate", "11.7%", "3.68"):
        assert text in html, text
    for text in ("Working capital loan (流动资金贷款)", "Solution (simple)", "NFRA", "PF-2025 §7.3"):
        assert text in html, text

    # Each risk point, prominent, names its rule, subject, figure against threshold and owner.
    section = html.split('id="risk-points"', 1)[1].split("</section>", 1)[0]
    cards = section.split('<div class="risk">')[1:]
    assert len(cards) == len(analysis.risk_points)
    for card, point in zip(cards, analysis.risk_points, strict=True):
        assert f"Owner: {point.owner}" in card and f"rule {point.rule}" in card
        assert point.detail.split(" ")[0] in card
    assert (
        "Fee or interest charged in error" in cards[0]
        and "<b>8.6 pts</b>" in cards[0]
        and "above the threshold of 5.0 pts" in cards[0]
    )
    assert "<b>16.8%</b>, above the threshold of 10.0% · 125 cases" in cards[1]
    assert "grace period &lt;5 days&gt;" in cards[4], "text from the data is escaped"


def test_each_table_is_written_as_csv_and_json_matching_the_model(tmp_path: Path) -> None:
    analysis = sample_analysis()
    render_report(analysis, tmp_path)
    for table, model in TABLES.items():
        rows = getattr(analysis, table)
        with (tmp_path / f"{table}.csv").open(encoding="utf-8", newline="") as f:
            read = list(csv.reader(f))
        assert read[0] == list(model.model_fields), table
        assert len(read) - 1 == len(rows), table
        assert json.loads((tmp_path / f"{table}.json").read_text(encoding="utf-8")) == [
            r.model_dump(mode="json") for r in rows
        ]
    with (tmp_path / "risk_points.csv").open(encoding="utf-8", newline="") as f:
        first = next(csv.DictReader(f))
    assert first["owner"] == "compliance" and first["measure"] == "root_cause_share_change" and first["figure"] == "8.6"
    assert Analysis.model_validate_json((tmp_path / "analysis.json").read_text(encoding="utf-8")) == analysis


def test_an_empty_period_says_none_instead_of_empty_charts(tmp_path: Path) -> None:
    analysis = sample_analysis().model_copy(
        update={
            "counts": [r for r in sample_analysis().counts if r.dimension == "tier"],
            "durations": [],
            "clocks": [],
            "satisfaction": [SatisfactionRow(score=s, count=0, previous=0) for s in range(1, 6)],
            "clauses": [],
            "regulator_reports": [],
            "risk_points": [],
        }
    )
    render_report(analysis, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 1  # tiers only
    assert "No threshold was crossed in this period." in html
    assert "No satisfaction scores were recorded in this period." in html
    assert html.count("None in this period.") == 4 + 4  # four count dimensions; durations, clocks, clauses, reports
    with (tmp_path / "clauses.csv").open(encoding="utf-8") as f:
        assert f.read() == "clause,complaints,previous\n"
    assert json.loads((tmp_path / "risk_points.json").read_text(encoding="utf-8")) == []


def test_a_failed_render_leaves_the_previous_report_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    render_report(sample_analysis(), tmp_path)
    before = (tmp_path / "report.html").read_bytes()

    def broken(*_: object) -> str:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(report_render, "render_html", broken)
    with pytest.raises(RuntimeError):
        render_report(sample_analysis(), tmp_path)
    assert (tmp_path / "report.html").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_policy_names_products_and_root_causes() -> None:
    labels = policy_labels(PolicyStore.from_file(STANDARD).current)
    assert labels["product"]["working_capital"] == LABELS["product"]["working_capital"]
    assert labels["root_cause"] == LABELS["root_cause"]


def test_the_team_section_shows_each_persons_scorecard_figures(tmp_path: Path) -> None:
    team = [
        TeamRow(staff_id="S-HND-001", name="李娜 Li Na", cases=41, clocks_met_rate=97.6, satisfaction_average=4.62,
                reopen_rate=2.4, score=91.3),
        TeamRow(staff_id="S-HND-002", name="王强 Wang Qiang <new>", cases=0, clocks_met_rate=50.0,
                satisfaction_average=None, reopen_rate=None, score=None),
    ]  # fmt: skip
    analysis = sample_analysis().model_copy(update={"team": team})
    files = render_report(analysis, tmp_path)
    assert (files["team_csv"], files["team_json"]) == ("team.csv", "team.json")
    with (tmp_path / "team.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(TeamRow.model_fields)
    assert (rows[0]["staff_id"], rows[0]["score"], rows[1]["score"]) == ("S-HND-001", "91.3", "")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = html.split('<h2 id="team">Team</h2>', 1)[1].split("<footer>", 1)[0]
    assert "李娜 Li Na (S-HND-001)" in section and "97.6%" in section and "4.62" in section and "91.3" in section
    assert "王强 Wang Qiang &lt;new&gt; (S-HND-002)" in section, "names are escaped"
    assert "complaints staff scorecard --period 2026-10" in section
    assert Analysis.model_validate_json((tmp_path / "analysis.json").read_text(encoding="utf-8")).team == team


def test_an_analysis_written_before_the_team_table_still_loads(tmp_path: Path) -> None:
    old = sample_analysis().model_dump(mode="json")
    del old["team"]
    assert Analysis.model_validate(old).team == []
    render_report(sample_analysis(), tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No staff member closed a complaint or had a clock settle in this period." in html


def test_the_education_section_shows_each_topic_and_the_last_action_before_the_period(tmp_path: Path) -> None:
    education = [
        EducationRow(product="overdraft", topic="fees_and_interest", count=9, previous=14,
                     last_action_on=date(2026, 8, 20), last_action_kind="leaflet",
                     last_action_title="How overdraft interest is charged <daily>"),
        EducationRow(product="unspecified", topic="repayment_collection", count=3, previous=3, last_action_on=None,
                     last_action_kind=None, last_action_title=None),
    ]  # fmt: skip
    analysis = sample_analysis().model_copy(update={"education": education})
    files = render_report(analysis, tmp_path, labels=LABELS)
    assert (files["education_csv"], files["education_json"]) == ("education.csv", "education.json")
    with (tmp_path / "education.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(EducationRow.model_fields)
    assert (rows[0]["last_action_on"], rows[1]["last_action_on"], rows[1]["count"]) == ("2026-08-20", "", "3")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = html.split('<h2 id="education">Education topics</h2>', 1)[1].split("<footer>", 1)[0]
    assert "Business overdraft (法人账户透支)" in section and "fees and interest" in section
    assert "−5" in section, "the change from the previous period"
    assert "2026-08-20 leaflet: How overdraft interest is charged &lt;daily&gt;" in section, "titles are escaped"
    assert "unspecified" in section and "none" in section
    assert "complaints education list --period 2026-10" in section
    loaded = Analysis.model_validate_json((tmp_path / "analysis.json").read_text(encoding="utf-8"))
    assert loaded.education == education


def test_an_analysis_written_before_the_education_table_still_loads(tmp_path: Path) -> None:
    old = sample_analysis().model_dump(mode="json")
    del old["education"]
    assert Analysis.model_validate(old).education == []
    render_report(sample_analysis(), tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No complaint was closed as a customer misunderstanding in this period or the one before." in html
    assert (tmp_path / "education.csv").read_text(encoding="utf-8") == ",".join(EducationRow.model_fields) + "\n"
