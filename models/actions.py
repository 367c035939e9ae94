"""Staff actions on a complaint (updates and signals) and their answer.

Every staff action names its actor by staff id. The workflow looks the actor up in the
roster it loaded from the staff directory, so a forged or wrong actor is refused by the
workflow itself, whatever client sent the action.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.intake import KEEPABLE, EvidenceRef, Money
from models.policy import Accountability, Tier
from models.signature import Signature

StaffId = Annotated[str, Field(min_length=1, max_length=64), KEEPABLE]


Text = Annotated[str, Field(min_length=1, max_length=4000), KEEPABLE]


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    actor: StaffId
    # The actor's Ed25519 signature over the rest (``domain.signatures``); absent from histories
    # recorded before issue 16, and from actions a complaint does not check (its policy's signing off).
    signature: Signature | None = None


class AssignRequest(Action):
    handler_id: StaffId
    team: list[StaffId] = Field(default_factory=list, max_length=10)
    reason: Annotated[str, Field(max_length=500), KEEPABLE] = ""


class FindingsRequest(Action):
    summary: Text
    occurred_at: AwareDatetime | None = None
    place: Annotated[str, Field(max_length=200), KEEPABLE] | None = None
    amounts: list[Money] = Field(default_factory=list, max_length=20)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=50)


class LegalEvaluationRequest(Action):
    opinion: Text
    recommends_contract_revision: bool = False
    clause_revision: Annotated[str, Field(max_length=2000), KEEPABLE] | None = None


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
    accountability: Accountability
    suspected_illegal: bool = False


class FeedbackRequest(Action):
    message: Text


class ProposalRequest(Action):
    explanation: Text
    fee_refund: Money | None = None
    compensation: Money | None = None
    contract_revision: Annotated[str, Field(min_length=1, max_length=2000), KEEPABLE] | None = None


class ApprovalDecision(Action):
    approve: bool
    reason: Annotated[str, Field(max_length=1000), KEEPABLE] = ""


class CustomerAnswer(Action):
    accepted: bool
    comments: Annotated[str, Field(max_length=2000), KEEPABLE] = ""


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
    comments: Annotated[str, Field(max_length=2000), KEEPABLE] = ""


class LookBackRequest(Action):
    situation: Text
    commitments_kept: bool
    notes: Annotated[str, Field(max_length=2000), KEEPABLE] = ""


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
    # Step 5: the contract clause the cause blames, and its template when the contract number
    # does not say it; counted for legal review. Left out of the dump when absent, so requests
    # recorded (and signed) before these fields dump, and verify, as they did.
    clause: Annotated[str, Field(min_length=1, max_length=200), KEEPABLE] | None = Field(
        default=None, exclude_if=lambda v: v is None
    )
    template: Annotated[str, Field(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"), KEEPABLE] | None = Field(
        default=None, exclude_if=lambda v: v is None
    )


class ContactNoteSignal(Action):
    """Fire-and-forget: a contact with the customer between tasks, kept in the case file."""

    note: Text


class ReapplyPolicyRequest(Action):
    """Move the complaint onto the policy now in force (its deadlines are recomputed)."""

    reason: Text


class ActionResult(BaseModel):
    complaint_id: str
    status: str
    message: str
