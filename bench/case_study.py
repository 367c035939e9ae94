"""The case study (examples/case_study.json) worked from intake to closure, for the history line.

The steps to the customer's acceptance are those of tests/workflows/test_case_study.py (a
special team; compliance's investigation concluded; legal, finance and a senior manager; the
customer accepts contract revision plus compensation); after it, those of `make demo`: the
handler records the root cause, a colleague makes the follow-up call, and the handler records
the three monthly look-back revisits ("for the next three months the company stays in touch").
The revisits open on the policy's look-back interval, so this needs the compressed policy
(a "month" is 2 seconds) to finish; the events are the same as under the standard policy.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from temporalio.client import Client
from temporalio.service import RPCError

from complaints.actions import ComplaintActions, InvestigationActions
from complaints.config import PROJECT_ROOT
from complaints.intake import ActionRefused, ComplaintIntakeClient, FilingOutcome
from models.actions import (
    ApprovalDecision,
    AssignRequest,
    CustomerAnswer,
    FeedbackRequest,
    FindingsRequest,
    FollowUpCallRequest,
    LegalEvaluationRequest,
    LookBackRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
    RootCauseRequest,
)
from models.clocks import Clock
from models.complaint import ComplaintStatusQuery, Status
from models.intake import EvidenceRef, Money
from models.investigation import (
    AccountabilityRequest,
    ConcludeInvestigationRequest,
    EvidenceRequest,
    InvestigationFindingRequest,
)
from models.policy import Accountability

T = TypeVar("T")
REVISIT_SITUATIONS = ["Contract amendment signed", "Compensation paid", "Next tranche drawn as planned"]


async def until(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = await probe()
        except RPCError:  # not started yet, or queried before its first task ran
            found = None
        if found:
            return found
        await asyncio.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


async def work_case_study(client: Client, task_queue: str) -> str:
    """File the case study, work it to closure, return its complaint id."""
    payload = json.loads((PROJECT_ROOT / "examples" / "case_study.json").read_text(encoding="utf-8"))
    payload["source_reference"] = f"EML-BENCH-{uuid.uuid4().hex[:8]}"
    payload["received_at"] = datetime.now(UTC).isoformat()
    intake = ComplaintIntakeClient(client, task_queue=task_queue)
    actions, investigations = ComplaintActions(client), InvestigationActions(client)

    filed = await intake.file(payload)
    assert filed.outcome == FilingOutcome.FILED and filed.complaint_id, filed.errors
    cid: str = filed.complaint_id

    async def in_status(*statuses: Status) -> ComplaintStatusQuery | None:
        state = await intake.status(cid)
        return state if state.snapshot.status in statuses else None

    await until(lambda: in_status(Status.IN_HANDLING), "the case study in handling")
    await actions.assign(
        cid,
        AssignRequest(
            actor="S-MGR-002",
            handler_id="S-HND-001",
            team=["S-LEG-001", "S-FIN-001", "S-SM-001"],
            reason="special team",
        ),
    )

    async def investigation_open() -> Clock | None:
        return (await investigations.status(cid)).file.clock

    await until(investigation_open, "the investigation")
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
    lead = "S-CMP-001"
    await investigations.record_finding(cid, InvestigationFindingRequest(actor=lead, summary="What happened"))
    await investigations.add_evidence(
        cid,
        EvidenceRequest(
            actor=lead,
            evidence=EvidenceRef(
                uri=f"dms://investigations/{cid}/call-log.pdf", sha256=hashlib.sha256(cid.encode()).hexdigest()
            ),
        ),
    )
    await investigations.decide_accountability(
        cid, AccountabilityRequest(actor=lead, decision=Accountability.NONE, reason="A drafting defect, not misconduct")
    )
    await investigations.conclude(cid, ConcludeInvestigationRequest(actor=lead, summary="Drafting defect"))

    async def outcome_on_complaint() -> bool:
        inv = (await intake.status(cid)).snapshot.investigation
        return inv is not None and inv.outcome is not None

    await until(outcome_on_complaint, "the investigation outcome on the complaint")
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

    # After the decision (as `make demo` does it): root cause, follow-up call, three revisits.
    state = await until(lambda: in_status(Status.FOLLOW_UP), "the case study in follow-up")
    follow_up = state.snapshot.follow_up
    assert follow_up is not None and follow_up.caller, "no follow-up caller chosen"
    caller = follow_up.caller
    await actions.record_root_cause(
        cid, RootCauseRequest(actor="S-HND-001", code="contract_wording", text="Clause 7.3 allowed two readings")
    )
    await actions.record_follow_up_call(
        cid, FollowUpCallRequest(actor=caller, reached=True, satisfaction=4, remedy_delivered=True)
    )
    for month, situation in enumerate(REVISIT_SITUATIONS, 1):
        request = LookBackRequest(actor="S-HND-001", situation=f"Month {month}: {situation}", commitments_kept=True)

        async def revisit(request: LookBackRequest = request) -> bool:
            try:
                await actions.record_look_back(cid, request)
                return True
            except ActionRefused as err:  # the revisit opens on the policy's interval
                if "opens" in str(err) or "no look-back revisit is open" in str(err):
                    return False
                raise

        await until(revisit, f"look-back revisit {month}")
    final = await intake.handle(cid).result()
    assert final.status == Status.CLOSED, final.status
    return cid
