"""The quarterly Service Quality Award through the real server: ranked, approved, recorded once.

The quarter's complaints are written straight into the projection, closed in 2035-Q1 (which no
other test uses), held by the directory's three handlers and by a fourth handler of the test's
own, whose low ratings call for the policy's threshold training.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from temporalio.service import RPCError

from complaints.award import award_row, decide, start_award
from complaints.config import PROJECT_ROOT
from complaints.intake import ActionRefused
from complaints.schedules import ensure_award_schedule
from db.tables import (
    AwardRow,
    Complaint,
    ComplaintClock,
    OutboxMessage,
    Staff,
    StaffServiceEvent,
    TrainingAssignmentRow,
)
from domain.analysis import period_of, previous_period
from domain.policy import PolicyStore
from models.analysis import PeriodKind
from models.award import AwardDecision, AwardRequest
from tests.conftest import COMPRESSED_POLICY, Service
from tests.helpers import eventually, save_history
from workflows.step4_award import AwardWorkflow

QUARTER = period_of(PeriodKind.QUARTER, date(2035, 1, 1))
PREFIX = "AWD-"
CLI = str(Path(sys.executable).parent / "complaints")


def low_rated(engine: Engine) -> str:
    """The fixture's fourth handler, one per backend: both backends' runs share one server, and the
    training the award assigns is a workflow named after the person."""
    return f"S-HND-AWD-{engine.dialect.name}"


def threshold_assignment(staff_id: str) -> str:
    """The assignment the compressed policy's rule low-satisfaction makes (activities/award.py)."""
    return f"{QUARTER.label}-{staff_id}-empathy-low-satisfaction"


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


def table(model: Any) -> sa.Table:
    return model.__table__


def first_response(n: int, hours: int) -> ComplaintClock:
    """AWD-<n>'s first-response clock, met ``hours`` after the complaint was received."""
    received = datetime(2035, 2, 1, 2, tzinfo=UTC) + timedelta(days=n - 1)
    return ComplaintClock(
        complaint_id=f"{PREFIX}{n}", name="simple_first_response", started_at=received,
        due_at=received + timedelta(hours=24), settled_at=received + timedelta(hours=hours), state="met",
    )  # fmt: skip


@pytest_asyncio.fixture
async def quarter_closed(engine: Engine, client: Client) -> AsyncIterator[str]:
    """The quarter's complaints; yields the low-rated fourth handler's staff id."""
    low = low_rated(engine)
    rows: list[Any] = [
        closed(1, "S-HND-001", 5), closed(2, "S-HND-001", 5), closed(3, "S-HND-001", 4),
        # S-HND-001's three first-response clocks, all met: after 1, 6 and 12 hours.
        first_response(1, 1), first_response(2, 6), first_response(3, 12),
        closed(4, "S-HND-003", 4), closed(5, "S-HND-003", 4),
        closed(6, "S-HND-002", 5), closed(7, "S-HND-002", 5),
        # S-HND-002's own complaint breached its first-response clock in the quarter.
        ComplaintClock(complaint_id=f"{PREFIX}6", name="simple_first_response",
                       started_at=datetime(2035, 2, 6, tzinfo=UTC), due_at=datetime(2035, 2, 7, tzinfo=UTC),
                       settled_at=datetime(2035, 2, 7, 5, tzinfo=UTC), breached_at=datetime(2035, 2, 7, tzinfo=UTC),
                       state="breached"),
        # A handler (no skill, no language: routing would choose them last) rated 3, 3, 3, 3, 4.
        Staff(staff_id=low, name="Low Rated (test)", role="handler", team="customer-service",
              manager_id="S-MGR-001", skills=[], languages=[], service_quality_score=80.0),
        closed(8, low, 3), closed(9, low, 3), closed(10, low, 3), closed(11, low, 3), closed(12, low, 4),
    ]  # fmt: skip
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    try:
        yield low
    finally:
        # The assigned course would remind, go overdue and escalate to S-MGR-001 after the test.
        try:
            await client.get_workflow_handle(f"training-{threshold_assignment(low)}").terminate("test over")
        except RPCError:
            pass  # never started, or already ended
        with engine.begin() as conn:
            for t in (table(Complaint), table(ComplaintClock)):
                conn.execute(sa.delete(t).where(t.c.complaint_id.startswith(PREFIX)))
            conn.execute(sa.delete(table(AwardRow)).where(table(AwardRow).c.quarter == QUARTER.label))
            for t in (table(TrainingAssignmentRow), table(StaffServiceEvent), table(Staff)):
                conn.execute(sa.delete(t).where(t.c.staff_id == low))
            key = f"training:{threshold_assignment(low)}:"
            conn.execute(sa.delete(table(OutboxMessage)).where(table(OutboxMessage).c.idempotency_key.startswith(key)))


async def award_show(service: Service, quarter: str) -> Any:
    """``complaints award show QUARTER --json`` in a subprocess, as a senior manager reads it."""
    env = {
        **os.environ,
        "COMPLAINTS_TEMPORAL_ADDRESS": service.client.service_client.config.target_host,
        "COMPLAINTS_DATABASE_URL": service.engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(COMPRESSED_POLICY),
    }
    proc = await asyncio.create_subprocess_exec(
        CLI, "award", "show", quarter, "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=PROJECT_ROOT,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


# S-HND-001's card as the award computes it, counted by hand from the fixture:
#   cases 3 (AWD-1..3, closed in February); satisfaction (5 + 5 + 4) / 3 = 4.67 over 3 rated;
#   clocks 3 met (their first responses), 0 breached: 3 / 3 = 100.0%; median first response of
#   1, 6 and 12 hours: 6 h; none reopened: 0 / 3 = 0.0%; no accountability entry, no overdue training.
# Each term of the compressed policy's formula earns weight * (value - worst) / (best - worst):
#   clocks met       30 * (100 - 80) / (100 - 80)  = 30
#   satisfaction     30 * (4.67 - 3) / (5 - 3)     = 25.05
#   reopen rate      15 * (0 - 20) / (0 - 20)      = 15
#   first response   15 * (6 - 48) / (4 - 48)      = 15 * 42 / 44 = 14.32
#   accountability    5 * (0 - 2) / (0 - 2)        = 5
#   training overdue  5 * (0 - 2) / (0 - 2)        = 5
# score: 100 * (30 + 25.05 + 15 + 14.318 + 5 + 5) / 100 = 94.4 (every term had a value: out of 100).
HAND_COUNTED = {"cases": 3, "satisfaction_average": 4.67, "clocks_met_rate": 100.0, "score": 94.4}
HAND_COUNTED_LINES = [
    ("clocks_met_rate", 100.0, 30.0),
    ("satisfaction_average", 4.67, 25.05),
    ("reopen_rate", 0.0, 15.0),
    ("median_first_response_hours", 6.0, 14.32),
    ("accountability_entries", 0.0, 5.0),
    ("training_overdue", 0.0, 5.0),
]


def card_of(nominee: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, float | None, float]]]:
    """A nominee (as JSON) as the hand count writes it: its figures, and its score's lines."""
    figures = {k: nominee[k] for k in HAND_COUNTED}
    return figures, [(line["input"], line["value"], line["points"]) for line in nominee["score_lines"]]


async def test_a_quarters_award_is_ranked_approved_by_a_senior_manager_and_recorded_once(
    request: pytest.FixtureRequest, service: Service, policies: PolicyStore, quarter_closed: str
) -> None:
    low = quarter_closed
    workflow_id = f"award-{QUARTER.label}-{service.backend}"  # both databases' tests share one server
    handle = await start_award(
        service.client, service.task_queue, QUARTER, policies.current.timezone, "test", workflow_id
    )

    async def proposed() -> Any:
        return await handle.query(AwardWorkflow.proposal)

    proposal = await eventually(proposed, what="the ranked nominees")
    by_id = {n.staff_id: n for n in proposal.nominees}
    assert proposal.quarter == "2035-Q1"
    assert by_id["S-HND-001"].rank == 1
    assert card_of(by_id["S-HND-001"].model_dump(mode="json")) == (HAND_COUNTED, HAND_COUNTED_LINES)
    # S-HND-002: 0 clocks met, 1 breached (0 / 1 = 0.0%), on their own complaint: not eligible.
    assert not by_id["S-HND-002"].eligible and by_id["S-HND-002"].clocks_met_rate == 0.0
    assert by_id["S-HND-002"].reasons == ["1 breached clock on their own complaints"]
    # The low-rated handler: (3 + 3 + 3 + 3 + 4) / 5 = 3.2 over 5 rated cases; eligible, ranked last.
    assert (by_id[low].cases, by_id[low].satisfaction_average, by_id[low].rank) == (5, 3.2, 3)
    assert proposal.proposed == ["S-HND-001", "S-HND-003", low]
    assert "S-SM-001" in proposal.approvers
    with Session(service.engine) as session:
        score = session.get(Staff, "S-HND-001").service_quality_score  # type: ignore[union-attr]
    assert score == 94.4, "the directory's score is the computed one"

    # 3.2 over 5 rated cases is below the policy's 3.5 over at least 5 (rule low-satisfaction):
    # the award assigned the empathy course; nobody else had 5 rated cases.
    assert proposal.training_assigned == 1
    assignment_id = threshold_assignment(low)

    async def threshold_training() -> list[TrainingAssignmentRow] | None:
        with Session(service.engine) as session:
            query = select(TrainingAssignmentRow).where(
                col(TrainingAssignmentRow.assignment_id).startswith(f"{QUARTER.label}-")
            )
            return list(session.exec(query).all()) or None

    [assigned] = await eventually(threshold_training, what="the threshold training assignment")
    assert (assigned.assignment_id, assigned.staff_id, assigned.course) == (assignment_id, low, "empathy")
    assert (assigned.source, assigned.assigned_by) == ("threshold", "rule:low-satisfaction")
    why = "satisfaction average 3.20 over 5 rated cases, below 3.50 (rule low-satisfaction)"
    assert assigned.reason == f"2035-Q1: {why}"
    assert assigned.workflow_id == f"training-{assignment_id}"

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
    if service.backend == "sqlite":
        await save_history(request, handle, "award_quarter_approved")
    with pytest.raises(ActionRefused, match=f"the award for 2035-Q1 has run \\({workflow_id}\\)"):
        await start_award(service.client, service.task_queue, QUARTER, policies.current.timezone, "test", workflow_id)

    row = award_row(service.engine, QUARTER.label)
    assert row is not None and (row.status, row.winners, row.approved_by) == ("approved", ["S-HND-001"], "S-SM-001")
    [stored] = [n for n in row.nominees if n["staff_id"] == "S-HND-001"]
    assert card_of(stored) == (HAND_COUNTED, HAND_COUNTED_LINES), "the awards row keeps the hand-counted card"
    shown = await award_show(service, QUARTER.label)
    assert (shown["status"], shown["winners"]) == ("approved", ["S-HND-001"])
    [first] = [n for n in shown["proposal"]["nominees"] if n["staff_id"] == "S-HND-001"]
    assert card_of(first) == (HAND_COUNTED, HAND_COUNTED_LINES), "`award show` shows the hand-counted card"
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
