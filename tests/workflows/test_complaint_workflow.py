"""ComplaintWorkflow through the real dev server, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.service import RPCError

from complaints.intake import ActionRefused, ComplaintNotFound, FilingOutcome
from db.tables import ComplaintEventRow
from models.clocks import ClockState
from models.complaint import Status
from models.intake import complaint_id_for
from tests.conftest import Service
from tests.factories import CATEGORY_DETAILS, intake_payload
from tests.helpers import (
    complaint_row,
    event_kinds,
    eventually,
    outbox,
    projected,
    save_history,
    status_once,
)
from workflows.complaint import ComplaintWorkflow

OPEN = {Status.IN_HANDLING}


def _details(category: str, **changes: Any) -> dict[str, Any]:
    return {**CATEGORY_DETAILS[category], **changes}


CLASSIFICATION_CASES = [
    pytest.param("fees_and_interest", {}, "simple", "default-simple", id="fees-simple"),
    pytest.param("service_attitude", {}, "simple", "default-simple", id="service-attitude-simple"),
    pytest.param("contract_dispute", {}, "complex", "contract-terms", id="contract-terms-complex"),
    pytest.param(
        "contract_dispute",
        {"details": _details("contract_dispute", amounts_in_dispute=[{"amount": "2500000.00"}])},
        "complex",
        "large-amount",
        id="large-amount-complex",
    ),
    pytest.param("product_design", {}, "complex", "contract-terms", id="product-design-complex"),
    pytest.param(
        "other", {"description": "客户表示将委托律师起诉。"}, "complex", "legal-keywords", id="chinese-legal-keyword"
    ),
    pytest.param(
        "repayment_collection",
        {"description": "The collector threatened to visit our plant every day."},
        "major",
        "suspected-illegality",
        id="threat-keyword-major",
    ),
    pytest.param("privacy", {"staff_misconduct_alleged": True}, "major", "staff-misconduct", id="misconduct-major"),
    pytest.param(
        "other", {"channel": "regulator_referral", "regulators": ["NFRA"]}, "major", "regulator-referral", id="referral"
    ),
    pytest.param("other", {}, "simple", "default-simple", id="other-simple"),
]


@pytest.mark.parametrize(("category", "overrides", "tier", "rule"), CLASSIFICATION_CASES)
async def test_filed_complaint_is_classified_acknowledged_and_projected(
    service: Service, category: str, overrides: dict[str, Any], tier: str, rule: str
) -> None:
    payload = intake_payload(category, **overrides)

    result = await service.intake.file(payload)

    assert result.outcome == FilingOutcome.FILED, result.errors
    assert result.workflow_id == f"complaint-{result.complaint_id}"
    handle = service.intake.handle(result.complaint_id)
    state = await status_once(handle, OPEN)
    cls = state.snapshot.classification
    assert (cls.category.value, cls.tier.value, cls.rule_id) == (category, tier, rule)
    assert cls.policy_version == "2026.11-compressed"
    clocks = {c.name: c for c in state.snapshot.clocks}
    assert clocks["acknowledgement"].state == ClockState.MET
    if tier == "major":  # its first clock is opening the investigation, which starts with the complaint
        assert clocks["major_first_response"].met_by == "investigation opened"
    else:
        assert clocks[f"{tier}_first_response"].state in {ClockState.RUNNING, ClockState.BREACHED}

    kinds = await projected(service.engine, result.complaint_id, "assigned")
    assert kinds[:2] == ["received", "classified"] and "acknowledged" in kinds
    row = complaint_row(service.engine, result.complaint_id)
    assert row is not None and (row.status, row.tier, row.tier_rule) == ("in_handling", tier, rule)
    assert row.assignee == state.snapshot.assignee and row.assignee.startswith("S-HND-")
    assert row.received_at == datetime.fromisoformat(payload["received_at"])
    [ack] = outbox(service.engine, result.complaint_id, "acknowledgement")
    assert ack.kind == "acknowledgement" and ack.recipient == payload["customer"]["email"]
    assert result.complaint_id in ack.subject
    # The acknowledgement states the deadlines that now apply.
    assert clocks[f"{tier}_first_response"].label in ack.body
    assert "Decision (regulatory)" in ack.body


async def test_filing_the_same_complaint_twice_returns_the_first(service: Service) -> None:
    payload = intake_payload("contract_dispute")
    first = await service.intake.file(payload)
    changed = {**payload, "summary": "Resent by the e-mail gateway after a timeout"}

    second = await service.intake.file(changed)

    assert first.outcome == FilingOutcome.FILED
    assert second.outcome == FilingOutcome.ALREADY_FILED
    assert second.complaint_id == first.complaint_id
    state = await status_once(service.intake.handle(first.complaint_id), OPEN)
    assert state.snapshot.intake.summary == payload["summary"]
    assert len(outbox(service.engine, first.complaint_id, "acknowledgement")) == 1


async def test_service_attitude_complaint_records_the_staff_members_history(
    service: Service, request: pytest.FixtureRequest
) -> None:
    payload = intake_payload(
        "service_attitude",
        customer={"customer_id": "C-STAFF-1", "name": "王芳", "language": "zh", "phone": "+86 138 0000 0000"},
    )

    result = await service.intake.file(payload)

    handle = service.intake.handle(result.complaint_id)
    state = await status_once(handle, OPEN)
    staff = state.snapshot.staff_record
    assert staff is not None and staff.found
    assert (staff.staff_id, staff.role, staff.service_quality_score) == ("S-RM-007", "relationship_manager", 63.5)
    assert any(h.kind == "training" for h in staff.service_history)
    await projected(service.engine, result.complaint_id, "acknowledged")
    row = complaint_row(service.engine, result.complaint_id)
    assert row.staff_named == "S-RM-007"
    with Session(service.engine) as session:
        looked_up = session.exec(
            select(ComplaintEventRow).where(
                ComplaintEventRow.complaint_id == result.complaint_id,
                ComplaintEventRow.kind == "staff_record_looked_up",
            )
        ).one()
    assert looked_up.detail == {"staff_id": "S-RM-007", "found": True, "score": 63.5}
    assert "staff_record_looked_up" in event_kinds(service.engine, result.complaint_id)
    [ack] = outbox(service.engine, result.complaint_id, "acknowledgement")
    assert ack.channel == "sms" and ack.subject.startswith("【投诉受理确认】")
    if service.backend == "sqlite":
        await handle.execute_update(ComplaintWorkflow.withdraw, _withdrawal())
        await save_history(request, handle, "service_attitude_withdrawn")


async def test_unknown_staff_member_is_recorded_and_the_complaint_carries_on(service: Service) -> None:
    payload = intake_payload("service_attitude", details={"category": "service_attitude", "staff_id": "S-NOBODY"})

    result = await service.intake.file(payload)

    state = await status_once(service.intake.handle(result.complaint_id), OPEN)
    assert state.snapshot.staff_record is not None and not state.snapshot.staff_record.found
    assert state.snapshot.acknowledged_at is not None


async def test_search_attributes_find_the_complaint(service: Service) -> None:
    customer_id = f"C-SA-{uuid.uuid4().hex[:8]}"
    payload = intake_payload(
        "contract_dispute",
        channel="regulator_referral",
        regulators=["NFRA"],
        customer={"customer_id": customer_id, "name": "Search Test", "email": "s@t.example"},
    )
    result = await service.intake.file(payload)
    await status_once(service.intake.handle(result.complaint_id), OPEN)
    query = (
        f'ComplaintCustomerId="{customer_id}" AND ComplaintTier="major" AND ComplaintCategory="contract_dispute" '
        f'AND ComplaintChannel="regulator_referral" AND ComplaintContractNumber="PF-2025-0417" '
        f'AND ComplaintStatus="in_handling" AND ComplaintNextDeadline > "{datetime.now(UTC).isoformat()}"'
    )

    async def listed() -> list[str]:
        return [wf.id async for wf in service.client.list_workflows(query)]

    assert await eventually(listed, what="the complaint in visibility") == [result.workflow_id]
    description = await service.intake.handle(result.complaint_id).describe()
    assert result.complaint_id in (await description.static_summary() or "")


async def test_missed_deadline_is_a_breach_everyone_can_see(service: Service, request: pytest.FixtureRequest) -> None:
    # Simple tier: the compressed policy gives 20 seconds to solve it.
    payload = intake_payload("fees_and_interest")
    result = await service.intake.file(payload)
    handle = service.intake.handle(result.complaint_id)

    state = await eventually(lambda: _breached(handle), timeout=40, what="the simple-tier clock to be breached")

    clock = next(c for c in state.snapshot.clocks if c.name == "simple_first_response")
    assert clock.state == ClockState.BREACHED and clock.breached_at >= clock.due_at
    await projected(service.engine, result.complaint_id, "sla_breached")
    assert complaint_row(service.engine, result.complaint_id).sla_breached

    async def breached_in_visibility() -> list[str]:
        q = f'WorkflowId="{result.workflow_id}" AND ComplaintSlaBreached=true'
        return [wf.id async for wf in service.client.list_workflows(q)]

    assert await eventually(breached_in_visibility, what="ComplaintSlaBreached=true")
    if service.backend == "sqlite":
        await handle.execute_update(ComplaintWorkflow.withdraw, _withdrawal())
        await save_history(request, handle, "simple_breached_withdrawn")


async def _breached(handle: Any) -> Any:
    answer = await handle.query(ComplaintWorkflow.status)
    return answer if answer.sla_breached else None


def _withdrawal() -> Any:
    from models.complaint import WithdrawRequest

    return WithdrawRequest(reason="Customer settled it with the branch", relayed_by="call-centre")


async def test_withdrawal_closes_the_complaint_and_a_second_is_refused(
    service: Service, request: pytest.FixtureRequest
) -> None:
    result = await service.intake.file(intake_payload("fees_and_interest"))
    handle = service.intake.handle(result.complaint_id)
    await status_once(handle, OPEN)

    withdrawn = await service.intake.withdraw(result.complaint_id, "Customer settled it", "call-centre")

    assert withdrawn.status == Status.WITHDRAWN
    final = await handle.result()
    assert final.status == Status.WITHDRAWN and final.closing_reason == "Customer settled it"
    assert all(c.state != ClockState.RUNNING for c in final.clocks)
    events_before = len((await handle.fetch_history()).events)
    with pytest.raises(ActionRefused, match=f"withdrawal of {result.complaint_id} refused: the complaint is closed"):
        await service.intake.withdraw(result.complaint_id, "again", "call-centre")
    assert len((await handle.fetch_history()).events) == events_before
    assert (await projected(service.engine, result.complaint_id, "withdrawn"))[-1] == "withdrawn"
    row = complaint_row(service.engine, result.complaint_id)
    assert row.status == "withdrawn" and row.closed_at is not None and row.next_deadline is None
    refiled = await service.intake.file(final.intake.model_dump(mode="json"))
    assert refiled.outcome == FilingOutcome.ALREADY_FILED
    if service.backend == "sqlite":
        await save_history(request, handle, "fees_withdrawn")


async def test_withdrawing_an_unknown_complaint_says_so(service: Service) -> None:
    with pytest.raises(ComplaintNotFound, match="no complaint CMP-000000000000"):
        await service.intake.withdraw("CMP-000000000000", "never filed", "call-centre")


@pytest.mark.parametrize(
    ("payload_change", "field"),
    [
        (
            {"details": {"category": "contract_dispute", "claims": ["x"], "amounts_in_dispute": [{"amount": "5"}]}},
            "details.contract_dispute.contract_number",
        ),
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"description": "x" * 20_001}, "description"),
        (
            {"details": {**CATEGORY_DETAILS["fees_and_interest"], "amount_disputed": {"amount": "-1"}}},
            "details.fees_and_interest.amount_disputed.amount",
        ),
    ],
)
async def test_invalid_intake_is_rejected_and_nothing_is_written(
    service: Service, payload_change: dict[str, Any], field: str
) -> None:
    payload = intake_payload("fees_and_interest", **payload_change)

    result = await service.intake.file(payload)

    assert result.outcome == FilingOutcome.REJECTED
    assert any(e.startswith(field) for e in result.errors), result.errors
    complaint_id = complaint_id_for(payload["source_system"], payload["source_reference"])
    with pytest.raises(RPCError):
        await service.intake.handle(complaint_id).describe()
    assert complaint_row(service.engine, complaint_id) is None


async def test_a_complaint_filed_late_breaches_the_clocks_it_settles_after_their_deadline(service: Service) -> None:
    """Filed two days after it was received: the acknowledgement and the major clock (met by opening
    the investigation, which starts at once) are done, but late, so they show breached, never met."""
    received = datetime.now(UTC) - timedelta(days=2)
    payload = intake_payload("privacy", staff_misconduct_alleged=True, received_at=received.isoformat())

    result = await service.intake.file(payload)

    state = await status_once(service.intake.handle(result.complaint_id), OPEN)
    clocks = {c.name: c for c in state.snapshot.clocks}
    for name, by in (("acknowledgement", "acknowledgement"), ("major_first_response", "investigation opened")):
        clock = clocks[name]
        assert clock.state == ClockState.BREACHED, f"{name} was due {clock.due_at}, done {clock.met_at}"
        assert clock.met_by == by and clock.met_at is not None and clock.met_at > clock.due_at
    assert state.sla_breached
