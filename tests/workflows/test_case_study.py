"""The case study from shared/domain.md, end to end.

A mid-sized manufacturer with a project-finance loan disputes an ambiguous clause and
complains to several regulators. A special team is formed at once; legal re-examines the
clause and proposes a revision; finance computes the actual loss; a senior manager offers
contract revision plus compensation, and the customer accepts.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from complaints.actions import ComplaintActions
from complaints.config import PROJECT_ROOT
from models.actions import (
    ApprovalDecision,
    AssignRequest,
    CustomerAnswer,
    FeedbackRequest,
    FindingsRequest,
    LegalEvaluationRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
)
from models.clocks import ClockState
from models.complaint import Status
from models.intake import Money
from tests.conftest import Service
from tests.helpers import (
    conclude_investigation,
    investigation_file,
    outbox,
    outcome_on_complaint,
    projected,
    save_history,
    status_once,
)


async def test_contract_dispute_lodged_with_several_regulators(
    service: Service, request: pytest.FixtureRequest
) -> None:
    payload = json.loads((PROJECT_ROOT / "examples" / "case_study.json").read_text(encoding="utf-8"))
    payload["source_reference"] = f"EML-CASE-{uuid.uuid4().hex[:8]}"
    payload["received_at"] = datetime.now(UTC).isoformat()
    actions = ComplaintActions(service.client)

    filed = await service.intake.file(payload)
    cid = filed.complaint_id
    state = await status_once(service.intake.handle(cid), {Status.IN_HANDLING})
    classification = state.snapshot.classification
    assert (classification.category.value, classification.tier.value, classification.rule_id) == (
        "contract_dispute",
        "major",
        "several-regulators",
    )

    # The special team, formed at once by the project-finance manager.
    await actions.assign(
        cid,
        AssignRequest(
            actor="S-MGR-002",
            handler_id="S-HND-001",
            team=["S-LEG-001", "S-FIN-001", "S-SM-001"],
            reason="special team",
        ),
    )
    # Compliance investigates in its own workflow, started when the complaint was classified major.
    investigation = await investigation_file(service.client, cid)
    assert investigation.lead == "S-CMP-001" and investigation.clock.state == ClockState.RUNNING
    await actions.record_findings(
        cid,
        FindingsRequest(
            actor="S-HND-001",
            summary="Clause 7.3 allows two readings; the higher fee was charged",
            amounts=[Money(amount=Decimal("1850000.00"))],
        ),
    )
    await actions.record_legal_evaluation(
        cid,
        LegalEvaluationRequest(
            actor="S-LEG-001",
            opinion="The clause is ambiguous; it must be read in the customer's favour.",
            recommends_contract_revision=True,
            clause_revision="7.3: prepayment fee is 1% of the amount prepaid",
        ),
    )
    await actions.record_loss_calculation(
        cid,
        LossCalculationRequest(
            actor="S-FIN-001", actual_loss=Decimal("186000.00"), method="Fee charged minus fee at 1%, plus funding cost"
        ),
    )
    await conclude_investigation(service.client, cid, accountability="none")  # drafting defect, no misconduct
    await outcome_on_complaint(service, cid)
    await actions.record_manager_evaluation(
        cid,
        ManagerEvaluationRequest(
            actor="S-SM-001", opinion="Meet the customer; revise the clause and compensate the actual loss."
        ),
    )
    await actions.send_feedback(
        cid,
        FeedbackRequest(
            actor="S-HND-001", message="Our legal team has re-examined clause 7.3; a senior manager will meet you."
        ),
    )
    await actions.propose_resolution(
        cid,
        ProposalRequest(
            actor="S-HND-001",
            explanation="Clause 7.3 will be revised and your actual loss compensated.",
            compensation=Money(amount=Decimal("186000.00")),
            contract_revision="7.3: prepayment fee is 1% of the amount prepaid",
        ),
    )
    await actions.decide_resolution(cid, ApprovalDecision(actor="S-SM-001", approve=True, reason="Met the customer"))
    await actions.record_customer_answer(
        cid, CustomerAnswer(actor="S-HND-001", accepted=True, comments="Accepted at the meeting")
    )

    final = (await service.intake.status(cid)).snapshot
    assert final.status == Status.FOLLOW_UP and final.resolved_at is not None
    assert final.team == ["S-LEG-001", "S-FIN-001", "S-SM-001"]
    assert final.loss_calculation.actual_loss.amount == Decimal("186000.00")
    assert final.proposals[-1].contract_revision and final.proposals[-1].decided_by == "S-SM-001"
    await projected(service.engine, cid, "resolved")
    [letter] = outbox(service.engine, cid, "final_response")
    assert letter.language == "zh" and "186000.00 CNY" in letter.body and "7.3" in letter.body
    assert "仲裁" in letter.body and "诉讼" in letter.body and "调解" in letter.body
    if service.backend == "sqlite":
        await save_history(request, service.intake.handle(cid), "case_study_resolved")
