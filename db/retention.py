"""Retention (issue 16) in SQL: complaints past the period, a page at a time, and one complaint's
personal data erased in one transaction.

``page`` reads complaints closed before the cutoff, in a closing status, not anonymised yet,
after a cursor (closed_at, complaint_id), over the index on ``complaints.closed_at``.

``anonymise`` locks the row and, in one transaction: checks it again (closed before the
cutoff, not anonymised: otherwise it changes nothing and says why), sets ``customer_name`` to
the marker and the older rows' case file (``snapshot``) to its skeleton, the complaint's outbox
rows' recipient, subject and body to the marker (kind, channel, status, times and the
idempotency key stay, so nothing is sent again), the free text of its audit log's details and
of its investigations' files and logs (``domain.retention.redact``), then appends the
``anonymised`` event with the next seq and stamps ``anonymised_at``. The row's ``last_seq``
moves to that event, so the next refresh of the analysis facts derives them again from the
redacted log: the figures stay the same because the skeleton keeps what they read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from db.tables import (
    Complaint,
    ComplaintEventRow,
    InvestigationEventRow,
    InvestigationRow,
    OutboxMessage,
)
from domain import retention as rules
from models.complaint import CLOSED_STATUSES
from models.retention import Candidate, RetentionPage

complaints = Complaint.__table__  # type: ignore[attr-defined]
events = ComplaintEventRow.__table__  # type: ignore[attr-defined]
outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
investigations = InvestigationRow.__table__  # type: ignore[attr-defined]
investigation_events = InvestigationEventRow.__table__  # type: ignore[attr-defined]

CLOSED = sorted(s.value for s in CLOSED_STATUSES)


def _due(before: datetime) -> Any:
    c = complaints.c
    return sa.and_(c.closed_at.is_not(None), c.closed_at < before, c.status.in_(CLOSED), c.anonymised_at.is_(None))


def page(engine: Engine, request: RetentionPage) -> list[Candidate]:
    """Up to ``limit`` complaints past the period after the cursor, oldest closure first."""
    c = complaints.c
    query = sa.select(c.complaint_id, c.workflow_id, c.closed_at).where(_due(request.cutoff))
    if request.after is not None:
        a = request.after
        query = query.where(
            sa.or_(c.closed_at > a.closed_at, sa.and_(c.closed_at == a.closed_at, c.complaint_id > a.complaint_id))
        )
    query = query.order_by(c.closed_at, c.complaint_id).limit(request.limit)
    with engine.connect() as conn:
        return [
            Candidate(complaint_id=r.complaint_id, workflow_id=r.workflow_id, closed_at=r.closed_at)
            for r in conn.execute(query)
        ]


@dataclass
class Erasure:
    """What ``anonymise`` did: ``outcome`` is anonymised, already or skipped (with the reason)."""

    outcome: str
    reason: str = ""
    erased: dict[str, int] = field(default_factory=dict)
    seq: int | None = None


def _redact_rows(conn: Connection, table: Any, ident: Any, where: Any, column: str) -> int:
    """Redact the JSON ``column`` of the rows of ``table`` that ``where`` selects; how many changed."""
    changed = 0
    for key, before in conn.execute(sa.select(ident, table.c[column]).where(where)).all():
        after = rules.redact(before or {})
        if rules.changed(before or {}, after):
            conn.execute(sa.update(table).where(ident == key).values({column: after}))
            changed += 1
    return changed


def anonymise(
    engine: Engine,
    complaint_id: str,
    *,
    cutoff: datetime,
    now: datetime,
    detail: dict[str, Any],
) -> Erasure:
    """Erase one complaint's personal data and record it, in one transaction (idempotent)."""
    c = complaints.c
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(c.complaint_id, c.status, c.closed_at, c.anonymised_at, c.snapshot, c.last_seq)
            .where(c.complaint_id == complaint_id)
            .with_for_update()
        ).first()
        if row is None:
            return Erasure("skipped", f"no complaint {complaint_id}")
        if row.anonymised_at is not None:
            return Erasure("already", f"anonymised {row.anonymised_at.isoformat()}")
        if not rules.past_period(row.closed_at, row.status, set(CLOSED), cutoff):
            return Erasure("skipped", f"status {row.status}, closed {row.closed_at}: not past the period")
        erased: dict[str, int] = {}
        conn.execute(
            sa.update(complaints)
            .where(c.complaint_id == complaint_id)
            .values(customer_name=rules.ERASED, snapshot=rules.redact(row.snapshot) if row.snapshot else {})
        )
        erased["outbox"] = (
            conn.execute(
                sa.update(outbox)
                .where(outbox.c.complaint_id == complaint_id)
                .values(recipient=rules.ERASED, subject=rules.ERASED, body=rules.ERASED)
            ).rowcount
            or 0
        )
        erased["complaint_events"] = _redact_rows(
            conn, events, events.c.id, events.c.complaint_id == complaint_id, "detail"
        )
        investigation_ids = list(
            conn.scalars(
                sa.select(investigations.c.investigation_id).where(investigations.c.complaint_id == complaint_id)
            )
        )
        erased["investigations"] = erased["investigation_events"] = 0
        for investigation_id in investigation_ids:
            ident = investigations.c.investigation_id
            erased["investigations"] += _redact_rows(conn, investigations, ident, ident == investigation_id, "file")
            erased["investigation_events"] += _redact_rows(
                conn,
                investigation_events,
                investigation_events.c.id,
                investigation_events.c.investigation_id == investigation_id,
                "detail",
            )
        last = conn.scalar(sa.select(sa.func.max(events.c.seq)).where(events.c.complaint_id == complaint_id)) or 0
        seq = max(last, row.last_seq or 0) + 1
        conn.execute(
            sa.insert(events).values(
                complaint_id=complaint_id,
                seq=seq,
                kind=rules.KIND,
                actor=rules.ACTOR,
                at=now,
                detail={**detail, "erased": erased},
                recorded_at=now,
            )
        )
        conn.execute(
            sa.update(complaints)
            .where(c.complaint_id == complaint_id)
            .values(anonymised_at=now, last_seq=seq, updated_at=now)
        )
        return Erasure("anonymised", erased=erased, seq=seq)


def counts(engine: Engine, cutoff: datetime) -> tuple[int, int, datetime | None]:
    """Complaints anonymised so far, those past the period still to do, and the latest anonymisation."""
    c = complaints.c
    with engine.connect() as conn:
        done, latest = conn.execute(
            sa.select(sa.func.count(), sa.func.max(c.anonymised_at)).where(c.anonymised_at.is_not(None))
        ).one()
        due = conn.scalar(sa.select(sa.func.count()).where(_due(cutoff)))
    return int(done or 0), int(due or 0), latest
