"""Contract clauses sent to legal review, through the real server (step 5).

Each backend gets a database of this module's own (other tests file contract disputes citing
clause 7.3 too), and a policy whose template for "PF-" contracts is this run's own, so the
review's workflow id (``clause-review-<template>-7.3``) meets no other run's on the server.
The watch is run on demand, as ``complaints clauses watch`` does: three disputes citing clause
7.3 open one review, a fourth is linked to it at the next count.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from complaints.clauses import close_review, review_state, run_watch
from complaints.intake import ActionRefused, ComplaintIntakeClient
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.tables import ClauseReviewRow, ComplaintClause, OutboxMessage
from domain.policy import PolicyStore
from models import search_attributes as sa
from models.clause_review import CloseReviewRequest, ReviewOutcome, ReviewStatus
from models.policy import Policy
from tests.conftest import STAFF_DIRECTORY, _postgres_database
from tests.factories import intake_payload
from tests.helpers import eventually, own_worker, save_history
from tests.workflows.test_policy_switches import variant
from workflows.step5_clauses import ClauseReviewWorkflow


@dataclass
class World:
    engine: Engine
    token: str
    policy: Policy

    @property
    def template(self) -> str:
        return f"pf-{self.token}"


def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'clauses.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp, token = tmp_path_factory.mktemp("clauses"), uuid.uuid4().hex[:6]
    policy = variant(f"clauses-{token}", clause_review={"templates": [{"prefix": "PF-", "template": f"pf-{token}"}]})
    for url in _database(request.param, tmp):
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, STAFF_DIRECTORY)
        yield World(engine=engine, token=token, policy=policy)
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def intake(client: Client, world: World) -> AsyncIterator[ComplaintIntakeClient]:
    async with own_worker(client, world.engine, PolicyStore(world.policy), prefix="clauses") as intake:
        yield intake


async def file_dispute(world: World, intake: ComplaintIntakeClient, reference: str = "7.3 prepayment fee") -> str:
    """A contract dispute citing ``reference``, once the projection has written its clause."""
    details = {
        "category": "contract_dispute",
        "contract_number": f"PF-2025-{uuid.uuid4().int % 10_000:04d}",
        "claims": ["Clarify the prepayment fee in clause 7.3"],
        "amounts_in_dispute": [{"amount": "120000.00", "currency": "CNY"}],
        "clause_references": [reference],
    }
    result = await intake.file(intake_payload("contract_dispute", details=details))
    cid = result.complaint_id
    assert cid is not None, result.errors

    async def cited() -> bool:
        with Session(world.engine) as session:
            return session.exec(select(ComplaintClause).where(ComplaintClause.complaint_id == cid)).first() is not None

    await eventually(cited, what=f"the clause of {cid} in the database")
    return cid


def review_row(world: World, review_id: str) -> ClauseReviewRow | None:
    with Session(world.engine) as session:
        return session.get(ClauseReviewRow, review_id)


async def row_when(world: World, review_id: str, test: object, what: str, timeout: float = 30) -> ClauseReviewRow:
    async def probe() -> ClauseReviewRow | None:
        found = review_row(world, review_id)
        return found if found is not None and test(found) else None  # type: ignore[operator]

    return await eventually(probe, timeout=timeout, what=f"{review_id}: {what}")


def notices(world: World, review_id: str) -> list[OutboxMessage]:
    with Session(world.engine) as session:
        query = select(OutboxMessage).where(
            col(OutboxMessage.idempotency_key).startswith(f"clause-review:{review_id}:")
        )
        return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


async def test_three_disputes_citing_a_clause_open_one_review_a_fourth_links_and_legal_closes_it(
    request: pytest.FixtureRequest, client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    first = [await file_dispute(world, intake) for _ in range(2)]
    nothing = await run_watch(client, intake.task_queue, "test")
    assert [c for c in nothing.counted if c.template == world.template] == [], "two complaints: below the threshold"
    first.append(
        await file_dispute(world, intake, "第7.3条 提前还款费用")
    )  # the same clause, as the case study cites it

    review_id = f"{world.template}-7.3-1"
    opened = await run_watch(client, intake.task_queue, "test")
    assert opened.opened == [review_id] and opened.linked == []
    (counted,) = opened.counted
    assert (counted.template, counted.clause, sorted(counted.complaint_ids)) == (world.template, "7.3", sorted(first))
    row = await row_when(world, review_id, lambda r: len(r.linked) == 3, "opened with three complaints")
    assert row.status == "open" and row.owner == "S-LEG-001" and sorted(row.linked) == sorted(first)
    assert row.workflow_id == f"clause-review-{world.template}-7.3"
    assert (row.due_at - row.opened_at).total_seconds() == pytest.approx(30)  # compressed: 30 seconds

    fourth = await file_dispute(world, intake)
    linked = await run_watch(client, intake.task_queue, "test")
    assert linked.opened == [] and linked.linked == [review_id], "one review per clause at a time"
    row = await row_when(world, review_id, lambda r: fourth in r.linked, "the fourth complaint linked")
    assert len(row.linked) == 4
    again = await run_watch(client, intake.task_queue, "test")
    assert again.linked == [review_id]
    handle = client.get_workflow_handle_for(ClauseReviewWorkflow.run, row.workflow_id)
    state = await handle.query(ClauseReviewWorkflow.status)
    assert sorted(state.linked) == sorted([*first, fourth])
    assert len(state.linked) == 4, "each complaint linked once"
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.CLAUSE_REVIEW) in ("open", "overdue")

    # The review is due 30 seconds after opening: the owner is reminded, then their manager told.
    await row_when(world, review_id, lambda r: r.overdue_at is not None, "overdue", timeout=60)
    sent = await eventually(lambda: _notices(world, review_id, 3), what="the opening, reminder and escalation")
    assert [(m.kind, m.recipient) for m in sent] == [
        ("clause_review_opened", "S-LEG-001"),
        ("clause_review_warning", "S-LEG-001"),
        ("clause_review_overdue", "S-SM-001"),
    ]

    def close(actor: str, outcome: ReviewOutcome, version: str | None = None) -> CloseReviewRequest:
        return CloseReviewRequest(
            review_id=review_id,
            actor=actor,
            outcome=outcome,
            reasons="Clause 7.3 does not say how the prepayment fee is computed",
            new_template_version=version,
        )

    with pytest.raises(ActionRefused, match=r"S-HND-001 may not close review .* only legal or senior manager may"):
        await close_review(client, world.engine, close("S-HND-001", ReviewOutcome.REWORD, "PF-2026.1"))
    with pytest.raises(ActionRefused, match="needs the new template version"):
        await close_review(client, world.engine, close("S-LEG-001", ReviewOutcome.REWORD))
    done = await close_review(client, world.engine, close("S-LEG-001", ReviewOutcome.REWORD, "PF-2026.1"))
    assert done.status == ReviewStatus.CLOSED and "reword, new template version PF-2026.1" in done.message
    with pytest.raises(ActionRefused, match="already closed"):
        await close_review(client, world.engine, close("S-SM-001", ReviewOutcome.KEEP))

    result = await handle.result()
    assert result.outcome == ReviewOutcome.REWORD and result.new_template_version == "PF-2026.1"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    row = await row_when(world, review_id, lambda r: r.status == "closed", "closed")
    assert (row.outcome, row.new_template_version, row.closed_by) == ("reword", "PF-2026.1", "S-LEG-001")
    found, live = await review_state(client, world.engine, f"{world.template}-7.3")
    assert found.review_id == review_id and live is not None and live.status == ReviewStatus.CLOSED
    if world.engine.dialect.name == "sqlite":
        await save_history(request, handle, "clause_review_linked_overdue_reworded")

    # What the closed review took counts no more; the next crossing opens a new review.
    quiet = await run_watch(client, intake.task_queue, "test")
    assert [c for c in quiet.counted if c.template == world.template] == []
    later = [await file_dispute(world, intake) for _ in range(3)]
    second = await run_watch(client, intake.task_queue, "test")
    assert second.opened == [f"{world.template}-7.3-2"]
    row = await row_when(world, f"{world.template}-7.3-2", lambda r: len(r.linked) == 3, "the second review")
    assert sorted(row.linked) == sorted(later)
    closed = await close_review(
        client,
        world.engine,
        CloseReviewRequest(
            review_id=f"{world.template}-7.3-2",
            actor="S-SM-001",
            outcome=ReviewOutcome.KEEP,
            reasons="The reworded template is already in use",
        ),
    )
    assert closed.status == ReviewStatus.CLOSED


async def _notices(world: World, review_id: str, count: int) -> list[OutboxMessage] | None:
    sent = notices(world, review_id)
    return sent if len(sent) >= count else None
