"""The quarterly Service Quality Award through the real server: ranked, approved, recorded once.

The quarter's complaints are written straight into the projection, closed in 2035-Q1 (which no
other test uses), held by the directory's three handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

from complaints.award import award_row, decide, start_award
from complaints.intake import ActionRefused
from complaints.schedules import ensure_award_schedule
from db.tables import AwardRow, Complaint, ComplaintClock, OutboxMessage, Staff, StaffServiceEvent
from domain.analysis import period_of, previous_period
from domain.policy import PolicyStore
from models.analysis import PeriodKind
from models.award import AwardDecision, AwardOutcome, AwardRequest
from tests.conftest import Service
from tests.helpers import eventually
from workflows.step4_award import AwardWorkflow

QUARTER = period_of(PeriodKind.QUARTER, date(2035, 1, 1))
PREFIX = "AWD-"


def closed(n: int, holder: str, satisfaction: int, **fields: Any) -> Complaint:
    at = datetime(2035, 2, 1, 2, tzinfo=UTC) + timedelta(days=n)
    return Complaint(
        complaint_id=f"{PREFIX}{n}", workflow_id=f"complaint-{PREFIX}{n}", source_system="test",
        source_reference=f"{PREFIX}{n}", channel="phone", category="fees_and_interest", tier="simple",
        status="closed", customer_id=f"AWD-C-{n}", customer_name="Customer", assignee=holder,
        received_at=at - timedelta(days=1), acknowledged_at=at - timedelta(hours=20),
        resolved_at=at - timedelta(hours=2), closed_at=at, satisfaction=satisfaction, snapshot={}, updated_at=at,
        **fields,
    )  # fmt: skip


@pytest.fixture
def quarter_closed(engine: Engine) -> Iterator[None]:
    rows: list[Any] = [
        closed(1, "S-HND-001", 5), closed(2, "S-HND-001", 5), closed(3, "S-HND-001", 4),
        closed(4, "S-HND-003", 4), closed(5, "S-HND-003", 4),
        closed(6, "S-HND-002", 5), closed(7, "S-HND-002", 5),
        # S-HND-002's own complaint breached its first-response clock in the quarter.
        ComplaintClock(complaint_id=f"{PREFIX}6", name="simple_first_response",
                       started_at=datetime(2035, 2, 6, tzinfo=UTC), due_at=datetime(2035, 2, 7, tzinfo=UTC),
                       settled_at=datetime(2035, 2, 7, 5, tzinfo=UTC), breached_at=datetime(2035, 2, 7, tzinfo=UTC),
                       state="breached"),
    ]  # fmt: skip
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    try:
        yield
    finally:
        with engine.begin() as conn:
            for table in (Complaint, ComplaintClock):
                t = table.__table__  # type: ignore[attr-defined]
                conn.execute(sa.delete(t).where(t.c.complaint_id.startswith(PREFIX)))
            conn.execute(sa.delete(AwardRow.__table__).where(AwardRow.__table__.c.quarter == QUARTER.label))  # type: ignore[attr-defined]


async def test_a_quarters_award_is_ranked_approved_by_a_senior_manager_and_recorded_once(
    service: Service, policies: PolicyStore, quarter_closed: None
) -> None:
    workflow_id = f"award-{QUARTER.label}-{service.backend}"  # both databases' tests share one server
    handle = await start_award(
        service.client, service.task_queue, QUARTER, policies.current.timezone, "test", workflow_id
    )

    async def proposed() -> Any:
        return await handle.query(AwardWorkflow.proposal)

    proposal = await eventually(proposed, what="the ranked nominees")
    by_id = {n.staff_id: n for n in proposal.nominees}
    assert proposal.quarter == "2035-Q1"
    assert by_id["S-HND-001"].rank == 1 and by_id["S-HND-001"].cases == 3
    assert not by_id["S-HND-002"].eligible
    assert any("breached" in r for r in by_id["S-HND-002"].reasons)
    assert proposal.proposed[:2] == ["S-HND-001", "S-HND-003"]
    assert "S-SM-001" in proposal.approvers
    with Session(service.engine) as session:
        score = session.get(Staff, "S-HND-001").service_quality_score  # type: ignore[union-attr]
    assert score == by_id["S-HND-001"].score, "the directory's score is the computed one"

    # A manager may not approve; a senior manager may not award themselves; nor an ineligible nominee.
    for actor, winners, reason in [
        ("S-MGR-001", [], "it takes senior_manager"),
        ("S-SM-001", ["S-SM-001"], "may not approve an award for themselves"),
        ("S-SM-001", ["S-HND-002"], "not eligible nominees: S-HND-002"),
    ]:
        with pytest.raises(ActionRefused, match=reason):
            await decide(
                service.client, service.engine, QUARTER.label, AwardDecision(actor=actor, winners=winners, reason="x")
            )

    decision = AwardDecision(actor="S-SM-001", winners=["S-HND-001"], reason="Best satisfaction and no breach")
    outcome = await decide(service.client, service.engine, QUARTER.label, decision)
    assert (outcome.winners, outcome.approved_by) == (["S-HND-001"], "S-SM-001")
    with pytest.raises(ActionRefused, match=r"already decided|already closed"):
        await decide(service.client, service.engine, QUARTER.label, decision)
    final = await handle.result()
    assert (final.status, final.winners, final.told) == ("approved", ["S-HND-001"], 1)
    with pytest.raises(ActionRefused, match=f"the award for 2035-Q1 has run \\({workflow_id}\\)"):
        await start_award(service.client, service.task_queue, QUARTER, policies.current.timezone, "test", workflow_id)

    row = award_row(service.engine, QUARTER.label)
    assert row is not None and (row.status, row.winners, row.approved_by) == ("approved", ["S-HND-001"], "S-SM-001")
    with Session(service.engine) as session:
        history = session.exec(
            select(StaffServiceEvent).where(StaffServiceEvent.source_key == f"award:{QUARTER.label}:S-HND-001")
        ).all()
        told = session.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == f"award:{QUARTER.label}:S-HND-001")
        ).all()
    assert [h.kind for h in history] == ["commendation"] and len(told) == 1

    # One award per quarter: another run for the same quarter finds it decided and ends.
    again = await service.client.execute_workflow(
        AwardWorkflow.run,
        AwardRequest(quarter=QUARTER, timezone=policies.current.timezone, requested_by="test"),
        id=f"award-again-{uuid.uuid4().hex[:6]}",
        task_queue=service.task_queue,
        result_type=AwardOutcome,
    )
    assert again.status == "taken"


async def test_the_award_runs_each_quarter_on_its_schedule(
    service: Service, client: Client, policies: PolicyStore
) -> None:
    schedule_id = f"test-award-{uuid.uuid4().hex[:6]}"
    policy = policies.current
    await ensure_award_schedule(client, policy, service.task_queue, schedule_id)
    schedule = client.get_schedule_handle(schedule_id)
    try:
        spec = (await schedule.describe()).schedule.spec
        calendar = spec.calendars[0]
        assert [m.start for m in calendar.month] == [1, 4, 7, 10]
        assert [d.start for d in calendar.day_of_month] == [policy.performance.award.run_day]
        assert [h.start for h in calendar.hour] == [policy.performance.award.run_hour]
        await schedule.trigger()

        async def started() -> str | None:
            actions = (await schedule.describe()).info.recent_actions
            action = actions[-1].action if actions else None
            return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else None

        handle = client.get_workflow_handle(await eventually(started, what="the schedule's award"))
        proposal = await eventually(lambda: handle.query(AwardWorkflow.proposal), what="the proposal")
        assert proposal.quarter == previous_period(PeriodKind.QUARTER, datetime.now(UTC), policy.timezone).label
        await handle.terminate("test over")
        # Ended undecided: the next run for that quarter takes it over instead of finding it taken.
        again = await client.start_workflow(
            AwardWorkflow.run,
            AwardRequest(timezone=policy.timezone),
            id=f"award-takeover-{uuid.uuid4().hex[:6]}",
            task_queue=service.task_queue,
        )
        taken_over = await eventually(lambda: again.query(AwardWorkflow.proposal), what="the takeover")
        assert taken_over.taken_by is None and taken_over.quarter == proposal.quarter
        await again.terminate("test over")
    finally:
        await schedule.delete()
