"""The investigation's activities on SQLite and PostgreSQL: each write happens once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.investigation import InvestigationActivities
from db.tables import InvestigationEventRow, InvestigationRow, StaffServiceEvent
from domain.policy import PolicyStore
from models.investigation import (
    AccountabilityRecordRequest,
    InvestigationEvent,
    InvestigationFile,
)

# 23:30 in London on 27 Nov is already 28 Nov in Shanghai, the policy's time zone.
DECIDED = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)


def test_accountability_is_written_once_per_person_on_the_policy_day(engine: Engine, policies: PolicyStore) -> None:
    activities = InvestigationActivities(engine, policies)
    investigation_id = f"investigation-CMP-{uuid.uuid4().hex[:12].upper()}"
    request = AccountabilityRecordRequest(
        investigation_id=investigation_id,
        complaint_id=investigation_id.removeprefix("investigation-"),
        policy_version=policies.current.version,
        staff_ids=["S-RM-007", "S-HND-002"],
        decision="warning",
        decided_on=DECIDED,
        reason="Forwarded the file",
    )
    env = ActivityEnvironment()

    assert env.run(activities.record_accountability, request) == 2
    assert env.run(activities.record_accountability, request) == 0, "a retry after a crash writes nothing"
    with Session(engine) as session:
        rows = session.exec(
            select(StaffServiceEvent).where(StaffServiceEvent.source_key.startswith(investigation_id))
        ).all()  # type: ignore[union-attr]
    assert sorted((r.staff_id, r.kind, r.occurred_on) for r in rows) == [
        ("S-HND-002", "warning", date(2026, 11, 28)),
        ("S-RM-007", "warning", date(2026, 11, 28)),
    ]


def test_an_investigation_event_is_recorded_once(engine: Engine, policies: PolicyStore) -> None:
    activities = InvestigationActivities(engine, policies)
    investigation_id = f"investigation-CMP-{uuid.uuid4().hex[:12].upper()}"
    file = InvestigationFile(
        investigation_id=investigation_id,
        complaint_id=investigation_id[14:],
        scope="s",
        reason="r",
        opened_at=DECIDED,
        lead="S-CMP-001",
    )
    event = InvestigationEvent(
        investigation_id=investigation_id,
        complaint_id=file.complaint_id,
        seq=1,
        kind="investigation_opened",
        at=DECIDED,
        actor="system",
        file=file,
    )
    env = ActivityEnvironment()

    assert env.run(activities.record_investigation_event, event) is True
    assert env.run(activities.record_investigation_event, event) is False
    with Session(engine) as session:
        events = session.exec(
            select(InvestigationEventRow).where(InvestigationEventRow.investigation_id == investigation_id)
        ).all()
        row = session.get(InvestigationRow, investigation_id)
    assert [e.kind for e in events] == ["investigation_opened"]
    assert (row.stage, row.lead, row.last_seq) == ("investigating", "S-CMP-001", 1)
