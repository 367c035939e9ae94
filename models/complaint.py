"""Workflow input, state, updates and queries of ``ComplaintWorkflow``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, Field

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
from models.intake import Category, ComplaintIntake
from models.policy import HandlingRules, Tier
from models.regulator import RegulatorThread
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
