"""What the periodic analysis reads beyond the projection's own columns, derived from the audit log.

When each complaint was resolved, the remedy paid, how often it was escalated and its deadline
extended, each clock's times (table ``complaint_clocks``, one row per complaint and clock name;
a clock planned again under the same name, after a reopening or a missed follow-up call,
replaces its row), and, for rows written before events were lean, the product and clause
references their case file holds.

This runs off the path that writes events: the projection activity only appends events and
moves ``last_seq``; ``refresh`` (the reporting workflow's first activity) rebuilds every
complaint whose ``facts_seq`` is behind, from its whole audit log, and moves ``facts_seq`` to
the last event it read. The first refresh after migration 0007 is the backfill. Running it
again changes nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from db.tables import Complaint, ComplaintClause, ComplaintClock, ComplaintEventRow

complaints = Complaint.__table__  # type: ignore[attr-defined]
events = ComplaintEventRow.__table__  # type: ignore[attr-defined]
clocks = ComplaintClock.__table__  # type: ignore[attr-defined]
clauses = ComplaintClause.__table__  # type: ignore[attr-defined]

CLOCK_FIELDS = ("started_at", "due_at", "settled_at", "breached_at", "state")
OPEN = {"running", "paused"}

# Which clocks an event settles (as the workflow's step modules do; see workflows/step2_*.py).
SETTLES = {
    "acknowledged": {"acknowledgement"},
    "feedback_sent": {"complex_first_response"},
    "investigation_opened": {"major_first_response"},
    "resolved": {"simple_first_response", "complex_first_response", "regulatory_decision"},
}
# Events after which every open clock but the regulator reports is settled (``settle``) or stopped.
SETTLE_ALL = {"follow_up_done", "follow_up_letter_sent"}
STOP_ALL = {"closed", "withdrawn", "reopened", "follow_up_scheduled", "follow_up_not_reached"}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


@dataclass
class Derived:
    """One complaint's derived columns and clocks, as they stand after the events applied."""

    received_at: datetime | None = None
    tier: str | None = None
    columns: dict[str, Any] = field(default_factory=lambda: {"escalations": 0, "extensions": 0})
    clause_references: list[str] = field(default_factory=list)
    clocks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def clock(self, name: str) -> dict[str, Any]:
        return self.clocks.setdefault(name, {"state": "running", "started_at": self.received_at})

    def plan(self, name: str, started_at: datetime | None, due_at: datetime | None) -> None:
        self.clock(name).update(
            started_at=started_at, due_at=due_at, settled_at=None, breached_at=None, state="running"
        )

    def settle(self, name: str, at: datetime) -> None:
        """The duty is done: met on time, breached when late; a done or stopped clock stays."""
        row = self.clocks.get(name)
        if row is not None and (row.get("settled_at") is not None or row.get("state") not in OPEN | {"breached"}):
            return
        row = self.clock(name)
        due = row.get("due_at")
        if row.get("state") in OPEN:
            late = due is not None and at > due
            row["state"] = "breached" if late else "met"
            if late:
                row["breached_at"] = at
        row["settled_at"] = at

    def end_open(self, at: datetime, *, settle: bool) -> None:
        for name, row in list(self.clocks.items()):
            if row.get("state") in OPEN and not name.startswith("regulator_report_"):
                if settle:
                    self.settle(name, at)
                else:
                    row["state"] = "stopped"


def from_case_file(d: Derived, case_file: dict[str, Any] | None) -> None:
    """What the whole case file of a row written before events were lean tells."""
    if not case_file:
        return
    details = (case_file.get("intake") or {}).get("details") or {}
    product = (case_file.get("intake") or {}).get("product") or details.get("product_code")
    if product:
        d.columns["product"] = str(product)[:64]
    d.clause_references = [str(c)[:200] for c in details.get("clause_references") or []]
    if case_file.get("resolved_at"):
        d.columns["resolved_at"] = _time(case_file["resolved_at"])
    accepted = [p for p in case_file.get("proposals") or [] if p.get("state") == "accepted"]
    if accepted:
        paid = [
            _amount(m.get("amount")) for m in (accepted[-1].get("fee_refund"), accepted[-1].get("compensation")) if m
        ]
        d.columns["remedy_paid"] = sum((a for a in paid if a is not None), Decimal(0))
    for c in case_file.get("clocks") or []:
        d.clock(c["name"]).update(
            started_at=_time(c.get("started_at")),
            due_at=_time(c.get("due_at")),
            settled_at=_time(c.get("met_at")),
            breached_at=_time(c.get("breached_at")),
            state=c.get("state") or "running",
        )


def apply_event(d: Derived, kind: str, at: datetime, detail: dict[str, Any], remedy: Callable[[int], Any]) -> None:
    """What a lean event's kind, time and detail tell (the case file is not in it)."""
    due = _time(detail.get("due_at"))
    if kind == "classified" and detail.get("tier"):
        d.tier = detail["tier"]
        for name in ("acknowledgement", f"{d.tier}_first_response", "regulatory_decision"):
            d.clock(name)
    elif kind == "escalated" and detail.get("to_tier"):
        d.columns["escalations"] += 1
        old = d.clocks.get(f"{detail.get('from_tier')}_first_response")
        if old is not None and old.get("state") in OPEN:
            old["state"] = "stopped"
        d.tier = detail["to_tier"]
        if f"{d.tier}_first_response" not in d.clocks:  # escalating to major opened (and met it) first
            d.plan(f"{d.tier}_first_response", at, None)
    elif kind in ("sla_warning", "sla_breached") and detail.get("clock"):
        row = d.clock(detail["clock"])
        row["due_at"] = due or row.get("due_at")
        if kind == "sla_breached":
            row.update(state="breached", breached_at=at)
    elif kind == "deadline_extended":
        d.columns["extensions"] += 1
        d.clock("regulatory_decision")["due_at"] = due
    elif kind == "regulator_report_due" and detail.get("regulator"):
        d.plan(f"regulator_report_{detail['regulator']}", at, due)
    elif kind == "regulator_report_filed" and detail.get("regulator"):
        d.settle(f"regulator_report_{detail['regulator']}", at)
    elif kind == "look_back_scheduled" and detail.get("revisit") is not None:
        d.plan(f"look_back_{detail['revisit']}", _time(detail.get("opens")) or at, due)
    elif kind == "look_back_recorded" and detail.get("revisit") is not None:
        d.settle(f"look_back_{detail['revisit']}", at)

    if kind in STOP_ALL or kind in SETTLE_ALL:
        d.end_open(at, settle=kind in SETTLE_ALL)
    for name in SETTLES.get(kind, ()):
        if name in d.clocks:
            d.settle(name, at)

    if kind == "follow_up_scheduled":
        d.plan("follow_up", at, due)
    elif kind == "follow_up_not_reached":
        d.plan("follow_up", at, _time(detail.get("next_due")))
    elif kind == "reopened":
        d.columns.update(resolved_at=None, remedy_paid=None)
        if d.tier:
            d.plan(f"{d.tier}_first_response", at, None)
        d.plan("regulatory_decision", at, None)
    elif kind == "resolved":
        d.columns["resolved_at"] = at
        number = detail.get("number")
        d.columns["remedy_paid"] = _amount(remedy(number)) if isinstance(number, int) else None


def derive(row: Any, history: list[Any]) -> Derived:
    """A complaint's facts from its row (received_at, snapshot) and its events in seq order."""
    d = Derived(received_at=row.received_at)
    from_case_file(d, row.snapshot)
    if row.snapshot and row.snapshot.get("clocks"):
        return d  # the case file holds the clocks as the workflow kept them
    proposed = {
        (e.detail or {}).get("number"): (e.detail or {}).get("remedy_total")
        for e in history
        if e.kind == "resolution_proposed"
    }
    for e in history:
        apply_event(d, e.kind, e.at, e.detail or {}, proposed.get)
    return d


def _store(conn: Connection, complaint_id: str, d: Derived, facts_seq: int) -> None:
    values = {k: v for k, v in d.columns.items() if k != "product"}
    conn.execute(
        sa.update(complaints)
        .where(complaints.c.complaint_id == complaint_id)
        .values(
            **values,
            facts_seq=facts_seq,
            # Only older rows' case files name the product; a newer row has it from its first event.
            product=sa.func.coalesce(complaints.c.product, d.columns.get("product")),
        )
    )
    conn.execute(sa.delete(clocks).where(clocks.c.complaint_id == complaint_id))
    if d.clocks:
        conn.execute(
            sa.insert(clocks),
            [
                {"complaint_id": complaint_id, "name": n[:64]} | {k: c.get(k) for k in CLOCK_FIELDS}
                for n, c in d.clocks.items()
            ],
        )
    if d.clause_references:
        known = set(conn.scalars(sa.select(clauses.c.clause).where(clauses.c.complaint_id == complaint_id)))
        new = [c for c in dict.fromkeys(d.clause_references) if c not in known]
        if new:
            conn.execute(sa.insert(clauses), [{"complaint_id": complaint_id, "clause": c} for c in new])


def refresh_batch(conn: Connection, limit: int) -> int:
    """Rebuild up to ``limit`` complaints whose facts are behind their audit log; how many it did."""
    stale = conn.execute(
        sa.select(complaints.c.complaint_id, complaints.c.received_at, complaints.c.snapshot, complaints.c.last_seq)
        .where(complaints.c.facts_seq < complaints.c.last_seq)
        .order_by(complaints.c.complaint_id)
        .limit(limit)
    ).all()
    if not stale:
        return 0
    history: dict[str, list[Any]] = defaultdict(list)
    for e in conn.execute(
        sa.select(events.c.complaint_id, events.c.seq, events.c.kind, events.c.at, events.c.detail)
        .where(events.c.complaint_id.in_([r.complaint_id for r in stale]))
        .order_by(events.c.complaint_id, events.c.seq)
    ):
        history[e.complaint_id].append(e)
    for row in stale:
        read = history[row.complaint_id]
        # facts_seq: the last event read; one written meanwhile leaves the row stale for next time.
        _store(conn, row.complaint_id, derive(row, read), max((e.seq for e in read), default=row.last_seq))
    return len(stale)


def refresh(
    engine: Engine, *, batch: int = 500, budget_seconds: float = 60.0, beat: Callable[[int], None] | None = None
) -> int:
    """Refresh stale complaints, a batch per transaction, until none is left or the time budget
    is spent; returns how many are still stale (the caller runs it again while that is not 0)."""
    started = time.monotonic()
    done = 0
    while time.monotonic() - started < budget_seconds:
        with engine.begin() as conn:
            n = refresh_batch(conn, batch)
        done += n
        if beat is not None:
            beat(done)
        if n < batch:
            return 0
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).where(complaints.c.facts_seq < complaints.c.last_seq)) or 0)
