"""The analysis facts' backfill (db/analysis_facts.refresh) on SQLite and PostgreSQL.

The rows are as a migration leaves them: ``facts_seq`` 0 behind their audit log. One is a newer
row whose facts come from its lean events; one is an older row whose stored case file is the only
place its product, clause references, remedy and clocks are held; one is already up to date. The
first refresh is the backfill; a second changes nothing. Ids are unique to the test and removed
afterwards (the engine is shared by the session, and ``refresh`` takes every stale row it finds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from db.analysis_facts import refresh
from db.tables import Complaint, ComplaintClause, ComplaintClock, ComplaintEventRow

T0 = datetime(2034, 5, 8, 1, 0, tzinfo=UTC)  # received
H = timedelta(hours=1)
D = timedelta(days=1)
COMPLAINTS = Complaint.__table__  # type: ignore[attr-defined]
CLOCKS = ComplaintClock.__table__  # type: ignore[attr-defined]
CLAUSES = ComplaintClause.__table__  # type: ignore[attr-defined]
EVENTS = ComplaintEventRow.__table__  # type: ignore[attr-defined]
DERIVED = ("product", "resolved_at", "remedy_paid", "escalations", "extensions", "facts_seq", "last_seq")

# The newer row's lean audit log: (kind, time, detail).
LEAN_EVENTS: list[tuple[str, datetime, dict[str, Any]]] = [
    ("received", T0, {"channel": "phone"}),
    ("classified", T0 + timedelta(minutes=1), {"tier": "simple"}),
    ("sla_warning", T0 + H, {"clock": "acknowledgement", "due_at": (T0 + D).isoformat()}),
    ("acknowledged", T0 + 2 * H, {}),
    ("escalated", T0 + 3 * H, {"from_tier": "simple", "to_tier": "complex"}),
    ("deadline_extended", T0 + 4 * H, {"due_at": (T0 + 40 * D).isoformat()}),
    ("sla_breached", T0 + D, {"clock": "complex_first_response", "due_at": (T0 + D).isoformat()}),
    ("feedback_sent", T0 + 2 * D, {}),
    ("resolution_proposed", T0 + 3 * D - H, {"number": 1, "remedy_total": "80.00"}),
    ("resolved", T0 + 3 * D, {"number": 1}),
    ("closed", T0 + 4 * D, {}),
]
# The older row's case file, as events carried it whole before they were lean.
CASE_FILE: dict[str, Any] = {
    "intake": {
        "product": None,
        "details": {"product_code": "trade_finance", "clause_references": ["7.3", "9.1 set-off", "7.3"]},
    },
    "resolved_at": (T0 + 5 * D).isoformat(),
    "proposals": [
        {"state": "rejected", "compensation": {"amount": "999.00", "currency": "CNY"}},
        {
            "state": "accepted",
            "fee_refund": {"amount": "30.00", "currency": "CNY"},
            "compensation": {"amount": "20.50", "currency": "CNY"},
        },
    ],
    "clocks": [
        {
            "name": "acknowledgement",
            "started_at": T0.isoformat(),
            "due_at": (T0 + D).isoformat(),
            "met_at": (T0 + H).isoformat(),
            "state": "met",
        },
        {
            "name": "regulatory_decision",
            "started_at": T0.isoformat(),
            "due_at": (T0 + 4 * D).isoformat(),
            "breached_at": (T0 + 4 * D).isoformat(),
            "state": "breached",
        },
    ],
}


def _row(complaint_id: str, **fields: Any) -> Complaint:
    defaults: dict[str, Any] = dict(
        workflow_id=f"complaint-{complaint_id}",
        source_system="facts-test",
        source_reference=complaint_id,
        channel="phone",
        category="fees_and_interest",
        status="closed",
        customer_id="C-FACTS",
        customer_name="Facts Test Ltd",
        received_at=T0,
        snapshot={},
        updated_at=T0,
    )
    return Complaint(complaint_id=complaint_id, **(defaults | fields))


def _events(complaint_id: str, log: list[tuple[str, datetime, dict[str, Any]]]) -> list[ComplaintEventRow]:
    return [
        ComplaintEventRow(complaint_id=complaint_id, seq=seq, kind=kind, actor="S-TEST", at=at, detail=detail,
                          recorded_at=at)
        for seq, (kind, at, detail) in enumerate(log, start=1)
    ]  # fmt: skip


@pytest.fixture
def ids(engine: Engine) -> Iterator[dict[str, str]]:
    """lean, old and current, at facts_seq 0 (current: already up to date), removed afterwards."""
    prefix = f"FCT-{uuid.uuid4().hex[:8]}-"
    ids = {tag: prefix + tag for tag in ("lean", "old", "current")}
    old_log = [("received", T0, {"channel": "email"}), ("closed", T0 + 6 * D, {})]
    with Session(engine) as session:
        session.add_all(
            [
                _row(ids["lean"], product="overdraft", last_seq=len(LEAN_EVENTS)),
                # Written before the product column existed: its case file is the only source.
                _row(ids["old"], product=None, snapshot=CASE_FILE, last_seq=len(old_log)),
                # Up to date: facts_seq has caught up, so its (odd) figures are not rebuilt.
                _row(ids["current"], product="overdraft", escalations=5, facts_seq=2, last_seq=2),
                *_events(ids["lean"], LEAN_EVENTS),
                *_events(ids["old"], old_log),
                *_events(ids["current"], old_log),
            ]
        )
        session.commit()
    try:
        yield ids
    finally:
        with engine.begin() as conn:
            for table in (EVENTS, CLOCKS, CLAUSES, COMPLAINTS):
                conn.execute(sa.delete(table).where(table.c.complaint_id.startswith(prefix)))


def facts(engine: Engine, ids: dict[str, str]) -> dict[str, Any]:
    """What the analysis reads of the test's rows: derived columns, clocks and clauses, by tag."""
    tags = {v: k for k, v in ids.items()}
    mine = COMPLAINTS.c.complaint_id.in_(list(tags))
    with engine.connect() as conn:
        columns = {
            tags[r.complaint_id]: {name: getattr(r, name) for name in DERIVED}
            for r in conn.execute(sa.select(COMPLAINTS.c.complaint_id, *(COMPLAINTS.c[n] for n in DERIVED)).where(mine))
        }
        clocks: dict[str, dict[str, tuple[Any, ...]]] = {tag: {} for tag in ids}
        for r in conn.execute(sa.select(CLOCKS).where(CLOCKS.c.complaint_id.in_(list(tags)))):
            clocks[tags[r.complaint_id]][r.name] = (r.state, r.started_at, r.due_at, r.settled_at, r.breached_at)
        clauses: dict[str, set[str]] = {tag: set() for tag in ids}
        for r in conn.execute(sa.select(CLAUSES).where(CLAUSES.c.complaint_id.in_(list(tags)))):
            clauses[tags[r.complaint_id]].add(r.clause)
    return {"columns": columns, "clocks": clocks, "clauses": clauses}


def test_the_backfill_derives_facts_from_the_audit_log_and_old_case_files(engine: Engine, ids: dict[str, str]) -> None:
    assert refresh(engine) == 0  # nothing left behind
    after = facts(engine, ids)
    cols, clocks = after["columns"], after["clocks"]

    # The newer row: from its lean events.
    assert cols["lean"] == {
        "product": "overdraft",
        "resolved_at": T0 + 3 * D,
        "remedy_paid": Decimal("80.00"),  # the accepted proposal's remedy_total
        "escalations": 1,
        "extensions": 1,
        "facts_seq": len(LEAN_EVENTS),
        "last_seq": len(LEAN_EVENTS),
    }
    assert clocks["lean"] == {
        # state, started, due, settled, breached
        "acknowledgement": ("met", T0, T0 + D, T0 + 2 * H, None),
        "simple_first_response": ("stopped", T0, None, None, None),  # the escalation stopped it
        "complex_first_response": ("breached", T0 + 3 * H, T0 + D, T0 + 2 * D, T0 + D),
        "regulatory_decision": ("met", T0, T0 + 40 * D, T0 + 3 * D, None),  # met the extended deadline
    }
    assert after["clauses"]["lean"] == set()

    # The older row: product, clauses, remedy, resolution and clocks from its case file alone.
    assert cols["old"] == {
        "product": "trade_finance",
        "resolved_at": T0 + 5 * D,
        "remedy_paid": Decimal("50.50"),  # the accepted proposal: 30.00 refunded + 20.50 compensation
        "escalations": 0,
        "extensions": 0,
        "facts_seq": 2,
        "last_seq": 2,
    }
    assert clocks["old"] == {
        "acknowledgement": ("met", T0, T0 + D, T0 + H, None),
        "regulatory_decision": ("breached", T0, T0 + 4 * D, None, T0 + 4 * D),
    }
    assert after["clauses"]["old"] == {"7.3", "9.1 set-off"}  # each once

    # The row already up to date is not rebuilt.
    assert (cols["current"]["escalations"], cols["current"]["resolved_at"], clocks["current"]) == (5, None, {})


def test_a_second_refresh_changes_nothing(engine: Engine, ids: dict[str, str]) -> None:
    assert refresh(engine) == 0
    first = facts(engine, ids)
    assert refresh(engine) == 0
    assert facts(engine, ids) == first
    # Rebuilt from scratch (facts_seq reset to 0), the facts come out the same: no clause twice,
    # no escalation counted twice.
    with engine.begin() as conn:
        conn.execute(
            sa.update(COMPLAINTS).where(COMPLAINTS.c.complaint_id.in_([ids["lean"], ids["old"]])).values(facts_seq=0)
        )
    assert refresh(engine) == 0
    assert facts(engine, ids) == first


def test_an_event_written_later_is_read_by_the_next_refresh(engine: Engine, ids: dict[str, str]) -> None:
    refresh(engine)
    with Session(engine) as session:
        session.add(
            ComplaintEventRow(complaint_id=ids["lean"], seq=len(LEAN_EVENTS) + 1, kind="reopened", actor="S-TEST",
                              at=T0 + 5 * D, detail={}, recorded_at=T0 + 5 * D)
        )  # fmt: skip
        session.commit()
    with engine.begin() as conn:
        conn.execute(
            sa.update(COMPLAINTS).where(COMPLAINTS.c.complaint_id == ids["lean"]).values(last_seq=len(LEAN_EVENTS) + 1)
        )
    assert refresh(engine) == 0
    after = facts(engine, ids)
    lean = after["columns"]["lean"]
    assert (lean["resolved_at"], lean["remedy_paid"], lean["facts_seq"]) == (None, None, len(LEAN_EVENTS) + 1)
    assert after["clocks"]["lean"]["regulatory_decision"] == ("running", T0 + 5 * D, None, None, None)


def test_the_budget_leaves_a_count_behind(engine: Engine, ids: dict[str, str]) -> None:
    # No time at all: nothing is rebuilt, and the count of stale rows (ours among them) comes back.
    left = refresh(engine, budget_seconds=0)
    assert left >= 2
    before = facts(engine, ids)["columns"]
    assert (before["lean"]["facts_seq"], before["old"]["facts_seq"]) == (0, 0)

    # A batch at a time: the beat reports progress after each batch; what is left is what is stale.
    beats: list[int] = []
    left = refresh(engine, batch=1, budget_seconds=30, beat=beats.append)
    assert beats[:2] == [1, 2] and beats[-1] >= 2
    after = facts(engine, ids)["columns"]
    assert (after["lean"]["facts_seq"], after["old"]["facts_seq"]) == (len(LEAN_EVENTS), 2)
    with engine.connect() as conn:
        stale = conn.scalar(sa.select(sa.func.count()).where(COMPLAINTS.c.facts_seq < COMPLAINTS.c.last_seq))
    assert left == stale  # 0 when this file runs alone
