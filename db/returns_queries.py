"""The regulators' returns from the projection, on PostgreSQL and SQLite.

ASIC and CFPB have a row per complaint, so their complaints are streamed (``yield_per``) through
the row builders of domain/returns.py, never held in a list. FCA and NFRA are per product
group: the counts that need no rule (opened, outstanding, received) are GROUP BY in the database;
only the complaints *closed* in the period are streamed for FCA, because "closed within three
business days" needs the policy's business calendar and "upheld" is one rule in
domain/returns.py, not a second copy in SQL. Which complaints each return counts:

- ASIC: received in the period, or received before it and not closed by its start;
- CFPB: received in the period;
- FCA: outstanding at the start, opened (received) in the period, closed in it;
- NFRA: received in the period and in the one before.

A complaint closed after the period's end was open at it, and is reported so. ASIC's complaint
type needs the intake's flags: only a row's case file (``snapshot``, sealed whole, so read in
Python, for ASIC only) holds them. A newer row's case file is empty, and its flags are held
nowhere in the database, so it reports "Standard" (README, "Regulators' returns"). Every return is
validated against its schema before it is handed back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from db.tables import Complaint, ComplaintClock
from domain.analysis import bounds
from domain.returns import (
    ComplaintRecord,
    FcaTally,
    Row,
    asic_row,
    cfpb_row,
    fca_rows,
    nfra_rows,
    product_of,
    validate,
)
from models.analysis import Period, ReturnKind
from models.policy import Policy

c = Complaint.__table__.c  # type: ignore[attr-defined]
clocks = ComplaintClock.__table__  # type: ignore[attr-defined]

DECISION_CLOCK = "regulatory_decision"  # the pack's decision limit (domain/classification.py)
STREAM_ROWS = 1000


def _received(start: datetime, end: datetime) -> ColumnElement[bool]:
    return sa.and_(c.received_at >= start, c.received_at < end)


def _open_at(start: datetime) -> ColumnElement[bool]:
    """Received before ``start`` and not closed by then."""
    return sa.and_(c.received_at < start, sa.or_(c.closed_at.is_(None), c.closed_at >= start))


def _flags(case_file: Any) -> tuple[str, ...]:
    """The intake's flags in a row's case file (empty for a newer row, whose case file is empty)."""
    intake = case_file.get("intake") if isinstance(case_file, dict) else None
    flags = intake.get("flags") if isinstance(intake, dict) else None
    return tuple(str(flag) for flag in flags) if isinstance(flags, list) else ()


def _records(
    conn: Connection, where: ColumnElement[bool], end: datetime, *, with_flags: bool = False
) -> Iterator[ComplaintRecord]:
    """The complaints ``where`` selects, streamed in order of receipt, as the period's end saw them
    (``with_flags``: with the intake's flags from the case file, which costs reading it)."""
    decision = clocks.alias("decision")
    stmt = (
        sa.select(
            c.complaint_id,
            c.channel,
            c.category,
            c.status,
            c.received_at,
            c.closed_at,
            c.product,
            c.root_cause,
            c.remedy_paid,
            c.reopened_count,
            decision.c.breached_at,
        )
        .select_from(
            Complaint.__table__.outerjoin(  # type: ignore[attr-defined]
                decision, sa.and_(decision.c.complaint_id == c.complaint_id, decision.c.name == DECISION_CLOCK)
            )
        )
        .where(where)
        .order_by(c.received_at, c.complaint_id)
    )
    if with_flags:
        stmt = stmt.add_columns(c.snapshot)
    for row in conn.execution_options(yield_per=STREAM_ROWS).execute(stmt):
        closed = row.closed_at if row.closed_at is not None and row.closed_at < end else None
        yield ComplaintRecord(
            complaint_id=row.complaint_id,
            channel=row.channel,
            category=row.category,
            status=row.status,
            received_at=row.received_at,
            closed_at=closed,
            product=row.product,
            root_cause=row.root_cause,
            remedy_paid=row.remedy_paid,
            reopened_count=row.reopened_count or 0,
            decision_breached=row.breached_at is not None and row.breached_at < end,
            flags=_flags(row.snapshot) if with_flags else (),
        )


def _per_product(conn: Connection, where: ColumnElement[bool]) -> dict[str | None, int]:
    """How many complaints ``where`` selects, per product code (None: no product recorded)."""
    stmt = sa.select(c.product, sa.func.count()).where(where).group_by(c.product)
    return {product: count for product, count in conn.execute(stmt)}


def _regroup(counts: dict[str | None, int], group: Callable[[str | None], str]) -> Counter[str]:
    """Product-code counts summed into the regulator's groups."""
    out: Counter[str] = Counter()
    for code, count in counts.items():
        out[group(code)] += count
    return out


def asic_idr(conn: Connection, period: Period, policy: Policy) -> list[Row]:
    start, end = bounds(period, policy.timezone)
    where = sa.or_(_received(start, end), _open_at(start))
    return [asic_row(rec, policy) for rec in _records(conn, where, end, with_flags=True)]


def cfpb(conn: Connection, period: Period, policy: Policy) -> list[Row]:
    start, end = bounds(period, policy.timezone)
    return [cfpb_row(rec, policy) for rec in _records(conn, _received(start, end), end)]


def fca_disp(conn: Connection, period: Period, policy: Policy) -> list[Row]:
    start, end = bounds(period, policy.timezone)

    def group(code: str | None) -> str:
        return product_of(code, policy).fca_product_group

    tallies = {p.fca_product_group: FcaTally() for p in policy.reporting.products}
    for name, count in _regroup(_per_product(conn, _open_at(start)), group).items():
        tallies.setdefault(name, FcaTally()).outstanding_at_start = count
    for name, count in _regroup(_per_product(conn, _received(start, end)), group).items():
        tallies.setdefault(name, FcaTally()).opened = count
    closed = sa.and_(c.closed_at >= start, c.closed_at < end)
    for rec in _records(conn, closed, end):
        tallies.setdefault(group(rec.product), FcaTally()).add_closed(rec, policy)
    return fca_rows(tallies)


def nfra_quarterly(conn: Connection, period: Period, previous: Period, policy: Policy) -> list[Row]:
    def line(code: str | None) -> str:
        return product_of(code, policy).nfra_business_line

    now = _regroup(_per_product(conn, _received(*bounds(period, policy.timezone))), line)
    before = _regroup(_per_product(conn, _received(*bounds(previous, policy.timezone))), line)
    return nfra_rows(now, before, [p.nfra_business_line for p in policy.reporting.products])


def build_return(
    conn: Connection, kind: ReturnKind, period: Period, previous: Period, policy: Policy
) -> list[dict[str, Any]]:
    """One return's rows for ``period`` (``previous``: the quarter NFRA compares with), validated.

    Raises ``domain.returns.ReturnInvalid`` naming the first row and field its schema refuses.
    """
    kind = ReturnKind(kind)
    if kind is ReturnKind.ASIC_IDR:
        rows = asic_idr(conn, period, policy)
    elif kind is ReturnKind.FCA_DISP:
        rows = fca_disp(conn, period, policy)
    elif kind is ReturnKind.CFPB:
        rows = cfpb(conn, period, policy)
    else:
        rows = nfra_quarterly(conn, period, previous, policy)
    validate(kind, rows)
    return rows
