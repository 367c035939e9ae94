"""The limits of the FCA and ASIC packs, through the real server: a complaint resolved within
FCA's three business days gets a summary resolution communication instead of the final
response; an ASIC complaint about hardship or a default notice is decided within 21 days."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client

from complaints.actions import ComplaintActions
from complaints.intake import ComplaintIntakeClient
from db.tables import ComplaintEventRow
from domain.calendar import add_limit
from domain.policy import PolicyStore
from models.actions import ApprovalDecision, CustomerAnswer, ProposalRequest
from models.clocks import Clock
from models.complaint import ComplaintStatusQuery, Status
from models.intake import Money
from models.policy import Policy
from tests.factories import intake_payload
from tests.helpers import complaint_row, outbox, projected, status_once
from tests.policies import policy_under
from worker import build_worker

MANAGER = "S-MGR-001"
# The real packs, on the compressed policy's own clocks (so nothing else waits for days).
FCA = policy_under("fca-disp", base="compressed", version="test-fca-disp")
ASIC = policy_under("asic-rg271", base="compressed", version="test-asic-rg271")


@asynccontextmanager
async def worker_under(client: Client, engine: Engine, store: PolicyStore) -> AsyncIterator[ComplaintIntakeClient]:
    """A worker of this test's own with ``store``'s policies (switching them touches no other test)."""
    task_queue = f"packs-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(client, task_queue=task_queue, engine=engine, policies=store, executor=executor):
            yield ComplaintIntakeClient(client, task_queue=task_queue, policy=store.current)


async def file_in_handling(intake: ComplaintIntakeClient, **overrides: object) -> tuple[str, ComplaintStatusQuery]:
    filed = await intake.file(intake_payload("fees_and_interest", **overrides))
    return filed.complaint_id, await status_once(intake.handle(filed.complaint_id), {Status.IN_HANDLING})


async def resolve(actions: ComplaintActions, complaint_id: str, handler: str) -> str:
    """Propose, approve and accept a resolution; the message the handler sees."""
    proposal = ProposalRequest(actor=handler, explanation="Refund of the fee.", fee_refund=Money(amount=Decimal("500")))
    await actions.propose_resolution(complaint_id, proposal)
    await actions.decide_resolution(complaint_id, ApprovalDecision(actor=MANAGER, approve=True))
    return (await actions.record_customer_answer(complaint_id, CustomerAnswer(actor=handler, accepted=True))).message


def resolved_detail(engine: Engine, complaint_id: str) -> dict:
    with Session(engine) as session:
        row = session.exec(
            select(ComplaintEventRow).where(
                ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.kind == "resolved"
            )
        ).one()
        return dict(row.detail)


def decision(state: ComplaintStatusQuery) -> Clock:
    return next(c for c in state.snapshot.clocks if c.name == "regulatory_decision")


async def test_fca_summary_resolution_within_three_business_days(client: Client, engine: Engine) -> None:
    actions = ComplaintActions(client)
    async with worker_under(client, engine, PolicyStore(FCA)) as intake:
        cid, state = await file_in_handling(intake)
        window = FCA.regulatory_pack.summary_resolution
        assert window is not None
        expected = add_limit(state.snapshot.intake.received_at, window.limit, FCA).due_at  # 3 business days
        assert state.snapshot.summary_resolution_by == expected

        message = await resolve(actions, cid, state.snapshot.assignee or "")

        assert message == "resolution 1 accepted; summary resolution sent; follow-up call scheduled"
        [letter] = outbox(engine, cid, "summary_resolution")
        assert "Financial Ombudsman Service" in letter.body and "consider your complaint resolved" in letter.body
        assert outbox(engine, cid, "final_response") == []
        await projected(engine, cid, "resolved")
        assert resolved_detail(engine, cid)["communication"] == "summary_resolution"
        row = complaint_row(engine, cid)
        assert row is not None and row.resolution_communication == "summary_resolution"

        # Received eight days ago: past the window, so the final response as ever.
        late, state = await file_in_handling(intake, received_at=(datetime.now(UTC) - timedelta(days=8)).isoformat())
        message = await resolve(actions, late, state.snapshot.assignee or "")

        assert message == "resolution 1 accepted; final response sent; follow-up call scheduled"
        assert len(outbox(engine, late, "final_response")) == 1 and outbox(engine, late, "summary_resolution") == []
        await projected(engine, late, "resolved")
        row = complaint_row(engine, late)
        assert row is not None and row.resolution_communication == "final_response"
        for complaint_id in (cid, late):
            await intake.withdraw(complaint_id, "test finished", "test")


async def test_asic_decides_hardship_and_default_notice_complaints_in_21_days(client: Client, engine: Engine) -> None:
    async with worker_under(client, engine, PolicyStore(ASIC)) as intake:
        hardship, state = await file_in_handling(intake, flags=["hardship"])
        clock = decision(state)
        assert (clock.label, clock.limit) == ("IDR response (default notice or hardship)", "21 calendar days")
        assert clock.due_at == state.snapshot.intake.received_at + timedelta(days=21)
        [letter] = outbox(engine, hardship, "acknowledgement")
        assert "- IDR response (default notice or hardship): no later than" in letter.body
        assert "(21 calendar days)" in letter.body

        plain, state = await file_in_handling(intake)
        assert decision(state).limit == "30 calendar days"
        for complaint_id in (hardship, plain):
            await intake.withdraw(complaint_id, "test finished", "test")


def test_the_packs_here_are_the_shipped_ones() -> None:
    # Only the tier clocks are compressed; the pack's limits and calendar are the real ones.
    for policy, name in ((FCA, "fca-disp"), (ASIC, "asic-rg271")):
        shipped: Policy = policy_under(name)
        assert policy.regulatory_pack == shipped.regulatory_pack and policy.calendar == shipped.calendar
