"""Workflow input, state, updates and queries of ``ComplaintWorkflow``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.handling import (
    Closure,
    ContactNote,
    FollowUp,
    LookBack,
    RootCauseRecord,
    RosterEntry,
    Escalation,
    Evaluation,
    Finding,
    InformationRequestRecord,
    Investigation,
    LossCalculation,
    Proposal,
    HandlingRules,
    ReviewFlag,
)
from models.intake import Category, ComplaintIntake
from models.regulator import RegulatorThread
from models.policy import Tier


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"


class Clock(Model):
    name: str
    label: str
    limit: str
    source: str
    started_at: AwareDatetime
    due_at: AwareDatetime
    state: ClockState = ClockState.RUNNING
    met_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    calendar_estimated: bool = Field(
        default=False, description="True when the official calendar did not cover the period."
    )
    met_by: str | None = None
    warned_at: AwareDatetime | None = None
    paused_at: AwareDatetime | None = None
    paused_seconds: float = 0
    extended: str | None = Field(default=None, description="Label of the extension in force, if any.")
    extensions_used: int = 0


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


class ServiceEvent(Model):
    occurred_on: str
    kind: str
    note: str


class StaffRecord(Model):
    staff_id: str
    found: bool
    name: str | None = None
    role: str | None = None
    team: str | None = None
    service_quality_score: float | None = None
    service_history: list[ServiceEvent] = Field(default_factory=list)
    open_complaints_naming_them: int = 0


class StaffLookupRequest(Model):
    complaint_id: str
    staff_id: str


class CarriedState(Model):
    """What a complaint carries into its next run when it continues as new."""

    snapshot: ComplaintSnapshot
    seq: int
    roster: list[RosterEntry]
    rules: HandlingRules


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
    follow_up: FollowUp | None = None
    look_back: LookBack | None = None
    look_back_marked: bool = False
    reopened_count: int = 0
    contact_notes: list[ContactNote] = Field(default_factory=list)
    root_cause: RootCauseRecord | None = None
    closure: Closure | None = None
    regulator_reports: list[RegulatorThread] = Field(default_factory=list)
    review_flags: list[ReviewFlag] = Field(default_factory=list)

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


class ComplaintEvent(Model):
    """One entry of the append-only audit log; (complaint_id, seq) makes recording idempotent."""

    complaint_id: str
    seq: int = Field(ge=1)
    kind: str
    at: AwareDatetime
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)
    snapshot: ComplaintSnapshot


class AcknowledgementRequest(Model):
    complaint_id: str
    intake: ComplaintIntake
    classification: Classification
    clocks: list[Clock]


class CustomerNotification(Model):
    """A templated message to the customer; the key makes it go out once."""

    idempotency_key: str
    complaint_id: str
    kind: str  # a template name in activities/templates: feedback, resolution_proposal, ...
    intake: ComplaintIntake
    policy_version: str
    context: dict[str, Any] = Field(default_factory=dict)


class StaffNotification(Model):
    """A notice to staff (by staff id); each recipient gets it once per key."""

    idempotency_key: str
    complaint_id: str
    kind: str
    recipients: list[str]
    subject: str
    body: str


class NotificationReceipt(Model):
    idempotency_key: str
    channel: str
    recipient: str
    subject: str
    already_sent: bool


class WithdrawRequest(Model):
    """The customer withdraws the complaint (relayed by an intake system)."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    relayed_by: Annotated[str, Field(min_length=1, max_length=64)]


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
