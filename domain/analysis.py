"""Pure rules of the periodic analysis (step 3.2): its periods, and which figures are risk points.

Periods are calendar dates in the policy's time zone, both ends inclusive: October 2026 in
Asia/Shanghai starts at 2026-09-30 16:00 UTC. ``previous_period`` is what a scheduled run
reports on (the month, quarter or half-year that ended before it started); ``period_before``
is what a period is compared with.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.analysis import Analysis, Period, PeriodKind, RiskMeasure, RiskPoint, RiskRule

MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF_YEAR: 6}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _label(kind: PeriodKind, start: date) -> str:
    if kind == PeriodKind.MONTH:
        return f"{start:%Y-%m}"
    if kind == PeriodKind.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-H{(start.month - 1) // 6 + 1}"


def period_of(kind: PeriodKind, start: date) -> Period:
    """The month, quarter or half-year that starts on ``start`` (its first day)."""
    end = _add_months(start, MONTHS[kind]) - timedelta(days=1)
    return Period(label=_label(kind, start), start=start, end=end)


LABEL_FORMS = "YYYY-MM (2026-10), YYYY-Qn (2026-Q4) or YYYY-Hn (2026-H1)"
_LABEL = re.compile(r"^(\d{4})-(?:(\d{2})|Q([1-4])|H([12]))$", re.IGNORECASE)


def period_from_label(label: str) -> Period:
    """The month, quarter or half-year a label names, as people write them on the command line
    (2026-10, 2026-Q4, 2026-H1); anything else is a ValueError that says what is accepted."""
    found = _LABEL.match(label.strip())
    if found is None or not 1 <= int(found.group(1)) <= 9998 or not 1 <= int(found.group(2) or 1) <= 12:
        raise ValueError(f"period {label!r}: write it as {LABEL_FORMS}")
    year, month, quarter, half = found.groups()
    if month is not None:
        return period_of(PeriodKind.MONTH, date(int(year), int(month), 1))
    if quarter is not None:
        return period_of(PeriodKind.QUARTER, date(int(year), (int(quarter) - 1) * 3 + 1, 1))
    return period_of(PeriodKind.HALF_YEAR, date(int(year), (int(half) - 1) * 6 + 1, 1))


def previous_period(kind: PeriodKind, at: datetime, timezone: str) -> Period:
    """The whole period of ``kind`` that ended before ``at`` (read in ``timezone``)."""
    today = at.astimezone(ZoneInfo(timezone)).date()
    months = MONTHS[kind]
    current = date(today.year, (today.month - 1) // months * months + 1, 1)
    return period_of(kind, _add_months(current, -months))


def kind_of(period: Period) -> PeriodKind | None:
    """Whether the period is a whole month, quarter or half-year (None: a custom range)."""
    for kind, months in MONTHS.items():
        starts_one = period.start.day == 1 and (period.start.month - 1) % months == 0
        if starts_one and period_of(kind, period.start).end == period.end:
            return kind
    return None


def custom_period(start: date, end: date) -> Period:
    """From ``start`` to ``end`` inclusive; a whole month, quarter or half-year gets its usual label."""
    if end < start:
        raise ValueError(f"to: {end} lies before from: {start}")
    candidate = Period(label=f"{start}..{end}", start=start, end=end)
    kind = kind_of(candidate)
    return period_of(kind, start) if kind else candidate


def period_before(period: Period) -> Period:
    """What ``period`` is compared with: the month, quarter or half-year before, or as many days."""
    kind = kind_of(period)
    if kind is not None:
        return period_of(kind, _add_months(period.start, -MONTHS[kind]))
    days = (period.end - period.start).days + 1
    return custom_period(period.start - timedelta(days=days), period.start - timedelta(days=1))


def bounds(period: Period, timezone: str) -> tuple[datetime, datetime]:
    """The period as UTC instants [start, end): midnight to midnight in ``timezone``."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(period.start, time(0), zone).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# ---- risk points ---------------------------------------------------------------------------

Figure = tuple[str, float, int, str]  # subject, figure, cases behind it, the figures in words


def _figures(measure: RiskMeasure, a: Analysis) -> list[Figure]:
    """Every subject's figure for ``measure``, with the cases behind it and how it came about."""
    h, p = a.headline, a.previous_headline
    if measure == RiskMeasure.ROOT_CAUSE_SHARE_CHANGE:
        rows = [r for r in a.counts if r.dimension == "root_cause"]
        now, before = sum(r.count for r in rows), sum(r.previous for r in rows)
        found = []
        for r in rows:
            share, was = percent(r.count, now) or 0.0, percent(r.previous, before) or 0.0
            found.append(
                (
                    r.key,
                    round(share - was, 1),
                    r.count,
                    f"{share:.1f}% of root causes ({r.count}), was {was:.1f}% ({r.previous})",
                )
            )
        return found
    if measure == RiskMeasure.CATEGORY_COUNT_CHANGE:
        return [
            (
                r.key,
                round(100.0 * (r.count - r.previous) / r.previous, 1),
                r.count,
                f"{r.count} received, was {r.previous}",
            )
            for r in a.counts
            if r.dimension == "category" and r.previous > 0
        ]
    if measure == RiskMeasure.CLOCK_BREACH_RATE:
        return [
            (
                c.clock,
                c.breach_rate,
                c.met + c.breached,
                f"{c.breached} breached of {c.met + c.breached} settled or breached",
            )
            for c in a.clocks
            if c.breach_rate is not None
        ]
    if measure == RiskMeasure.SATISFACTION_AVERAGE:
        rated = sum(s.count for s in a.satisfaction)
        if h.satisfaction_average is None:
            return []
        earlier = f", was {p.satisfaction_average:.2f}" if p.satisfaction_average is not None else ""
        return [
            (
                "satisfaction",
                h.satisfaction_average,
                rated,
                f"average {h.satisfaction_average:.2f} over {rated} rated{earlier}",
            )
        ]
    if measure == RiskMeasure.REOPEN_RATE:
        if h.reopen_rate is None:
            return []
        return [("reopened", h.reopen_rate, h.closed, f"{h.reopen_rate:.1f}% of {h.closed} closed had been reopened")]
    if measure == RiskMeasure.REPEAT_COMPLAINANT_SHARE:
        if h.repeat_complainant_share is None:
            return []
        complainants = (
            round(100 * h.repeat_complainants / h.repeat_complainant_share) if h.repeat_complainant_share else 0
        )
        return [
            (
                "repeat complainants",
                h.repeat_complainant_share,
                complainants,
                f"{h.repeat_complainants} customers complained again within the window",
            )
        ]
    return [
        (c.clause, float(c.complaints), c.complaints, f"cited by {c.complaints} complaints, was {c.previous}")
        for c in a.clauses
    ]


def risk_points(rules: list[RiskRule], analysis: Analysis) -> list[RiskPoint]:
    """Every threshold crossed, in the rules' order, each with the figures that crossed it."""
    points = []
    for rule in rules:
        for subject, figure, cases, words in _figures(rule.measure, analysis):
            if cases < rule.min_cases:
                continue
            above = rule.above is not None and figure > rule.above
            below = rule.below is not None and figure < rule.below
            if above or below:
                threshold = rule.above if above else rule.below
                assert threshold is not None
                points.append(
                    RiskPoint(
                        rule=rule.id,
                        measure=rule.measure,
                        subject=subject,
                        figure=figure,
                        threshold=threshold,
                        direction="above" if above else "below",
                        cases=cases,
                        owner=rule.owner,
                        detail=words,
                        proposal=rule.proposal,
                    )
                )
    return points
