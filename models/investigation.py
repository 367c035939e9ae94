"""The internal investigation of a major complaint (step 2): its own workflow, owned by compliance.

A child of the complaint, with its own clock from the policy. Compliance records findings,
evidence and the people responsible; the role the policy names decides accountability; the
outcome flows back into the complaint. Staff the complaint names, or the investigation
names, take no part in it (回避), and their other open complaints can be flagged for review.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from models.actions import Action, InvestigationOutcomeRequest, StaffId, Text
from models.clocks import Clock, ClockState
from models.intake import KEEPABLE, EvidenceRef
from models.policy import Accountability, Role
from models.signature import SigningMode, StaffKey
from models.staff import RosterEntry

# Who decides accountability when the pinned policy says nothing (before the policy had it).
DEFAULT_ACCOUNTABILITY_DECIDERS: dict[str, list[Role]] = {
    Accountability.NONE: [Role.COMPLIANCE],
    Accountability.TRAINING: [Role.COMPLIANCE, Role.MANAGER, Role.SENIOR_MANAGER],
    Accountability.WARNING: [Role.SENIOR_MANAGER],
    Accountability.DISCIPLINARY: [Role.SENIOR_MANAGER],
}


def investigation_workflow_id(complaint_id: str) -> str:
    return f"investigation-{complaint_id}"


class InvestigationStage(StrEnum):
    OPEN = "investigating"
    CONCLUDED = "investigation_concluded"


class InvestigationRules(BaseModel):
    """The parts of the pinned policy the investigation applies itself."""

    policy_version: str
    warning_fraction: float
    accountability_deciders: dict[str, list[Role]] = Field(
        default_factory=lambda: dict(DEFAULT_ACCOUNTABILITY_DECIDERS)
    )
    evidence_required: bool = True
    # Signed staff actions (absent from investigations started before them: not checked).
    signing_mode: SigningMode = SigningMode.OFF
    signing_window_seconds: int = 300


class InvestigationInput(BaseModel):
    complaint_id: str
    complaint_workflow_id: str
    summary: str
    scope: str
    reason: str = Field(description="Why the complaint is major (the classification rule or the escalation).")
    implicated: list[str] = Field(default_factory=list, description="Staff the complaint names: recused.")
    customer_id: str
    contract_number: str | None = None
    roster: list[RosterEntry]
    rules: InvestigationRules
    keys: list[StaffKey] = Field(default_factory=list)  # the roster's registered keys, for signed actions


# -- actions (updates) -------------------------------------------------------------------


class AssignInvestigatorRequest(Action):
    lead: StaffId
    reason: Annotated[str, Field(max_length=500), KEEPABLE] = ""


class InvestigationFindingRequest(Action):
    summary: Text


class EvidenceRequest(Action):
    evidence: EvidenceRef


class ResponsibleRequest(Action):
    staff_ids: list[StaffId] = Field(min_length=1, max_length=20)
    reason: Text

    @model_validator(mode="after")
    def _distinct(self) -> ResponsibleRequest:
        if len(set(self.staff_ids)) != len(self.staff_ids):
            raise ValueError("staff_ids: each person may be named once")
        return self


class AccountabilityRequest(Action):
    decision: Accountability
    reason: Text


class ConcludeInvestigationRequest(Action):
    summary: Text
    suspected_illegal: bool = False


class FlagOpenComplaintsRequest(Action):
    staff_ids: list[StaffId] = Field(
        default_factory=list, max_length=20, description="Empty: everyone implicated so far."
    )
    reason: Annotated[str, Field(max_length=500), KEEPABLE] = ""


# -- what the investigation records ------------------------------------------------------


class InvestigationFinding(BaseModel):
    by: str
    at: AwareDatetime
    summary: str


class EvidenceItem(BaseModel):
    by: str
    at: AwareDatetime
    evidence: EvidenceRef


class ResponsibleNamed(BaseModel):
    by: str
    at: AwareDatetime
    staff_ids: list[str]
    reason: str


class AccountabilityDecision(BaseModel):
    by: str
    at: AwareDatetime
    decision: Accountability
    reason: str


class FlaggedComplaint(BaseModel):
    complaint_id: str
    staff_id: str
    relation: str
    delivered: bool


class InvestigationFile(BaseModel):
    investigation_id: str
    complaint_id: str
    stage: InvestigationStage = InvestigationStage.OPEN
    scope: str
    reason: str
    opened_at: AwareDatetime
    lead: str | None = None
    implicated: list[str] = Field(default_factory=list)
    clock: Clock | None = None
    findings: list[InvestigationFinding] = Field(default_factory=list)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    responsible: list[ResponsibleNamed] = Field(default_factory=list)
    accountability: list[AccountabilityDecision] = Field(default_factory=list)
    flagged: list[FlaggedComplaint] = Field(default_factory=list)
    concluded_by: str | None = None
    concluded_at: AwareDatetime | None = None
    conclusion: str | None = None
    suspected_illegal: bool = False

    @property
    def people_responsible(self) -> list[str]:
        return sorted({s for named in self.responsible for s in named.staff_ids})

    @property
    def decision(self) -> AccountabilityDecision | None:
        return self.accountability[-1] if self.accountability else None

    @property
    def next_deadline(self) -> datetime | None:
        clock = self.clock
        return clock.due_at if clock and clock.state == ClockState.RUNNING else None

    @property
    def breached(self) -> bool:
        return bool(self.clock and self.clock.breached_at)


class InvestigationResult(BaseModel):
    """What flows back into the complaint."""

    investigation_id: str
    lead: str | None
    concluded_by: str
    concluded_at: AwareDatetime
    outcome: InvestigationOutcomeRequest
    evidence: int
    breached: bool


class InvestigationStatusQuery(BaseModel):
    file: InvestigationFile
    events_recorded: int


class InvestigationActionResult(BaseModel):
    investigation_id: str
    complaint_id: str
    stage: str
    message: str
    flagged: list[FlaggedComplaint] = Field(default_factory=list)


# -- between the investigation and complaints ----------------------------------------------


class InvestigationProgressSignal(BaseModel):
    """To the complaint: who leads the investigation and who it implicates (for recusal)."""

    investigation_id: str
    lead: str | None
    implicated: list[str]
    breached: bool = False


class ReviewFlagSignal(BaseModel):
    """To another open complaint: someone who works on it is implicated in an investigation."""

    investigation_id: str
    staff_id: str
    relation: str
    flagged_by: str
    reason: str


class CompleteReviewRequest(Action):
    staff_id: StaffId
    note: Text


class OpenComplaintsRequest(BaseModel):
    investigation_id: str
    staff_ids: list[str]
    exclude_complaint_id: str


class OpenComplaintRef(BaseModel):
    complaint_id: str
    workflow_id: str
    staff_id: str
    relation: Literal["handler", "team", "named"]


class OpenComplaints(BaseModel):
    complaints: list[OpenComplaintRef]


class InvestigationEvent(BaseModel):
    investigation_id: str
    complaint_id: str
    seq: int
    kind: str
    at: AwareDatetime
    actor: str
    detail: dict[str, object] = Field(default_factory=dict)
    file: InvestigationFile


class AccountabilityRecordRequest(BaseModel):
    investigation_id: str
    complaint_id: str
    policy_version: str
    staff_ids: list[str]
    decision: Accountability
    decided_on: AwareDatetime
    reason: str
