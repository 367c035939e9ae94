"""Tiered handling (step 2): staff actions, what they record, and the roster validators use.

Every staff action names its actor by staff id. The workflow looks the actor up in the
roster it loaded from the staff directory, so a forged or wrong actor is refused by the
workflow itself, whatever client sent the action.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.intake import EvidenceRef, Money
from models.policy import ApprovalLevel, ExtensionSpec, Role, Tier

StaffId = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    actor: StaffId


# -- the roster and the rules the workflow applies ---------------------------------------


class RosterEntry(BaseModel):
    staff_id: str
    name: str
    role: Role
    team: str
    manager_id: str | None = None
    skills: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)


class StaffRoster(BaseModel):
    entries: list[RosterEntry]


class RosterRequest(BaseModel):
    complaint_id: str


class HandlingRules(BaseModel):
    """The parts of the pinned policy the workflow applies itself (it reads no files)."""

    policy_version: str
    warning_fraction: float
    pause_while_awaiting_customer: bool
    extensions: list[ExtensionSpec]
    approval_matrix: list[ApprovalLevel]
    currency: str
    # Follow-up, look-back and closure (absent from histories recorded before them).
    follow_up_different_caller: bool = True
    follow_up_max_attempts: int = 3
    satisfaction_threshold: int = 3
    look_back_revisits: int = 3
    revisits_per_run: int = 12
    root_causes: list[str] = Field(default_factory=list)
    report_retry_window_fraction: float = 0.5
    default_regulator: str = "NFRA"
    # The investigation (absent from histories recorded before it ran as its own workflow).
    accountability_deciders: dict[str, list[Role]] = Field(default_factory=dict)
    investigation_evidence_required: bool = True


class HandlerChoiceRequest(BaseModel):
    complaint_id: str
    category: str
    language: str
    exclude: list[str] = Field(default_factory=list)


class HandlerChoice(BaseModel):
    staff_id: str | None
    reason: str


class PlanClockRequest(BaseModel):
    """Compute a clock under the pinned policy: a tier's first-response clock, an extension,
    or (``purpose``) the decision clock of a reopened complaint, a follow-up call, a retry of
    it, or look-back revisit number ``revisit`` counted from ``started_at``."""

    complaint_id: str
    policy_version: str
    started_at: AwareDatetime
    tier: Tier | None = None
    extension_index: int | None = None
    purpose: Literal["decision", "follow_up", "follow_up_retry", "look_back", "regulator_report", "investigation"] | None = None
    regulator: str | None = None
    revisit: int | None = None


# -- staff actions (updates) ---------------------------------------------------------------


class AssignRequest(Action):
    handler_id: StaffId
    team: list[StaffId] = Field(default_factory=list, max_length=10)
    reason: Annotated[str, Field(max_length=500)] = ""


class FindingsRequest(Action):
    summary: Text
    occurred_at: AwareDatetime | None = None
    place: Annotated[str, Field(max_length=200)] | None = None
    amounts: list[Money] = Field(default_factory=list, max_length=20)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=50)


class LegalEvaluationRequest(Action):
    opinion: Text
    recommends_contract_revision: bool = False
    clause_revision: Annotated[str, Field(max_length=2000)] | None = None


class ManagerEvaluationRequest(Action):
    opinion: Text


class LossCalculationRequest(Action):
    actual_loss: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    method: Text


class InformationRequest(Action):
    requested: Text


class InformationReceived(Action):
    note: Text


class OpenInvestigationRequest(Action):
    scope: Text


class InvestigationOutcomeRequest(Action):
    findings: Text
    responsible: list[StaffId] = Field(default_factory=list)
    accountability: Literal["none", "training", "warning", "disciplinary"]
    suspected_illegal: bool = False


class FeedbackRequest(Action):
    message: Text


class ProposalRequest(Action):
    explanation: Text
    fee_refund: Money | None = None
    compensation: Money | None = None
    contract_revision: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class ApprovalDecision(Action):
    approve: bool
    reason: Annotated[str, Field(max_length=1000)] = ""


class CustomerAnswer(Action):
    accepted: bool
    comments: Annotated[str, Field(max_length=2000)] = ""


class ExtensionRequest(Action):
    reason: Text


class EscalateSignal(Action):
    """Fire-and-forget: raise the tier (one level, or to ``to_tier``) and re-route."""

    reason: Text
    to_tier: Tier | None = None


class FollowUpCallRequest(Action):
    reached: bool
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    remedy_delivered: bool | None = None
    comments: Annotated[str, Field(max_length=2000)] = ""


class LookBackRequest(Action):
    situation: Text
    commitments_kept: bool
    notes: Annotated[str, Field(max_length=2000)] = ""


class AdjustLookBackRequest(Action):
    """A manager extends or shortens the loop (``revisits``: the new total) or ends it."""

    reason: Text
    revisits: Annotated[int, Field(ge=1, le=120)] | None = None
    end: bool = False


class MarkLookBackRequest(Action):
    reason: Text


class RootCauseRequest(Action):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    text: Text


class ContactNoteSignal(Action):
    """Fire-and-forget: a contact with the customer between tasks, kept in the case file."""

    note: Text


class ReapplyPolicyRequest(Action):
    """Move the complaint onto the policy now in force (its deadlines are recomputed)."""

    reason: Text


class ReplanRequest(BaseModel):
    complaint_id: str
    tier: Tier
    clocks: list[Any]  # models.complaint.Clock (kept loose here to avoid a circular import)


class ReplanResult(BaseModel):
    rules: HandlingRules
    clocks: list[Any]


class ActionResult(BaseModel):
    complaint_id: str
    status: str
    message: str


# -- what the case file records ------------------------------------------------------------


class Finding(BaseModel):
    recorded_by: str
    recorded_at: AwareDatetime
    summary: str
    occurred_at: AwareDatetime | None = None
    place: str | None = None
    amounts: list[Money] = Field(default_factory=list)
    evidence: list[EvidenceRef] = Field(default_factory=list)


class Evaluation(BaseModel):
    by: str
    at: AwareDatetime
    opinion: str
    recommends_contract_revision: bool = False
    clause_revision: str | None = None


class LossCalculation(BaseModel):
    by: str
    at: AwareDatetime
    actual_loss: Money | None
    method: str


class Investigation(BaseModel):
    opened_by: str
    opened_at: AwareDatetime
    scope: str
    outcome: InvestigationOutcomeRequest | None = None
    concluded_at: AwareDatetime | None = None
    # Set when the investigation runs as its own workflow (a child of the complaint).
    workflow_id: str | None = None
    lead: str | None = None
    implicated: list[str] = Field(default_factory=list)
    evidence: int = 0
    breached: bool = False


class ReviewFlag(BaseModel):
    """Someone working on this complaint is implicated in another complaint's investigation."""

    investigation_id: str
    staff_id: str
    relation: str
    flagged_by: str
    flagged_at: AwareDatetime
    reason: str
    reviewed_by: str | None = None
    reviewed_at: AwareDatetime | None = None
    review_note: str | None = None


class Proposal(BaseModel):
    number: int
    proposed_by: str
    proposed_at: AwareDatetime
    explanation: str
    fee_refund: Money | None = None
    compensation: Money | None = None
    contract_revision: str | None = None
    state: Literal["awaiting_approval", "rejected_internally", "sent", "accepted", "rejected_by_customer"] = (
        "awaiting_approval"
    )
    decided_by: str | None = None
    decision_reason: str = ""
    customer_comments: str = ""

    def remedy_total(self, currency: str) -> Decimal:
        return sum(
            (m.amount for m in (self.fee_refund, self.compensation) if m is not None and m.currency == currency),
            Decimal(0),
        )


class InformationRequestRecord(BaseModel):
    requested_by: str
    requested_at: AwareDatetime
    requested: str
    received_at: AwareDatetime | None = None
    note: str | None = None


class FollowUpCall(BaseModel):
    by: str
    at: AwareDatetime
    reached: bool
    satisfaction: int | None = None
    remedy_delivered: bool | None = None
    comments: str = ""


class FollowUp(BaseModel):
    caller: str | None
    scheduled_at: AwareDatetime
    calls: list[FollowUpCall] = Field(default_factory=list)
    outcome: Literal["satisfied", "letter", "reopened"] | None = None


class Revisit(BaseModel):
    number: int
    by: str
    at: AwareDatetime
    situation: str
    commitments_kept: bool
    notes: str = ""


class LookBack(BaseModel):
    planned: int
    revisits: list[Revisit] = Field(default_factory=list)
    ended: str | None = None


class ContactNote(BaseModel):
    by: str
    at: AwareDatetime
    note: str


class RootCauseRecord(BaseModel):
    code: str
    text: str
    by: str
    at: AwareDatetime


class Closure(BaseModel):
    outcome: str
    closed_at: AwareDatetime
    total_seconds: float
    satisfaction: int | None
    root_cause: str | None
    reopened: int


class Escalation(BaseModel):
    at: AwareDatetime
    by: str
    reason: str
    from_tier: Tier
    to_tier: Tier
