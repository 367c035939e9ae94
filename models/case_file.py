"""What a complaint's case file records as it is handled (steps 2, 3 and 6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from models.actions import InvestigationOutcomeRequest
from models.intake import EvidenceRef, Money
from models.policy import Tier


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
    # A manager who made the call instead of the chosen caller (absent before the policy's
    # different_caller was enforced).
    taken_over_from: str | None = None


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
    # Step 5: the contract clause (and template) the cause blames, counted for legal review.
    clause: str | None = None
    template: str | None = None


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
