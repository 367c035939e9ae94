"""Counting clause references for legal review (step 5): SQL over complaints and complaint_clauses.

The query reads the complaints that cite a clause and count in the rolling window (received in
it, or closed in it with a root cause the policy counts); ``domain.clauses.counts`` groups them
by contract template and clause, leaving out the complaints a closed review already took.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.tables import ClauseReviewRow, Complaint, ComplaintClause
from domain import clauses
from domain.clauses import Citation
from models.clause_review import ClauseCount, ClauseReviewPolicy, ReviewStatus

_complaints = Complaint.__table__  # type: ignore[attr-defined]
_clauses = ComplaintClause.__table__  # type: ignore[attr-defined]


def citations(
    engine: Engine, since: datetime, root_causes: list[str], complaint_id: str | None = None
) -> list[Citation]:
    """Every clause reference of a complaint received since ``since``, or closed since then with
    one of ``root_causes`` (only ``complaint_id``'s, if given): the clauses its intake cites and
    the clause its root cause blames."""
    c, k = _complaints.c, _clauses.c
    counted = sa.and_(c.closed_at >= since, c.root_cause.in_(root_causes)) if root_causes else sa.false()
    query = (
        sa.select(
            c.complaint_id, c.contract_number, k.clause, c.received_at, c.closed_at, c.root_cause, k.source, k.template
        )
        .join_from(_clauses, _complaints, k.complaint_id == c.complaint_id)
        .where(sa.or_(c.received_at >= since, counted))
        .order_by(c.received_at, c.complaint_id, k.clause)
    )
    if complaint_id is not None:
        query = query.where(c.complaint_id == complaint_id)
    with engine.connect() as conn:
        return [
            Citation(
                complaint_id=cid,
                contract_number=number,
                reference=clause,
                received_at=_aware(received),
                closed_at=_aware(closed) if closed is not None else None,
                root_cause=cause,
                source=source,
                template=template,
            )
            for cid, number, clause, received, closed, cause, source, template in conn.execute(query)
        ]


def _aware(value: datetime) -> datetime:
    """Aware UTC (the column type does this; an expression over it might not)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def reviewed(engine: Engine) -> dict[tuple[str, str], set[str]]:
    """Per (template, clause), the complaints closed reviews took."""
    taken: dict[tuple[str, str], set[str]] = {}
    with Session(engine) as session:
        rows = session.exec(select(ClauseReviewRow).where(ClauseReviewRow.status == ReviewStatus.CLOSED.value))
        for row in rows:
            taken.setdefault((row.template, row.clause), set()).update(row.linked)
    return taken


def open_reviews(engine: Engine) -> dict[tuple[str, str], str]:
    """Per (template, clause), the review open on it (its id)."""
    with Session(engine) as session:
        rows = session.exec(select(ClauseReviewRow).where(ClauseReviewRow.status != ReviewStatus.CLOSED.value))
        return {(r.template, r.clause): r.review_id for r in rows}


def reviews_of(engine: Engine, template: str, clause: str) -> int:
    """How many reviews the clause has had (open or closed)."""
    with Session(engine) as session:
        query = select(sa.func.count()).select_from(ClauseReviewRow)
        query = query.where(ClauseReviewRow.template == template, ClauseReviewRow.clause == clause)
        return int(session.exec(query).one())


def clause_counts(engine: Engine, policy: ClauseReviewPolicy, now: datetime) -> list[ClauseCount]:
    """Every clause cited in the window, with the complaints that count for it."""
    found = citations(engine, clauses.window_start(now, policy), policy.root_causes)
    return clauses.counts(found, policy, now, reviewed(engine))


def to_act_on(engine: Engine, policy: ClauseReviewPolicy, now: datetime) -> list[ClauseCount]:
    """Clauses at the threshold or with a review open: what the watch opens or links."""
    return clauses.to_act_on(clause_counts(engine, policy, now), policy, open_reviews(engine))


def list_reviews(engine: Engine, open_only: bool = False) -> list[ClauseReviewRow]:
    """Reviews, newest first (only those not closed, if asked)."""
    query = select(ClauseReviewRow)
    if open_only:
        query = query.where(ClauseReviewRow.status != ReviewStatus.CLOSED.value)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(ClauseReviewRow.opened_at).desc(), col(ClauseReviewRow.review_id))))


def find_review(engine: Engine, review_id: str) -> ClauseReviewRow | None:
    """A review by its id; or, given ``<template>-<clause>``, that clause's latest review."""
    with Session(engine) as session:
        row = session.get(ClauseReviewRow, review_id)
        if row is not None:
            return row
        for candidate in session.exec(select(ClauseReviewRow).order_by(col(ClauseReviewRow.opened_at).desc())):
            if clauses.key_of(candidate.template, candidate.clause) == review_id:
                return candidate
    return None
