"""The complaint projection on SQLite and PostgreSQL: one audit row per (complaint, seq), newest state wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.projection import ProjectionActivities
from db.tables import Complaint, ComplaintEventRow
from models.complaint import (
    ComplaintEvent,
    ComplaintEventBatch,
    ComplaintFacts,
    ComplaintProjection,
    ComplaintSnapshot,
    Status,
)
from models.intake import ComplaintIntake
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
