"""Step 4: each person's scorecard for a period, as SQL aggregation over the projection.

Every figure is a GROUP BY in the database (by person); Python only receives one row per
person and figure, never the complaints themselves. Who a figure counts:

- a complaint is the person's who held it when it closed (``complaints.assignee``);
- cases, satisfaction and reopen rate: their complaints *closed* in the period;
- time to first response: their complaints' ``<tier>_first_response`` clocks *settled* in it;
  to resolution: their complaints *resolved* in it (median by tier, and over every tier as
  ``all``, which is what the formula scores);
- clocks: as the periodic analysis counts them (met when *settled* on time in the period,
  breached when they *breached* in it; regulator reports are compliance's, not counted);
- escalations received: ``sla_breached`` events of the period escalated to them;
- accountability entries: investigation decisions naming them (service history) in the period;
- training: assignments completed in the period, and overdue at its end (or now, if sooner).

The score is ``domain.performance.score`` under the policy's formula. A person who closed no
complaint in the period has no score: the terms that count what went wrong (accountability,
overdue training) would otherwise give a full score for handling nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from db.analysis_queries import FIRST_RESPONSE, REPORT_PREFIX, hours_between, percentiles
from db.tables import Complaint, ComplaintClock, ComplaintEventRow, Staff, StaffServiceEvent, TrainingAssignmentRow
from domain.analysis import bounds, percent
from domain.performance import ALL_TIERS, inputs_of, score, team_table
from models.analysis import Period, TeamRow
from models.performance import Scorecard
from models.policy import Policy

c = Complaint.__table__.c  # type: ignore[attr-defined]
clocks = ComplaintClock.__table__  # type: ignore[attr-defined]
events = ComplaintEventRow.__table__  # type: ignore[attr-defined]
staff = Staff.__table__  # type: ignore[attr-defined]
history = StaffServiceEvent.__table__  # type: ignore[attr-defined]
training = TrainingAssignmentRow.__table__  # type: ignore[attr-defined]

TIERS = ("simple", "complex", "major")
ACCOUNTABILITY_SUFFIX = ":accountability"  # activities/investigation.py's source_key
FOLLOW_UP = "follow_up"  # the follow-up call's clock: another person's call, not the holder's breach

Medians = dict[str, dict[str, float | None]]  # staff id -> tier (or all) -> median hours


class _Window:
    """The period as UTC instants on one connection, and the person (or everyone) asked for."""

    def __init__(self, conn: Connection, period: Period, policy: Policy, staff_id: str | None) -> None:
        self.conn = conn
        self.period = period
        self.start, self.end = bounds(period, policy.timezone)
        self.staff_id = staff_id

    def within(self, col: Any) -> ColumnElement[bool]:
        return sa.and_(col >= self.start, col < self.end)

    def whose(self, col: Any) -> ColumnElement[bool]:
        """Only the person asked for (their rows only: a one-person card reads no one else's)."""
        return col == self.staff_id if self.staff_id is not None else col.is_not(None)


def _count(condition: ColumnElement[bool]) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _people(w: _Window) -> list[tuple[str, str, str, str]]:
    """Staff id, name, role and team of everyone active, or of the one asked for (active or not)."""
    query = sa.select(staff.c.staff_id, staff.c.name, staff.c.role, staff.c.team).order_by(staff.c.staff_id)
    query = query.where(staff.c.active.is_(True) if w.staff_id is None else staff.c.staff_id == w.staff_id)
    found = [(r[0], r[1], r[2], r[3]) for r in w.conn.execute(query)]
    if w.staff_id is not None and not found:
        raise LookupError(f"no staff member {w.staff_id} in the staff directory")
    return found


def _closed(w: _Window) -> dict[str, tuple[int, float | None, int, int]]:
    """Per person: cases closed, satisfaction average and how many rated, how many reopened."""
    query = (
        sa.select(
            c.assignee,
            sa.func.count(),
            sa.func.avg(c.satisfaction),
            sa.func.count(c.satisfaction),
            _count(c.reopened_count > 0),
        )
        .where(w.within(c.closed_at), w.whose(c.assignee))
        .group_by(c.assignee)
    )
    return {
        who: (int(n), float(avg) if avg is not None else None, int(rated), int(reopened))
        for who, n, avg, rated, reopened in w.conn.execute(query)
    }


def _medians(w: _Window, tier: Any, value: Any, where: ColumnElement[bool]) -> Medians:
    """Per person, the median of ``value`` by tier and over every tier (``all``)."""
    found: Medians = defaultdict(dict)
    for (who, key), (_, median, _) in percentiles(w.conn, [c.assignee, tier], value, where).items():
        found[who][key] = round(median, 2)
    for (who,), (_, median, _) in percentiles(w.conn, [c.assignee], value, where).items():
        found[who][ALL_TIERS] = round(median, 2)
    return found


def _first_response(w: _Window) -> Medians:
    k = clocks.c
    where = sa.and_(
        k.complaint_id == c.complaint_id, k.name.in_(FIRST_RESPONSE), w.within(k.settled_at), w.whose(c.assignee)
    )
    tier = sa.func.replace(k.name, "_first_response", "")
    return _medians(w, tier, hours_between(w.conn, k.settled_at, k.started_at), where)


def _resolution(w: _Window) -> Medians:
    tier = sa.func.coalesce(c.tier, "unclassified")
    where = sa.and_(w.within(c.resolved_at), w.whose(c.assignee))
    return _medians(w, tier, hours_between(w.conn, c.resolved_at, c.received_at), where)


def _clocks(w: _Window, exclude_follow_up: bool = False) -> dict[str, tuple[int, int]]:
    """Per person: their complaints' clocks met (settled on time in the period) and breached in it."""
    k = clocks.c
    query = (
        sa.select(
            c.assignee, _count(sa.and_(k.state == "met", w.within(k.settled_at))), _count(w.within(k.breached_at))
        )
        .join_from(clocks, Complaint.__table__, k.complaint_id == c.complaint_id)  # type: ignore[attr-defined]
        .where(sa.or_(w.within(k.settled_at), w.within(k.breached_at)), ~k.name.startswith(REPORT_PREFIX))
        .where(w.whose(c.assignee))
        .group_by(c.assignee)
    )
    if exclude_follow_up:
        query = query.where(~k.name.startswith(FOLLOW_UP))
    return {who: (int(met), int(breached)) for who, met, breached in w.conn.execute(query)}


def _escalations(w: _Window) -> dict[str, int]:
    to = events.c.detail["escalated_to"].as_string()
    query = (
        sa.select(to, sa.func.count())
        .where(events.c.kind == "sla_breached", w.within(events.c.at), w.whose(to))
        .group_by(to)
    )
    return {who: int(n) for who, n in w.conn.execute(query)}


def _accountability_rows(w: _Window) -> ColumnElement[bool]:
    h = history.c
    return sa.and_(
        h.occurred_on >= w.period.start,
        h.occurred_on <= w.period.end,
        h.source_key.like(f"%{ACCOUNTABILITY_SUFFIX}"),
        w.whose(h.staff_id),
    )


def _accountability(w: _Window) -> dict[str, int]:
    query = sa.select(history.c.staff_id, sa.func.count()).where(_accountability_rows(w)).group_by(history.c.staff_id)
    return {who: int(n) for who, n in w.conn.execute(query)}


def _training(w: _Window, now: datetime) -> dict[str, tuple[int, int]]:
    """Per person: assignments completed in the period, and overdue at its end (or now, if sooner)."""
    t = training.c
    cutoff = min(w.end, now)
    overdue = sa.and_(
        t.status != "cancelled",
        t.overdue_at.is_not(None),
        t.overdue_at < cutoff,
        sa.or_(t.completed_at.is_(None), t.completed_at >= cutoff),
    )
    done = sa.and_(t.completed_at.is_not(None), w.within(t.completed_at))
    query = (
        sa.select(t.staff_id, _count(done), _count(overdue))
        .where(sa.or_(done, overdue), w.whose(t.staff_id))
        .group_by(t.staff_id)
    )
    return {who: (int(d), int(o)) for who, d, o in w.conn.execute(query)}


def _by_tier(medians: dict[str, float | None]) -> dict[str, float | None]:
    """Every tier shown, with None where nothing was measured; then any other key found."""
    return {key: medians.get(key) for key in (*TIERS, ALL_TIERS)} | medians


def scorecards(
    conn: Connection, period: Period, policy: Policy, staff_id: str | None = None, *, now: datetime | None = None
) -> list[Scorecard]:
    """One card per active staff member (or the one asked for: LookupError if unknown), by staff id."""
    w = _Window(conn, period, policy, staff_id)
    people = _people(w)
    closed, clock_counts = _closed(w), _clocks(w)
    first, resolution = _first_response(w), _resolution(w)
    escalations, accountability = _escalations(w), _accountability(w)
    trained = _training(w, now or datetime.now(UTC))
    cards = []
    for who, name, role, team in people:
        cases, satisfaction, rated, reopened = closed.get(who, (0, None, 0, 0))
        met, breached = clock_counts.get(who, (0, 0))
        completed, overdue = trained.get(who, (0, 0))
        card = Scorecard(
            staff_id=who,
            name=name,
            role=role,
            team=team,
            period_label=period.label,
            period_start=period.start,
            period_end=period.end,
            cases=cases,
            median_first_response_hours=_by_tier(first.get(who, {})),
            median_resolution_hours=_by_tier(resolution.get(who, {})),
            clocks_met=met,
            clocks_breached=breached,
            clocks_met_rate=percent(met, met + breached),
            satisfaction_average=round(satisfaction, 2) if satisfaction is not None else None,
            satisfaction_cases=rated,
            reopen_rate=percent(reopened, cases),
            escalations_received=escalations.get(who, 0),
            accountability_entries=accountability.get(who, 0),
            training_completed=completed,
            training_overdue=overdue,
            score=None,
            score_lines=[],
        )
        total, lines = score(inputs_of(card), policy.performance.scorecard)
        cards.append(card.model_copy(update={"score": total if cases else None, "score_lines": lines}))
    return cards


def team(conn: Connection, period: Period, policy: Policy, *, now: datetime | None = None) -> list[TeamRow]:
    """The periodic analysis's team table: the cards of who worked complaints in the period."""
    return team_table(scorecards(conn, period, policy, now=now))


def award_inputs(conn: Connection, period: Period, policy: Policy) -> tuple[dict[str, list[str]], dict[str, int]]:
    """What the award's eligibility needs beyond the cards: per person, the kinds of the
    investigation decisions naming them in the period (none, training, warning, disciplinary),
    and the clocks of their own complaints that breached in it (the follow-up call's left out:
    another person makes that call)."""
    w = _Window(conn, period, policy, None)
    h = history.c
    query = sa.select(h.staff_id, h.kind).where(_accountability_rows(w)).group_by(h.staff_id, h.kind)
    decisions: dict[str, list[str]] = defaultdict(list)
    for who, kind in conn.execute(query.order_by(h.staff_id, h.kind)):
        decisions[who].append(kind)
    breaches = {who: breached for who, (_, breached) in _clocks(w, exclude_follow_up=True).items() if breached}
    return dict(decisions), breaches


def store_scores(conn: Connection, cards: list[Scorecard]) -> int:
    """Write each card's score into ``staff.service_quality_score`` (cards without one are left
    alone); how many rows changed. The caller's transaction commits it (``engine.begin()``)."""
    changed = 0
    for card in cards:
        if card.score is None:
            continue
        result = conn.execute(
            sa.update(staff).where(staff.c.staff_id == card.staff_id).values(service_quality_score=card.score)
        )
        changed += result.rowcount
    return changed
