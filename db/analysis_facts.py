"""What the periodic analysis reads beyond the projection's first columns, derived from the audit log.

Product and clause references (from the intake), when the complaint was resolved, the remedy
paid, satisfaction and outcome, and each clock's times (table ``complaint_clocks``, one row per
complaint and clock name; a clock planned again under the same name, after a reopening or a
missed follow-up call, replaces its row).

Everything here comes from what events already carry: a lean event's kind, time and detail,
or the whole case file of an event scheduled before events were lean (and the ``snapshot``
column of rows written then). The projection activity applies each new event; migration 0007
replays every complaint's audit log through the same functions. Core SQL over a connection,
so the migration does not depend on the ORM models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from db.tables import UTCDateTime

complaints = sa.table(
    "complaints",
    sa.column("complaint_id", sa.String()),
    sa.column("received_at", UTCDateTime()),
    sa.column("tier", sa.String()),
    sa.column("snapshot", sa.JSON()),
    sa.column("product", sa.String()),
    sa.column("clause_references", sa.JSON()),
    sa.column("resolved_at", UTCDateTime()),
    sa.column("remedy_paid", sa.Numeric(18, 2)),
    sa.column("satisfaction", sa.Integer()),
    sa.column("outcome", sa.String()),
)
events = sa.table(
    "complaint_events",
    sa.column("complaint_id", sa.String()),
    sa.column("seq", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("at", UTCDateTime()),
    sa.column("detail", sa.JSON()),
)
clocks = sa.table(
    "complaint_clocks",
    sa.column("complaint_id", sa.String()),
    sa.column("name", sa.String()),
    sa.column("started_at", UTCDateTime()),
    sa.column("due_at", UTCDateTime()),
    sa.column("settled_at", UTCDateTime()),
    sa.column("breached_at", UTCDateTime()),
    sa.column("state", sa.String()),
    sa.column("last_seq", sa.Integer()),
)
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
    """One complaint's derived columns and clock rows, as they stand after the events applied."""

    received_at: datetime | None = None
    tier: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)

    def clock(self, name: str, seq: int) -> dict[str, Any]:
        row = self.clocks.setdefault(name, {"state": "running", "started_at": self.received_at})
        row["last_seq"] = max(seq, row.get("last_seq") or 0)
        self.changed.add(name)
        return row

    def plan(self, name: str, seq: int, started_at: datetime | None, due_at: datetime | None) -> None:
        row = self.clock(name, seq)
        row.update(started_at=started_at, due_at=due_at, settled_at=None, breached_at=None, state="running")

    def settle(self, name: str, seq: int, at: datetime) -> None:
        """The duty is done: met on time, breached when late; a done or stopped clock stays."""
        row = self.clocks.get(name)
        if row is not None and (row.get("settled_at") is not None or row.get("state") not in OPEN | {"breached"}):
            return
        row = self.clock(name, seq)
        due = row.get("due_at")
        if row.get("state") in OPEN:
            late = due is not None and at > due
            row["state"] = "breached" if late else "met"
            if late:
                row["breached_at"] = at
        row["settled_at"] = at

    def end_open(self, seq: int, at: datetime, *, settle: bool) -> None:
        for name, row in list(self.clocks.items()):
            if row.get("state") in OPEN and not name.startswith("regulator_report_"):
                if settle:
                    self.settle(name, seq, at)
                else:
                    self.clock(name, seq)["state"] = "stopped"


def from_case_file(d: Derived, case_file: dict[str, Any] | None, seq: int) -> None:
    """What the whole case file (an older event's, or an older row's snapshot) tells."""
    if not case_file:
        return
    details = (case_file.get("intake") or {}).get("details") or {}
    if details.get("product_code"):
        d.columns["product"] = details["product_code"]
    if details.get("clause_references"):
        d.columns["clause_references"] = list(details["clause_references"])
    if case_file.get("resolved_at"):
        d.columns["resolved_at"] = _time(case_file["resolved_at"])
    accepted = [p for p in case_file.get("proposals") or [] if p.get("state") == "accepted"]
    if accepted:
        last = accepted[-1]
        paid = [_amount(m.get("amount")) for m in (last.get("fee_refund"), last.get("compensation")) if m]
        d.columns["remedy_paid"] = sum((a for a in paid if a is not None), Decimal(0))
    closure = case_file.get("closure") or {}
    for key in ("satisfaction", "outcome"):
        if closure.get(key) is not None:
            d.columns[key] = closure[key]
    for c in case_file.get("clocks") or []:
        if (d.clocks.get(c["name"]) or {}).get("last_seq", 0) > seq:
            continue  # a late event's case file does not roll a newer clock back
        row = d.clock(c["name"], seq)
        row.update(
            started_at=_time(c.get("started_at")),
            due_at=_time(c.get("due_at")),
            settled_at=_time(c.get("met_at")),
            breached_at=_time(c.get("breached_at")),
            state=c.get("state") or "running",
        )


def apply_event(
    d: Derived,
    seq: int,
    kind: str,
    at: datetime,
    detail: dict[str, Any],
    proposal_total: Callable[[int], Decimal | None],
) -> None:
    """What a lean event's kind, time and detail tell (the case file is not in it)."""
    due = _time(detail.get("due_at"))
    if kind == "classified" and detail.get("tier"):
        d.tier = detail["tier"]
        for name in ("acknowledgement", f"{d.tier}_first_response", "regulatory_decision"):
            if name not in d.clocks:
                d.clock(name, seq)
    elif kind == "escalated" and detail.get("to_tier"):
        old = d.clocks.get(f"{detail.get('from_tier')}_first_response")
        if old is not None and old.get("state") in OPEN:
            d.clock(f"{detail.get('from_tier')}_first_response", seq)["state"] = "stopped"
        d.tier = detail["to_tier"]
        if f"{d.tier}_first_response" not in d.clocks:  # escalating to major opened (and met it) first
            d.plan(f"{d.tier}_first_response", seq, at, None)
    elif kind in ("sla_warning", "sla_breached") and detail.get("clock"):
        row = d.clock(detail["clock"], seq)
        row["due_at"] = due or row.get("due_at")
        if kind == "sla_breached":
            row.update(state="breached", breached_at=at)
    elif kind == "deadline_extended":
        d.clock("regulatory_decision", seq)["due_at"] = due
    elif kind == "regulator_report_due" and detail.get("regulator"):
        d.plan(f"regulator_report_{detail['regulator']}", seq, at, due)
    elif kind == "regulator_report_filed" and detail.get("regulator"):
        d.settle(f"regulator_report_{detail['regulator']}", seq, at)
    elif kind == "look_back_scheduled" and detail.get("revisit") is not None:
        d.plan(f"look_back_{detail['revisit']}", seq, _time(detail.get("opens")) or at, due)
    elif kind == "look_back_recorded" and detail.get("revisit") is not None:
        d.settle(f"look_back_{detail['revisit']}", seq, at)

    if kind in STOP_ALL or kind in SETTLE_ALL:
        d.end_open(seq, at, settle=kind in SETTLE_ALL)
    for name in SETTLES.get(kind, ()):
        if name in d.clocks or name in ("acknowledgement", f"{d.tier}_first_response"):
            d.settle(name, seq, at)

    if kind == "follow_up_scheduled":
        d.plan("follow_up", seq, at, due)
    elif kind == "follow_up_not_reached":
        d.plan("follow_up", seq, at, _time(detail.get("next_due")))
    elif kind == "reopened":
        d.columns.update(resolved_at=None, remedy_paid=None)
        if d.tier:
            d.plan(f"{d.tier}_first_response", seq, at, None)
        d.plan("regulatory_decision", seq, at, None)
    elif kind == "resolved":
        d.columns["resolved_at"] = at
        number = detail.get("number")
        d.columns["remedy_paid"] = proposal_total(number) if isinstance(number, int) else None
    elif kind == "follow_up_done" and detail.get("satisfaction") is not None:
        d.columns["satisfaction"] = detail["satisfaction"]
    elif kind == "closed":
        for key in ("satisfaction", "outcome"):
            if detail.get(key) is not None:
                d.columns[key] = detail[key]


def proposal_totals(conn: Connection, complaint_id: str) -> Callable[[int], Decimal | None]:
    """The remedy total each proposal carried when proposed (``resolution_proposed``), by number."""

    def total(number: int) -> Decimal | None:
        rows = conn.execute(
            sa.select(events.c.detail)
            .where(events.c.complaint_id == complaint_id, events.c.kind == "resolution_proposed")
            .order_by(events.c.seq)
        )
        found = [r.detail for r in rows if (r.detail or {}).get("number") == number]
        return _amount(found[-1].get("remedy_total")) if found else None

    return total


def load(conn: Connection, complaint_id: str) -> Derived:
    """The complaint's derived state as stored (the starting point for its next event)."""
    row = conn.execute(
        sa.select(complaints.c.received_at, complaints.c.tier).where(complaints.c.complaint_id == complaint_id)
    ).first()
    d = Derived(received_at=row.received_at if row else None, tier=row.tier if row else None)
    for c in conn.execute(sa.select(clocks).where(clocks.c.complaint_id == complaint_id)):
        d.clocks[c.name] = {k: getattr(c, k) for k in (*CLOCK_FIELDS, "last_seq")}
    return d


# The projection's own fields (ComplaintProjection): events fill them only where still empty.
PROJECTED = ("satisfaction", "outcome")


def store(conn: Connection, complaint_id: str, d: Derived) -> None:
    """Write the columns set and the clock rows changed since ``load`` (or since the start)."""
    if d.columns:
        values = {
            k: sa.func.coalesce(complaints.c[k], v) if k in PROJECTED and v is not None else v
            for k, v in d.columns.items()
            if not (k in PROJECTED and v is None)
        }
        conn.execute(sa.update(complaints).where(complaints.c.complaint_id == complaint_id).values(**values))
    names = sorted(d.changed)
    if names:
        conn.execute(sa.delete(clocks).where(clocks.c.complaint_id == complaint_id, clocks.c.name.in_(names)))
        conn.execute(
            sa.insert(clocks),
            [
                {"complaint_id": complaint_id, "name": n, "last_seq": d.clocks[n].get("last_seq") or 0}
                | {k: d.clocks[n].get(k) for k in CLOCK_FIELDS}
                for n in names
            ],
        )
    d.changed.clear()


def record(
    conn: Connection, complaint_id: str, seq: int, kind: str, at: datetime, detail: dict[str, Any], case_file: Any
) -> None:
    """The projection activity's step: apply one new event to what is stored."""
    d = load(conn, complaint_id)
    if case_file is not None:
        from_case_file(d, case_file, seq)
    else:
        apply_event(d, seq, kind, at, detail, proposal_totals(conn, complaint_id))
    for key in PROJECTED:  # the event's projection has just written them
        d.columns.pop(key, None)
    store(conn, complaint_id, d)


def backfill(conn: Connection, complaint_ids: Iterable[str] | None = None) -> int:
    """Rebuild the derived columns and clock rows from each complaint's snapshot and audit log.

    Idempotent: it starts from nothing for each complaint and replays its events in seq order.
    Returns how many complaints it rebuilt.
    """
    query = sa.select(complaints.c.complaint_id, complaints.c.received_at, complaints.c.snapshot)
    if complaint_ids is not None:
        query = query.where(complaints.c.complaint_id.in_(list(complaint_ids)))
    done = 0
    for row in conn.execute(query).all():
        cid = row.complaint_id
        d = Derived(received_at=row.received_at)
        from_case_file(d, row.snapshot, 0)
        if row.snapshot and row.snapshot.get("clocks"):
            d.changed.update(d.clocks)
        else:
            history = conn.execute(
                sa.select(events.c.seq, events.c.kind, events.c.at, events.c.detail)
                .where(events.c.complaint_id == cid)
                .order_by(events.c.seq)
            ).all()
            totals = proposal_totals(conn, cid)
            for e in history:
                apply_event(d, e.seq, e.kind, e.at, e.detail or {}, totals)
        conn.execute(sa.delete(clocks).where(clocks.c.complaint_id == cid))
        d.changed = set(d.clocks)
        store(conn, cid, d)
        done += 1
    return done
