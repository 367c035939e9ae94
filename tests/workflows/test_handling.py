"""Tiered handling (step 2) through the real dev server with the compressed policy."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError

from complaints.actions import ComplaintActions
from complaints.intake import ActionRefused, ComplaintIntakeClient
from domain.policy import PolicyStore
from models.actions import (
    ApprovalDecision,
    AssignRequest,
    CustomerAnswer,
    EscalateSignal,
    ExtensionRequest,
    FeedbackRequest,
    FindingsRequest,
    InformationReceived,
    InformationRequest,
    LegalEvaluationRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
    ReapplyPolicyRequest,
)
from models.clocks import ClockState
from models.complaint import ComplaintStatusQuery, Status
from models.intake import EvidenceRef, Money
from models.policy import TimeLimit, TimeUnit
from tests.conftest import COMPRESSED_POLICY, Service
from tests.factories import CATEGORY_DETAILS, intake_payload
from tests.helpers import (
    eventually,
    file_assigned,
    outbox,
    projected,
    save_history,
    state_of,
    status_once,
)
from worker import build_worker
from workflows.complaint import ComplaintWorkflow

MANAGER, SENIOR, LEGAL, FINANCE, COMPLIANCE = "S-MGR-001", "S-SM-001", "S-LEG-001", "S-FIN-001", "S-CMP-001"


def clock(state: ComplaintStatusQuery, name: str) -> Any:
    return next(c for c in state.snapshot.clocks if c.name == name and c.state != ClockState.STOPPED)


async def accepted_updates(service: Service, complaint_id: str) -> int:
    """A validator's refusal leaves no trace in history; an accepted update does."""
    history = await service.intake.handle(complaint_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


async def test_simple_complaint_from_intake_to_acceptance(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")
    evidence = EvidenceRef(uri="dms://statements/2026-10.pdf", sha256="a" * 64, description="October statement")

    await actions.record_findings(
        cid,
        FindingsRequest(
            actor=handler,
            summary="Instalment arrived on the due date; penalty interest charged in error",
            occurred_at=datetime.fromisoformat("2026-10-15T10:00:00+08:00"),
            place="online banking",
            amounts=[Money(amount=Decimal("8600.00"))],
            evidence=[evidence],
        ),
    )
    proposed = await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=handler,
            explanation="The penalty interest was charged in error and is refunded.",
            fee_refund=Money(amount=Decimal("8600.00")),
        ),
    )
    assert proposed.status == "awaiting_approval" and "manager" in proposed.message
    approved = await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    assert approved.status == "awaiting_customer_answer"
    accepted = await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))

    assert accepted.status == "follow_up"
    final = (await state_of(service, cid)).snapshot
    assert final.status == Status.FOLLOW_UP and final.findings[0].evidence == [evidence]
    clocks = {c.name: c for c in final.clocks}
    assert clocks["simple_first_response"].state == ClockState.MET
    assert clocks["regulatory_decision"].state == ClockState.MET
    await projected(service.engine, cid, "resolved")
    [letter] = outbox(service.engine, cid, "final_response")
    assert "8600.00 CNY" in letter.body and "mediation" in letter.body and "arbitration" in letter.body
    assert letter.recipient == "chen.hua@logistics.example"
    assert [m.recipient for m in outbox(service.engine, cid, "approval_needed")] == [MANAGER]
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "simple_resolved")


async def test_complex_complaint_needs_legal_and_manager_before_the_customer_hears(
    service: Service, actions: ComplaintActions, request: pytest.FixtureRequest
) -> None:
    cid, handler = await file_assigned(service, "contract_dispute")

    with pytest.raises(ActionRefused, match="before the legal evaluation, manager evaluation"):
        await actions.send_feedback(cid, FeedbackRequest(actor=handler, message="We are on it"))
    with pytest.raises(ActionRefused, match=f"{handler} is handler; to record a legal evaluation takes legal"):
        await actions.record_legal_evaluation(cid, LegalEvaluationRequest(actor=handler, opinion="fine"))
    await actions.record_legal_evaluation(
        cid,
        LegalEvaluationRequest(
            actor=LEGAL,
            opinion="Clause 7.3 is ambiguous",
            recommends_contract_revision=True,
            clause_revision="Prepayment fee: 1% of the amount prepaid",
        ),
    )
    await actions.record_manager_evaluation(cid, ManagerEvaluationRequest(actor=MANAGER, opinion="Agree with legal"))
    await actions.send_feedback(cid, FeedbackRequest(actor=handler, message="Legal has reviewed clause 7.3."))
    assert clock(await state_of(service, cid), "complex_first_response").state == ClockState.MET

    await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=handler,
            explanation="We revise clause 7.3 and compensate.",
            compensation=Money(amount=Decimal("60000")),
            contract_revision="Prepayment fee: 1% of the amount prepaid",
        ),
    )
    with pytest.raises(ActionRefused, match="to decide on remedies of 60000 CNY takes senior_manager"):
        await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    await actions.decide_resolution(cid, ApprovalDecision(actor=SENIOR, approve=True))
    assert clock(await state_of(service, cid), "regulatory_decision").state == ClockState.MET

    rejected = await actions.record_customer_answer(
        cid, CustomerAnswer(actor=handler, accepted=False, comments="Not enough")
    )
    state = await state_of(service, cid)
    assert rejected.status == "in_handling"
    assert clock(state, "regulatory_decision").state == ClockState.RUNNING, "the clock keeps running"
    assert clock(state, "complex_first_response").state == ClockState.MET, "first feedback was given"

    await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=handler,
            explanation="Revised clause plus higher compensation.",
            compensation=Money(amount=Decimal("90000")),
            contract_revision="Prepayment fee: 1% of the amount prepaid",
        ),
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor=SENIOR, approve=True))
    await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    final = (await state_of(service, cid)).snapshot
    assert [p.state for p in final.proposals] == ["rejected_by_customer", "accepted"]
    assert len(outbox(service.engine, cid, "resolution_proposal")) == 2
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "complex_rejected_then_accepted")


async def test_missed_deadline_warns_then_escalates_to_the_handlers_manager(service: Service) -> None:
    # Simple tier: 20 s to solve it; warning at 80%. (A major complaint's first clock, opening
    # the investigation, is met at once: the investigation starts with the complaint.)
    cid, handler = await file_assigned(service, "fees_and_interest")

    async def breached() -> ComplaintStatusQuery | None:
        state = await state_of(service, cid)
        return state if state.sla_breached else None

    state = await eventually(breached, timeout=40, what="the solution clock to be breached")
    assert state.snapshot.escalation_level == 1 and state.snapshot.escalated_to == MANAGER
    await projected(service.engine, cid, "sla_breached")
    warned = {m.recipient for m in outbox(service.engine, cid, "sla_warning")}
    assert warned == {handler, MANAGER}
    assert {m.recipient for m in outbox(service.engine, cid, "sla_breached")} == {handler, MANAGER}


async def test_waiting_on_the_customer_pauses_the_clocks(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")
    before = clock(await state_of(service, cid), "regulatory_decision").due_at

    await actions.request_customer_information(cid, InformationRequest(actor=handler, requested="Bank statement"))
    paused = await state_of(service, cid)
    assert paused.snapshot.status == Status.AWAITING_CUSTOMER_INFO
    assert clock(paused, "regulatory_decision").state == ClockState.PAUSED
    assert clock(paused, "acknowledgement").state == ClockState.MET
    await asyncio.sleep(3)
    await actions.record_customer_information(cid, InformationReceived(actor=handler, note="Statement received"))

    resumed = clock(await state_of(service, cid), "regulatory_decision")
    assert resumed.state == ClockState.RUNNING
    assert (resumed.due_at - before).total_seconds() == pytest.approx(resumed.paused_seconds)
    assert resumed.paused_seconds >= 3
    [letter] = outbox(service.engine, cid, "information_request")
    assert "Bank statement" in letter.body and "paused" in letter.body


async def test_extensions_need_the_right_approver_and_tell_the_customer(
    service: Service, actions: ComplaintActions
) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")
    started = clock(await state_of(service, cid), "regulatory_decision").started_at

    with pytest.raises(ActionRefused, match="takes manager, senior_manager"):
        await actions.extend_deadline(cid, ExtensionRequest(actor=handler, reason="Complex"))
    first = await actions.extend_deadline(cid, ExtensionRequest(actor=MANAGER, reason="Waiting for the branch file"))
    assert "Decision extended to 30 days" in first.message
    extended = clock(await state_of(service, cid), "regulatory_decision")
    assert (extended.due_at - started).total_seconds() == 180  # compressed "30 days"
    with pytest.raises(ActionRefused, match="to approve 'Decision extended to 60 days' takes senior_manager"):
        await actions.extend_deadline(cid, ExtensionRequest(actor=MANAGER, reason="More"))
    await actions.extend_deadline(cid, ExtensionRequest(actor=SENIOR, reason="Regulator asked for more"))
    assert (clock(await state_of(service, cid), "regulatory_decision").due_at - started).total_seconds() == 360
    with pytest.raises(ActionRefused, match="no further extension"):
        await actions.extend_deadline(cid, ExtensionRequest(actor=SENIOR, reason="Again"))
    letters = outbox(service.engine, cid, "extension")
    assert len(letters) == 2 and "60 days" in letters[1].body


async def test_escalation_raises_the_tier_and_reroutes(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "other")

    await actions.escalate(cid, EscalateSignal(actor="S-RM-007", reason="I want it escalated"))
    await actions.escalate(cid, EscalateSignal(actor=handler, reason="Customer now disputes the contract terms"))

    async def complex_now() -> ComplaintStatusQuery | None:
        state = await state_of(service, cid)
        return state if state.snapshot.classification.tier.value == "complex" else None

    state = await eventually(complex_now, what="the escalation to complex")
    names = {c.name: c.state for c in state.snapshot.clocks}
    assert names["simple_first_response"] == ClockState.STOPPED
    assert names["complex_first_response"] == ClockState.RUNNING
    kinds = await projected(service.engine, cid, "escalated")
    assert "escalation_refused" in kinds
    assert {LEGAL, MANAGER} <= {m.recipient for m in outbox(service.engine, cid, "complex_complaint")}
    with pytest.raises(ActionRefused, match="before the legal evaluation"):
        await actions.propose_resolution(cid, ProposalRequest(actor=handler, explanation="x"))


async def test_staff_named_in_the_complaint_is_recused(service: Service, actions: ComplaintActions) -> None:
    details = {**CATEGORY_DETAILS["service_attitude"], "staff_id": "S-HND-001"}
    cid, handler = await file_assigned(service, "service_attitude", details=details)

    assert handler != "S-HND-001"
    with pytest.raises(ActionRefused, match=r"S-HND-001 is named in complaint .* must recuse themselves"):
        await actions.assign(cid, AssignRequest(actor=MANAGER, handler_id="S-HND-001"))
    reassigned = await actions.assign(cid, AssignRequest(actor=MANAGER, handler_id="S-HND-003", reason="workload"))
    assert reassigned.message == "assigned to S-HND-003"
    assert "reassigned" in await projected(service.engine, cid, "reassigned")


async def test_refusals_name_the_reason_and_leave_history_untouched(
    service: Service, actions: ComplaintActions
) -> None:
    cid, handler = await file_assigned(service, "fees_and_interest")
    assert await accepted_updates(service, cid) == 0

    with pytest.raises(ActionRefused, match="S-NOBODY is not an active member of the staff directory"):
        await actions.record_findings(cid, FindingsRequest(actor="S-NOBODY", summary="forged"))
    with pytest.raises(ActionRefused, match="cannot record the customer's answer while the complaint is in_handling"):
        await actions.record_customer_answer(cid, CustomerAnswer(actor=handler, accepted=True))
    with pytest.raises(ActionRefused, match=r"only the handler .* may propose a resolution"):
        await actions.propose_resolution(
            cid, ProposalRequest(actor="S-HND-002" if handler != "S-HND-002" else "S-HND-003", explanation="not mine")
        )
    assert await accepted_updates(service, cid) == 0

    with pytest.raises(ValidationError, match=r"compensation\.amount"):
        ProposalRequest(actor=handler, explanation="x", compensation={"amount": "-100"})

    await service.intake.withdraw(cid, "Customer withdrew", "call-centre")
    await service.intake.handle(cid).result()
    with pytest.raises(ActionRefused, match="the complaint is closed"):
        await actions.record_findings(cid, FindingsRequest(actor=handler, summary="too late"))


async def test_loss_calculation_is_finance_only(service: Service, actions: ComplaintActions) -> None:
    cid, handler = await file_assigned(service, "contract_dispute")
    with pytest.raises(ActionRefused, match="takes finance"):
        await actions.record_loss_calculation(
            cid, LossCalculationRequest(actor=handler, actual_loss=Decimal(1), method="x")
        )
    result = await actions.record_loss_calculation(
        cid,
        LossCalculationRequest(
            actor=FINANCE, actual_loss=Decimal("186000.00"), method="Fee difference plus funding cost"
        ),
    )
    assert result.message == "actual loss 186000.00 CNY recorded"


async def test_a_malformed_action_from_an_untyped_client_is_refused(
    service: Service, actions: ComplaintActions
) -> None:
    """Another client may send raw JSON; a negative compensation must be refused, not wedge the complaint.

    (Our own clients build the pydantic model first, so they get the field's name; the SDK
    answers a raw client with a generic decoding failure.)
    """
    cid, handler = await file_assigned(service, "fees_and_interest")
    untyped = service.client.get_workflow_handle(f"complaint-{cid}")

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await untyped.execute_update(
            "propose_resolution",
            {"actor": handler, "explanation": "x", "compensation": {"amount": "-100", "currency": "CNY"}},
        )

    assert "Failed decoding arguments" in str(refused.value.cause)
    assert await accepted_updates(service, cid) == 0
    result = await actions.record_findings(cid, FindingsRequest(actor=handler, summary="still works"))
    assert result.message == "findings recorded"


async def test_a_policy_change_moves_open_deadlines_only_when_a_manager_reapplies_it(
    client: Client, engine: Engine
) -> None:
    store = PolicyStore.from_file(COMPRESSED_POLICY)  # this test's own: switching it touches no other test
    task_queue = f"reapply-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(client, task_queue=task_queue, engine=engine, policies=store, executor=executor):
            intake = ComplaintIntakeClient(client, task_queue=task_queue)
            filed = await intake.file(intake_payload("fees_and_interest"))
            handle = intake.handle(filed.complaint_id)
            handler = (await status_once(handle, {Status.IN_HANDLING})).snapshot.assignee
            before = decision(await handle.query(ComplaintWorkflow.status))

            pack = store.current.regulatory_pack
            longer = pack.decision.model_copy(update={"limit": TimeLimit(amount=300, unit=TimeUnit.SECONDS)})
            store.adopt(
                store.current.model_copy(
                    update={
                        "version": "2026.11-compressed-reviewed",
                        "regulatory_pack": pack.model_copy(update={"decision": longer}),
                    }
                )
            )
            unchanged = decision(await handle.query(ComplaintWorkflow.status))
            assert unchanged.due_at == before.due_at, "a new policy does not move an open complaint's deadline"

            actions = ComplaintActions(client)
            with pytest.raises(ActionRefused, match="to re-apply the policy takes manager, senior_manager"):
                await actions.reapply_policy(filed.complaint_id, ReapplyPolicyRequest(actor=handler, reason="x"))
            result = await actions.reapply_policy(
                filed.complaint_id, ReapplyPolicyRequest(actor=MANAGER, reason="Regulator clarified the limit")
            )

            assert result.message == "policy 2026.11-compressed-reviewed applied (was 2026.11-compressed)"
            state = await handle.query(ComplaintWorkflow.status)
            after = decision(state)
            assert (after.due_at - after.started_at).total_seconds() == 300 and after.started_at == before.started_at
            assert state.snapshot.classification.policy_version == "2026.11-compressed-reviewed"
            await service_withdraw(intake, filed.complaint_id)


def decision(state: ComplaintStatusQuery) -> Any:
    return next(c for c in state.snapshot.clocks if c.name == "regulatory_decision")


async def service_withdraw(intake: ComplaintIntakeClient, complaint_id: str) -> None:
    """Close the complaint before its worker stops, so nothing waits on this test's queue."""
    await intake.withdraw(complaint_id, "test finished", "test")
