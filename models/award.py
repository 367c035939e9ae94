"""The Service Quality Award (服务质量奖, step 4): what the award workflow is asked, proposes and records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from models.analysis import Period
from models.performance import Nominee
from models.roles import Role
from models.signature import Signature


class AwardRequest(BaseModel):
    """The quarter to award: named (on demand), or the one that ended before the schedule's time."""

    quarter: Period | None = None
    timezone: str
    requested_by: Annotated[str, Field(min_length=1, max_length=80)] = "schedule"


class AwardProposal(BaseModel):
    quarter: str
    workflow_id: str
    taken_by: str | None = None  # another run holds this quarter's award: this one ends
    decided: bool = False  # the quarter's award was already approved
    nominees: list[Nominee] = Field(default_factory=list)  # ranked, each with the figures behind it
    proposed: list[str] = Field(default_factory=list)  # the top eligible, up to the policy's winners
    winners_allowed: int = 3
    approver_roles: list[Role] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)  # staff who hold those roles, for the validator
    training_assigned: int = 0
    scores_stored: int = 0


class AwardDecision(BaseModel):
    """A senior manager approves the proposed list (``winners`` empty) or changes it."""

    actor: Annotated[str, Field(min_length=1, max_length=64)]
    winners: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=50)
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class AwardRecord(BaseModel):
    quarter: str
    winners: list[str]
    approved_by: str
    reason: str
    decided_at: datetime


class AwardOutcome(BaseModel):
    quarter: str
    status: str  # approved, or taken (another run holds the quarter)
    winners: list[str] = Field(default_factory=list)
    approved_by: str | None = None
    told: int = 0
