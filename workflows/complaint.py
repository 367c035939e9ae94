"""ComplaintWorkflow: one durable workflow per customer complaint, through the six steps.

The class is the complaint's interface: ``init``, ``run``, continue-as-new and one short
delegation per update, validator, signal and query. The work is in one module per step:

- ``step1_intake``: intake and classification;
- ``step2_handling``, ``step2_resolution``: tiered handling with SLA clocks, towards a resolution;
- ``step2_investigation``: the internal investigation's parent side (the child is
  ``workflows.investigation``); ``step2_regulator``: reports to the regulator;
- ``step3_follow_up``: the follow-up call;
- ``step6_look_back``: look-back revisits, reopening, closure, withdrawal;
- ``step6_linked``: linked to a surge's incident (prioritised) or a product recall.

``case.Case`` holds the state and the ports (audit log, notices, clock planning), the clock
board is ``domain.clocks``, the Web UI's view ``presentation``, and every path kept only for
older histories ``legacy``. Steps 3.2, 4, 5 and 6.2 work across complaints: their own workflows.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    # `import workflows.x as x`, not `from workflows import x`: the sandbox passes a module
    # through only when it is imported by its own name (a `from` import of a submodule goes
    # round the sandbox's importer and would load the step modules afresh for every run).
    import workflows.legacy as legacy
    import workflows.metrics as metrics
    import workflows.step1_intake as step1_intake
    import workflows.step2_handling as handling
    import workflows.step2_investigation as investigation
    import workflows.step2_resolution as resolution
    import workflows.step3_follow_up as follow_up
    import workflows.step6_linked as linked
    import workflows.step6_look_back as look_back
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
    from models.complaint import (
        ComplaintSnapshot,
        ComplaintStatusQuery,
        ComplaintWorkflowInput,
        WithdrawRequest,
        WithdrawResult,
    )
    from models.incident import IncidentLink
    from models.investigation import (
        CompleteReviewRequest,
        InvestigationProgressSignal,
        ReviewFlagSignal,
    )
    from models.recall import RecallLink
    from workflows.case import Case


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, input: ComplaintWorkflowInput) -> None:
        self._case = Case(input)

    @workflow.run
    async def run(self, input: ComplaintWorkflowInput) -> ComplaintSnapshot:
        case = self._case
        case.adopt_patches(workflow.patched(legacy.SERIALIZED_LEAN))
        if input.carried is not None:  # a continued run: the case file came with the input
            case.publish()
            await handling.keep_clocks(case)
        else:
            await step1_intake.receive(case, input)
            if legacy.newer(case, legacy.TIERED_HANDLING):
                await handling.start(case)
            else:
                await legacy.watch_clocks(case)
        next_run = await look_back.end_of_run(case)
        if next_run is not None:
            workflow.continue_as_new(next_run)
        metrics.closed_case(case.snap)
        return case.snap

    @workflow.query
    def status(self) -> ComplaintStatusQuery:
        snap = self._case.snap
        return ComplaintStatusQuery(
            snapshot=snap,
            next_deadline=snap.next_deadline,
            sla_breached=snap.sla_breached,
            events_recorded=self._case.seq,
        )

    @workflow.update
    async def withdraw(self, request: WithdrawRequest) -> WithdrawResult:
        return await look_back.withdraw(self._case, request)

    @withdraw.validator
    def _validate_withdraw(self, request: WithdrawRequest) -> None:
        look_back.validate_withdraw(self._case, request)

    # -- step 2: tiered handling ---------------------------------------------------------------

    @workflow.update
    async def assign(self, request: AssignRequest) -> ActionResult:
        return await handling.assign(self._case, request)

    @assign.validator
    def _validate_assign(self, request: AssignRequest) -> None:
        handling.validate_assign(self._case, request)

    @workflow.update
    async def request_customer_information(self, request: InformationRequest) -> ActionResult:
        return await handling.request_information(self._case, request)

    @request_customer_information.validator
    def _validate_request_customer_information(self, request: InformationRequest) -> None:
        handling.validate_information_request(self._case, request)

    @workflow.update
    async def record_customer_information(self, request: InformationReceived) -> ActionResult:
        return await handling.information_received(self._case, request)

    @record_customer_information.validator
    def _validate_record_customer_information(self, request: InformationReceived) -> None:
        handling.validate_information_received(self._case, request)

    @workflow.update
    async def extend_deadline(self, request: ExtensionRequest) -> ActionResult:
        return await handling.extend(self._case, request)

    @extend_deadline.validator
    def _validate_extend_deadline(self, request: ExtensionRequest) -> None:
        handling.validate_extension(self._case, request)

    @workflow.update
    async def reapply_policy(self, request: ReapplyPolicyRequest) -> ActionResult:
        return await handling.reapply_policy(self._case, request)

    @reapply_policy.validator
    def _validate_reapply_policy(self, request: ReapplyPolicyRequest) -> None:
        handling.validate_reapply(self._case, request)

    # -- step 2: towards a resolution ----------------------------------------------------------

    @workflow.update
    async def record_findings(self, request: FindingsRequest) -> ActionResult:
        return await resolution.record_findings(self._case, request)

    @record_findings.validator
    def _validate_record_findings(self, request: FindingsRequest) -> None:
        resolution.validate_findings(self._case, request)

    @workflow.update
    async def record_legal_evaluation(self, request: LegalEvaluationRequest) -> ActionResult:
        return await resolution.record_legal_evaluation(self._case, request)

    @record_legal_evaluation.validator
    def _validate_record_legal_evaluation(self, request: LegalEvaluationRequest) -> None:
        resolution.validate_legal(self._case, request)

    @workflow.update
    async def record_manager_evaluation(self, request: ManagerEvaluationRequest) -> ActionResult:
        return await resolution.record_manager_evaluation(self._case, request)

    @record_manager_evaluation.validator
    def _validate_record_manager_evaluation(self, request: ManagerEvaluationRequest) -> None:
        resolution.validate_manager_evaluation(self._case, request)

    @workflow.update
    async def record_loss_calculation(self, request: LossCalculationRequest) -> ActionResult:
        return await resolution.record_loss_calculation(self._case, request)

    @record_loss_calculation.validator
    def _validate_record_loss_calculation(self, request: LossCalculationRequest) -> None:
        resolution.validate_loss(self._case, request)

    @workflow.update
    async def send_feedback(self, request: FeedbackRequest) -> ActionResult:
        return await resolution.send_feedback(self._case, request)

    @send_feedback.validator
    def _validate_send_feedback(self, request: FeedbackRequest) -> None:
        resolution.validate_feedback(self._case, request)

    @workflow.update
    async def propose_resolution(self, request: ProposalRequest) -> ActionResult:
        return await resolution.propose_resolution(self._case, request)

    @propose_resolution.validator
    def _validate_propose_resolution(self, request: ProposalRequest) -> None:
        resolution.validate_proposal(self._case, request)

    @workflow.update
    async def decide_resolution(self, request: ApprovalDecision) -> ActionResult:
        return await resolution.decide_resolution(self._case, request)

    @decide_resolution.validator
    def _validate_decide_resolution(self, request: ApprovalDecision) -> None:
        resolution.validate_decision(self._case, request)

    @workflow.update
    async def record_customer_answer(self, request: CustomerAnswer) -> ActionResult:
        return await resolution.record_customer_answer(self._case, request)

    @record_customer_answer.validator
    def _validate_record_customer_answer(self, request: CustomerAnswer) -> None:
        resolution.validate_customer_answer(self._case, request)

    # -- step 2: the investigation's parent side -----------------------------------------------

    @workflow.update
    async def complete_review(self, request: CompleteReviewRequest) -> ActionResult:
        return await investigation.complete_review(self._case, request)

    @complete_review.validator
    def _validate_complete_review(self, request: CompleteReviewRequest) -> None:
        investigation.validate_complete_review(self._case, request)

    # -- step 3: the follow-up call ------------------------------------------------------------

    @workflow.update
    async def record_follow_up_call(self, request: FollowUpCallRequest) -> ActionResult:
        return await follow_up.record_call(self._case, request)

    @record_follow_up_call.validator
    def _validate_record_follow_up_call(self, request: FollowUpCallRequest) -> None:
        follow_up.validate_call(self._case, request)

    # -- step 6: look-back and closure ---------------------------------------------------------

    @workflow.update
    async def record_look_back(self, request: LookBackRequest) -> ActionResult:
        return await look_back.record_look_back(self._case, request)

    @record_look_back.validator
    def _validate_record_look_back(self, request: LookBackRequest) -> None:
        look_back.validate_look_back(self._case, request)

    @workflow.update
    async def adjust_look_back(self, request: AdjustLookBackRequest) -> ActionResult:
        return await look_back.adjust(self._case, request)

    @adjust_look_back.validator
    def _validate_adjust_look_back(self, request: AdjustLookBackRequest) -> None:
        look_back.validate_adjust(self._case, request)

    @workflow.update
    async def mark_for_look_back(self, request: MarkLookBackRequest) -> ActionResult:
        return await look_back.mark(self._case, request)

    @mark_for_look_back.validator
    def _validate_mark_for_look_back(self, request: MarkLookBackRequest) -> None:
        look_back.validate_mark(self._case, request)

    @workflow.update
    async def record_root_cause(self, request: RootCauseRequest) -> ActionResult:
        return await look_back.record_root_cause(self._case, request)

    @record_root_cause.validator
    def _validate_record_root_cause(self, request: RootCauseRequest) -> None:
        look_back.validate_root_cause(self._case, request)

    # -- kept for complaints that became major before the investigation was a child workflow ---

    @workflow.update
    async def open_investigation(self, request: OpenInvestigationRequest) -> ActionResult:
        return await legacy.open_investigation(self._case, request)

    @open_investigation.validator
    def _validate_open_investigation(self, request: OpenInvestigationRequest) -> None:
        legacy.validate_open_investigation(self._case, request)

    @workflow.update
    async def record_investigation_outcome(self, request: InvestigationOutcomeRequest) -> ActionResult:
        return await legacy.record_investigation_outcome(self._case, request)

    @record_investigation_outcome.validator
    def _validate_record_investigation_outcome(self, request: InvestigationOutcomeRequest) -> None:
        legacy.validate_investigation_outcome(self._case, request)

    # -- signals: fire-and-forget (a bad one is recorded as refused) ---------------------------

    @workflow.signal
    async def escalate(self, request: EscalateSignal) -> None:
        await handling.escalate(self._case, request)

    @workflow.signal
    async def investigation_progress(self, request: InvestigationProgressSignal) -> None:
        await investigation.progress(self._case, request)

    @workflow.signal
    async def flag_for_review(self, request: ReviewFlagSignal) -> None:
        await investigation.flag_for_review(self._case, request)

    @workflow.signal
    async def note_customer_contact(self, request: ContactNoteSignal) -> None:
        await look_back.note_contact(self._case, request)

    @workflow.signal
    async def link_incident(self, link: IncidentLink) -> None:
        await linked.link_incident(self._case, link)

    @workflow.signal
    async def link_recall(self, link: RecallLink) -> None:
        await linked.link_recall(self._case, link)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        await handling.refresh_keys(self._case)
