"""A complaint's side of step 6.2 through the real server: linked to an incident or a recall.

The incident and recall workflows signal complaints (``link_incident``, ``link_recall``); here the
test sends those signals itself, so only the complaint's behaviour is under test: prioritised once,
its own clock shortened and never the regulator's, its holder told, the customer's holding reply
once per customer; a recall's link gives the root cause and tells the customer nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from db.tables import OutboxMessage
from models import search_attributes as sa
from models.clocks import ClockState
from models.incident import IncidentLink
from models.recall import RecallLink
from tests.conftest import Service
from tests.helpers import event_kinds, eventually, file_assigned, outbox, projected, state_of
from workflows.complaint import ComplaintWorkflow

pytestmark = pytest.mark.asyncio


def _link(incident_id: str) -> IncidentLink:
    return IncidentLink(
        incident_id=incident_id,
        key="product=trade_finance",
        lead="S-SM-001",
        internal_clock_factor=0.5,
        linked_at=datetime.now(UTC),
    )


async def _async(value: bool) -> bool:
    return value


def _customer_messages(service: Service, key_prefix: str) -> list[OutboxMessage]:
    with Session(service.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(key_prefix))).all()  # type: ignore[attr-defined]
        return list(rows)


async def test_an_incident_prioritises_a_complaint_once_and_replies_once_per_customer(service: Service) -> None:
    customer = {
        "customer_id": f"C-INC-{uuid.uuid4().hex[:6]}",
        "name": "Chen Hua",
        "language": "en",
        "email": "chen.hua@logistics.example",
    }
    first, handler = await file_assigned(service, "fees_and_interest", customer=customer)
    second, _ = await file_assigned(service, "fees_and_interest", customer=customer)
    before = (await state_of(service, first)).snapshot
    internal = next(c for c in before.clocks if c.name == "simple_first_response")
    others = {c.name: c.due_at for c in before.clocks if c.name != "simple_first_response"}
    assert "acknowledgement" in others or "regulatory_decision" in others  # the regulator's, to stay put

    incident_id = f"incident-product-test-{uuid.uuid4().hex[:6]}"
    handle = service.intake.handle(first)
    await handle.signal(ComplaintWorkflow.link_incident, _link(incident_id))
    await handle.signal(ComplaintWorkflow.link_incident, _link(incident_id))  # the watch linked it again
    await service.intake.handle(second).signal(ComplaintWorkflow.link_incident, _link(incident_id))
    await projected(service.engine, first, "incident_linked")
    await projected(service.engine, second, "incident_linked")

    after = (await state_of(service, first)).snapshot
    assert [i.incident_id for i in after.incidents] == [incident_id]
    assert event_kinds(service.engine, first).count("incident_linked") == 1
    shortened = next(c for c in after.clocks if c.name == "simple_first_response")
    assert shortened.state == ClockState.RUNNING and shortened.due_at < internal.due_at
    assert {c.name: c.due_at for c in after.clocks if c.name in others} == others  # never the regulator's
    # The handler is told of each complaint; the customer gets one holding reply for both.
    told = outbox(service.engine, first, "incident")
    assert [m.recipient for m in told] == [handler] and "PRIORITY" in told[0].subject
    replies = _customer_messages(service, f"customer:{customer['customer_id']}:incident:{incident_id}")
    assert len(replies) == 1 and replies[0].kind == "incident_holding_reply" and incident_id in replies[0].body

    # One surge often opens incidents on several keys: a complaint's second incident tells its
    # handler again but does not send the customer another holding reply.
    other = f"incident-region-test-{uuid.uuid4().hex[:6]}"
    await handle.signal(ComplaintWorkflow.link_incident, _link(other))

    async def linked_twice() -> bool:
        return len((await state_of(service, first)).snapshot.incidents) == 2

    await eventually(linked_twice, what="the second incident linked")
    await eventually(lambda: _async(len(outbox(service.engine, first, "incident")) == 2), what="the handler told again")
    assert len(_customer_messages(service, f"customer:{customer['customer_id']}:incident:")) == 1

    # The Web UI lists the incident's complaints by search attribute.
    async def listed() -> set[str] | None:
        query = f"{sa.INCIDENTS.name} = '{incident_id}'"
        ids = {w.id async for w in service.client.list_workflows(query)}
        return ids if len(ids) == 2 else None

    assert await eventually(listed, what="the incident's complaints in visibility") == {
        f"complaint-{first}",
        f"complaint-{second}",
    }


async def test_a_recall_gives_the_root_cause_and_tells_the_customer_nothing(service: Service) -> None:
    cid, _ = await file_assigned(service, "fees_and_interest", product="trade_finance")
    sent_before = len(outbox(service.engine, cid))
    link = RecallLink(
        recall_id=f"recall-trade_finance-{uuid.uuid4().hex[:6]}",
        product="trade_finance",
        reason="The fee schedule double-counts arrangement fees",
        declared_by="S-SM-001",
        linked_at=datetime.now(UTC),
    )
    handle = service.intake.handle(cid)
    await handle.signal(ComplaintWorkflow.link_recall, link)
    await handle.signal(ComplaintWorkflow.link_recall, link)
    await projected(service.engine, cid, "recall_linked")
    snap = (await state_of(service, cid)).snapshot
    assert [r.recall_id for r in snap.recalls] == [link.recall_id]
    assert snap.root_cause is not None and snap.root_cause.code == "product_design"
    assert snap.root_cause.by == "S-SM-001" and link.recall_id in snap.root_cause.text
    assert event_kinds(service.engine, cid).count("recall_linked") == 1
    assert len(outbox(service.engine, cid)) == sent_before
