"""Staff actions on a complaint through the client SDK (the staff CLI and tests use this).

    actions = ComplaintActions(client)
    await actions.propose_resolution("CMP-…", ProposalRequest(actor="S-HND-001", explanation="…"))

Each method runs one update; a refusal by the workflow's validator (wrong role, wrong
stage, closed complaint, a signature that does not hold) raises ``ActionRefused`` with the
workflow's reason. Each request is signed on the way with its actor's key (issue 16,
``complaints.keys.KeyFileSigner``, or the ``signer`` given): the action's name is the update's or
signal's method name, as the workflow registers it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import complaint_handle, execute_action
from complaints.keys import KeyFileSigner, Signer
from models.actions import (
    ActionResult,
    AdjustLookBackRequest,
    ApprovalDecision,
    AssignRequest,
    ContactNoteSignal,
    CustomerAnswer,
    EscalateSignal,
    ExtensionRequest,
    FeedbackRequest,
    FindingsRequest,
    FollowUpCallRequest,
    InformationReceived,
    InformationRequest,
    InvestigationOutcomeRequest,
    LegalEvaluationRequest,
    LookBackRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    MarkLookBackRequest,
    OpenInvestigationRequest,
    ProposalRequest,
    ReapplyPolicyRequest,
    RootCauseRequest,
)
from models.investigation import (
    AccountabilityRequest,
    AssignInvestigatorRequest,
    CompleteReviewRequest,
    ConcludeInvestigationRequest,
    EvidenceRequest,
    FlagOpenComplaintsRequest,
    InvestigationActionResult,
    InvestigationFindingRequest,
    InvestigationStatusQuery,
    ResponsibleRequest,
    investigation_workflow_id,
)
from workflows.complaint import ComplaintWorkflow
from workflows.investigation import InvestigationWorkflow


class ComplaintActions:
    def __init__(self, client: Client, signer: Signer[Any] | None = None) -> None:
        self._client = client
        self._sign: Signer[Any] = signer or KeyFileSigner()

    def _handle(self, complaint_id: str) -> WorkflowHandle[ComplaintWorkflow, Any]:
        return complaint_handle(self._client, complaint_id)

    async def _run(self, complaint_id: str, update: Any, request: Any, what: str) -> ActionResult:
        handle = self._handle(complaint_id)
        return await execute_action(handle, update, self._sign(handle.id, update.__name__, request), what=what)

    async def _signal(self, complaint_id: str, signal: Any, request: Any) -> None:
        handle = self._handle(complaint_id)
        await handle.signal(signal, self._sign(handle.id, signal.__name__, request))

    async def assign(self, complaint_id: str, request: AssignRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.assign, request, "assignment")

    async def record_findings(self, complaint_id: str, request: FindingsRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_findings, request, "findings")

    async def record_legal_evaluation(self, complaint_id: str, request: LegalEvaluationRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_legal_evaluation, request, "legal evaluation")

    async def record_manager_evaluation(self, complaint_id: str, request: ManagerEvaluationRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_manager_evaluation, request, "manager evaluation")

    async def record_loss_calculation(self, complaint_id: str, request: LossCalculationRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_loss_calculation, request, "loss calculation")

    async def request_customer_information(self, complaint_id: str, request: InformationRequest) -> ActionResult:
        return await self._run(
            complaint_id, ComplaintWorkflow.request_customer_information, request, "information request"
        )

    async def record_customer_information(self, complaint_id: str, request: InformationReceived) -> ActionResult:
        return await self._run(
            complaint_id, ComplaintWorkflow.record_customer_information, request, "information received"
        )

    async def open_investigation(self, complaint_id: str, request: OpenInvestigationRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.open_investigation, request, "opening the investigation")

    async def record_investigation_outcome(
        self, complaint_id: str, request: InvestigationOutcomeRequest
    ) -> ActionResult:
        return await self._run(
            complaint_id, ComplaintWorkflow.record_investigation_outcome, request, "investigation outcome"
        )

    async def send_feedback(self, complaint_id: str, request: FeedbackRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.send_feedback, request, "feedback")

    async def propose_resolution(self, complaint_id: str, request: ProposalRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.propose_resolution, request, "proposal")

    async def decide_resolution(self, complaint_id: str, request: ApprovalDecision) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.decide_resolution, request, "approval decision")

    async def record_customer_answer(self, complaint_id: str, request: CustomerAnswer) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_customer_answer, request, "customer answer")

    async def extend_deadline(self, complaint_id: str, request: ExtensionRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.extend_deadline, request, "extension")

    async def record_follow_up_call(self, complaint_id: str, request: FollowUpCallRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_follow_up_call, request, "follow-up call")

    async def record_look_back(self, complaint_id: str, request: LookBackRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_look_back, request, "look-back revisit")

    async def adjust_look_back(self, complaint_id: str, request: AdjustLookBackRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.adjust_look_back, request, "look-back adjustment")

    async def mark_for_look_back(self, complaint_id: str, request: MarkLookBackRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.mark_for_look_back, request, "look-back marking")

    async def record_root_cause(self, complaint_id: str, request: RootCauseRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.record_root_cause, request, "root cause")

    async def reapply_policy(self, complaint_id: str, request: ReapplyPolicyRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.reapply_policy, request, "policy re-application")

    async def complete_review(self, complaint_id: str, request: CompleteReviewRequest) -> ActionResult:
        return await self._run(complaint_id, ComplaintWorkflow.complete_review, request, "review")

    async def note_customer_contact(self, complaint_id: str, request: ContactNoteSignal) -> None:
        """Fire and forget, like escalate."""
        await self._signal(complaint_id, ComplaintWorkflow.note_customer_contact, request)

    async def escalate(self, complaint_id: str, request: EscalateSignal) -> None:
        """Fire and forget: the workflow records a refused escalation in the audit log."""
        await self._signal(complaint_id, ComplaintWorkflow.escalate, request)


class InvestigationActions:
    """Compliance's actions on a major complaint's investigation (its own workflow)."""

    def __init__(self, client: Client, signer: Signer[Any] | None = None) -> None:
        self._client = client
        self._sign: Signer[Any] = signer or KeyFileSigner()

    def handle(self, complaint_id: str) -> WorkflowHandle[InvestigationWorkflow, Any]:
        return self._client.get_workflow_handle_for(InvestigationWorkflow.run, investigation_workflow_id(complaint_id))

    async def _run(self, complaint_id: str, update: Any, request: Any, what: str) -> InvestigationActionResult:
        handle = self.handle(complaint_id)
        return await execute_action(handle, update, self._sign(handle.id, update.__name__, request), what=what)

    async def status(self, complaint_id: str) -> InvestigationStatusQuery:
        return await self.handle(complaint_id).query(InvestigationWorkflow.status)

    async def assign_investigator(
        self, complaint_id: str, request: AssignInvestigatorRequest
    ) -> InvestigationActionResult:
        return await self._run(
            complaint_id, InvestigationWorkflow.assign_investigator, request, "investigator assignment"
        )

    async def record_finding(
        self, complaint_id: str, request: InvestigationFindingRequest
    ) -> InvestigationActionResult:
        return await self._run(complaint_id, InvestigationWorkflow.record_finding, request, "finding")

    async def add_evidence(self, complaint_id: str, request: EvidenceRequest) -> InvestigationActionResult:
        return await self._run(complaint_id, InvestigationWorkflow.add_evidence, request, "evidence")

    async def name_responsible(self, complaint_id: str, request: ResponsibleRequest) -> InvestigationActionResult:
        return await self._run(complaint_id, InvestigationWorkflow.name_responsible, request, "naming the responsible")

    async def decide_accountability(
        self, complaint_id: str, request: AccountabilityRequest
    ) -> InvestigationActionResult:
        return await self._run(
            complaint_id, InvestigationWorkflow.decide_accountability, request, "accountability decision"
        )

    async def conclude(self, complaint_id: str, request: ConcludeInvestigationRequest) -> InvestigationActionResult:
        return await self._run(complaint_id, InvestigationWorkflow.conclude, request, "conclusion")

    async def flag_open_complaints(
        self, complaint_id: str, request: FlagOpenComplaintsRequest
    ) -> InvestigationActionResult:
        return await self._run(complaint_id, InvestigationWorkflow.flag_open_complaints, request, "flagging")


# The workflows whose staff actions are signed: each has a ``refresh_staff_keys`` signal.
KEYED_WORKFLOWS = (
    "ComplaintWorkflow",
    "InvestigationWorkflow",
    "AwardWorkflow",
    "TrainingAssignmentWorkflow",
    "EarlyWarningWorkflow",
    "ClauseReviewWorkflow",
    "IncidentWorkflow",
    "RecallWorkflow",
    "RemediationWorkflow",
)


async def refresh_staff_keys(client: Client, concurrency: int = 20) -> int:
    """Ask every open workflow that checks staff signatures to read the keys again (after a key changed); how many.

    A complaint loads the keys with its roster, the others when they start; a registration,
    rotation or revocation reaches those already open through this signal (``complaints keys
    register|revoke`` send it).
    """
    types = ", ".join(f'"{t}"' for t in KEYED_WORKFLOWS)
    query = f"WorkflowType IN ({types}) AND ExecutionStatus='Running'"
    gate = asyncio.Semaphore(concurrency)
    sent = 0

    async def one(workflow_id: str) -> None:
        nonlocal sent
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).signal("refresh_staff_keys")
                sent += 1
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:  # closed since it was listed: nothing to refresh
                    raise

    await asyncio.gather(*[one(w.id) async for w in client.list_workflows(query)])
    return sent
