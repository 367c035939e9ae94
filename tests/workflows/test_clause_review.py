"""Contract clauses sent to legal review, through the real server (step 5).

Each backend gets a database of this module's own (other tests file contract disputes citing
clause 7.3 too), and a policy whose template for "PF-" contracts is this run's own, so the
review's workflow id (``clause-review-<template>-7.3``) meets no other run's on the server.
The watch is run on demand, as ``complaints clauses watch`` does: three disputes citing clause
7.3 open one review, a fourth is linked to it as it arrives (the projection's step 5 signals the
open review; the next count links it again, kept once). A root cause that blames a clause
(``complaints root-cause --clause``) counts for it too, and is linked as it is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus

from complaints.actions import ComplaintActions
from complaints.clauses import close_review, review_state, run_watch
from complaints.intake import ActionRefused, ComplaintIntakeClient
from complaints.keys import KeyFileSigner, set_up_demo_keys
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.signed_actions import SignedActionRow
from db.tables import ClauseReviewRow, Complaint, ComplaintClause, OutboxMessage
from domain.policy import PolicyStore
from models import search_attributes as sa
from models.actions import RootCauseRequest
from models.clause_review import ClauseCount, ClauseWatchResult, CloseReviewRequest, ReviewOutcome, ReviewStatus
from models.policy import Policy
from tests.conftest import STAFF_DIRECTORY, _postgres_database
from tests.factories import CATEGORY_DETAILS, intake_payload
from tests.helpers import config_with, eventually, own_worker, save_history, staff_cli
from tests.workflows.test_policy_switches import variant
from tests.workflows.test_signed_cross_actions import kept_once
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
        set_up_demo_keys(engine)  # root causes are signed staff actions
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
    request: pytest.FixtureRequest, client: Client, world: World, intake: ComplaintIntakeClient, tmp_path: Path
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
    # Linked as it arrives, before any watch counts again.
    row = await row_when(world, review_id, lambda r: fourth in r.linked, "the fourth complaint linked as it arrived")
    assert len(row.linked) == 4
    linked = await run_watch(client, intake.task_queue, "test")
    assert linked.opened == [] and linked.linked == [review_id], "one review per clause at a time"
    again = await run_watch(client, intake.task_queue, "test")
    assert again.linked == [review_id]
    handle = client.get_workflow_handle_for(ClauseReviewWorkflow.run, row.workflow_id)
    state = await handle.query(ClauseReviewWorkflow.status)
    assert sorted(state.linked) == sorted([*first, fourth])
    assert len(state.linked) == 4, "each complaint linked once"
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.CLAUSE_REVIEW) in ("open", "overdue")
    # The Web UI's list: the review by its search attribute.
    query = f'WorkflowType="ClauseReviewWorkflow" AND ClauseReviewStatus="open" AND WorkflowId="{row.workflow_id}"'

    async def listed() -> list[str]:
        return [w.id async for w in client.list_workflows(query)]

    assert await eventually(listed, what="the open review in the visibility store") == [row.workflow_id]

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
    # Signed actions (issue 16): a handler holding only their own key closes as legal: unsigned.
    forger = KeyFileSigner(config=config_with(tmp_path, "S-HND-001"))
    with pytest.raises(ActionRefused, match="signature refused: unsigned: close by S-LEG-001 carries no signature"):
        await close_review(client, world.engine, close("S-LEG-001", ReviewOutcome.KEEP), forger)
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
        await save_history(request, handle, "clause_review_signed_close")
    # What legal signed is kept, and verifies from the database; an altered row does not.
    [kept] = await kept_once(world.engine, row.workflow_id, 1)
    assert (kept.action, kept.actor, kept.payload["new_template_version"]) == ("close", "S-LEG-001", "PF-2026.1")
    code, out, err = await staff_cli(client, world.engine, "verify", row.workflow_id)
    assert code == 0 and f"{row.workflow_id}: all 1 verified" in out, out + err
    with Session(world.engine) as session:
        payload = {**kept.payload, "outcome": "keep"}
        session.execute(update(SignedActionRow).where(col(SignedActionRow.id) == kept.id).values(payload=payload))
        session.commit()
    code, out, _ = await staff_cli(client, world.engine, "verify", row.workflow_id)
    assert code == 1 and "bad signature" in out

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


async def test_a_root_cause_that_blames_a_clause_counts_for_it_and_is_linked_as_it_is_recorded(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    clause = f"9.{uuid.uuid4().int % 90 + 10}"  # a clause of this test's own
    cited = [await file_dispute(world, intake, f"{clause} default interest") for _ in range(2)]
    # A fee complaint on a PF- contract that cites no clause, and a privacy complaint with no contract.
    fees = await file_acknowledged(world, intake, "fees_and_interest", contract_number="PF-2025-0417")
    privacy = await file_acknowledged(world, intake, "privacy")
    actions = ComplaintActions(client)

    def ours(result: ClauseWatchResult) -> list[ClauseCount]:
        return [c for c in result.counted if (c.template, c.clause) == (world.template, clause)]

    assert ours(await run_watch(client, intake.task_queue, "test")) == [], "two citations: under the threshold"
    await actions.record_root_cause(
        fees,
        RootCauseRequest(actor="S-MGR-001", code="contract_wording", text="The clause reads two ways", clause=clause),
    )
    await eventually(lambda: _blamed(world, fees), what=f"the clause {fees}'s root cause blames")
    opened = await run_watch(client, intake.task_queue, "test")
    review_id = f"{world.template}-{clause}-1"
    assert opened.opened == [review_id]
    assert ours(opened)[0].complaint_ids == sorted([*cited, fees])
    await row_when(world, review_id, lambda r: len(r.linked) == 3, "opened with the root cause's complaint")

    # Named with its template (no contract number says it), linked as the root cause is recorded.
    await actions.record_root_cause(
        privacy,
        RootCauseRequest(
            actor="S-MGR-001",
            code="product_design",
            text="The form asks for the shareholders' ID numbers",
            clause=clause,
            template=world.template,
        ),
    )
    row = await row_when(world, review_id, lambda r: privacy in r.linked, "linked as its root cause was recorded")
    assert sorted(row.linked) == sorted([*cited, fees, privacy])
    # Another root cause recorded instead: the clause is no longer blamed, nor counted.
    await actions.record_root_cause(
        fees, RootCauseRequest(actor="S-MGR-001", code="pricing_error", text="The fee table was old after all")
    )
    await eventually(lambda: _blamed(world, fees, none=True), what=f"{fees}'s clause no longer blamed")
    recount = await run_watch(client, intake.task_queue, "test")
    assert fees not in ours(recount)[0].complaint_ids and privacy in ours(recount)[0].complaint_ids
    closed = await close_review(
        client,
        world.engine,
        CloseReviewRequest(review_id=review_id, actor="S-LEG-001", outcome=ReviewOutcome.KEEP, reasons="Clear enough"),
    )
    assert closed.status == ReviewStatus.CLOSED


async def file_acknowledged(world: World, intake: ComplaintIntakeClient, category: str, **details: object) -> str:
    """A complaint of ``category`` once the projection has it past intake."""
    result = await intake.file(intake_payload(category, details={**CATEGORY_DETAILS[category], **details}))
    cid = result.complaint_id
    assert cid is not None, result.errors

    async def acknowledged() -> bool:
        with Session(world.engine) as session:
            row = session.get(Complaint, cid)
            return row is not None and row.acknowledged_at is not None

    await eventually(acknowledged, what=f"{cid} acknowledged")
    return cid


async def _blamed(world: World, complaint_id: str, none: bool = False) -> bool:
    with Session(world.engine) as session:
        rows = session.exec(
            select(ComplaintClause).where(
                ComplaintClause.complaint_id == complaint_id, ComplaintClause.source == "root_cause"
            )
        ).all()
    return not rows if none else bool(rows)
