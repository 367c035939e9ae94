"""Customer education (step 5) as SQL aggregation over the projection, on PostgreSQL and SQLite.

An education topic is a product (``complaints.product``; none: ``unspecified``) and a category
whose complaints were *closed* with one of the policy's ``education.root_causes``. Every count
is a GROUP BY (or a sum of CASEs, one per period or month) in the database; Python receives
the groups, and the few education actions logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from db.tables import Complaint, EducationActionRow
from domain import education
from domain.analysis import bounds, period_before
from models.analysis import EducationRow, Period
from models.education import UNSPECIFIED, ActionEffect, EducationAction, EducationOverview, TopicLine
from models.policy import Policy

c = Complaint.__table__.c  # type: ignore[attr-defined]
a = EducationActionRow.__table__.c  # type: ignore[attr-defined]
PRODUCT = sa.func.coalesce(c.product, UNSPECIFIED)

Key = tuple[str, str]  # product, topic


def _topics(policy: Policy) -> ColumnElement[bool]:
    return sa.and_(c.root_cause.in_(policy.education.root_causes), c.closed_at.is_not(None))


def _count(condition: ColumnElement[bool]) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _within(window: tuple[datetime, datetime]) -> ColumnElement[bool]:
    return sa.and_(c.closed_at >= window[0], c.closed_at < window[1])


def counts(conn: Connection, periods: Sequence[Period], policy: Policy) -> dict[Key, list[int]]:
    """Per topic with a complaint in any of ``periods``: its complaints closed in each, in order."""
    spans = [bounds(p, policy.timezone) for p in periods]
    query = (
        sa.select(PRODUCT, c.category, *(_count(_within(s)) for s in spans))
        .where(_topics(policy), sa.or_(*(_within(s) for s in spans)))
        .group_by(PRODUCT, c.category)
    )
    return {(r[0], r[1]): [int(n) for n in r[2:]] for r in conn.execute(query)}


def monthly(conn: Connection, key: Key, days: Sequence[tuple[date, date]], policy: Policy) -> list[int]:
    """A topic's complaints closed in each [first day, day after) of ``days`` (policy time zone)."""
    zone = ZoneInfo(policy.timezone)

    def instant(day: date) -> datetime:
        return datetime.combine(day, time(0), zone).astimezone(UTC)

    spans = [(instant(start), instant(end)) for start, end in days]
    query = sa.select(*(_count(_within(s)) for s in spans)).where(
        _topics(policy), PRODUCT == key[0], c.category == key[1], sa.or_(*(_within(s) for s in spans))
    )
    return [int(n) for n in conn.execute(query).one()]


def actions(
    conn: Connection,
    *,
    held_before: date | None = None,
    held_until: date | None = None,
    held_after: date | None = None,
) -> list[EducationAction]:
    """The education actions logged, oldest first: held before a day, up to one (inclusive), after one."""
    query = sa.select(EducationActionRow.__table__).order_by(a.held_on, a.id)  # type: ignore[attr-defined]
    if held_after is not None:
        query = query.where(a.held_on > held_after)
    if held_before is not None:
        query = query.where(a.held_on < held_before)
    if held_until is not None:
        query = query.where(a.held_on <= held_until)
    return [EducationAction.model_validate(dict(r._mapping)) for r in conn.execute(query)]


def effect_of(conn: Connection, action: EducationAction, as_of: date, policy: Policy) -> ActionEffect:
    """The topic's monthly complaints before the action against the whole months after it by ``as_of``."""
    months = policy.education.comparison_months
    before, after = education.windows(action.held_on, months)
    passed = education.ended(after, as_of)
    found = monthly(conn, (action.product, action.topic), [*before, *passed], policy)
    return ActionEffect(action=action, effect=education.effect(found[:months], found[months:], months))


def overview(
    conn: Connection, period: Period, policy: Policy, *, periods: int = 4, today: date | None = None
) -> EducationOverview:
    """Each topic's complaints in ``period`` and the ``periods - 1`` before it, and each action
    held by the period's end (or today, if sooner) whose months after reach into those periods,
    with its effect so far."""
    shown = [period]
    while len(shown) < periods:
        shown.append(period_before(shown[-1]))
    today = today or datetime.now(ZoneInfo(policy.timezone)).date()
    as_of = min(period.end, today)
    found = counts(conn, shown, policy)
    # The actions whose months after reach into the periods shown, held by ``as_of``.
    since = education.add_months(shown[-1].start, -policy.education.comparison_months)
    logged = actions(conn, held_after=since, held_until=as_of)
    by_topic: dict[Key, list[ActionEffect]] = {}
    for action in logged:
        by_topic.setdefault((action.product, action.topic), []).append(effect_of(conn, action, as_of, policy))
    keys = set(found) | set(by_topic)
    lines = [
        TopicLine(product=k[0], topic=k[1], counts=found.get(k, [0] * len(shown)), actions=by_topic.get(k, []))
        for k in keys
    ]
    lines.sort(key=lambda t: (-t.counts[0], -sum(t.counts), t.product, t.topic))
    return EducationOverview(
        periods=[p.label for p in shown], as_of=as_of, root_causes=list(policy.education.root_causes), topics=lines
    )


def education_table(conn: Connection, period: Period, previous: Period, policy: Policy) -> list[EducationRow]:
    """The periodic analysis's education topics: this period's and the previous period's
    complaints per topic, and the last action held before the period began."""
    found = counts(conn, [period, previous], policy)
    last = {(x.product, x.topic): x for x in actions(conn, held_before=period.start)}
    rows = [
        EducationRow(
            product=k[0],
            topic=k[1],
            count=n,
            previous=p,
            last_action_on=last[k].held_on if k in last else None,
            last_action_kind=last[k].kind.value if k in last else None,
            last_action_title=last[k].title if k in last else None,
        )
        for k, (n, p) in found.items()
    ]
    return sorted(rows, key=lambda r: (-r.count, -r.previous, r.product, r.topic))
