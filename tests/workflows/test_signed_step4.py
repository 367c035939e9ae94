"""Signed staff actions of step 4 (issue 16), through the real server on SQLite and PostgreSQL: the
award's decision, a training assignment's completion, and a manual training assignment, the staff
action that starts its workflow.

Each: a forged ``--as`` (someone's CLI holding only their own key) refused as unsigned, a request
signed with one's own key but naming another refused, the real actor's CLI accepted and what they
signed kept in ``signed_actions`` (``complaints verify <workflow id>`` passing, then failing on a
row altered by hand), and the kept request sent again refused. Both actions happen once, so the
workflow's own refusal ("already decided", "already completed") answers a replay before its
signature is looked at. A manual assignment is also checked by the workflow itself: a handler's,
signed with their own key, is refused for their role (the CLI's own check is bypassed), and a
refused start records nothing and leaves the id free for the legitimate assignment.

Each backend gets a database of this module's own with staff ids of this run's own (as
``test_training``): the manual assignment's workflow id names the trainee and the day, and both
backends' runs share one server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from complaints.award import decide, start_award
from complaints.intake import ActionRefused
from complaints.keys import set_up_demo_keys
from complaints.training import admit_assignment, assign_training, complete_training, manual_assignment_id
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.signed_actions import SignedActionRow
from db.tables import Complaint, OutboxMessage, TrainingAssignmentRow
from domain import training
from domain.analysis import period_of
from domain.policy import PolicyStore
from models.analysis import PeriodKind
from models.award import AwardDecision
from models.performance import CompleteTrainingRequest, TrainingAssignment, TrainingSource
from tests.helpers import config_with, eventually, own_worker, save_history, staff_cli
from tests.workflows.test_signed_cross_actions import World, alter_and_verify, forged_by, kept, kept_once
from tests.workflows.test_training import _database, _directory
from workflows.step4_award import AwardWorkflow
from workflows.step4_training import TrainingAssignmentWorkflow

QUARTER = period_of(PeriodKind.QUARTER, date(2037, 7, 1))


@dataclass
class Step4(World):
    """This module's server, database and worker; ``id('S-SM-001')`` is this run's staff id."""

    token: str = ""

    def id(self, staff_id: str) -> str:
        return f"{staff_id}-{self.token}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    tmp, token = tmp_path_factory.mktemp("signed-step4"), uuid.uuid4().hex[:6]
    for url in _database(request.param, tmp):
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, _directory(tmp, token))
        set_up_demo_keys(engine)  # this run's staff sign with keys in the suite's configuration directory
        yield engine, token
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def world(client: Client, database: tuple[Any, str], policies: PolicyStore) -> AsyncIterator[Step4]:
    engine, token = database
    async with own_worker(client, engine, policies, prefix="signed-step4") as intake:
        yield Step4(client, engine, intake.task_queue, token)


def closed_complaint(n: int, holder: str) -> Complaint:
    """A complaint ``holder`` closed in the quarter, rated 5: they are an eligible nominee."""
    at = datetime(2037, 8, 1, 2, tzinfo=UTC) + timedelta(days=n)
    return Complaint(
        complaint_id=f"XS4-{n}", workflow_id=f"complaint-XS4-{n}", source_system="test", source_reference=f"XS4-{n}",
        channel="phone", category="fees_and_interest", tier="simple", status="closed", customer_id=f"XS4-C-{n}",
        customer_name="Customer", assignee=holder, received_at=at - timedelta(days=1),
        acknowledged_at=at - timedelta(hours=20), resolved_at=at - timedelta(hours=2), closed_at=at, satisfaction=5,
        snapshot={}, updated_at=at,
    )  # fmt: skip


def as_sent(model: type[Any], row: SignedActionRow) -> Any:
    """The request exactly as its actor signed and sent it, from its kept row (to send it again)."""
    return model.model_validate({**row.payload, "signature": row.signature})


async def test_the_award_decision_is_signed_kept_and_verified(world: Step4, tmp_path: Path, request: Any) -> None:
    sm, mgr, winner = world.id("S-SM-001"), world.id("S-MGR-001"), world.id("S-HND-001")
    with Session(world.engine) as session:
        session.add(closed_complaint(1, winner))
        session.commit()
    wid = f"award-{QUARTER.label}-{world.token}"
    handle = await start_award(world.client, world.task_queue, QUARTER, "Asia/Shanghai", "test", wid)
    proposal = await eventually(lambda: handle.query(AwardWorkflow.proposal), what="the ranked nominees")
    assert proposal.proposed == [winner] and sm in proposal.approvers

    # The manager runs the CLI as the senior manager, holding only their own key: unsigned.
    approve = ("award", "approve", QUARTER.label, "--as", sm, "--reason", "Best satisfaction")
    code, _, err = await staff_cli(world.client, world.engine, *approve, config=config_with(tmp_path, mgr))
    assert code == 1, err
    assert f"signature refused: unsigned: decide by {sm} carries no signature" in err

    # Signed with their own key while naming the senior manager: the key is not the actor's.
    forged = forged_by(mgr, wid, "decide", AwardDecision(actor=sm, reason="Best satisfaction"))
    with pytest.raises(ActionRefused, match=f"is registered to {mgr}, not to {sm}"):
        await decide(world.client, world.engine, QUARTER.label, forged)

    # The senior manager's own CLI: accepted, and what they signed kept.
    code, out, err = await staff_cli(world.client, world.engine, *approve)
    assert code == 0, err
    assert f"approved by {sm}: {winner}" in out
    [row] = await kept_once(world.engine, wid, 1)
    assert (row.action, row.actor, row.payload["reason"], row.payload["winners"]) == (
        "decide",
        sm,
        "Best satisfaction",
        [],
    )
    assert row.key_id is not None and row.signature is not None

    # The same signed decision again: the award is decided (or the run over) before the signature matters.
    with pytest.raises(ActionRefused, match=r"already decided|already closed"):
        await decide(world.client, world.engine, QUARTER.label, as_sent(AwardDecision, row))
    outcome = await handle.result()
    assert (outcome.status, outcome.winners, outcome.approved_by) == ("approved", [winner], sm)
    assert len(kept(world.engine, wid)) == 1, "the refused ones kept nothing"
    if world.engine.dialect.name == "sqlite":
        await save_history(request, handle, "award_signed_decision")

    code, out, err = await staff_cli(world.client, world.engine, "verify", wid)
    assert code == 0, out + err
    assert f"{wid}: all 1 verified" in out
    out = await alter_and_verify(world, wid, row, "reason", "Because I said so")
    assert "bad signature" in out and f"{wid}: 1 of 1 FAILED" in out


def assignment_row(world: Step4, assignment_id: str) -> TrainingAssignmentRow | None:
    with Session(world.engine) as session:
        return session.get(TrainingAssignmentRow, assignment_id)


def told(world: Step4, assignment_id: str) -> list[OutboxMessage]:
    with Session(world.engine) as session:
        query = select(OutboxMessage).where(col(OutboxMessage.idempotency_key).startswith(f"training:{assignment_id}:"))
        return list(session.exec(query).all())


async def test_a_manual_assignment_and_its_completion_are_signed_kept_and_verified(
    world: Step4, tmp_path: Path, request: Any
) -> None:
    trainee, mgr, handler = world.id("S-LEG-001"), world.id("S-MGR-001"), world.id("S-HND-001")
    why = "The January rules on consumer complaints"
    assign = ("training", "assign", "--staff", trainee, "--course", "regulation-updates", "--reason", why)
    assignment_id = manual_assignment_id(trainee, "regulation-updates")
    wid = training.workflow_id(assignment_id)

    # The handler runs the CLI as the manager, holding only their own key: the workflow refuses
    # the unsigned start, records nothing, tells nobody, and its run fails (the id stays free).
    code, _, err = await staff_cli(
        world.client, world.engine, *assign, "--as", mgr, config=config_with(tmp_path, handler),
        task_queue=world.task_queue,
    )  # fmt: skip
    assert code == 1, err
    assert f"signature refused: unsigned: assign_training by {mgr} carries no signature" in err
    refused = await world.client.get_workflow_handle(wid).describe()
    assert refused.status == WorkflowExecutionStatus.FAILED
    assert assignment_row(world, assignment_id) is None and told(world, assignment_id) == []
    assert kept(world.engine, wid) == []

    # Signed with the handler's own key while naming the manager: the key is not the assigner's.
    other = TrainingAssignment(
        assignment_id=f"{trainee}-empathy-{uuid.uuid4().hex[:6]}", staff_id=trainee, course="empathy",
        source=TrainingSource.MANUAL, reason=why, assigned_by=mgr,
    )  # fmt: skip
    forged = forged_by(handler, training.workflow_id(other.assignment_id), training.ASSIGN_ACTION, other)
    with pytest.raises(ActionRefused, match=f"is registered to {handler}, not to {mgr}"):
        await assign_training(world.client, world.task_queue, forged)
    # The handler in their own name, signed with their own key: the workflow checks the role
    # itself (the CLI's check is the handler's machine's, bypassed here).
    own = other.model_copy(
        update={"assignment_id": f"{trainee}-empathy-{uuid.uuid4().hex[:6]}", "assigned_by": handler}
    )
    with pytest.raises(ActionRefused, match=f"{handler} \\(handler\\) may not assign training"):
        await assign_training(world.client, world.task_queue, own)
    for refused_id in (other.assignment_id, own.assignment_id):
        assert assignment_row(world, refused_id) is None and told(world, refused_id) == []

    # The manager's own CLI, the same day: the same assignment id, free again, and admitted.
    code, out, err = await staff_cli(world.client, world.engine, *assign, "--as", mgr, task_queue=world.task_queue)
    assert code == 0, err
    assert f"{assignment_id}: regulation-updates assigned to {trainee} (workflow {wid})" in out

    async def recorded() -> TrainingAssignmentRow | None:
        return assignment_row(world, assignment_id)

    row = await eventually(recorded, what=f"{assignment_id} recorded")
    assert (row.assigned_by, row.source, row.reason) == (mgr, "manual", why)

    # Completion: the handler's CLI as the trainee (unsigned), then their own key naming the trainee.
    complete = ("training", "complete", assignment_id, "--as", trainee)
    code, _, err = await staff_cli(world.client, world.engine, *complete, config=config_with(tmp_path / "c", handler))
    assert code == 1, err
    assert f"signature refused: unsigned: complete by {trainee} carries no signature" in err
    forged_done = forged_by(
        handler, wid, "complete", CompleteTrainingRequest(assignment_id=assignment_id, actor=trainee)
    )
    with pytest.raises(ActionRefused, match=f"is registered to {handler}, not to {trainee}"):
        await complete_training(world.client, world.engine, forged_done)
    # The trainee's own CLI: accepted.
    code, out, err = await staff_cli(world.client, world.engine, *complete, "--note", "Attended the January session")
    assert code == 0, err
    assert "completed" in out

    assigned, completed = await kept_once(world.engine, wid, 2)
    assert (assigned.action, assigned.actor, assigned.payload["assignment_id"]) == (
        "assign_training",
        mgr,
        assignment_id,
    )
    assert (completed.action, completed.actor, completed.payload["note"]) == (
        "complete",
        trainee,
        "Attended the January session",
    )
    assert assigned.key_id is not None and completed.key_id is not None

    # The kept completion sent again: already completed. The kept assignment sent again starts nothing.
    with pytest.raises(ActionRefused, match="already completed"):
        await complete_training(world.client, world.engine, as_sent(CompleteTrainingRequest, completed))
    handle = world.client.get_workflow_handle_for(TrainingAssignmentWorkflow.run, wid)
    state = await handle.result()
    assert state.completed_by == trainee and state.assignment.signature is None
    assert await admit_assignment(world.client, world.task_queue, as_sent(TrainingAssignment, assigned)) is None
    assert len(kept(world.engine, wid)) == 2, "the refused ones kept nothing"
    if world.engine.dialect.name == "sqlite":
        await save_history(request, handle, "training_signed_manual_assignment")

    code, out, err = await staff_cli(world.client, world.engine, "verify", wid)
    assert code == 0, out + err
    assert f"{wid}: all 2 verified" in out
    out = await alter_and_verify(world, wid, assigned, "reason", "Because I said so")
    assert "bad signature" in out and f"{wid}: 1 of 2 FAILED" in out
