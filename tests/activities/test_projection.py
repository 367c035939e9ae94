"""The complaint projection on SQLite and PostgreSQL: one audit row per (complaint, seq), newest state wins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.projection import ProjectionActivities
from db.analysis_facts import Derived, apply_event, backfill
from db.engine import make_engine, migrate
from db.tables import Complaint, ComplaintClock, ComplaintEventRow, UTCDateTime
from models.clocks import Clock
from models.complaint import (
    ComplaintEvent,
    ComplaintEventBatch,
    ComplaintFacts,
    ComplaintProjection,
    ComplaintSnapshot,
    Status,
)
from models.intake import ComplaintIntake
from tests.conftest import _postgres_database
from tests.factories import intake_payload

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def _snapshot(complaint_id: str, status: Status, assignee: str | None = None) -> ComplaintSnapshot:
    intake = ComplaintIntake.model_validate(intake_payload("fees_and_interest"))
    return ComplaintSnapshot(
        complaint_id=complaint_id,
        workflow_id=f"complaint-{complaint_id}",
        status=status,
        intake=intake,
        assignee=assignee,
        team=["S-HND-002"] if assignee else [],
    )


def complaint_event(
    complaint_id: str, seq: int, kind: str, status: Status, assignee: str | None = None
) -> ComplaintEvent:
    """The event the workflow sends after a state change: what changed, the projection's fields,
    and on the first event the facts the row starts with (the one place that knows its shape)."""
    snap = _snapshot(complaint_id, status, assignee)
    return ComplaintEvent(
        complaint_id=complaint_id,
        seq=seq,
        kind=kind,
        at=AT + timedelta(seconds=seq),
        actor="system",
        projection=ComplaintProjection.of(snap),
        facts=ComplaintFacts.of(snap) if seq == 1 else None,
    )


def audit(engine: Engine, complaint_id: str) -> list[tuple[int, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(ComplaintEventRow.seq)
        ).all()
        return [(r.seq, r.kind) for r in rows]


def projection(engine: Engine, complaint_id: str) -> tuple[str, str | None, int]:
    with Session(engine) as session:
        row = session.get(Complaint, complaint_id)
        assert row is not None
        return row.status, row.assignee, row.last_seq


def test_the_same_event_is_recorded_once(engine: Engine) -> None:
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    received = complaint_event(cid, 1, "received", Status.RECEIVED)

    assert env.run(activities.record_complaint_event, received) is True
    assert env.run(activities.record_complaint_event, received) is False, "a retried activity writes nothing"

    assert audit(engine, cid) == [(1, "received")]
    assert projection(engine, cid) == ("received", None, 1)
    other = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    assert env.run(activities.record_complaint_event, complaint_event(other, 1, "received", Status.RECEIVED)) is True, (
        "the same seq of another complaint is another event"
    )
    assert audit(engine, other) == [(1, "received")]


def test_an_older_event_never_overwrites_a_newer_projection(engine: Engine) -> None:
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"

    assert env.run(activities.record_complaint_event, complaint_event(cid, 1, "received", Status.RECEIVED)) is True
    assigned = complaint_event(cid, 3, "assigned", Status.IN_HANDLING, assignee="S-HND-001")
    assert env.run(activities.record_complaint_event, assigned) is True
    late = complaint_event(cid, 2, "acknowledged", Status.AWAITING_ASSIGNMENT)
    assert env.run(activities.record_complaint_event, late) is True, "the audit log gets the late event"

    assert audit(engine, cid) == [(1, "received"), (2, "acknowledged"), (3, "assigned")]
    assert projection(engine, cid) == ("in_handling", "S-HND-001", 3), "the projection keeps the newest state"
    assert env.run(activities.record_complaint_event, assigned) is False
    assert projection(engine, cid) == ("in_handling", "S-HND-001", 3)


def test_an_event_scheduled_before_events_were_lean_still_projects(engine: Engine) -> None:
    """An activity retried across the upgrade carries the whole case file, as it was scheduled."""
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    snap = _snapshot(cid, Status.IN_HANDLING, assignee="S-HND-001")
    old = ComplaintEvent(complaint_id=cid, seq=1, kind="assigned", at=AT, actor="system", snapshot=snap)

    assert env.run(activities.record_complaint_event, old) is True
    assert projection(engine, cid) == ("in_handling", "S-HND-001", 1)
    with Session(engine) as session:
        row = session.get(Complaint, cid)
        assert row is not None and row.team == ["S-HND-002"] and row.snapshot["assignee"] == "S-HND-001"


def test_a_later_event_without_a_row_is_refused_not_retried(engine: Engine) -> None:
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    with pytest.raises(ApplicationError, match="no row yet") as refused:
        env.run(activities.record_complaint_event, complaint_event(cid, 2, "classified", Status.CLASSIFIED))
    assert refused.value.non_retryable
    assert audit(engine, cid) == []


def test_a_batch_writes_each_event_once_in_order(engine: Engine) -> None:
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    batch = ComplaintEventBatch(
        complaint_id=cid,
        events=[
            complaint_event(cid, 1, "received", Status.RECEIVED),
            complaint_event(cid, 2, "classified", Status.CLASSIFIED),
            complaint_event(cid, 3, "assigned", Status.IN_HANDLING, assignee="S-HND-001"),
        ],
    )

    assert env.run(activities.record_complaint_events, batch) == 3
    assert env.run(activities.record_complaint_events, batch) == 0, "a retried batch writes nothing"
    assert audit(engine, cid) == [(1, "received"), (2, "classified"), (3, "assigned")]
    assert projection(engine, cid) == ("in_handling", "S-HND-001", 3)


# -- what the analysis reads (0007): product, clauses, resolution, remedy, each clock --------


def lean(cid: str, seq: int, kind: str, status: Status, detail: dict[str, Any], **projected: Any) -> ComplaintEvent:
    event = complaint_event(cid, seq, kind, status)
    assert event.projection is not None
    return event.model_copy(
        update={"detail": detail, "projection": event.projection.model_copy(update=projected)}, deep=True
    )


def analysis_row(engine: Engine, cid: str) -> tuple[Any, ...]:
    with Session(engine) as session:
        row = session.get(Complaint, cid)
        assert row is not None
        return row.product, row.clause_references, row.resolved_at, row.remedy_paid, row.satisfaction, row.outcome


def clock_rows(engine: Engine, cid: str) -> dict[str, tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(ComplaintClock).where(ComplaintClock.complaint_id == cid)).all()
        return {r.name: (r.state, r.started_at, r.due_at, r.settled_at, r.breached_at) for r in rows}


def lean_history(cid: str) -> list[ComplaintEvent]:
    """A simple complaint's life as lean events carry it: only kinds, times and details."""
    due = (AT + timedelta(days=3)).isoformat()
    return [
        complaint_event(cid, 1, "received", Status.RECEIVED),
        lean(cid, 2, "classified", Status.CLASSIFIED, {"tier": "simple", "rule": "r", "policy_version": "v"}),
        lean(cid, 3, "acknowledged", Status.AWAITING_ASSIGNMENT, {"channel": "email"}),
        lean(cid, 4, "sla_breached", Status.IN_HANDLING, {"clock": "simple_first_response", "due_at": due}),
        lean(cid, 5, "resolution_proposed", Status.AWAITING_APPROVAL, {"number": 1, "remedy_total": "80.00"}),
        lean(cid, 6, "resolution_proposed", Status.AWAITING_APPROVAL, {"number": 2, "remedy_total": "120.50"}),
        lean(cid, 7, "resolved", Status.FOLLOW_UP, {"number": 2, "comments": "", "communication": "final_response"}),
        lean(cid, 8, "follow_up_scheduled", Status.FOLLOW_UP, {"caller": "S-HND-003", "due_at": due}),
        lean(cid, 9, "follow_up_done", Status.FOLLOW_UP, {"satisfaction": 4, "comments": ""}),
        lean(
            cid, 10, "closed", Status.CLOSED, {"outcome": "upheld", "satisfaction": 4}, satisfaction=4, outcome="upheld"
        ),
    ]


def test_lean_events_fill_the_analysis_columns_and_clocks(engine: Engine) -> None:
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    history = lean_history(cid)
    received = history[0].facts.received_at if history[0].facts else AT
    at = {e.seq: e.at for e in history}
    due = AT + timedelta(days=3)

    assert env.run(activities.record_complaint_events, ComplaintEventBatch(complaint_id=cid, events=history)) == 10
    assert analysis_row(engine, cid) == (None, None, at[7], Decimal("120.50"), 4, "upheld")
    clocks = clock_rows(engine, cid)
    assert clocks == {
        "acknowledgement": ("met", received, None, at[3], None),
        "simple_first_response": ("breached", received, due, at[7], at[4]),
        "regulatory_decision": ("met", received, None, at[7], None),
        "follow_up": ("met", at[8], due, at[9], None),
    }

    with engine.connect() as conn:  # SQL NULL, not JSON null: the analysis expands the arrays in SQL
        unset = (
            sa.select(sa.func.count())
            .select_from(Complaint)
            .where(sa.column("complaint_id") == cid, sa.column("clause_references").is_(None))
        )
        assert conn.execute(unset).scalar() == 1

    for event in history:  # a replayed event changes nothing
        assert env.run(activities.record_complaint_event, event) is False
    assert clock_rows(engine, cid) == clocks
    assert analysis_row(engine, cid) == (None, None, at[7], Decimal("120.50"), 4, "upheld")


def test_an_older_case_file_gives_product_clauses_remedy_and_clocks(engine: Engine) -> None:
    activities, env = ProjectionActivities(engine), ActivityEnvironment()
    cid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    payload = intake_payload("contract_dispute")
    payload["details"]["clause_references"] = ["7.3 prepayment fee"]
    intake = ComplaintIntake.model_validate(payload)
    clock = Clock(name="acknowledgement", label="Ack", limit="1d", source="s", started_at=AT, due_at=AT + timedelta(1))
    snap = _snapshot(cid, Status.IN_HANDLING).model_copy(update={"intake": intake, "clocks": [clock]})
    old = ComplaintEvent(complaint_id=cid, seq=1, kind="received", at=AT, actor="system", snapshot=snap)

    assert env.run(activities.record_complaint_event, old) is True
    assert env.run(activities.record_complaint_event, old) is False
    assert analysis_row(engine, cid)[:2] == (None, ["7.3 prepayment fee"])
    assert clock_rows(engine, cid) == {"acknowledgement": ("running", AT, AT + timedelta(1), None, None)}

    pid = f"CMP-{uuid.uuid4().hex[:12].upper()}"
    design = ComplaintIntake.model_validate(intake_payload("product_design"))
    snap = _snapshot(pid, Status.IN_HANDLING).model_copy(update={"intake": design})
    env.run(
        activities.record_complaint_event,
        ComplaintEvent(complaint_id=pid, seq=1, kind="received", at=AT, actor="system", snapshot=snap),
    )
    assert analysis_row(engine, pid)[0] == design.details.product_code  # type: ignore[union-attr]


OLD_COMPLAINT = sa.table(
    "complaints",
    *(sa.column(n) for n in ("complaint_id", "workflow_id", "source_system", "source_reference", "channel")),
    *(sa.column(n) for n in ("category", "status", "customer_id", "customer_name", "sla_breached")),
    *(sa.column(n) for n in ("reopened_count", "last_seq", "satisfaction", "outcome")),
    sa.column("received_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("snapshot", sa.JSON()),
)
OLD_EVENT = sa.table(
    "complaint_events",
    *(sa.column(n) for n in ("complaint_id", "seq", "kind", "actor")),
    sa.column("at", UTCDateTime()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("detail", sa.JSON()),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'before-0007.db'}"
    else:
        yield from _postgres_database()


def test_the_0007_upgrade_backfills_rows_written_before_it(fresh_url: str) -> None:
    migrate(fresh_url, "0006")
    engine = make_engine(fresh_url)
    cid, old_cid = "CMP-LEAN00000001", "CMP-OLD000000001"
    history = lean_history(cid)
    snap = _snapshot(old_cid, Status.CLOSED).model_copy(
        update={"intake": ComplaintIntake.model_validate(intake_payload("product_design"))}
    )
    row: dict[str, Any] = {
        "workflow_id": "w",
        "source_system": "s",
        "channel": "email",
        "category": "other",
        "customer_id": "c",
    }
    row |= {"customer_name": "n", "sla_breached": False, "reopened_count": 0, "received_at": AT, "updated_at": AT}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(OLD_COMPLAINT),
            [
                row
                | {"complaint_id": cid, "source_reference": "a", "status": "closed", "last_seq": 10, "snapshot": {}}
                | {"satisfaction": None},
                row
                | {"complaint_id": old_cid, "source_reference": "b", "status": "closed", "last_seq": 1}
                | {"snapshot": snap.model_dump(mode="json"), "satisfaction": 5},
            ],
        )
        conn.execute(
            sa.insert(OLD_EVENT),
            [
                {"complaint_id": e.complaint_id, "seq": e.seq, "kind": e.kind, "actor": e.actor, "at": e.at}
                | {"recorded_at": e.at, "detail": e.detail}
                for e in history
            ],
        )
    try:
        migrate(fresh_url)
        at = {e.seq: e.at for e in history}
        assert analysis_row(engine, cid) == (None, None, at[7], Decimal("120.50"), 4, "upheld")
        clocks = clock_rows(engine, cid)
        assert clocks["simple_first_response"] == ("breached", AT, AT + timedelta(days=3), at[7], at[4])
        assert clocks["follow_up"][0] == "met" and set(clocks) == {
            "acknowledgement",
            "simple_first_response",
            "regulatory_decision",
            "follow_up",
        }
        product = snap.intake.details.product_code  # type: ignore[union-attr]
        assert analysis_row(engine, old_cid)[0] == product and analysis_row(engine, old_cid)[4] == 5

        with engine.begin() as conn:  # running the backfill again rebuilds the same rows
            assert backfill(conn) == 2
        assert clock_rows(engine, cid) == clocks
        assert analysis_row(engine, cid) == (None, None, at[7], Decimal("120.50"), 4, "upheld")
    finally:
        engine.dispose()


def test_escalating_to_major_keeps_the_clock_the_investigation_met() -> None:
    """route_to_tier opens the investigation before the 'escalated' event is recorded."""
    d = Derived(received_at=AT)
    none: Any = lambda number: None  # noqa: E731
    apply_event(d, 2, "classified", AT, {"tier": "simple"}, none)
    d.tier = "major"  # the row's tier when the investigation's event is applied
    apply_event(d, 5, "investigation_opened", AT + timedelta(hours=1), {"reason": "r"}, none)
    apply_event(d, 6, "escalated", AT + timedelta(hours=1), {"from_tier": "simple", "to_tier": "major"}, none)
    assert d.clocks["simple_first_response"]["state"] == "stopped"
    assert d.clocks["major_first_response"]["state"] == "met"
