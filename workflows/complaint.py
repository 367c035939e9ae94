"""ComplaintWorkflow: one durable workflow per customer complaint.

Step 1 (intake and classification): record, classify by the pinned policy, look up the
staff member a service-attitude complaint names, acknowledge with the deadlines that apply.
Step 2 (tiered handling): assign a handler, route complex and major complaints to legal,
management and compliance, take staff actions as validated updates, run the SLA clocks
(warning, breach and escalation, pause, extension) until the customer accepts a resolution.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import rules
    from domain.rules import HANDLING, MANAGERS, Refused
    from models import search_attributes as sa
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
    from models.case_file import (
        Closure,
        ContactNote,
        Escalation,
        Evaluation,
        Finding,
        FollowUp,
        FollowUpCall,
        InformationRequestRecord,
        Investigation,
        LookBack,
        LossCalculation,
        Proposal,
        ReviewFlag,
        Revisit,
        RootCauseRecord,
    )
    from models.clocks import (
        Clock,
        ClockState,
        PlanClockRequest,
        ReplanRequest,
        ReplanResult,
    )
    from models.complaint import (
        CLOSED_STATUSES,
        CarriedState,
        ClassificationResult,
        ClassifyRequest,
        ComplaintEvent,
        ComplaintSnapshot,
        ComplaintStatusQuery,
        ComplaintWorkflowInput,
        Status,
        WithdrawRequest,
        WithdrawResult,
    )
    from models.intake import Category, Channel, Money
    from models.investigation import (
        CompleteReviewRequest,
        InvestigationInput,
        InvestigationProgressSignal,
        InvestigationResult,
        InvestigationRules,
        ReviewFlagSignal,
        investigation_workflow_id,
    )
    from models.notifications import (
        AcknowledgementRequest,
        CustomerNotification,
        NotificationReceipt,
        StaffNotification,
    )
    from models.policy import HandlingRules, Role, Tier
    from models.regulator import (
        FileReportRequest,
        RegulatorReceipt,
        RegulatorReport,
        RegulatorThread,
    )
    from models.staff import (
        HandlerChoice,
        HandlerChoiceRequest,
        RosterEntry,
        RosterRequest,
        StaffLookupRequest,
        StaffRecord,
        StaffRoster,
    )
    from workflows.handlers import recheck
    from workflows.investigation import InvestigationWorkflow
    from workflows.options import ACTIVITY_TIMEOUT, RETRY
    from workflows.presentation import fmt_utc


# Complaints started before tiered handling existed keep their old path on replay.
TIERED_HANDLING = "tiered-handling"
# ... and those accepted before follow-up existed close at acceptance.
FOLLOW_UP = "follow-up"
# ... and major complaints started before regulator reporting file no reports.
REGULATOR_REPORTS = "regulator-reports"
# ... and those that became major before the investigation ran as its own (child) workflow
# take compliance's two updates on the complaint instead.
INVESTIGATION_WORKFLOW = "investigation-workflow"

# Which clocks an event meets.
MET_BY_INVESTIGATION = {"major_first_response"}
MET_BY_FEEDBACK = {"complex_first_response"}
MET_BY_RESOLUTION = {"simple_first_response", "complex_first_response", "regulatory_decision"}


def _money(value: Money | None) -> dict[str, str] | None:
    return {"amount": str(value.amount), "currency": value.currency} if value else None


def _remedy_context(proposal: Proposal) -> dict[str, Any]:
    return {
        "explanation": proposal.explanation,
        "fee_refund": _money(proposal.fee_refund),
        "compensation": _money(proposal.compensation),
        "contract_revision": proposal.contract_revision,
    }


@workflow.defn
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, input: ComplaintWorkflowInput) -> None:
        self._snapshot = ComplaintSnapshot(
            complaint_id=input.complaint_id,
            workflow_id=workflow.info().workflow_id,
            status=Status.RECEIVED,
            intake=input.intake,
        )
        self._seq = 0
        self._withdrawal: WithdrawRequest | None = None
        self._roster: dict[str, RosterEntry] = {}
        self._rules: HandlingRules | None = None
        self._handling = False
        self._clocks_changed = False
        self._continue_as_new = False
        self._revisits_this_run = 0
        self._report_tasks: list[asyncio.Task[None]] = []
        self._investigation_task: asyncio.Task[None] | None = None
        self._investigation_started = False
        if input.carried is not None:
            carried = input.carried
            self._snapshot, self._seq = carried.snapshot, carried.seq
            self._roster = {e.staff_id: e for e in carried.roster}
            self._rules = carried.rules
            self._handling = True

    @workflow.run
    async def run(self, input: ComplaintWorkflowInput) -> ComplaintSnapshot:
        if input.carried is not None:
            # A continued run: the case file came with the input; carry on with the clocks.
            self._publish()
            await self._run_clocks()
            return await self._finish_run()
        intake = input.intake
        self._describe("Received; classifying")
        await self._record("received", actor=f"intake:{intake.source_system}", detail={"channel": intake.channel.value})

        result: ClassificationResult = await workflow.execute_activity(
            "classify_complaint",
            ClassifyRequest(complaint_id=input.complaint_id, intake=intake),
            result_type=ClassificationResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="Classify by the policy's rules",
        )
        cls = result.classification
        self._snapshot.classification = cls
        self._snapshot.clocks = result.clocks
        self._snapshot.status = Status.CLASSIFIED
        self._publish()
        await self._record(
            "classified",
            detail={"tier": cls.tier.value, "rule": cls.rule_id, "matched": cls.matched, "policy_version": cls.policy_version},
        )

        if intake.category == Category.SERVICE_ATTITUDE:
            staff_id: str = intake.details.staff_id  # type: ignore[union-attr]
            record: StaffRecord = await workflow.execute_activity(
                "look_up_staff_record",
                StaffLookupRequest(complaint_id=input.complaint_id, staff_id=staff_id),
                result_type=StaffRecord,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary=f"Look up staff member {staff_id}",
            )
            self._snapshot.staff_record = record
            await self._record(
                "staff_record_looked_up",
                detail={"staff_id": staff_id, "found": record.found, "score": record.service_quality_score},
            )

        receipt: NotificationReceipt = await workflow.execute_activity(
            "send_acknowledgement",
            AcknowledgementRequest(
                complaint_id=input.complaint_id, intake=intake, classification=cls, clocks=result.clocks
            ),
            result_type=NotificationReceipt,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="Acknowledge to the customer with the deadlines",
        )
        now = workflow.now()
        self._snapshot.acknowledged_at = now
        self._settle_clock("acknowledgement", now)
        self._snapshot.status = Status.AWAITING_ASSIGNMENT
        self._publish()
        await self._record("acknowledged", detail={"channel": receipt.channel, "recipient": receipt.recipient})

        if workflow.patched(TIERED_HANDLING):
            self._rules = result.rules
            await self._handle()
        else:
            await self._watch_clocks()
        return await self._finish_run()

    async def _finish_run(self) -> ComplaintSnapshot:
        # A report owed to a regulator is never dropped, whatever happens to the complaint.
        await workflow.wait_condition(lambda: all(t.done() for t in self._report_tasks))
        if self._continue_as_new and not self._closing():
            await workflow.wait_condition(self._investigation_done)
            # Bounded history: hand the case file to a fresh run once every handler is done.
            await workflow.wait_condition(workflow.all_handlers_finished)
            assert self._rules is not None
            workflow.continue_as_new(
                ComplaintWorkflowInput(
                    complaint_id=self._snapshot.complaint_id,
                    intake=self._snapshot.intake,
                    carried=CarriedState(
                        snapshot=self._snapshot, seq=self._seq, roster=list(self._roster.values()), rules=self._rules
                    ),
                )
            )
        withdrawal = self._withdrawal
        if withdrawal is not None and self._snapshot.status not in CLOSED_STATUSES:
            self._close(Status.WITHDRAWN, withdrawal.reason)
            await self._record("withdrawn", actor=withdrawal.relayed_by, detail={"reason": withdrawal.reason})
        # Nor is an investigation: a withdrawn complaint still waits for its outcome (and any
        # report the outcome makes due).
        await workflow.wait_condition(self._investigation_done)
        await workflow.wait_condition(lambda: all(t.done() for t in self._report_tasks))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._snapshot

    def _investigation_done(self) -> bool:
        return self._investigation_task is None or self._investigation_task.done()

    # -- step 2: tiered handling ------------------------------------------------------

    async def _handle(self) -> None:
        roster: StaffRoster = await workflow.execute_activity(
            "load_staff_roster",
            RosterRequest(complaint_id=self._snapshot.complaint_id),
            result_type=StaffRoster,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="Load the staff directory",
        )
        self._roster = {e.staff_id: e for e in roster.entries}
        cls = self._snapshot.classification
        await self._route_to_tier(self._snapshot.tier, f"rule {cls.rule_id}: {cls.matched}" if cls else "classified major")
        if self._snapshot.tier == Tier.MAJOR and self._snapshot.intake.regulators and workflow.patched(REGULATOR_REPORTS):
            reason = ("referred_by_regulator" if self._snapshot.intake.channel == Channel.REGULATOR_REFERRAL
                      else "lodged_with_regulator")
            for regulator in self._snapshot.intake.regulators:
                await self._open_report_thread(regulator, reason)
        choice = await self._choose_handler("Choose a handler by skills and workload")
        self._handling = True
        if choice.staff_id and not self._closing():
            await self._assign(choice.staff_id, [], actor="system", reason=choice.reason)
        elif not self._closing():
            managers = [e.staff_id for e in self._roster.values() if e.role in MANAGERS]
            await self._notify_staff("assignment_needed", managers, "Complaint needs a handler", choice.reason)
            await self._record("assignment_needed", detail={"reason": choice.reason})
        await self._run_clocks()

    async def _choose_handler(self, summary: str, *, also_exclude: str | None = None) -> HandlerChoice:
        """A handler by skills, language and workload; never anyone the complaint implicates."""
        snap = self._snapshot
        exclude = rules.implicated_staff(snap) | ({also_exclude} if also_exclude is not None else set())
        return await workflow.execute_activity(
            "choose_handler",
            HandlerChoiceRequest(complaint_id=snap.complaint_id, category=snap.intake.category.value,
                                 language=snap.intake.customer.language, exclude=sorted(exclude)),
            result_type=HandlerChoice,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=summary,
        )

    def _closing(self) -> bool:
        return self._withdrawal is not None or self._snapshot.status in CLOSED_STATUSES

    async def _run_clocks(self) -> None:
        """Sleep until the next warning or deadline, or until an action changes the clocks."""
        changed = lambda: self._closing() or self._clocks_changed or self._continue_as_new  # noqa: E731
        while not self._closing() and not self._continue_as_new:
            self._clocks_changed = False
            upcoming = self._next_clock_event()
            if upcoming is None:
                await workflow.wait_condition(changed)
                continue
            at, clock, kind = upcoming
            remaining = (at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(
                        changed, timeout=remaining, timeout_summary=f"{clock.label} {kind} {fmt_utc(at)}"
                    )
                    continue
                except asyncio.TimeoutError:
                    pass
            if clock.state != ClockState.RUNNING or self._closing() or self._continue_as_new:
                continue
            if kind == "warning":
                await self._warn(clock)
            else:
                await self._breach(clock)

    def _next_clock_event(self) -> tuple[datetime, Clock, str] | None:
        assert self._rules is not None
        events: list[tuple[datetime, Clock, str]] = []
        for clock in self._snapshot.clocks:
            if clock.state != ClockState.RUNNING:
                continue
            if clock.warned_at is None and workflow.now() < clock.due_at:  # no warning for a clock already late
                events.append((rules.warning_at(clock, self._rules.warning_fraction), clock, "warning"))
            events.append((clock.due_at, clock, "due"))
        return min(events, key=lambda e: e[0]) if events else None

    async def _warn(self, clock: Clock) -> None:
        clock.warned_at = workflow.now()
        holder = self._snapshot.assignee
        manager = rules.escalation_target(self._snapshot, self._roster, 1)
        recipients = [r for r in dict.fromkeys([holder, manager]) if r]
        await self._notify_staff(
            f"sla_warning:{clock.name}:{clock.extensions_used}",
            recipients,
            f"{clock.label} due {fmt_utc(clock.due_at)}",
            f"{self._snapshot.complaint_id}: {clock.label} falls due at {fmt_utc(clock.due_at)}.",
        )
        self._publish()
        await self._record("sla_warning", detail={"clock": clock.name, "due_at": clock.due_at.isoformat()})

    async def _breach(self, clock: Clock) -> None:
        snap = self._snapshot
        clock.state = ClockState.BREACHED
        clock.breached_at = workflow.now()
        snap.escalation_level += 1
        snap.escalated_to = rules.escalation_target(snap, self._roster, snap.escalation_level)
        self._publish()
        recipients = [r for r in dict.fromkeys([snap.escalated_to, snap.assignee]) if r]
        await self._notify_staff(
            f"sla_breached:{clock.name}:{clock.extensions_used}",
            recipients,
            f"BREACHED: {clock.label} ({snap.complaint_id})",
            f"{clock.label} was due {fmt_utc(clock.due_at)}. Escalated to {snap.escalated_to or 'management'} "
            f"(level {snap.escalation_level}).",
        )
        await self._record(
            "sla_breached",
            detail={"clock": clock.name, "due_at": clock.due_at.isoformat(), "escalated_to": snap.escalated_to,
                    "escalation_level": snap.escalation_level},
        )

    async def _route_to_tier(self, tier: Tier | None, reason: str) -> None:
        """Complex: legal and management evaluate; major: compliance investigates, management knows."""
        snap = self._snapshot
        if tier == Tier.MAJOR and workflow.patched(INVESTIGATION_WORKFLOW):
            await self._start_investigation(reason)
        elif tier == Tier.MAJOR:
            who = [e.staff_id for e in self._roster.values() if e.role in (Role.COMPLIANCE, Role.SENIOR_MANAGER)]
            await self._notify_staff(
                "major_complaint", who, f"MAJOR complaint {snap.complaint_id}: open the internal investigation",
                f"{snap.intake.summary}\nRule: {snap.classification.rule_id if snap.classification else ''}",
            )
        elif tier == Tier.COMPLEX:
            who = [e.staff_id for e in self._roster.values() if e.role in (Role.LEGAL, Role.MANAGER)]
            await self._notify_staff(
                "complex_complaint", who, f"Complex complaint {snap.complaint_id}: legal and manager evaluation needed",
                snap.intake.summary,
            )

    async def _assign(self, handler: str, team: list[str], *, actor: str, reason: str) -> None:
        snap = self._snapshot
        previous = snap.assignee
        snap.assignee, snap.team = handler, team
        if snap.status == Status.AWAITING_ASSIGNMENT:
            snap.status = Status.IN_HANDLING
        self._publish()
        await self._notify_staff(
            f"assigned:{self._seq + 1}", [handler, *team], f"Complaint {snap.complaint_id} is yours",
            f"{snap.intake.summary}\nNext deadline: {fmt_utc(snap.next_deadline)}",
        )
        await self._record(
            "reassigned" if previous else "assigned",
            actor=actor,
            detail={"handler": handler, "team": team, "previous": previous, "reason": reason},
        )

    def _settle(self, names: set[str], by: str) -> None:
        now = workflow.now()
        for clock in self._snapshot.clocks:
            if clock.name in names and clock.state == ClockState.RUNNING:
                clock.state, clock.met_at, clock.met_by = ClockState.MET, now, by
        self._clocks_changed = True

    # -- staff and customer actions -------------------------------------------------

    @workflow.update
    async def withdraw(self, request: WithdrawRequest) -> WithdrawResult:
        self._withdrawal = request
        await workflow.wait_condition(lambda: self._snapshot.status in CLOSED_STATUSES)
        return WithdrawResult(complaint_id=self._snapshot.complaint_id, status=self._snapshot.status)

    @withdraw.validator
    def _validate_withdraw(self, request: WithdrawRequest) -> None:
        if self._snapshot.status in CLOSED_STATUSES or self._withdrawal is not None:
            raise ValueError(f"complaint {self._snapshot.complaint_id} is already {Status.WITHDRAWN.value}")

    @workflow.query
    def status(self) -> ComplaintStatusQuery:
        return ComplaintStatusQuery(
            snapshot=self._snapshot,
            next_deadline=self._snapshot.next_deadline,
            sla_breached=self._snapshot.sla_breached,
            events_recorded=self._seq,
        )


    # -- staff actions (updates with validators) ------------------------------------

    def _actor(self, actor: str) -> RosterEntry:
        if not self._handling:
            rules.require_open(self._snapshot)
            raise Refused(f"complaint {self._snapshot.complaint_id} is still in intake; try again shortly")
        return rules.actor_entry(self._roster, actor)

    def _result(self, message: str) -> ActionResult:
        return ActionResult(complaint_id=self._snapshot.complaint_id, status=self._snapshot.status.value, message=message)

    @workflow.update
    async def assign(self, request: AssignRequest) -> ActionResult:
        recheck(self._validate_assign, request)
        await self._assign(request.handler_id, list(request.team), actor=request.actor, reason=request.reason)
        return self._result(f"assigned to {request.handler_id}")

    @assign.validator
    def _validate_assign(self, request: AssignRequest) -> None:
        snap, entry = self._snapshot, self._actor(request.actor)
        rules.require_open(snap)
        rules.require_role(entry, MANAGERS, "assign a complaint")
        handler = rules.actor_entry(self._roster, request.handler_id)
        rules.require_role(handler, (Role.HANDLER,), "handle a complaint")
        for member in [request.handler_id, *request.team]:
            rules.actor_entry(self._roster, member)
            rules.require_not_implicated(snap, member)

    @workflow.update
    async def record_findings(self, request: FindingsRequest) -> ActionResult:
        recheck(self._validate_findings, request)
        self._snapshot.findings.append(
            Finding(recorded_by=request.actor, recorded_at=workflow.now(), summary=request.summary,
                    occurred_at=request.occurred_at, place=request.place, amounts=list(request.amounts),
                    evidence=list(request.evidence))
        )
        await self._record("findings_recorded", actor=request.actor,
                           detail={"summary": request.summary, "evidence": len(request.evidence)})
        return self._result("findings recorded")

    @record_findings.validator
    def _validate_findings(self, request: FindingsRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, HANDLING, "record findings")
        rules.require_holder(self._snapshot, entry, "record findings")

    @workflow.update
    async def record_legal_evaluation(self, request: LegalEvaluationRequest) -> ActionResult:
        recheck(self._validate_legal, request)
        self._snapshot.legal_evaluation = Evaluation(
            by=request.actor, at=workflow.now(), opinion=request.opinion,
            recommends_contract_revision=request.recommends_contract_revision, clause_revision=request.clause_revision,
        )
        await self._record("legal_evaluation", actor=request.actor,
                           detail={"recommends_contract_revision": request.recommends_contract_revision})
        return self._result("legal evaluation recorded")

    @record_legal_evaluation.validator
    def _validate_legal(self, request: LegalEvaluationRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, HANDLING, "record a legal evaluation")
        rules.require_role(entry, (Role.LEGAL,), "record a legal evaluation")
        rules.require_not_implicated(self._snapshot, request.actor)

    @workflow.update
    async def record_manager_evaluation(self, request: ManagerEvaluationRequest) -> ActionResult:
        recheck(self._validate_manager_evaluation, request)
        self._snapshot.manager_evaluation = Evaluation(by=request.actor, at=workflow.now(), opinion=request.opinion)
        await self._record("manager_evaluation", actor=request.actor)
        return self._result("manager evaluation recorded")

    @record_manager_evaluation.validator
    def _validate_manager_evaluation(self, request: ManagerEvaluationRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, HANDLING, "record a manager evaluation")
        rules.require_role(entry, MANAGERS, "record a manager evaluation")
        rules.require_not_implicated(self._snapshot, request.actor)

    @workflow.update
    async def record_loss_calculation(self, request: LossCalculationRequest) -> ActionResult:
        recheck(self._validate_loss, request)
        loss = Money(amount=request.actual_loss, currency=request.currency) if request.actual_loss > 0 else None
        self._snapshot.loss_calculation = LossCalculation(
            by=request.actor, at=workflow.now(), actual_loss=loss, method=request.method
        )
        await self._record("loss_calculated", actor=request.actor,
                           detail={"actual_loss": str(request.actual_loss), "currency": request.currency})
        return self._result(f"actual loss {request.actual_loss} {request.currency} recorded")

    @record_loss_calculation.validator
    def _validate_loss(self, request: LossCalculationRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, HANDLING, "record a loss calculation")
        rules.require_role(entry, (Role.FINANCE,), "record a loss calculation")

    @workflow.update
    async def request_customer_information(self, request: InformationRequest) -> ActionResult:
        recheck(self._validate_information_request, request)
        snap = self._snapshot
        assert self._rules is not None
        now = workflow.now()
        snap.status = Status.AWAITING_CUSTOMER_INFO
        snap.information_requests.append(
            InformationRequestRecord(requested_by=request.actor, requested_at=now, requested=request.requested)
        )
        paused = self._rules.pause_while_awaiting_customer
        if paused:
            for clock in snap.clocks:
                if clock.state == ClockState.RUNNING and clock.name != "acknowledgement":
                    clock.state, clock.paused_at = ClockState.PAUSED, now
            self._clocks_changed = True
        self._publish()
        await self._notify_customer(
            f"information_request:{len(snap.information_requests)}", "information_request",
            {"requested": request.requested, "paused": paused},
        )
        await self._record("information_requested", actor=request.actor,
                           detail={"requested": request.requested, "clocks_paused": paused})
        return self._result("information requested" + (", clocks paused" if paused else ""))

    @request_customer_information.validator
    def _validate_information_request(self, request: InformationRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.IN_HANDLING,), "request information from the customer")
        rules.require_holder(self._snapshot, entry, "request information from the customer")

    @workflow.update
    async def record_customer_information(self, request: InformationReceived) -> ActionResult:
        recheck(self._validate_information_received, request)
        snap, now = self._snapshot, workflow.now()
        snap.status = Status.IN_HANDLING
        open_request = snap.information_requests[-1]
        open_request.received_at, open_request.note = now, request.note
        moved = 0.0
        for clock in snap.clocks:
            if clock.state == ClockState.PAUSED and clock.paused_at is not None:
                moved = (now - clock.paused_at).total_seconds()
                clock.due_at += now - clock.paused_at
                clock.paused_seconds += moved
                clock.state, clock.paused_at = ClockState.RUNNING, None
        self._clocks_changed = True
        self._publish()
        await self._record("information_received", actor=request.actor,
                           detail={"note": request.note, "deadlines_moved_seconds": moved})
        return self._result(f"information received; deadlines moved by {moved:.0f} s")

    @record_customer_information.validator
    def _validate_information_received(self, request: InformationReceived) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.AWAITING_CUSTOMER_INFO,), "record the customer's information")
        rules.require_holder(self._snapshot, entry, "record the customer's information")

    @workflow.update
    async def open_investigation(self, request: OpenInvestigationRequest) -> ActionResult:
        recheck(self._validate_open_investigation, request)
        self._snapshot.investigation = Investigation(
            opened_by=request.actor, opened_at=workflow.now(), scope=request.scope
        )
        self._settle(MET_BY_INVESTIGATION, "investigation opened")
        self._publish()
        await self._record("investigation_opened", actor=request.actor, detail={"scope": request.scope})
        return self._result("internal investigation opened")

    def _refuse_if_child_investigation(self) -> None:
        inv = self._snapshot.investigation
        if inv is not None and inv.workflow_id:
            raise Refused(f"the investigation runs as its own workflow ({inv.workflow_id}); "
                          f"act on it with `complaints investigation ...`")

    @open_investigation.validator
    def _validate_open_investigation(self, request: OpenInvestigationRequest) -> None:
        snap, entry = self._snapshot, self._actor(request.actor)
        rules.require_open(snap)
        self._refuse_if_child_investigation()
        rules.require_role(entry, (Role.COMPLIANCE,), "open an internal investigation")
        rules.require_not_implicated(snap, request.actor)
        if snap.tier != Tier.MAJOR:
            raise Refused(f"complaint {snap.complaint_id} is {snap.tier.value if snap.tier else 'unclassified'}; "
                          "investigations are for major complaints (escalate it first)")
        if snap.investigation is not None:
            raise Refused(f"an investigation was already opened by {snap.investigation.opened_by}")

    @workflow.update
    async def record_investigation_outcome(self, request: InvestigationOutcomeRequest) -> ActionResult:
        recheck(self._validate_investigation_outcome, request)
        investigation = self._snapshot.investigation
        assert investigation is not None
        investigation.outcome, investigation.concluded_at = request, workflow.now()
        if request.suspected_illegal and workflow.patched(REGULATOR_REPORTS):
            await self._report_suspected_illegal_conduct()
        self._publish()
        await self._record(
            "investigation_concluded", actor=request.actor,
            detail={"accountability": request.accountability, "responsible": request.responsible,
                    "suspected_illegal": request.suspected_illegal},
        )
        return self._result(f"investigation concluded: accountability {request.accountability}")

    @record_investigation_outcome.validator
    def _validate_investigation_outcome(self, request: InvestigationOutcomeRequest) -> None:
        snap, entry = self._snapshot, self._actor(request.actor)
        rules.require_open(snap)
        self._refuse_if_child_investigation()
        rules.require_role(entry, (Role.COMPLIANCE,), "record an investigation outcome")
        if snap.investigation is None:
            raise Refused("no internal investigation has been opened")
        if snap.investigation.outcome is not None:
            raise Refused("the internal investigation has already concluded")
        for staff_id in request.responsible:
            rules.actor_entry(self._roster, staff_id)

    @workflow.update
    async def send_feedback(self, request: FeedbackRequest) -> ActionResult:
        recheck(self._validate_feedback, request)
        await self._notify_customer(f"feedback:{self._seq + 1}", "feedback", {"message": request.message})
        self._settle(MET_BY_FEEDBACK, "feedback")
        self._publish()
        await self._record("feedback_sent", actor=request.actor, detail={"message": request.message})
        return self._result("feedback sent to the customer")

    @send_feedback.validator
    def _validate_feedback(self, request: FeedbackRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, HANDLING, "send feedback")
        rules.require_holder(self._snapshot, entry, "send feedback")
        rules.require_ready_for_customer(self._snapshot, "send feedback")

    @workflow.update
    async def propose_resolution(self, request: ProposalRequest) -> ActionResult:
        recheck(self._validate_proposal, request)
        snap = self._snapshot
        assert self._rules is not None
        proposal = Proposal(
            number=len(snap.proposals) + 1, proposed_by=request.actor, proposed_at=workflow.now(),
            explanation=request.explanation, fee_refund=request.fee_refund, compensation=request.compensation,
            contract_revision=request.contract_revision,
        )
        snap.proposals.append(proposal)
        snap.status = Status.AWAITING_APPROVAL
        total = proposal.remedy_total(self._rules.currency)
        roles = rules.approver_roles(self._rules, total)
        self._publish()
        await self._notify_staff(
            f"approval_needed:{proposal.number}", self._approvers(roles),
            f"Approve resolution {proposal.number} of {snap.complaint_id}",
            f"{request.explanation}\nRemedies total {total} {self._rules.currency}; approver: {', '.join(r.value for r in roles)}",
        )
        await self._record(
            "resolution_proposed", actor=request.actor,
            detail={"number": proposal.number, "remedy_total": str(total), "approver_roles": [r.value for r in roles]},
        )
        return self._result(f"resolution {proposal.number} proposed; needs approval by {', '.join(r.value for r in roles)}")

    @propose_resolution.validator
    def _validate_proposal(self, request: ProposalRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.IN_HANDLING,), "propose a resolution")
        rules.require_holder(self._snapshot, entry, "propose a resolution")
        rules.require_ready_for_customer(self._snapshot, "propose a resolution")

    def _approvers(self, roles: list[Role]) -> list[str]:
        manager = rules.escalation_target(self._snapshot, self._roster, 1)
        if manager and self._roster.get(manager) and self._roster[manager].role in roles:
            return [manager]
        return sorted(e.staff_id for e in self._roster.values() if e.role in roles)

    @workflow.update
    async def decide_resolution(self, request: ApprovalDecision) -> ActionResult:
        recheck(self._validate_decision, request)
        snap = self._snapshot
        proposal = snap.current_proposal
        assert proposal is not None
        proposal.decided_by, proposal.decision_reason = request.actor, request.reason
        if not request.approve:
            proposal.state = "rejected_internally"
            snap.status = Status.IN_HANDLING
            self._publish()
            await self._notify_staff(f"proposal_rejected:{proposal.number}", [proposal.proposed_by],
                                     f"Resolution {proposal.number} of {snap.complaint_id} rejected", request.reason)
            await self._record("resolution_rejected_internally", actor=request.actor,
                               detail={"number": proposal.number, "reason": request.reason})
            return self._result(f"resolution {proposal.number} rejected; back to handling")
        proposal.state = "sent"
        snap.status = Status.AWAITING_CUSTOMER_ANSWER
        await self._notify_customer(f"proposal:{proposal.number}", "resolution_proposal", _remedy_context(proposal))
        self._settle(MET_BY_RESOLUTION, f"proposal {proposal.number}")
        self._publish()
        await self._record("resolution_approved", actor=request.actor, detail={"number": proposal.number})
        return self._result(f"resolution {proposal.number} approved and sent to the customer")

    @decide_resolution.validator
    def _validate_decision(self, request: ApprovalDecision) -> None:
        snap, entry = self._snapshot, self._actor(request.actor)
        assert self._rules is not None
        rules.require_status(snap, (Status.AWAITING_APPROVAL,), "approve or reject a resolution")
        proposal = snap.current_proposal
        assert proposal is not None
        if request.actor == proposal.proposed_by:
            raise Refused("a resolution cannot be approved by the person who proposed it")
        rules.require_not_implicated(snap, request.actor)
        total = proposal.remedy_total(self._rules.currency)
        rules.require_role(entry, rules.approver_roles(self._rules, total),
                           f"decide on remedies of {total} {self._rules.currency}")

    @workflow.update
    async def record_customer_answer(self, request: CustomerAnswer) -> ActionResult:
        recheck(self._validate_customer_answer, request)
        snap = self._snapshot
        proposal = snap.current_proposal
        assert proposal is not None
        proposal.customer_comments = request.comments
        if request.accepted and workflow.patched(FOLLOW_UP):
            proposal.state = "accepted"
            key = "final_response" if snap.reopened_count == 0 else f"final_response:{snap.reopened_count}"
            await self._notify_customer(key, "final_response", _remedy_context(proposal))
            snap.resolved_at = workflow.now()
            await self._record("resolved", actor=request.actor,
                               detail={"number": proposal.number, "comments": request.comments})
            await self._start_follow_up()
            return self._result(f"resolution {proposal.number} accepted; final response sent; follow-up call scheduled")
        if request.accepted:
            proposal.state = "accepted"
            await self._notify_customer("final_response", "final_response", _remedy_context(proposal))
            now = workflow.now()
            snap.status, snap.resolved_at, snap.closed_at = Status.RESOLVED, now, now
            snap.closing_reason = f"resolution {proposal.number} accepted"
            for clock in snap.clocks:
                if clock.state in (ClockState.RUNNING, ClockState.PAUSED):
                    clock.state = ClockState.STOPPED
            self._publish()
            await self._record("resolved", actor=request.actor,
                               detail={"number": proposal.number, "comments": request.comments})
            return self._result(f"resolution {proposal.number} accepted; final response sent")
        proposal.state = "rejected_by_customer"
        snap.status = Status.IN_HANDLING
        for clock in snap.clocks:
            if clock.state == ClockState.MET and clock.met_by == f"proposal {proposal.number}":
                clock.state, clock.met_at, clock.met_by = ClockState.RUNNING, None, None
        self._clocks_changed = True
        self._publish()
        await self._record("resolution_rejected_by_customer", actor=request.actor,
                           detail={"number": proposal.number, "comments": request.comments})
        return self._result(f"customer rejected resolution {proposal.number}; back to handling, clocks running")

    @record_customer_answer.validator
    def _validate_customer_answer(self, request: CustomerAnswer) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.AWAITING_CUSTOMER_ANSWER,), "record the customer's answer")
        rules.require_holder(self._snapshot, entry, "record the customer's answer")

    @workflow.update
    async def extend_deadline(self, request: ExtensionRequest) -> ActionResult:
        recheck(self._validate_extension, request)
        snap = self._snapshot
        clock = self._decision_clock()
        assert clock is not None and self._rules is not None
        index = clock.extensions_used
        planned: Clock = await workflow.execute_activity(
            "plan_clock",
            PlanClockRequest(complaint_id=snap.complaint_id, policy_version=self._rules.policy_version,
                             started_at=clock.started_at, extension_index=index),
            result_type=Clock,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Compute the extended deadline ({self._rules.extensions[index].label})",
        )
        clock.due_at = planned.due_at + timedelta(seconds=clock.paused_seconds)
        clock.extended, clock.limit, clock.warned_at = planned.label, planned.limit, None
        clock.extensions_used += 1
        self._clocks_changed = True
        self._publish()
        await self._notify_customer(
            f"extension:{index}", "extension",
            {"label": planned.label, "new_due": clock.due_at.isoformat(), "reason": request.reason},
        )
        await self._record("deadline_extended", actor=request.actor,
                           detail={"extension": planned.label, "due_at": clock.due_at.isoformat(), "reason": request.reason})
        return self._result(f"{planned.label}: decision now due {fmt_utc(clock.due_at)}")

    @extend_deadline.validator
    def _validate_extension(self, request: ExtensionRequest) -> None:
        snap, entry = self._snapshot, self._actor(request.actor)
        rules.require_open(snap)
        assert self._rules is not None
        clock = self._decision_clock()
        if clock is None or clock.state not in (ClockState.RUNNING, ClockState.PAUSED):
            raise Refused("the regulatory decision clock is not running, so there is nothing to extend")
        if clock.extensions_used >= len(self._rules.extensions):
            raise Refused(f"no further extension: the rule pack allows {len(self._rules.extensions)}")
        spec = self._rules.extensions[clock.extensions_used]
        rules.require_role(entry, spec.approver_roles, f"approve '{spec.label}'")
        rules.require_not_implicated(snap, request.actor)

    @workflow.update
    async def reapply_policy(self, request: ReapplyPolicyRequest) -> ActionResult:
        recheck(self._validate_reapply, request)
        snap = self._snapshot
        assert snap.tier is not None and snap.classification is not None and self._rules is not None
        result: ReplanResult = await workflow.execute_activity(
            "replan_clocks",
            ReplanRequest(complaint_id=snap.complaint_id, tier=snap.tier,
                          clocks=[c.model_dump(mode="json") for c in snap.clocks]),
            result_type=ReplanResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="Re-apply the policy in force to the clocks",
        )
        previous = self._rules.policy_version
        self._rules = result.rules
        snap.clocks = [Clock.model_validate(c) for c in result.clocks]
        snap.classification = snap.classification.model_copy(update={"policy_version": result.rules.policy_version})
        self._clocks_changed = True
        self._publish()
        await self._record("policy_reapplied", actor=request.actor,
                           detail={"from": previous, "to": result.rules.policy_version, "reason": request.reason})
        return self._result(f"policy {result.rules.policy_version} applied (was {previous})")

    @reapply_policy.validator
    def _validate_reapply(self, request: ReapplyPolicyRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_open(self._snapshot)
        rules.require_role(entry, MANAGERS, "re-apply the policy")

    def _decision_clock(self) -> Clock | None:
        return next((c for c in reversed(self._snapshot.clocks) if c.name == "regulatory_decision"), None)

    @workflow.signal
    async def escalate(self, request: EscalateSignal) -> None:
        """Raise the tier and re-route. A signal cannot be refused, so a bad one is recorded as refused."""
        await workflow.wait_condition(lambda: self._handling or self._closing())
        snap = self._snapshot
        try:
            entry = self._actor(request.actor)
            rules.require_open(snap)
            if entry.role in (Role.RELATIONSHIP_MANAGER,):
                raise Refused(f"{entry.staff_id} is {entry.role.value} and cannot escalate complaints")
            if snap.tier == Tier.MAJOR:
                raise Refused("the complaint is already major")
        except Refused as refusal:
            await self._record("escalation_refused", actor=request.actor, detail={"reason": str(refusal)})
            return
        assert snap.classification is not None and self._rules is not None
        old, new = snap.classification.tier, rules.raised_tier(snap.classification.tier, request.to_tier)
        now = workflow.now()
        clock: Clock = await workflow.execute_activity(
            "plan_clock",
            PlanClockRequest(complaint_id=snap.complaint_id, policy_version=self._rules.policy_version,
                             started_at=now, tier=new),
            result_type=Clock,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Start the {new.value}-tier clock",
        )
        # Tier, escalation record and clocks change together, so no query sees half of it.
        snap.classification = snap.classification.model_copy(update={"tier": new})
        snap.escalations.append(Escalation(at=now, by=request.actor, reason=request.reason, from_tier=old, to_tier=new))
        for existing in snap.clocks:
            if existing.name == f"{old.value}_first_response" and existing.state in (ClockState.RUNNING, ClockState.PAUSED):
                existing.state = ClockState.STOPPED
        snap.clocks.append(clock)
        self._clocks_changed = True
        self._publish()
        await self._route_to_tier(new, f"escalated by {request.actor}: {request.reason}")
        await self._record("escalated", actor=request.actor,
                           detail={"from_tier": old.value, "to_tier": new.value, "reason": request.reason})

    # -- the internal investigation: a child workflow owned by compliance ---------------

    async def _start_investigation(self, reason: str) -> None:
        snap = self._snapshot
        assert self._rules is not None
        if snap.investigation is not None:
            return
        # On file before the child starts, so no validator sees a major complaint without it.
        snap.investigation = Investigation(
            opened_by="system", opened_at=workflow.now(), scope=snap.intake.summary[:500],
            workflow_id=investigation_workflow_id(snap.complaint_id), implicated=sorted(rules.implicated_staff(snap)),
        )
        self._settle(MET_BY_INVESTIGATION, "investigation opened")
        self._publish()
        self._investigation_task = asyncio.create_task(self._investigate(reason))
        await workflow.wait_condition(lambda: self._investigation_started or self._investigation_done())

    def _investigation_input(self, reason: str) -> InvestigationInput:
        snap, intake = self._snapshot, self._snapshot.intake
        assert self._rules is not None and snap.investigation is not None
        return InvestigationInput(
            complaint_id=snap.complaint_id, complaint_workflow_id=snap.workflow_id, summary=intake.summary,
            scope=snap.investigation.scope, reason=reason, implicated=snap.investigation.implicated,
            customer_id=intake.customer.customer_id, contract_number=intake.contract_number,
            roster=list(self._roster.values()),
            rules=InvestigationRules(
                policy_version=self._rules.policy_version, warning_fraction=self._rules.warning_fraction,
                accountability_deciders=self._rules.accountability_deciders,
                evidence_required=self._rules.investigation_evidence_required,
            ),
        )

    async def _investigate(self, reason: str) -> None:
        """Start the investigation, wait for its outcome; if an operator ends it early, start it again."""
        snap = self._snapshot
        inv = snap.investigation
        assert inv is not None and inv.workflow_id is not None
        attempt = 0
        while True:
            attempt += 1
            handle = await workflow.start_child_workflow(
                InvestigationWorkflow.run,
                self._investigation_input(reason),
                id=inv.workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,  # nobody can drop it by ending the complaint
                static_summary=f"Investigation of {snap.complaint_id}: {snap.intake.summary[:120]}",
                static_details=f"Major complaint {snap.complaint_id}, customer {snap.intake.customer.name}.\n\n"
                               f"Why major: {reason}",
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(sa.TIER, Tier.MAJOR.value),
                    SearchAttributePair(sa.CATEGORY, snap.intake.category.value),
                    SearchAttributePair(sa.CUSTOMER_ID, snap.intake.customer.customer_id),
                    *([SearchAttributePair(sa.CONTRACT_NUMBER, snap.intake.contract_number)]
                      if snap.intake.contract_number else []),
                ]),
            )
            self._investigation_started = True
            await self._record("investigation_opened", detail={"workflow_id": inv.workflow_id, "reason": reason,
                                                                "attempt": attempt})
            try:
                result: InvestigationResult = await handle
                break
            except ChildWorkflowError as err:
                compliance = [e.staff_id for e in self._roster.values()
                              if e.role in (Role.COMPLIANCE, Role.SENIOR_MANAGER)]
                await self._notify_staff(f"investigation_interrupted:{attempt}", compliance,
                                         f"Investigation of {snap.complaint_id} was ended without an outcome",
                                         f"{err.cause or err}. It has been started again.")
                await self._record("investigation_interrupted", detail={"cause": str(err.cause or err)})
        await self._apply_investigation_result(result)

    async def _apply_investigation_result(self, result: InvestigationResult) -> None:
        snap = self._snapshot
        inv = snap.investigation
        assert inv is not None
        inv.outcome, inv.concluded_at, inv.lead = result.outcome, result.concluded_at, result.lead
        inv.evidence, inv.breached = result.evidence, result.breached
        inv.implicated = sorted(set(inv.implicated) | set(result.outcome.responsible))
        if result.outcome.suspected_illegal:
            await self._report_suspected_illegal_conduct()
        self._publish()
        await self._record("investigation_concluded", actor=result.concluded_by, detail={
            "accountability": result.outcome.accountability, "responsible": result.outcome.responsible,
            "suspected_illegal": result.outcome.suspected_illegal, "workflow_id": result.investigation_id})
        if not self._closing():
            await self._notify_staff(
                "investigation_concluded", [r for r in [snap.assignee] if r],
                f"Investigation of {snap.complaint_id} concluded",
                f"Accountability: {result.outcome.accountability}. {result.outcome.findings}")

    async def _report_suspected_illegal_conduct(self) -> None:
        assert self._rules is not None
        reported = {t.regulator for t in self._snapshot.regulator_reports}
        for regulator in self._snapshot.intake.regulators or [self._rules.default_regulator]:
            if regulator not in reported:
                await self._open_report_thread(regulator, "suspected_illegal_conduct")

    @workflow.signal
    async def investigation_progress(self, request: InvestigationProgressSignal) -> None:
        """From the investigation: its lead, and who it implicates; implicated staff stop handling."""
        await workflow.wait_condition(lambda: self._handling or self._closing())
        snap = self._snapshot
        inv = snap.investigation
        if inv is None or inv.workflow_id != request.investigation_id:
            return
        inv.lead = request.lead
        newly = sorted(set(request.implicated) - set(inv.implicated))
        inv.implicated = sorted(set(inv.implicated) | set(request.implicated))
        newly_breached = request.breached and not inv.breached
        inv.breached = inv.breached or request.breached
        self._publish()
        if newly_breached:
            await self._record("investigation_breached", actor=request.investigation_id)
        if not newly:
            return
        await self._record("implicated_by_investigation", actor=request.investigation_id, detail={"staff_ids": newly})
        if self._closing():
            return
        recused = [s for s in newly if s == snap.assignee or s in snap.team]
        if not recused:
            return
        team = [m for m in snap.team if m not in inv.implicated]
        handler = snap.assignee if snap.assignee not in inv.implicated else None
        if handler is None:
            handler = (await self._choose_handler("Choose a handler who is not implicated")).staff_id
        if handler:
            await self._assign(handler, team, actor="system", reason=f"recusal: {', '.join(recused)} implicated "
                                                                     f"by {request.investigation_id}")
        else:
            managers = [e.staff_id for e in self._roster.values() if e.role in MANAGERS]
            await self._notify_staff(f"recusal:{self._seq + 1}", managers, f"{snap.complaint_id} needs a new handler",
                                     f"{', '.join(recused)} must recuse themselves; nobody else is free.")

    @workflow.signal
    async def flag_for_review(self, request: ReviewFlagSignal) -> None:
        """From another complaint's investigation: someone working on this one is implicated there."""
        await workflow.wait_condition(lambda: self._handling or self._closing())
        snap = self._snapshot
        if any(f.investigation_id == request.investigation_id and f.staff_id == request.staff_id
               for f in snap.review_flags):
            return
        snap.review_flags.append(ReviewFlag(
            investigation_id=request.investigation_id, staff_id=request.staff_id, relation=request.relation,
            flagged_by=request.flagged_by, flagged_at=workflow.now(), reason=request.reason))
        self._publish()
        manager = rules.escalation_target(snap, self._roster, 1)
        reviewers = [manager] if manager else [e.staff_id for e in self._roster.values() if e.role in MANAGERS]
        await self._notify_staff(
            f"review_flag:{request.investigation_id}:{request.staff_id}", reviewers,
            f"Review {snap.complaint_id}: {request.staff_id} is implicated in {request.investigation_id}",
            f"{request.staff_id} ({request.relation}) on this complaint. {request.reason}")
        await self._record("flagged_for_review", actor=request.flagged_by, detail={
            "investigation_id": request.investigation_id, "staff_id": request.staff_id, "relation": request.relation})

    @workflow.update
    async def complete_review(self, request: CompleteReviewRequest) -> ActionResult:
        recheck(self._validate_complete_review, request)
        now = workflow.now()
        for flag in self._snapshot.review_flags:
            if flag.staff_id == request.staff_id and flag.reviewed_at is None:
                flag.reviewed_by, flag.reviewed_at, flag.review_note = request.actor, now, request.note
        self._publish()
        await self._record("review_completed", actor=request.actor,
                           detail={"staff_id": request.staff_id, "note": request.note})
        return self._result(f"review of {request.staff_id}'s part completed")

    @complete_review.validator
    def _validate_complete_review(self, request: CompleteReviewRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_role(entry, MANAGERS, "complete a review")
        rules.require_not_implicated(self._snapshot, request.actor)
        if not any(f.staff_id == request.staff_id and f.reviewed_at is None for f in self._snapshot.review_flags):
            raise Refused(f"staff_id: no open review flag for {request.staff_id} on {self._snapshot.complaint_id}")

    # -- regulator reports: one thread per regulator, each filed exactly once ---------

    async def _open_report_thread(self, regulator: str, reason: str) -> None:
        snap = self._snapshot
        clock = await self._plan(f"Plan the report to {regulator}", purpose="regulator_report", regulator=regulator,
                                 started_at=workflow.now())
        thread = RegulatorThread(regulator=regulator, reason=reason, due_at=clock.due_at,
                                 idempotency_key=f"{snap.complaint_id}:{regulator}:initial:1")
        snap.regulator_reports.append(thread)
        snap.clocks.append(clock)
        self._clocks_changed = True
        self._publish()
        await self._record("regulator_report_due", detail={"regulator": regulator, "reason": reason,
                                                            "due_at": clock.due_at.isoformat()})
        self._report_tasks.append(asyncio.create_task(self._file_report(thread, clock)))

    def _report(self, thread: RegulatorThread) -> RegulatorReport:
        snap, intake = self._snapshot, self._snapshot.intake
        amounts = intake.amounts
        return RegulatorReport(
            idempotency_key=thread.idempotency_key, sequence=1, regulator=thread.regulator,
            complaint_id=snap.complaint_id, reason=thread.reason, received_at=intake.received_at,
            reported_at=workflow.now(), customer_id=intake.customer.customer_id, customer_name=intake.customer.name,
            company=intake.customer.company, category=intake.category.value,
            tier=snap.tier.value if snap.tier else "major", summary=intake.summary,
            contract_number=intake.contract_number,
            amount_in_dispute=sum((m.amount for m in amounts if m.currency == amounts[0].currency), Decimal(0))
            if amounts else None,
            currency=amounts[0].currency if amounts else None, handling_status=snap.status.value,
        )

    async def _file_report(self, thread: RegulatorThread, clock: Clock) -> None:
        """Retry with backoff; past the retry window alert compliance and keep trying; never twice."""
        assert self._rules is not None
        while True:
            window = max(10.0, (thread.due_at - workflow.now()).total_seconds() * self._rules.report_retry_window_fraction)
            thread.attempts += 1
            try:
                receipt: RegulatorReceipt = await workflow.execute_activity(
                    "file_regulator_report",
                    FileReportRequest(complaint_id=self._snapshot.complaint_id, report=self._report(thread)),
                    result_type=RegulatorReceipt,
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    schedule_to_close_timeout=timedelta(seconds=window),
                    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                             maximum_interval=timedelta(seconds=30),
                                             non_retryable_error_types=["RegulatorRejected"]),
                    summary=f"File the report to {thread.regulator}",
                )
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.type == "RegulatorRejected":
                    thread.state, thread.rejection = "rejected", cause.message
                    compliance = [e.staff_id for e in self._roster.values() if e.role == Role.COMPLIANCE]
                    await self._notify_staff(f"regulator_report_rejected:{thread.regulator}", compliance,
                                             f"{thread.regulator} rejected the report on {self._snapshot.complaint_id}",
                                             cause.message)
                    await self._record("regulator_report_rejected",
                                       detail={"regulator": thread.regulator, "reason": cause.message})
                    return
                if not thread.escalated:
                    thread.escalated = True
                    compliance = [e.staff_id for e in self._roster.values() if e.role == Role.COMPLIANCE]
                    await self._notify_staff(
                        f"regulator_report_failing:{thread.regulator}", compliance,
                        f"Report to {thread.regulator} on {self._snapshot.complaint_id} is failing",
                        f"Due {fmt_utc(thread.due_at)}; still retrying with key {thread.idempotency_key}.")
                    await self._record("regulator_report_escalated",
                                       detail={"regulator": thread.regulator, "attempts": thread.attempts})
                continue
            thread.state, thread.acknowledgement_id = "acknowledged", receipt.acknowledgement_id
            if clock.state == ClockState.RUNNING:
                clock.state, clock.met_at, clock.met_by = ClockState.MET, workflow.now(), "report filed"
            self._clocks_changed = True
            self._publish()
            await self._record("regulator_report_filed",
                               detail={"regulator": thread.regulator, "acknowledgement_id": receipt.acknowledgement_id})
            return

    # -- after the decision: follow-up, look-back, closure (steps 3 and 6) -------------

    async def _plan(self, summary: str, **request: Any) -> Clock:
        assert self._rules is not None
        return await workflow.execute_activity(
            "plan_clock",
            PlanClockRequest(complaint_id=self._snapshot.complaint_id, policy_version=self._rules.policy_version,
                             **request),
            result_type=Clock,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=summary,
        )

    def _stop_clocks(self, *, met_by: str | None = None) -> None:
        now = workflow.now()
        for clock in self._snapshot.clocks:
            if clock.name.startswith("regulator_report_"):
                continue  # the report thread settles its own clock
            if clock.state in (ClockState.RUNNING, ClockState.PAUSED):
                if met_by:
                    clock.state, clock.met_at, clock.met_by = ClockState.MET, now, met_by
                else:
                    clock.state = ClockState.STOPPED
        self._clocks_changed = True

    async def _start_follow_up(self) -> None:
        snap = self._snapshot
        assert self._rules is not None and snap.tier is not None
        self._stop_clocks()
        caller = snap.assignee
        if self._rules.follow_up_different_caller:
            choice = await self._choose_handler("Choose who makes the follow-up call", also_exclude=snap.assignee or "")
            caller = choice.staff_id or snap.assignee
        clock = await self._plan("Plan the follow-up call", purpose="follow_up", tier=snap.tier,
                                 started_at=workflow.now())
        snap.follow_up = FollowUp(caller=caller, scheduled_at=clock.started_at)
        snap.clocks.append(clock)
        snap.status = Status.FOLLOW_UP
        self._clocks_changed = True
        self._publish()
        await self._notify_staff(f"follow_up:{snap.reopened_count}", [c for c in [caller] if c],
                                 f"Follow-up call for {snap.complaint_id}", f"Call the customer by {fmt_utc(clock.due_at)}.")
        await self._record("follow_up_scheduled", detail={"caller": caller, "due_at": clock.due_at.isoformat()})

    def _holder_or_manager(self, entry: RosterEntry, action: str) -> None:
        snap = self._snapshot
        callers = {snap.assignee, *snap.team, snap.follow_up.caller if snap.follow_up else None}
        if entry.staff_id not in callers and entry.role not in MANAGERS:
            raise Refused(f"only the follow-up caller, the complaint's team or a manager may {action}")

    @workflow.update
    async def record_follow_up_call(self, request: FollowUpCallRequest) -> ActionResult:
        recheck(self._validate_follow_up_call, request)
        snap, now = self._snapshot, workflow.now()
        assert snap.follow_up is not None and self._rules is not None
        snap.follow_up.calls.append(FollowUpCall(
            by=request.actor, at=now, reached=request.reached, satisfaction=request.satisfaction,
            remedy_delivered=request.remedy_delivered, comments=request.comments))
        attempt = len(snap.follow_up.calls)
        if not request.reached:
            if attempt < self._rules.follow_up_max_attempts:
                self._stop_clocks()
                retry = await self._plan(f"Plan follow-up attempt {attempt + 1}", purpose="follow_up_retry", started_at=now)
                snap.clocks.append(retry)
                self._publish()
                await self._record("follow_up_not_reached", actor=request.actor,
                                   detail={"attempt": attempt, "next_due": retry.due_at.isoformat()})
                return self._result(f"customer not reached (attempt {attempt}); next try due {fmt_utc(retry.due_at)}")
            await self._notify_customer(f"follow_up_letter:{snap.reopened_count}", "follow_up_letter", {})
            snap.follow_up.outcome = "letter"
            self._stop_clocks(met_by="follow-up letter")
            await self._record("follow_up_letter_sent", actor=request.actor, detail={"attempts": attempt})
            await self._after_follow_up()
            return self._result(f"customer not reached after {attempt} calls; letter sent")
        assert request.satisfaction is not None and request.remedy_delivered is not None
        if request.satisfaction < self._rules.satisfaction_threshold or not request.remedy_delivered:
            snap.follow_up.outcome = "reopened"
            why = ("remedy not delivered" if not request.remedy_delivered
                   else f"satisfaction {request.satisfaction} below {self._rules.satisfaction_threshold}")
            await self._reopen(f"follow-up call: {why}", actor=request.actor)
            return self._result(f"complaint reopened ({why})")
        snap.follow_up.outcome = "satisfied"
        self._stop_clocks(met_by="follow-up call")
        await self._record("follow_up_done", actor=request.actor,
                           detail={"satisfaction": request.satisfaction, "comments": request.comments})
        await self._after_follow_up()
        return self._result(f"follow-up recorded: satisfaction {request.satisfaction}")

    @record_follow_up_call.validator
    def _validate_follow_up_call(self, request: FollowUpCallRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.FOLLOW_UP,), "record a follow-up call")
        self._holder_or_manager(entry, "record the follow-up call")
        if request.reached and (request.satisfaction is None or request.remedy_delivered is None):
            raise Refused("a call that reached the customer records satisfaction (1-5) and whether the remedy was delivered")

    async def _after_follow_up(self) -> None:
        snap = self._snapshot
        assert self._rules is not None
        if snap.tier == Tier.MAJOR or snap.look_back_marked:
            snap.look_back = LookBack(planned=self._rules.look_back_revisits)
            snap.status = Status.LOOK_BACK
            await self._plan_revisit(1)
            return
        await self._close_if_ready()

    async def _plan_revisit(self, number: int) -> None:
        snap = self._snapshot
        assert snap.resolved_at is not None
        # Revisits are counted from the resolution, so a slow revisit does not shift the rest.
        clock = await self._plan(f"Plan look-back revisit {number}", purpose="look_back", revisit=number,
                                 started_at=snap.resolved_at)
        snap.clocks.append(clock)
        self._clocks_changed = True
        self._publish()
        await self._notify_staff(f"look_back:{snap.reopened_count}:{number}", [h for h in [snap.assignee] if h],
                                 f"Look-back revisit {number} of {snap.complaint_id}",
                                 f"Revisit the customer between {fmt_utc(clock.started_at)} and {fmt_utc(clock.due_at)}.")
        await self._record("look_back_scheduled", detail={"revisit": number, "opens": clock.started_at.isoformat(),
                                                           "due_at": clock.due_at.isoformat()})

    def _open_revisit(self) -> Clock | None:
        return next((c for c in reversed(self._snapshot.clocks)
                     if c.name.startswith("look_back_") and c.state in (ClockState.RUNNING, ClockState.BREACHED)
                     and c.met_at is None), None)

    @workflow.update
    async def record_look_back(self, request: LookBackRequest) -> ActionResult:
        recheck(self._validate_look_back, request)
        snap = self._snapshot
        assert snap.look_back is not None and self._rules is not None
        clock = self._open_revisit()
        assert clock is not None
        number = len(snap.look_back.revisits) + 1
        snap.look_back.revisits.append(Revisit(number=number, by=request.actor, at=workflow.now(),
                                               situation=request.situation, commitments_kept=request.commitments_kept,
                                               notes=request.notes))
        if clock.state == ClockState.RUNNING:
            clock.state = ClockState.MET
        clock.met_at, clock.met_by = workflow.now(), request.actor
        self._clocks_changed = True
        await self._record("look_back_recorded", actor=request.actor,
                           detail={"revisit": number, "commitments_kept": request.commitments_kept})
        if not request.commitments_kept:
            await self._reopen(f"look-back revisit {number}: a commitment was not kept", actor=request.actor)
            return self._result(f"revisit {number} recorded; a commitment was not kept, complaint reopened")
        if number >= snap.look_back.planned:
            snap.look_back.ended = "all revisits done"
            await self._close_if_ready()
            return self._result(f"revisit {number} recorded; look-back complete")
        await self._plan_revisit(number + 1)
        self._revisits_this_run += 1
        if self._revisits_this_run >= self._rules.revisits_per_run or workflow.info().is_continue_as_new_suggested():
            self._continue_as_new = True
        return self._result(f"revisit {number} recorded; next revisit planned")

    @record_look_back.validator
    def _validate_look_back(self, request: LookBackRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.LOOK_BACK,), "record a look-back revisit")
        self._holder_or_manager(entry, "record a look-back revisit")
        clock = self._open_revisit()
        if clock is None:
            raise Refused("no look-back revisit is open")
        if workflow.now() < clock.started_at:
            raise Refused(f"the next revisit opens {fmt_utc(clock.started_at)}")

    @workflow.update
    async def adjust_look_back(self, request: AdjustLookBackRequest) -> ActionResult:
        recheck(self._validate_adjust_look_back, request)
        snap = self._snapshot
        assert snap.look_back is not None
        done = len(snap.look_back.revisits)
        if request.end or (request.revisits is not None and request.revisits <= done):
            snap.look_back.ended = f"ended by {request.actor}: {request.reason}"
            self._stop_clocks()
            await self._record("look_back_ended", actor=request.actor, detail={"reason": request.reason})
            await self._close_if_ready()
            return self._result("look-back ended")
        assert request.revisits is not None
        previous, snap.look_back.planned = snap.look_back.planned, request.revisits
        self._publish()
        await self._record("look_back_adjusted", actor=request.actor,
                           detail={"from": previous, "to": request.revisits, "reason": request.reason})
        return self._result(f"look-back now {request.revisits} revisits (was {previous})")

    @adjust_look_back.validator
    def _validate_adjust_look_back(self, request: AdjustLookBackRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_status(self._snapshot, (Status.LOOK_BACK,), "adjust the look-back")
        rules.require_role(entry, MANAGERS, "adjust the look-back")
        if not request.end and request.revisits is None:
            raise Refused("say how many revisits in total (revisits) or end the look-back (end)")

    @workflow.update
    async def mark_for_look_back(self, request: MarkLookBackRequest) -> ActionResult:
        recheck(self._validate_mark_look_back, request)
        self._snapshot.look_back_marked = True
        await self._record("marked_for_look_back", actor=request.actor, detail={"reason": request.reason})
        return self._result("marked for look-back after the follow-up call")

    @mark_for_look_back.validator
    def _validate_mark_look_back(self, request: MarkLookBackRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_open(self._snapshot)
        rules.require_role(entry, MANAGERS, "mark a complaint for look-back")
        if self._snapshot.status in (Status.LOOK_BACK, Status.AWAITING_ROOT_CAUSE):
            raise Refused("too late to mark: the follow-up is already done")

    @workflow.update
    async def record_root_cause(self, request: RootCauseRequest) -> ActionResult:
        recheck(self._validate_root_cause, request)
        snap = self._snapshot
        snap.root_cause = RootCauseRecord(code=request.code, text=request.text, by=request.actor, at=workflow.now())
        await self._record("root_cause_recorded", actor=request.actor, detail={"code": request.code, "text": request.text})
        if snap.status == Status.AWAITING_ROOT_CAUSE:
            await self._close_if_ready()
        return self._result(f"root cause {request.code} recorded")

    @record_root_cause.validator
    def _validate_root_cause(self, request: RootCauseRequest) -> None:
        entry = self._actor(request.actor)
        rules.require_open(self._snapshot)
        if entry.role not in MANAGERS:
            rules.require_holder(self._snapshot, entry, "record the root cause")
        assert self._rules is not None
        if self._rules.root_causes and request.code not in self._rules.root_causes:
            raise Refused(f"unknown root cause {request.code!r}; the policy lists {', '.join(self._rules.root_causes)}")

    @workflow.signal
    async def note_customer_contact(self, request: ContactNoteSignal) -> None:
        """Fire-and-forget note of a contact with the customer; kept across continue-as-new."""
        self._snapshot.contact_notes.append(ContactNote(by=request.actor, at=workflow.now(), note=request.note))
        await workflow.wait_condition(lambda: self._handling or self._closing())
        await self._record("customer_contact", actor=request.actor, detail={"note": request.note})

    async def _reopen(self, reason: str, *, actor: str) -> None:
        """Back into handling with its history, the same tier or higher, and new clocks."""
        snap, now = self._snapshot, workflow.now()
        assert snap.tier is not None
        self._stop_clocks()
        if snap.look_back is not None and snap.look_back.ended is None:
            snap.look_back.ended = f"reopened: {reason}"
        tier_clock = await self._plan(f"Start the {snap.tier.value}-tier clock again", tier=snap.tier, started_at=now)
        decision = await self._plan("Start the decision clock again", purpose="decision", started_at=now)
        snap.clocks += [tier_clock, decision]
        snap.reopened_count += 1
        snap.status = Status.IN_HANDLING
        snap.resolved_at = None
        self._publish()
        await self._notify_staff(f"reopened:{snap.reopened_count}", [h for h in [snap.assignee] if h],
                                 f"Complaint {snap.complaint_id} reopened", reason)
        await self._record("reopened", actor=actor, detail={"reason": reason, "times": snap.reopened_count})

    async def _close_if_ready(self) -> None:
        snap = self._snapshot
        if snap.root_cause is None:
            snap.status = Status.AWAITING_ROOT_CAUSE
            self._publish()
            await self._notify_staff(f"root_cause_needed:{snap.reopened_count}", [h for h in [snap.assignee] if h],
                                     f"Record the root cause of {snap.complaint_id}",
                                     "The complaint closes once its root cause is recorded.")
            await self._record("awaiting_root_cause")
            return
        now = workflow.now()
        calls = [c for c in snap.follow_up.calls if c.satisfaction] if snap.follow_up else []
        snap.closure = Closure(
            outcome=(snap.follow_up.outcome if snap.follow_up and snap.follow_up.outcome else "accepted"),
            closed_at=now,
            total_seconds=(now - snap.intake.received_at).total_seconds(),
            satisfaction=calls[-1].satisfaction if calls else None,
            root_cause=snap.root_cause.code,
            reopened=snap.reopened_count,
        )
        snap.status, snap.closed_at = Status.CLOSED, now
        snap.closing_reason = f"closed: {snap.closure.outcome}"
        self._stop_clocks()
        self._publish()
        await self._record("closed", detail=snap.closure.model_dump(mode="json"))

    # -- clocks (complaints started before tiered handling) ----------------------------

    async def _watch_clocks(self) -> None:
        """Sleep until the next deadline or a closing action; a missed deadline is a breach."""
        closing = lambda: self._withdrawal is not None  # noqa: E731
        while not closing():
            running = [c for c in self._snapshot.clocks if c.state == ClockState.RUNNING]
            if not running:
                await workflow.wait_condition(closing)
                return
            clock = min(running, key=lambda c: c.due_at)
            remaining = (clock.due_at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(
                        closing, timeout=remaining, timeout_summary=f"{clock.label} due {fmt_utc(clock.due_at)}"
                    )
                    return
                except asyncio.TimeoutError:
                    pass
            clock.state = ClockState.BREACHED
            clock.breached_at = workflow.now()
            self._publish()
            await self._record("sla_breached", detail={"clock": clock.name, "due_at": clock.due_at.isoformat()})

    def _settle_clock(self, name: str, at: datetime) -> None:
        for clock in self._snapshot.clocks:
            if clock.name == name and clock.state == ClockState.RUNNING:
                if at <= clock.due_at:
                    clock.state, clock.met_at = ClockState.MET, at
                else:
                    clock.state, clock.breached_at = ClockState.BREACHED, at

    def _close(self, status: Status, reason: str) -> None:
        now = workflow.now()
        self._snapshot.status = status
        self._snapshot.closed_at = now
        self._snapshot.closing_reason = reason
        for clock in self._snapshot.clocks:
            if clock.state == ClockState.RUNNING:
                clock.state = ClockState.STOPPED
        self._publish()

    # -- visibility and projection ----------------------------------------------------

    def _publish(self) -> None:
        """Keep the Web UI's search attributes and current details in step with the state."""
        snap = self._snapshot
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STATUS.value_set(snap.status.value),
            sa.SLA_BREACHED.value_set(snap.sla_breached),
            sa.NEXT_DEADLINE.value_set(snap.next_deadline) if snap.next_deadline else sa.NEXT_DEADLINE.value_unset(),
        ]
        if snap.classification:
            updates.append(sa.TIER.value_set(snap.classification.tier.value))
        if snap.holder:
            updates.append(sa.ASSIGNEE.value_set(snap.holder))
        if snap.review_flags:  # only then: older histories never upserted it
            updates.append(sa.UNDER_REVIEW.value_set(snap.under_review))
        workflow.upsert_search_attributes(updates)
        self._describe(snap.status.value.replace("_", " ").capitalize())

    def _describe(self, stage: str) -> None:
        snap = self._snapshot
        lines = [f"**Stage:** {stage}"]
        if snap.classification:
            c = snap.classification
            lines.append(f"**Tier:** {c.tier.value} (rule `{c.rule_id}`: {c.matched}; policy {c.policy_version})")
        held = snap.holder or "unassigned"
        if snap.team:
            held += f" with {', '.join(snap.team)}"
        lines.append(f"**Held by:** {held}")
        if snap.escalated_to:
            lines.append(f"**Escalated to:** {snap.escalated_to} (level {snap.escalation_level})")
        if self._handling and snap.status not in CLOSED_STATUSES:
            missing = rules.missing_before_customer(snap)
            if missing:
                lines.append(f"**Waiting for:** {', '.join(missing)}")
        inv = snap.investigation
        if inv is not None and inv.workflow_id:
            state = (f"concluded, accountability {inv.outcome.accountability}" if inv.outcome
                     else f"open, led by {inv.lead or 'nobody yet'}")
            lines.append(f"**Investigation:** `{inv.workflow_id}` {state}"
                         + (f"; recused: {', '.join(inv.implicated)}" if inv.implicated else ""))
        for flag in snap.review_flags:
            if flag.reviewed_at is None:
                lines.append(f"**Under review:** {flag.staff_id} ({flag.relation}) is implicated in `{flag.investigation_id}`")
        if snap.follow_up and snap.status == Status.FOLLOW_UP:
            lines.append(f"**Follow-up call:** by {snap.follow_up.caller}, attempt {len(snap.follow_up.calls) + 1}")
        if snap.look_back and snap.status == Status.LOOK_BACK:
            lines.append(f"**Look-back:** {len(snap.look_back.revisits)} of {snap.look_back.planned} revisits done")
        if snap.reopened_count:
            lines.append(f"**Reopened:** {snap.reopened_count} time(s)")
        if snap.closure:
            c = snap.closure
            lines.append(f"**Closed:** {c.outcome}; satisfaction {c.satisfaction or '—'}; root cause {c.root_cause}")
        running = sorted((c for c in snap.clocks if c.state == ClockState.RUNNING), key=lambda c: c.due_at)
        if running:
            lines.append(f"**Next deadline:** {running[0].label}, {fmt_utc(running[0].due_at)}")
        if snap.staff_record and snap.staff_record.found:
            s = snap.staff_record
            lines.append(f"**Staff named:** {s.name} ({s.role}), service-quality score {s.service_quality_score}")
        if snap.clocks:
            lines.append(
                "**Clocks:**\n\n" + "\n".join(f"- {c.label} ({c.limit}): {c.state.value}, due {fmt_utc(c.due_at)}" for c in snap.clocks)
            )
        workflow.set_current_details("\n\n".join(lines))

    async def _notify_customer(self, key: str, kind: str, context: dict[str, Any]) -> None:
        assert self._rules is not None
        await workflow.execute_activity(
            "notify_customer",
            CustomerNotification(
                idempotency_key=f"{self._snapshot.complaint_id}:{key}", complaint_id=self._snapshot.complaint_id,
                kind=kind, intake=self._snapshot.intake, policy_version=self._rules.policy_version, context=context,
            ),
            result_type=NotificationReceipt,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Send the customer: {kind.replace('_', ' ')}",
        )

    async def _notify_staff(self, key: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        await workflow.execute_activity(
            "notify_staff",
            StaffNotification(
                idempotency_key=f"{self._snapshot.complaint_id}:{key}", complaint_id=self._snapshot.complaint_id,
                kind=key.split(":")[0], recipients=recipients, subject=subject, body=body,
            ),
            result_type=int,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Notify {', '.join(recipients)}",
        )

    async def _record(self, kind: str, *, actor: str = "system", detail: dict[str, Any] | None = None) -> None:
        self._seq += 1
        await workflow.execute_activity(
            "record_complaint_event",
            ComplaintEvent(
                complaint_id=self._snapshot.complaint_id,
                seq=self._seq,
                kind=kind,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                snapshot=self._snapshot.model_copy(deep=True),
            ),
            result_type=bool,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Record '{kind}' in the case file",
        )
