"""Workflow input, state, updates and queries of ``ComplaintWorkflow``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, model_validator

from models.base import Model
from models.case_file import (
    Closure,
    ContactNote,
    Escalation,
    Evaluation,
    Finding,
    FollowUp,
    InformationRequestRecord,
    Investigation,
    LookBack,
    LossCalculation,
    Proposal,
    ReviewFlag,
    RootCauseRecord,
)
from models.clocks import Clock, ClockState
from models.incident import IncidentLink
from models.intake import KEEPABLE, Category, ComplaintIntake, Money
from models.policy import HandlingRules, Tier
from models.recall import RecallLink
from models.regulator import RegulatorThread
from models.signature import StaffKey
from models.staff import RosterEntry, StaffRecord


class Status(StrEnum):
    RECEIVED = "received"
    CLASSIFIED = "classified"
    AWAITING_ASSIGNMENT = "awaiting_assignment"
    IN_HANDLING = "in_handling"
    AWAITING_CUSTOMER_INFO = "awaiting_customer_info"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_CUSTOMER_ANSWER = "awaiting_customer_answer"
    RESOLVED = "resolved"  # closed at acceptance: complaints from before follow-up existed
    FOLLOW_UP = "follow_up"
    LOOK_BACK = "look_back"
    AWAITING_ROOT_CAUSE = "awaiting_root_cause"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


CLOSED_STATUSES = {Status.RESOLVED, Status.WITHDRAWN, Status.CLOSED}


class ResolutionCommunication(StrEnum):
    """What the customer was sent when they accepted a resolution (also the template's name)."""

    FINAL_RESPONSE = "final_response"
    SUMMARY_RESOLUTION = "summary_resolution"  # FCA DISP 1.5: resolved within three business days


class Classification(Model):
    category: Category
    tier: Tier
    rule_id: str
    rule_description: str
    matched: str = Field(description="What in the complaint made the rule fire.")
    policy_version: str


class ClassifyRequest(Model):
    complaint_id: str
    intake: ComplaintIntake


class ClassificationResult(Model):
    classification: Classification
    clocks: list[Clock]
    rules: HandlingRules | None = None  # absent in histories recorded before tiered handling
    summary_resolution_by: AwareDatetime | None = Field(
        default=None, description="Resolved by then: a summary resolution communication (packs that have one)."
    )


class CarriedState(Model):
    """What a complaint carries into its next run when it continues as new."""

    snapshot: ComplaintSnapshot
    seq: int
    roster: list[RosterEntry]
    rules: HandlingRules
    # Signed actions (issue 16): the registered keys, and the nonces of the window (replays refused).
    keys: list[StaffKey] = Field(default_factory=list)
    nonces: dict[str, AwareDatetime] = Field(default_factory=dict)


class ComplaintWorkflowInput(Model):
    complaint_id: str
    intake: ComplaintIntake
    carried: CarriedState | None = None


class ComplaintSnapshot(Model):
    """What the database projection holds about a complaint after an event."""

    complaint_id: str
    workflow_id: str
    status: Status
    intake: ComplaintIntake
    classification: Classification | None = None
    clocks: list[Clock] = Field(default_factory=list)
    staff_record: StaffRecord | None = None
    assignee: str | None = None
    acknowledged_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    closing_reason: str | None = None
    team: list[str] = Field(default_factory=list)
    escalation_level: int = 0
    escalated_to: str | None = None
    escalations: list[Escalation] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    legal_evaluation: Evaluation | None = None
    manager_evaluation: Evaluation | None = None
    loss_calculation: LossCalculation | None = None
    investigation: Investigation | None = None
    information_requests: list[InformationRequestRecord] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    resolved_at: AwareDatetime | None = None
    summary_resolution_by: AwareDatetime | None = None
    resolution_communication: ResolutionCommunication | None = None
    follow_up: FollowUp | None = None
    look_back: LookBack | None = None
    look_back_marked: bool = False
    reopened_count: int = 0
    contact_notes: list[ContactNote] = Field(default_factory=list)
    root_cause: RootCauseRecord | None = None
    closure: Closure | None = None
    regulator_reports: list[RegulatorThread] = Field(default_factory=list)
    review_flags: list[ReviewFlag] = Field(default_factory=list)
    incidents: list[IncidentLink] = Field(default_factory=list)  # step 6.2: surges it is part of
    recalls: list[RecallLink] = Field(default_factory=list)  # step 6.2: recalls of its product

    @property
    def under_review(self) -> bool:
        return any(f.reviewed_at is None for f in self.review_flags)

    @property
    def holder(self) -> str | None:
        """Who has the next task: the follow-up caller during follow-up, else the handler."""
        if self.status == Status.FOLLOW_UP and self.follow_up and self.follow_up.caller:
            return self.follow_up.caller
        return self.assignee

    @property
    def tier(self) -> Tier | None:
        return self.classification.tier if self.classification else None

    @property
    def current_proposal(self) -> Proposal | None:
        return self.proposals[-1] if self.proposals else None

    @property
    def next_deadline(self) -> datetime | None:
        due = [c.due_at for c in self.clocks if c.state == ClockState.RUNNING]
        return min(due) if due else None

    @property
    def sla_breached(self) -> bool:
        """A breached clock of the complaint's own, or its investigation's."""
        breached_investigation = bool(self.investigation and self.investigation.breached)
        return breached_investigation or any(c.state == ClockState.BREACHED for c in self.clocks)


class ComplaintFacts(Model):
    """What the projection's row starts with; none of it changes over the complaint's life."""

    workflow_id: str
    source_system: str
    source_reference: str
    channel: str
    category: str
    customer_id: str
    customer_name: str
    received_at: AwareDatetime
    contract_number: str | None = None
    staff_named: str | None = None
    product: str | None = None  # for the analysis (absent from events recorded before it)
    region: str | None = None  # for surge detection (absent from events recorded before it)
    clause_references: list[str] = Field(default_factory=list)
    # Step 5: what the customer disputes (absent from events recorded before it).
    amounts_in_dispute: list[Money] = Field(default_factory=list)

    @classmethod
    def of(cls, snap: ComplaintSnapshot) -> ComplaintFacts:
        intake = snap.intake
        return cls(
            workflow_id=snap.workflow_id,
            source_system=intake.source_system,
            source_reference=intake.source_reference,
            channel=intake.channel.value,
            category=intake.category.value,
            customer_id=intake.customer.customer_id,
            customer_name=intake.customer.name,
            received_at=intake.received_at,
            contract_number=intake.contract_number,
            staff_named=getattr(intake.details, "staff_id", None),
            product=intake.product_code,
            region=intake.region,
            clause_references=intake.clause_references,
            amounts_in_dispute=intake.amounts,
        )


class ComplaintProjection(Model):
    """The few fields of the case file the database's complaints row keeps, after an event."""

    status: Status
    tier: Tier | None = None
    tier_rule: str | None = None
    policy_version: str | None = None
    holder: str | None = None
    team: list[str] = Field(default_factory=list)
    acknowledged_at: AwareDatetime | None = None
    next_deadline: AwareDatetime | None = None
    sla_breached: bool = False
    closed_at: AwareDatetime | None = None
    reopened_count: int = 0
    root_cause: str | None = None
    satisfaction: int | None = None
    outcome: str | None = None
    resolution_communication: ResolutionCommunication | None = None
    # Step 5: the clause (and template) the root cause blames, counted for legal review.
    root_cause_clause: str | None = None
    root_cause_template: str | None = None

    @classmethod
    def of(cls, snap: ComplaintSnapshot) -> ComplaintProjection:
        c = snap.classification
        return cls(
            status=snap.status,
            tier=c.tier if c else None,
            tier_rule=c.rule_id if c else None,
            policy_version=c.policy_version if c else None,
            holder=snap.holder,
            team=list(snap.team),
            acknowledged_at=snap.acknowledged_at,
            next_deadline=snap.next_deadline,
            sla_breached=snap.sla_breached,
            closed_at=snap.closed_at,
            reopened_count=snap.reopened_count,
            root_cause=snap.root_cause.code if snap.root_cause else None,
            satisfaction=snap.closure.satisfaction if snap.closure else None,
            outcome=snap.closure.outcome if snap.closure else None,
            resolution_communication=snap.resolution_communication,
            root_cause_clause=snap.root_cause.clause if snap.root_cause else None,
            root_cause_template=snap.root_cause.template if snap.root_cause else None,
        )


class ComplaintEvent(Model):
    """One entry of the append-only audit log; (complaint_id, seq) makes recording idempotent.

    It carries what changed (kind, actor, detail) and the projection's fields, not the case
    file; the first event also carries the facts the row is created with.
    """

    complaint_id: str
    seq: int = Field(ge=1)
    kind: str
    at: AwareDatetime
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)
    projection: ComplaintProjection | None = None
    facts: ComplaintFacts | None = None
    snapshot: ComplaintSnapshot | None = Field(
        default=None, description="Only in events scheduled before events were lean: the whole case file."
    )

    @model_validator(mode="after")
    def _projectable(self) -> ComplaintEvent:
        if self.projection is None and self.snapshot is None:
            raise ValueError("projection: an event needs the projection's fields")
        return self

    def fields(self) -> tuple[ComplaintProjection, ComplaintFacts | None]:
        """The projection and facts, from a lean event or from an older one's case file."""
        if self.snapshot is not None:
            return ComplaintProjection.of(self.snapshot), ComplaintFacts.of(self.snapshot)
        assert self.projection is not None
        return self.projection, self.facts


class ComplaintEventBatch(Model):
    """Events of one step, written together (each still idempotent on its seq)."""

    complaint_id: str
    events: list[ComplaintEvent] = Field(min_length=1)


class WithdrawRequest(Model):
    """The customer withdraws the complaint (relayed by an intake system)."""

    reason: Annotated[str, Field(min_length=1, max_length=500), KEEPABLE]
    relayed_by: Annotated[str, Field(min_length=1, max_length=64), KEEPABLE]


class WithdrawResult(Model):
    complaint_id: str
    status: Status


class ComplaintStatusQuery(Model):
    """Answer of the ``status`` query: the case file as the workflow holds it."""

    snapshot: ComplaintSnapshot
    next_deadline: AwareDatetime | None
    sla_breached: bool
    events_recorded: int


# Forward references (CarriedState carries a ComplaintSnapshot).
CarriedState.model_rebuild()
ComplaintWorkflowInput.model_rebuild()
