"""Step 5: contract clauses sent to legal review, as the policy sets it and as a review holds it.

The policy's ``clause_review`` section: the rolling window and the threshold (complaints citing
one clause of one contract template), the root causes that keep a complaint counted from its
closure, which template a contract number belongs to, who owns a review and who may close it,
the review's due time and its warning, and how often the watch counts.

A review (``ClauseReviewWorkflow``, id ``clause-review-<template>-<clause>``) is one per clause
at a time; each run is one review, ``<template>-<clause>-<n>`` (the n-th of that clause).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from models.base import PolicyModel, TimeLimit, TimeUnit
from models.roles import Role
from models.signature import Signature


class TemplateRule(PolicyModel):
    """Contract numbers starting with ``prefix`` are written on ``template``."""

    prefix: Annotated[str, Field(min_length=1, max_length=32)]
    template: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class ClauseReviewPolicy(PolicyModel):
    window_days: int = Field(default=90, ge=1, le=3650, description="The rolling window, in calendar days.")
    threshold: int = Field(default=3, ge=1, le=1000, description="Complaints citing one clause that open a review.")
    root_causes: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=lambda: ["contract_wording", "product_design"],
        description="A complaint closed with one of these root causes counts from its closure too.",
    )
    templates: list[TemplateRule] = Field(
        default_factory=list,
        description="Contract number prefix -> template (first match); otherwise the number's leading letters.",
    )
    owner_role: Role = Field(default=Role.LEGAL, description="The review's owner: the first active member by id.")
    closer_roles: list[Role] = Field(default_factory=lambda: [Role.LEGAL, Role.SENIOR_MANAGER], min_length=1)
    due: TimeLimit = Field(default_factory=lambda: TimeLimit(amount=10, unit=TimeUnit.BUSINESS_DAYS))
    warning_fraction: float = Field(default=0.8, gt=0, lt=1, description="The owner is reminded this far along.")
    watch_every_minutes: int = Field(default=15, ge=1, le=1440, description="How often the schedule counts.")


class ReviewOutcome(StrEnum):
    REWORD = "reword"
    KEEP = "keep"
    WITHDRAW_PRODUCT = "withdraw_product"


class ReviewStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    CLOSED = "closed"


class ClauseCount(BaseModel):
    """One clause of one template over the window: the complaints citing it not yet reviewed."""

    template: str
    clause: str
    references: list[str]  # the clause references as the complaints wrote them
    complaint_ids: list[str]  # citing, received in the window or closed in it with a counted root cause
    confirmed_ids: list[str] = Field(default_factory=list)  # of those, closed with a counted root cause
    open_review_id: str | None = None
    next_review_id: str | None = None  # the id a review opened now takes

    @property
    def count(self) -> int:
        return len(self.complaint_ids)


class ClauseWatchRequest(BaseModel):
    requested_by: str = "schedule"


class ClauseWatchResult(BaseModel):
    counted: list[ClauseCount] = Field(default_factory=list)  # clauses crossing, or with a review open
    opened: list[str] = Field(default_factory=list)  # review ids opened by this run
    linked: list[str] = Field(default_factory=list)  # review ids sent links by this run


class ClauseReviewRequest(BaseModel):
    review_id: str
    template: str
    clause: str
    references: list[str]
    complaint_ids: list[str]
    opened_by: str = "clause-watch"


class ClauseLink(BaseModel):
    """Complaints citing the clause (the review keeps each once)."""

    complaint_ids: list[str]


class ClauseReviewPlan(BaseModel):
    review_id: str
    owner: str
    owner_name: str
    manager_id: str | None
    escalate_to: list[str]
    closers: list[str]  # staff ids of the policy's closer roles
    closer_roles: list[str]
    opened_at: datetime
    due_at: datetime
    warning_at: datetime
    window_days: int
    threshold: int


class CloseReviewRequest(BaseModel):
    review_id: str
    actor: str
    outcome: ReviewOutcome
    reasons: Annotated[str, Field(max_length=2000)]
    new_template_version: Annotated[str, Field(max_length=80)] | None = None
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class ClauseReviewState(BaseModel):
    request: ClauseReviewRequest
    workflow_id: str
    status: ReviewStatus = ReviewStatus.OPEN
    plan: ClauseReviewPlan | None = None
    linked: list[str] = Field(default_factory=list)
    warned_at: datetime | None = None
    overdue_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    outcome: ReviewOutcome | None = None
    reasons: str | None = None
    new_template_version: str | None = None


class ClauseReviewNotice(BaseModel):
    idempotency_key: str
    review_id: str
    kind: str
    recipients: list[str]
    subject: str
    body: str


class ClauseReviewResult(BaseModel):
    review_id: str
    status: ReviewStatus
    message: str
