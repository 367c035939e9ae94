"""The analysis's periods and risk points (pure rules, no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.analysis import (
    bounds,
    custom_period,
    kind_of,
    period_before,
    period_from_label,
    previous_period,
    risk_points,
)
from models.analysis import (
    Analysis,
    ClauseRow,
    ClockRow,
    CountRow,
    Headline,
    PeriodKind,
    RiskMeasure,
    RiskRule,
    SatisfactionRow,
)


@pytest.mark.parametrize(
    ("kind", "at", "label", "start", "end"),
    [
        (PeriodKind.MONTH, datetime(2026, 12, 1, 6, tzinfo=UTC), "2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        # 31 Dec 22:00 UTC is already 1 January in Shanghai: December is over there.
        (PeriodKind.MONTH, datetime(2026, 12, 31, 22, tzinfo=UTC), "2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        (PeriodKind.MONTH, datetime(2026, 3, 1, 0, tzinfo=UTC), "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        (PeriodKind.QUARTER, datetime(2027, 1, 1, 6, tzinfo=UTC), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (PeriodKind.QUARTER, datetime(2026, 5, 20, tzinfo=UTC), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (PeriodKind.HALF_YEAR, datetime(2026, 7, 1, 6, tzinfo=UTC), "2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        (PeriodKind.HALF_YEAR, datetime(2026, 3, 1, tzinfo=UTC), "2025-H2", date(2025, 7, 1), date(2025, 12, 31)),
    ],
)
def test_a_scheduled_run_reports_on_the_period_that_ended_before_it(
    kind: PeriodKind, at: datetime, label: str, start: date, end: date
) -> None:
    period = previous_period(kind, at, "Asia/Shanghai")
    assert (period.label, period.start, period.end) == (label, start, end)
    assert kind_of(period) == kind


def test_periods_are_compared_with_the_one_before_of_the_same_kind_or_length() -> None:
    assert period_before(custom_period(date(2026, 1, 1), date(2026, 1, 31))).label == "2025-12"
    assert period_before(custom_period(date(2026, 4, 1), date(2026, 6, 30))).label == "2026-Q1"
    assert period_before(custom_period(date(2026, 7, 1), date(2026, 12, 31))).label == "2026-H1"
    week = period_before(custom_period(date(2026, 11, 23), date(2026, 11, 29)))
    assert (week.start, week.end, week.label) == (date(2026, 11, 16), date(2026, 11, 22), "2026-11-16..2026-11-22")
    with pytest.raises(ValueError, match="to: 2026-01-01 lies before from: 2026-02-01"):
        custom_period(date(2026, 2, 1), date(2026, 1, 1))


def test_a_period_is_midnight_to_midnight_in_the_policy_time_zone() -> None:
    start, end = bounds(custom_period(date(2026, 10, 1), date(2026, 10, 31)), "Asia/Shanghai")
    assert (start, end) == (datetime(2026, 9, 30, 16, tzinfo=UTC), datetime(2026, 10, 31, 16, tzinfo=UTC))
    start, end = bounds(custom_period(date(2026, 3, 1), date(2026, 3, 31)), "Europe/London")  # clocks go forward
    assert (start, end) == (datetime(2026, 3, 1, 0, tzinfo=UTC), datetime(2026, 3, 31, 23, tzinfo=UTC))


def headline(**figures: object) -> Headline:
    base: dict[str, object] = dict(
        received=100, closed=80, open_at_end=40, escalations=3, extensions=2, satisfaction_average=4.1,
        reopen_rate=5.0, repeat_complainants=6, repeat_complainant_share=8.0, remedy_paid=Decimal("1000.00"),
    )  # fmt: skip
    return Headline.model_validate(base | figures)


def analysis(**parts: object) -> Analysis:
    period = custom_period(date(2026, 10, 1), date(2026, 10, 31))
    base: dict[str, object] = dict(
        period=period, previous=period_before(period), policy_version="t", currency="CNY",
        generated_at=datetime(2026, 11, 1, tzinfo=UTC), headline=headline(), previous_headline=headline(),
        counts=[], durations=[], clocks=[], satisfaction=[], clauses=[], regulator_reports=[], risk_points=[],
    )  # fmt: skip
    return Analysis.model_validate(base | parts)


def rule(
    measure: RiskMeasure, *, above: float | None = None, below: float | None = None, min_cases: int = 5
) -> RiskRule:
    return RiskRule(id="r", measure=measure, above=above, below=below, min_cases=min_cases, owner="compliance")


def test_a_root_cause_whose_share_rose_by_more_than_the_threshold_is_a_risk_point() -> None:
    a = analysis(
        counts=[
            CountRow(dimension="root_cause", key="contract_wording", count=30, previous=10),  # 30% from 10%
            CountRow(dimension="root_cause", key="pricing_error", count=70, previous=90),
        ]
    )
    points = risk_points([rule(RiskMeasure.ROOT_CAUSE_SHARE_CHANGE, above=5)], a)
    assert [(p.subject, p.figure, p.cases, p.owner) for p in points] == [("contract_wording", 20.0, 30, "compliance")]
    assert points[0].detail == "30.0% of root causes (30), was 10.0% (10)"


def test_too_few_cases_is_no_risk_point_and_each_measure_has_its_figure() -> None:
    a = analysis(
        clocks=[
            ClockRow(clock="acknowledgement", met=2, breached=2, breach_rate=50.0, previous_breach_rate=0.0),
            ClockRow(clock="complex_first_response", met=18, breached=2, breach_rate=10.0, previous_breach_rate=5.0),
            ClockRow(clock="simple_first_response", met=40, breached=10, breach_rate=20.0, previous_breach_rate=5.0),
        ],
        counts=[
            CountRow(dimension="category", key="fees_and_interest", count=30, previous=15),
            CountRow(dimension="category", key="privacy", count=4, previous=1),
        ],
        satisfaction=[SatisfactionRow(score=2, count=6, previous=0)],
        headline=headline(satisfaction_average=2.9),
        clauses=[ClauseRow(clause="7.3", complaints=4, previous=1), ClauseRow(clause="9.1", complaints=2, previous=0)],
    )
    rules = [
        rule(RiskMeasure.CLOCK_BREACH_RATE, above=10),
        rule(RiskMeasure.CATEGORY_COUNT_CHANGE, above=50),
        rule(RiskMeasure.SATISFACTION_AVERAGE, below=3.5),
        rule(RiskMeasure.REOPEN_RATE, above=10),
        rule(RiskMeasure.CLAUSE_CITATIONS, above=2, min_cases=3),
    ]
    found = [(p.measure.value, p.subject, p.figure, p.direction) for p in risk_points(rules, a)]
    assert found == [
        ("clock_breach_rate", "simple_first_response", 20.0, "above"),  # 50% over 4 cases: too few; 10% is not above
        ("category_count_change", "fees_and_interest", 100.0, "above"),  # privacy: 4 cases
        ("satisfaction_average", "satisfaction", 2.9, "below"),
        ("clause_citations", "7.3", 4.0, "above"),
    ]


def test_a_rule_gives_exactly_one_bound() -> None:
    with pytest.raises(ValueError, match="give exactly one of above or below"):
        RiskRule(id="x", measure=RiskMeasure.REOPEN_RATE, owner="o")
    with pytest.raises(ValueError, match="give exactly one of above or below"):
        RiskRule(id="x", measure=RiskMeasure.REOPEN_RATE, owner="o", above=1, below=2)


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026-q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
    ],
)
def test_a_period_from_its_label(label: str, start: date, end: date) -> None:
    period = period_from_label(label)
    assert (period.start, period.end) == (start, end)
    assert period.label == label.upper()
    assert period_from_label(period.label) == period


@pytest.mark.parametrize("label", ["2026-13", "2026-00", "2026-Q5", "2026-H3", "2026", "Q4-2026", "2026-10-01", ""])
def test_a_label_that_names_no_period_is_refused_with_the_forms_accepted(label: str) -> None:
    with pytest.raises(ValueError) as caught:
        period_from_label(label)
    assert (
        str(caught.value) == f"period {label!r}: write it as YYYY-MM (2026-10), YYYY-Qn (2026-Q4) or YYYY-Hn (2026-H1)"
    )
