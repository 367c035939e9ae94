"""The periodic analysis counts what a person counting the rows by hand would (SQLite and PostgreSQL).

The rows lie in March 2033 and February 2033 (Asia/Shanghai), which no other test uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from db.analysis_queries import compute_analysis
from db.tables import Complaint, ComplaintClause, ComplaintClock
from domain.analysis import custom_period, period_before, risk_points
from models.analysis import Analysis
from models.policy import Policy
from tests.policies import policy_under

POLICY = policy_under("cn-2020")
MARCH = custom_period(date(2033, 3, 1), date(2033, 3, 31))
PREFIX = "AQT-"


def at(day: int, hour: int, month: int = 3) -> datetime:
    """A time in Shanghai (UTC+8), as the intake would give it."""
    return datetime(2033, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


def complaint(n: int, received: datetime, **fields: Any) -> Complaint:
    defaults: dict[str, Any] = dict(
        workflow_id=f"complaint-{PREFIX}{n}",
        source_system="test",
        source_reference=f"{PREFIX}{n}",
        channel="phone",
        category="fees_and_interest",
        tier="simple",
        status="closed",
        customer_id=f"AQ-CUST-{n}",
        customer_name="Customer",
        product="working_capital",
        snapshot={},
        updated_at=received,
    )
    return Complaint(complaint_id=f"{PREFIX}{n}", received_at=received, **(defaults | fields))


@pytest.fixture
def in_march(engine: Engine) -> Iterator[Engine]:
    rows: list[Any] = [
        # March: 5 received. 1: simple, acknowledged after 2 h, resolved after 10 h, closed, satisfied (5).
        complaint(1, at(2, 9), acknowledged_at=at(2, 11), resolved_at=at(2, 19), closed_at=at(3, 9),
                  satisfaction=5, root_cause="pricing_error", remedy_paid=Decimal("120.50")),
        # 2: same customer as 4 in February: a repeat complainant; reopened once; closed in March.
        complaint(2, at(5, 9), customer_id="AQ-REPEAT", acknowledged_at=at(5, 13), resolved_at=at(6, 9),
                  closed_at=at(7, 9), satisfaction=2, reopened_count=1, root_cause="pricing_error", escalations=1),
        # 3: complex contract dispute, open at the end of March, cites clause 7.3, deadline extended.
        complaint(3, at(10, 9), tier="complex", category="contract_dispute", channel="email", status="in_handling",
                  acknowledged_at=at(10, 10), extensions=1, product=None),
        # 4 and 5: received on the last evening of March in Shanghai (still March), open.
        complaint(4, at(31, 23), status="in_handling", acknowledged_at=None),
        complaint(5, at(31, 20), category="contract_dispute", status="in_handling", tier="complex"),
        # February: 2 received, one closed in February with root cause staff_conduct, satisfaction 4.
        complaint(6, at(3, 9, month=2), customer_id="AQ-REPEAT", acknowledged_at=at(3, 10, month=2),
                  resolved_at=at(4, 9, month=2), closed_at=at(5, 9, month=2), satisfaction=4,
                  root_cause="staff_conduct"),
        complaint(7, at(20, 9, month=2), category="contract_dispute", status="in_handling"),
        # Received 1 April 00:30 in Shanghai: not March.
        complaint(8, at(1, 0, month=4) + timedelta(minutes=30), status="received"),
    ]  # fmt: skip
    rows += [
        ComplaintClause(complaint_id=f"{PREFIX}3", clause="7.3"),
        ComplaintClause(complaint_id=f"{PREFIX}5", clause="7.3"),
        ComplaintClause(complaint_id=f"{PREFIX}7", clause="7.3"),
        ComplaintClause(complaint_id=f"{PREFIX}3", clause="9.1 set-off"),
        # Clocks: the acknowledgement met for 1, breached for 2 (in March); one met in February.
        ComplaintClock(complaint_id=f"{PREFIX}1", name="acknowledgement", started_at=at(2, 9), due_at=at(3, 9),
                       settled_at=at(2, 11), state="met"),
        ComplaintClock(complaint_id=f"{PREFIX}2", name="acknowledgement", started_at=at(5, 9), due_at=at(5, 12),
                       settled_at=at(5, 13), breached_at=at(5, 12), state="breached"),
        ComplaintClock(complaint_id=f"{PREFIX}6", name="acknowledgement", started_at=at(3, 9, month=2),
                       settled_at=at(3, 10, month=2), state="met"),
        ComplaintClock(complaint_id=f"{PREFIX}1", name="simple_first_response", started_at=at(2, 9),
                       settled_at=at(2, 19), state="met"),
        ComplaintClock(complaint_id=f"{PREFIX}2", name="simple_first_response", started_at=at(5, 9),
                       settled_at=at(6, 9), state="met"),
        ComplaintClock(complaint_id=f"{PREFIX}2", name="regulator_report_NFRA", started_at=at(5, 9), due_at=at(5, 12),
                       settled_at=at(5, 20), breached_at=at(5, 12), state="breached"),
    ]  # fmt: skip
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            for table in (Complaint, ComplaintClause, ComplaintClock):
                t = table.__table__  # type: ignore[attr-defined]
                conn.execute(sa.delete(t).where(t.c.complaint_id.startswith(PREFIX)))


def analyse(engine: Engine, policy: Policy = POLICY) -> Analysis:
    with engine.connect() as conn:
        return compute_analysis(conn, MARCH, period_before(MARCH), policy)


@pytest.fixture
def march(in_march: Engine) -> Analysis:
    return analyse(in_march)


def counts(a: Analysis, dimension: str) -> dict[str, tuple[int, int]]:
    return {r.key: (r.count, r.previous) for r in a.counts if r.dimension == dimension}


def test_the_period_and_the_one_before_are_whole_months_in_the_policy_time_zone(march: Analysis) -> None:
    assert (march.period.label, march.previous.label) == ("2033-03", "2033-02")
    h, p = march.headline, march.previous_headline
    assert (h.received, h.closed, p.received, p.closed) == (5, 2, 2, 1)
    # Open at the end counts every complaint still open, other tests' too: March adds 3 (3, 4, 5).
    assert h.open_at_end - p.open_at_end == 3
    assert (h.escalations, h.extensions) == (1, 1)
    assert h.remedy_paid == Decimal("120.50")


def test_counts_by_dimension_against_the_month_before(march: Analysis) -> None:
    assert counts(march, "category") == {"fees_and_interest": (3, 1), "contract_dispute": (2, 1)}
    assert counts(march, "tier") == {"simple": (3, 2), "complex": (2, 0)}
    assert counts(march, "product") == {"working_capital": (4, 2), "unspecified": (1, 0)}
    assert counts(march, "root_cause") == {"pricing_error": (2, 0), "staff_conduct": (0, 1)}


def test_times_are_medians_and_90th_percentiles_in_hours(march: Analysis) -> None:
    rows = {(r.measure, r.tier): r for r in march.durations}
    ack = rows["acknowledge", "simple"]
    assert (ack.cases, ack.median_hours, ack.p90_hours) == (2, 3.0, 3.8)  # 2 h and 4 h: interpolated
    assert (ack.previous_median_hours, rows["acknowledge", "complex"].median_hours) == (1.0, 1.0)
    first = rows["first_response", "simple"]
    assert (first.cases, first.median_hours, first.p90_hours) == (2, 17.0, 22.6)  # 10 h and 24 h
    assert rows["resolution", "simple"].median_hours == 17.0


def test_clocks_satisfaction_reopening_repeat_complainants_clauses_and_reports(march: Analysis) -> None:
    ack = next(r for r in march.clocks if r.clock == "acknowledgement")
    assert (ack.met, ack.breached, ack.breach_rate, ack.previous_breach_rate) == (1, 1, 50.0, 0.0)
    assert {s.score: (s.count, s.previous) for s in march.satisfaction} == {
        1: (0, 0), 2: (1, 0), 3: (0, 0), 4: (0, 1), 5: (1, 0)
    }  # fmt: skip
    assert march.headline.satisfaction_average == 3.5
    assert march.headline.reopen_rate == 50.0
    assert march.headline.repeat_complainants == 1  # AQ-REPEAT: February and March
    assert march.headline.repeat_complainant_share == 20.0  # of 5 complainants
    assert [(c.clause, c.complaints, c.previous) for c in march.clauses] == [("7.3", 2, 1), ("9.1 set-off", 1, 0)]
    assert [(r.regulator, r.filed, r.late) for r in march.regulator_reports] == [("NFRA", 1, 1)]


def test_thresholds_crossed_are_risk_points_with_their_owner(march: Analysis) -> None:
    # The standard policy's rules: a clock breach rate above 10% over 5+ cases is not met by 2
    # cases; the clause cited by 2 complaints is not above 2; nothing else has enough cases.
    assert march.risk_points == []
    strict = POLICY.reporting.model_copy(
        update={
            "risk_points": [
                r.model_copy(update={"min_cases": 1}) for r in POLICY.reporting.risk_points if r.id == "clock-breaches"
            ]
        }
    )
    with_strict = POLICY.model_copy(update={"reporting": strict})
    points = risk_points(with_strict.reporting.risk_points, march)
    assert [(p.subject, p.figure, p.owner) for p in points] == [("acknowledgement", 50.0, "complaints manager")]
    assert "1 breached of 2" in points[0].detail


def test_the_repeat_window_and_the_clauses_shown_are_the_policys(in_march: Engine) -> None:
    reporting = POLICY.reporting.model_copy(update={"repeat_window_days": 20, "top_clauses": 1})
    a = analyse(in_march, POLICY.model_copy(update={"reporting": reporting}))
    assert a.headline.repeat_complainants == 0  # 3 February to 5 March: more than 20 days apart
    assert [c.clause for c in a.clauses] == ["7.3"]
