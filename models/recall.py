"""Step 6.2: the recall of a defective product, as the policy sets it.

A senior manager declares a defect in a product (reason, scope, remedy); a ``RecallWorkflow``
finds every affected customer, tells each once, links their open complaints, and opens one
remediation per customer with its own clock, in a sliding window that continues as new.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from models.base import PolicyModel, TimeLimit, TimeUnit
from models.roles import Role
from models.signature import Signature, SigningCarried


class RemedyKind(StrEnum):
    REFUND = "refund"
    CONTRACT_REVISION = "contract_revision"
    FEE_WAIVER = "fee_waiver"
    RATE_REDUCTION = "rate_reduction"
    EARLY_EXIT_WITHOUT_FEE = "early_exit_without_fee"


class RecallPolicy(PolicyModel):
    declarer_roles: list[Role] = Field(default_factory=lambda: [Role.SENIOR_MANAGER], min_length=1)
    remediation_due: TimeLimit = Field(default_factory=lambda: TimeLimit(amount=30, unit=TimeUnit.CALENDAR_DAYS))
    window: int = Field(default=100, ge=1, le=2000, description="Customers being told and opened at once.")
    per_run: int = Field(
        default=1000,
        ge=10,
        le=2000,
        description="Customers a run takes before it continues as new (history stays small).",
    )
    page_size: int = Field(default=200, ge=1, le=1000, description="Customers read from the database per page.")
    remediator_roles: list[Role] = Field(
        default_factory=lambda: [
            Role.RELATIONSHIP_MANAGER,
            Role.FINANCE,
            Role.LEGAL,
            Role.MANAGER,
            Role.SENIOR_MANAGER,
        ],
        min_length=1,
        description="Who may record a customer's remediation done (a refund paid, a contract revised).",
    )
    progress_every: TimeLimit = Field(
        default_factory=lambda: TimeLimit(amount=15, unit=TimeUnit.MINUTES),
        description="How often the recall counts its remediations once every one is open (seconds to hours).",
    )

    @field_validator("progress_every")
    @classmethod
    def _a_period(cls, value: TimeLimit) -> TimeLimit:
        if value.amount < 1 or value.unit not in (TimeUnit.SECONDS, TimeUnit.MINUTES, TimeUnit.HOURS):
            raise ValueError("progress_every: at least 1 second, in seconds, minutes or hours")
        return value

    def progress_seconds(self) -> int:
        scale = {TimeUnit.SECONDS: 1, TimeUnit.MINUTES: 60, TimeUnit.HOURS: 3600}
        return self.progress_every.amount * scale[self.progress_every.unit]


class RecallLink(BaseModel):
    """Signal to a complaint: its product is recalled (``ComplaintWorkflow.link_recall``).

    The complaint records the link once and takes the root cause "product design defect" (unless
    one is recorded); it does not tell the customer: the recall's remediation does, once."""

    recall_id: str = Field(max_length=200)
    product: str = Field(max_length=40)
    reason: str = Field(max_length=2000)
    declared_by: str = Field(max_length=64)
    linked_at: datetime


class RecallStatus(StrEnum):
    FANNING_OUT = "fanning_out"  # customers being told and their remediations opened
    TRACKING = "tracking"  # every remediation open: waiting for them and for the revision
    CLOSED = "closed"
    REFUSED = "refused"  # the declaration was refused when the workflow checked it: nothing recorded


class RemediationStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    REMEDIATED = "remediated"


Text = Annotated[str, Field(min_length=1, max_length=2000)]


class DeclareRecallRequest(BaseModel):
    """What a senior manager declares (``complaints recall declare``)."""

    product: str = Field(min_length=1, max_length=40)
    actor: str = Field(min_length=1, max_length=64)
    reason: Text
    scope: Text
    remedy: RemedyKind


class RecallDeclaration(BaseModel):
    """A declared recall, as its workflow starts with it: a staff action, signed by the declarer
    (action ``declare_recall`` on ``recall-<product>``) and checked when the workflow starts."""

    recall_id: str  # <product>-<n>: the n-th recall of the product
    product: str
    product_label: str
    reason: str
    scope: str
    remedy: RemedyKind
    declared_by: str
    declared_at: datetime
    signature: Signature | None = None  # the declarer's (issue 16; ``workflows.signing``)

    @property
    def actor(self) -> str:
        """Who acts, as a signer and the signature check name them."""
        return self.declared_by


class RecallPlan(BaseModel):
    """Fixed when the recall starts (an activity): who may do what, and the fan-out's sizes."""

    affected: int
    owner: str  # the declarer: told once when remediations fall overdue
    remediators: list[str]  # staff ids of the policy's remediator roles
    remediator_roles: list[str]
    revisers: list[str]  # staff ids of the declarer roles: who records the revision
    window: int
    per_run: int
    page_size: int
    progress_every_seconds: int
    remediation_due: str  # as the policy says it, e.g. "30 calendar days"
    policy_version: str


class RecallProgress(BaseModel):
    affected: int = 0
    told: int = 0
    opened: int = 0
    remediated: int = 0
    overdue: int = 0  # fell overdue at some point (remediated since or not)
    overdue_open: int = 0  # overdue and not remediated yet


class RecallRevision(BaseModel):
    revision: str
    new_version: str
    recorded_by: str
    recorded_at: datetime


class RecordRevisionRequest(BaseModel):
    """The product or process revision that ends the recall (``record_revision``)."""

    recall_id: str = Field(max_length=200)
    actor: str = Field(min_length=1, max_length=64)
    revision: Text
    new_version: str = Field(min_length=1, max_length=80)
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class RecallState(BaseModel):
    """The recall workflow's input, its state, and what one run hands the next (continue-as-new)."""

    declaration: RecallDeclaration
    plan: RecallPlan | None = None
    status: RecallStatus = RecallStatus.FANNING_OUT
    cursor: str | None = None  # the last customer id (in order) whose remediation was started
    exhausted: bool = False  # every affected customer's remediation started
    started: int = 0  # remediations started (or found started) so far
    in_flight: list[str] = Field(default_factory=list)  # started, not yet reported opened
    run: int = 1  # which run of the workflow this is (continue-as-new counts up)
    progress: RecallProgress = Field(default_factory=RecallProgress)
    revision: RecallRevision | None = None
    closed_at: datetime | None = None
    refused: str | None = None  # why the declaration was refused when the workflow checked it
    signing: SigningCarried | None = None  # continue-as-new: the run before's signing set-up, carried on


class RecallResult(BaseModel):
    recall_id: str
    status: RecallStatus
    message: str


class RemediationRequest(BaseModel):
    """One affected customer's remediation (``RemediationWorkflow``, one per recall and customer)."""

    recall_id: str
    recall_workflow_id: str  # the parent, told when this customer is told and opened
    product: str
    customer_id: str
    remedy: RemedyKind
    owner: str  # the declarer, told once when remediations fall overdue
    remediators: list[str]


class RemediationOpened(BaseModel):
    opened_at: datetime
    due_at: datetime
    told_now: bool  # False when the notice had been sent before (a retry)
    language: str
    complaints: list[str]  # the open complaints about the product now linked to the recall


class CompleteRemediationRequest(BaseModel):
    """What was done for the customer (a refund paid, the contract revised ...)."""

    recall_id: str = Field(max_length=200)
    customer_id: str = Field(min_length=1, max_length=64)
    actor: str = Field(min_length=1, max_length=64)
    note: Text
    reference: str | None = Field(default=None, max_length=128)  # a payment or contract reference
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class RemediationState(BaseModel):
    request: RemediationRequest
    status: RemediationStatus = RemediationStatus.OPEN
    opened: RemediationOpened | None = None
    overdue_at: datetime | None = None
    remediated_at: datetime | None = None
    remediated_by: str | None = None
    note: str | None = None
    reference: str | None = None


class RemediationResult(BaseModel):
    recall_id: str
    customer_id: str
    status: RemediationStatus
    message: str


class RecallPage(BaseModel):
    """The next customers after a cursor, in customer id order (ids only: the history stays lean)."""

    recall_id: str
    after: str | None
    limit: int
