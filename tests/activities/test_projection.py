"""The complaint projection on SQLite and PostgreSQL: one audit row per (complaint, seq), newest state wins."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.projection import ProjectionActivities
from db.tables import Complaint, ComplaintEventRow
from models.complaint import ComplaintEvent, ComplaintSnapshot, Status
from models.intake import ComplaintIntake
from tests.factories import intake_payload

AT = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)


def complaint_event(complaint_id: str, seq: int, kind: str, status: Status, assignee: str | None = None) -> ComplaintEvent:
    """The event the workflow sends after a state change (the one place that knows its shape)."""
    intake = ComplaintIntake.model_validate(intake_payload("fees_and_interest"))
    snapshot = ComplaintSnapshot(complaint_id=complaint_id, workflow_id=f"complaint-{complaint_id}", status=status,
                                 intake=intake, assignee=assignee)
    return ComplaintEvent(complaint_id=complaint_id, seq=seq, kind=kind, at=AT + timedelta(seconds=seq),
                          actor="system", snapshot=snapshot)


def audit(engine: Engine, complaint_id: str) -> list[tuple[int, str]]:
    with Session(engine) as session:
        rows = session.exec(select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == complaint_id)
                            .order_by(ComplaintEventRow.seq)).all()
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
        "the same seq of another complaint is another event")
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
