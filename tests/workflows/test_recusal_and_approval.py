"""Recusal (回避) and the four-eyes rule in the complaint's validators, through the real dev server.

A service-attitude complaint names a staff member; named staff may not evaluate, extend or
approve it, and nobody approves their own proposal. Each refusal is checked against a staff
member who would otherwise be allowed, so it can only come from the rule under test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType

from complaints.actions import ComplaintActions
from complaints.intake import ActionRefused
from models.actions import (
    ApprovalDecision,
    AssignRequest,
    ExtensionRequest,
    LegalEvaluationRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
)
from models.complaint import Status
from models.intake import Money
from tests.conftest import Service
from tests.factories import CATEGORY_DETAILS
from tests.helpers import file_assigned, state_of

MANAGER, OTHER_MANAGER, SENIOR, LEGAL = "S-MGR-001", "S-MGR-002", "S-SM-001", "S-LEG-001"


def recusal(staff_id: str) -> str:
    return rf"{staff_id} is named in complaint CMP-[0-9A-F]+ and must recuse themselves"


async def accepted_updates(service: Service, complaint_id: str) -> int:
    history = await service.intake.handle(complaint_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


async def naming(service: Service, staff_id: str) -> tuple[str, str]:
    details = {**CATEGORY_DETAILS["service_attitude"], "staff_id": staff_id}
    return await file_assigned(service, "service_attitude", details=details)


async def test_a_named_manager_may_not_evaluate_extend_or_approve_and_nobody_approves_their_own_proposal(
    service: Service, actions: ComplaintActions
) -> None:
    cid, handler = await naming(service, MANAGER)

    with pytest.raises(ActionRefused, match=f"manager evaluation of {cid} refused: {recusal(MANAGER)}"):
        await actions.record_manager_evaluation(cid, ManagerEvaluationRequest(actor=MANAGER, opinion="Nothing wrong"))
    with pytest.raises(ActionRefused, match=f"extension of {cid} refused: {recusal(MANAGER)}"):
        await actions.extend_deadline(cid, ExtensionRequest(actor=MANAGER, reason="Need more time"))
    assert await accepted_updates(service, cid) == 0, "a refusal leaves no trace in history"

    # Another manager joins the team and proposes a small refund (within a manager's limit).
    await actions.assign(
        cid,
        AssignRequest(actor=OTHER_MANAGER, handler_id=handler, team=[OTHER_MANAGER], reason="manager takes it over"),
    )
    proposed = await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor=OTHER_MANAGER, explanation="An apology and a goodwill refund", fee_refund=Money(amount=Decimal("500"))
        ),
    )
    assert proposed.status == "awaiting_approval" and "manager" in proposed.message
    accepted = await accepted_updates(service, cid)

    with pytest.raises(ActionRefused, match="cannot be approved by the person who proposed it"):
        await actions.decide_resolution(cid, ApprovalDecision(actor=OTHER_MANAGER, approve=True))
    with pytest.raises(ActionRefused, match=f"approval decision of {cid} refused: {recusal(MANAGER)}"):
        await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=True))
    with pytest.raises(ActionRefused, match=recusal(MANAGER)):
        await actions.decide_resolution(cid, ApprovalDecision(actor=MANAGER, approve=False, reason="No"))
    assert await accepted_updates(service, cid) == accepted
    assert (await state_of(service, cid)).snapshot.status == Status.AWAITING_APPROVAL

    approved = await actions.decide_resolution(cid, ApprovalDecision(actor=SENIOR, approve=True))
    assert approved.status == "awaiting_customer_answer"
    await service.intake.withdraw(cid, "test finished", "test")


async def test_a_named_legal_officer_may_not_evaluate(service: Service, actions: ComplaintActions) -> None:
    cid, _ = await naming(service, LEGAL)

    with pytest.raises(ActionRefused, match=f"legal evaluation of {cid} refused: {recusal(LEGAL)}"):
        await actions.record_legal_evaluation(cid, LegalEvaluationRequest(actor=LEGAL, opinion="No legal issue"))
    assert await accepted_updates(service, cid) == 0

    # Staff the complaint does not name may act: the refusals above are recusal, nothing else.
    await actions.record_manager_evaluation(cid, ManagerEvaluationRequest(actor=MANAGER, opinion="Coach the officer"))
    extended = await actions.extend_deadline(cid, ExtensionRequest(actor=MANAGER, reason="Waiting for the call log"))
    assert "Decision extended" in extended.message
    await service.intake.withdraw(cid, "test finished", "test")
