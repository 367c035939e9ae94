"""SLA clocks: their state, and the requests that plan them under the pinned policy."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from models.base import Model
from models.intake import ComplaintFlag
from models.policy import HandlingRules, Tier


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


class PlanClockRequest(BaseModel):
    """Compute a clock under the pinned policy: a tier's first-response clock, an extension,
    or (``purpose``) the decision clock of a reopened complaint, a follow-up call, a retry of
    it, or look-back revisit number ``revisit`` counted from ``started_at``."""

    complaint_id: str
    policy_version: str
    started_at: AwareDatetime
    tier: Tier | None = None
    extension_index: int | None = None
    purpose: (
        Literal["decision", "follow_up", "follow_up_retry", "look_back", "regulator_report", "investigation"] | None
    ) = None
    regulator: str | None = None
    revisit: int | None = None
    flags: list[ComplaintFlag] = Field(default_factory=list, description="The complaint's (for the decision clock).")


class ReplanRequest(BaseModel):
    complaint_id: str
    tier: Tier
    clocks: list[Clock]
    flags: list[ComplaintFlag] = Field(default_factory=list, description="The complaint's (for the decision clock).")


class ReplanResult(BaseModel):
    rules: HandlingRules
    clocks: list[Clock]
