"""The periodic analysis as SQL aggregation over the projection, on PostgreSQL and SQLite.

Every figure is a GROUP BY in the database; Python only receives the groups. Percentiles are
``percentile_cont`` on PostgreSQL; SQLite has none, so there they come from window functions
(each group's rows numbered in order, the two rows round the rank read, and interpolated the
way ``percentile_cont`` does). Which complaints a figure counts:

- received, counts by category, tier, channel and product, escalations, extensions, clauses and
  time to acknowledge: those *received* in the period;
- closed, root causes, satisfaction, reopen rate and remedy paid: those *closed* in it;
- time to first response: first-response clocks *settled* in it; to resolution: complaints
  *resolved* in it;
- clocks: met when *settled* in it on time, breached when they *breached* in it;
- regulator reports: report clocks *settled* (filed) in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from db.tables import Complaint, ComplaintClause, ComplaintClock
from domain.analysis import bounds, percent, risk_points
from models.analysis import (
    Analysis,
    ClauseRow,
    ClockRow,
    CountRow,
    DurationRow,
    Headline,
    Period,
    RegulatorReportRow,
    SatisfactionRow,
)
from models.policy import Policy

c = Complaint.__table__.c  # type: ignore[attr-defined]
clocks = ComplaintClock.__table__  # type: ignore[attr-defined]
clauses = ComplaintClause.__table__  # type: ignore[attr-defined]

DIMENSIONS = {"category": c.category, "tier": c.tier, "channel": c.channel, "product": c.product}
FIRST_RESPONSE = ("simple_first_response", "complex_first_response", "major_first_response")
REPORT_PREFIX = "regulator_report_"


class _Windows:
    """The period and the one before as UTC instants, and SQL conditions on them."""

    def __init__(self, conn: Connection, period: Period, previous: Period, timezone: str) -> None:
        self.conn = conn
        self.now = bounds(period, timezone)
        self.before = bounds(previous, timezone)

    def cur(self, col: Any) -> ColumnElement[bool]:
        return sa.and_(col >= self.now[0], col < self.now[1])

    def prev(self, col: Any) -> ColumnElement[bool]:
        return sa.and_(col >= self.before[0], col < self.before[1])

    def either(self, col: Any) -> ColumnElement[bool]:
        return sa.or_(self.cur(col), self.prev(col))

    def count(self, condition: ColumnElement[bool]) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    def hours(self, later: Any, earlier: Any) -> Any:
        return hours_between(self.conn, later, earlier)

    def percentiles(self, key: Any, value: Any, where: ColumnElement[bool]) -> dict[str, tuple[int, float, float]]:
        """Per ``key``: how many values, their median and 90th percentile (interpolated)."""
        return {k[0]: found for k, found in percentiles(self.conn, [key], value, where).items()}


def hours_between(conn: Connection, later: Any, earlier: Any) -> Any:
    """SQL for the hours from ``earlier`` to ``later`` on the connection's database."""
    if conn.dialect.name == "postgresql":
        return sa.func.extract("epoch", later - earlier) / 3600.0
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 24.0


def percentiles(
    conn: Connection, keys: list[Any], value: Any, where: ColumnElement[bool]
) -> dict[tuple[Any, ...], tuple[int, float, float]]:
    """Per group of ``keys``: how many values, their median and 90th percentile, interpolated as
    ``percentile_cont`` does (SQLite has none: each group's rows are numbered by window functions
    and the two rows round each rank read). Shared by the analysis and the staff scorecards."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.select(
                *keys,
                sa.func.count(),
                sa.func.percentile_cont(0.5).within_group(value),
                sa.func.percentile_cont(0.9).within_group(value),
            )
            .where(where, value.is_not(None))
            .group_by(*keys)
        )
        width = len(keys)
        return {tuple(r[:width]): (int(r[width]), float(r[width + 1]), float(r[width + 2])) for r in rows}
    ranked = (
        sa.select(
            *(key.label(f"k{i}") for i, key in enumerate(keys)),
            value.label("v"),
            sa.func.row_number().over(partition_by=keys, order_by=value).label("rn"),
            sa.func.count().over(partition_by=keys).label("n"),
        )
        .where(where, value.is_not(None))
        .subquery()
    )
    groups = [ranked.c[f"k{i}"] for i in range(len(keys))]
    columns: list[Any] = [*groups, sa.func.max(ranked.c.n)]
    for p in (0.5, 0.9):
        position = 1 + p * (ranked.c.n - 1)
        low = sa.cast(position, sa.Integer)
        columns += [
            sa.func.max(sa.case((ranked.c.rn == low, ranked.c.v))),
            sa.func.max(sa.case((ranked.c.rn == low + 1, ranked.c.v))),
            sa.func.max(position - low),
        ]
    found = {}
    width = len(keys)
    for r in conn.execute(sa.select(*columns).group_by(*groups)):
        values = []
        for lo, hi, frac in (r[width + 1 : width + 4], r[width + 4 : width + 7]):
            values.append(float(lo) + float(frac) * (float(hi) - float(lo)) if hi is not None else float(lo))
        found[tuple(r[:width])] = (int(r[width]), values[0], values[1])
    return found


def _counts(w: _Windows) -> list[CountRow]:
    rows: list[CountRow] = []
    for dimension, col in [*DIMENSIONS.items(), ("root_cause", c.root_cause)]:
        at = c.closed_at if dimension == "root_cause" else c.received_at
        key = sa.func.coalesce(col, "unspecified")
        query = sa.select(key, w.count(w.cur(at)), w.count(w.prev(at))).where(w.either(at)).group_by(key)
        if dimension == "root_cause":
            query = query.where(col.is_not(None))
        found = [
            CountRow(dimension=dimension, key=k, count=int(n), previous=int(p)) for k, n, p in w.conn.execute(query)
        ]
        rows += sorted(found, key=lambda r: (-r.count, -r.previous, r.key))
    return rows


def _durations(w: _Windows) -> list[DurationRow]:
    tier = sa.func.coalesce(c.tier, "unclassified")
    clock_tier = sa.func.replace(clocks.c.name, "_first_response", "")
    measures: list[
        tuple[str, Callable[[Callable[[Any], ColumnElement[bool]]], dict[str, tuple[int, float, float]]]]
    ] = [
        ("acknowledge", lambda win: w.percentiles(tier, w.hours(c.acknowledged_at, c.received_at), win(c.received_at))),
        (
            "first_response",
            lambda win: w.percentiles(
                clock_tier,
                w.hours(clocks.c.settled_at, clocks.c.started_at),
                sa.and_(clocks.c.name.in_(FIRST_RESPONSE), win(clocks.c.settled_at)),
            ),
        ),
        ("resolution", lambda win: w.percentiles(tier, w.hours(c.resolved_at, c.received_at), win(c.resolved_at))),
    ]
    rows = []
    for measure, compute in measures:
        now, before = compute(w.cur), compute(w.prev)
        for key in sorted(
            set(now) | set(before),
            key=lambda t: ("simple", "complex", "major").index(t) if t in ("simple", "complex", "major") else 9,
        ):
            n, p50, p90 = now.get(key, (0, None, None))
            _, b50, b90 = before.get(key, (0, None, None))
            rows.append(
                DurationRow(
                    measure=measure,
                    tier=key,
                    cases=n,
                    median_hours=_round(p50),
                    p90_hours=_round(p90),
                    previous_median_hours=_round(b50),
                    previous_p90_hours=_round(b90),
                )
            )
    return rows


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _clocks(w: _Windows) -> list[ClockRow]:
    k = clocks.c
    met = lambda win: w.count(sa.and_(k.state == "met", win(k.settled_at)))  # noqa: E731
    breached = lambda win: w.count(win(k.breached_at))  # noqa: E731
    query = (
        sa.select(k.name, met(w.cur), breached(w.cur), met(w.prev), breached(w.prev))
        .where(sa.or_(w.either(k.settled_at), w.either(k.breached_at)), ~k.name.startswith(REPORT_PREFIX))
        .group_by(k.name)
        .order_by(k.name)
    )
    return [
        ClockRow(
            clock=name,
            met=int(m),
            breached=int(b),
            breach_rate=percent(int(b), int(m) + int(b)),
            previous_breach_rate=percent(int(pb), int(pm) + int(pb)),
        )
        for name, m, b, pm, pb in w.conn.execute(query)
    ]


def _satisfaction(w: _Windows) -> list[SatisfactionRow]:
    query = (
        sa.select(c.satisfaction, w.count(w.cur(c.closed_at)), w.count(w.prev(c.closed_at)))
        .where(w.either(c.closed_at), c.satisfaction.is_not(None))
        .group_by(c.satisfaction)
    )
    found = {int(s): (int(n), int(p)) for s, n, p in w.conn.execute(query)}
    return [
        SatisfactionRow(score=s, count=found.get(s, (0, 0))[0], previous=found.get(s, (0, 0))[1]) for s in range(1, 6)
    ]


def _clauses(w: _Windows, top: int) -> list[ClauseRow]:
    now = w.count(w.cur(c.received_at))
    query = (
        sa.select(clauses.c.clause, now, w.count(w.prev(c.received_at)))
        .join_from(clauses, Complaint.__table__, clauses.c.complaint_id == c.complaint_id)  # type: ignore[attr-defined]
        .where(w.either(c.received_at))
        .group_by(clauses.c.clause)
        .order_by(now.desc(), clauses.c.clause)
        .limit(top)
    )
    return [ClauseRow(clause=k, complaints=int(n), previous=int(p)) for k, n, p in w.conn.execute(query) if int(n) > 0]


def _regulator_reports(w: _Windows) -> list[RegulatorReportRow]:
    k = clocks.c
    regulator = sa.func.substr(k.name, len(REPORT_PREFIX) + 1)
    query = (
        sa.select(
            regulator,
            w.count(w.cur(k.settled_at)),
            w.count(sa.and_(w.cur(k.settled_at), k.breached_at.is_not(None))),
            w.count(w.prev(k.settled_at)),
        )
        .where(k.name.startswith(REPORT_PREFIX), w.either(k.settled_at))
        .group_by(regulator)
        .order_by(regulator)
    )
    return [
        RegulatorReportRow(regulator=r, filed=int(f), late=int(late), previous_filed=int(p))
        for r, f, late, p in w.conn.execute(query)
    ]


def _headline(w: _Windows, window: tuple[datetime, datetime], repeat_days: int) -> Headline:
    start, end = window
    received = sa.and_(c.received_at >= start, c.received_at < end)
    closed = sa.and_(c.closed_at >= start, c.closed_at < end)
    r = w.conn.execute(
        sa.select(
            w.count(received),
            w.count(closed),
            w.count(sa.or_(c.closed_at.is_(None), c.closed_at >= end)),
            sa.func.coalesce(sa.func.sum(sa.case((received, c.escalations), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((received, c.extensions), else_=0)), 0),
            sa.func.avg(sa.case((closed, c.satisfaction))),
            w.count(sa.and_(closed, c.reopened_count > 0)),
            sa.func.coalesce(sa.func.sum(sa.case((closed, c.remedy_paid), else_=0)), 0),
        ).where(c.received_at < end)
    ).one()
    # Repeat complainants: customers of the period with two or more complaints in the window before its end.
    repeat = (
        sa.select(c.customer_id)
        .where(c.received_at >= end - timedelta(days=repeat_days), c.received_at < end)
        .group_by(c.customer_id)
        .having(sa.func.count() >= 2, sa.func.max(c.received_at) >= start)
        .subquery()
    )
    repeaters = int(w.conn.scalar(sa.select(sa.func.count()).select_from(repeat)) or 0)
    complainants = int(w.conn.scalar(sa.select(sa.func.count(sa.distinct(c.customer_id))).where(received)) or 0)
    return Headline(
        received=int(r[0]),
        closed=int(r[1]),
        open_at_end=int(r[2]),
        escalations=int(r[3]),
        extensions=int(r[4]),
        satisfaction_average=round(float(r[5]), 2) if r[5] is not None else None,
        reopen_rate=percent(int(r[6]), int(r[1])),
        repeat_complainants=repeaters,
        repeat_complainant_share=percent(repeaters, complainants),
        remedy_paid=Decimal(r[7]).quantize(Decimal("0.01")),
    )


def compute_analysis(
    conn: Connection, period: Period, previous: Period, policy: Policy, generated_at: datetime | None = None
) -> Analysis:
    """The analysis of ``period`` against ``previous``, with its risk points under ``policy``."""
    w = _Windows(conn, period, previous, policy.timezone)
    reporting = policy.reporting
    analysis = Analysis(
        period=period,
        previous=previous,
        policy_version=policy.version,
        currency=policy.amount_currency,
        generated_at=generated_at or datetime.now(UTC),
        headline=_headline(w, w.now, reporting.repeat_window_days),
        previous_headline=_headline(w, w.before, reporting.repeat_window_days),
        counts=_counts(w),
        durations=_durations(w),
        clocks=_clocks(w),
        satisfaction=_satisfaction(w),
        clauses=_clauses(w, reporting.top_clauses),
        regulator_reports=_regulator_reports(w),
        risk_points=[],
    )
    return analysis.model_copy(update={"risk_points": risk_points(reporting.risk_points, analysis)})
