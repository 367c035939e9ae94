"""Step 5: a customer's risk early warning — the policy's rules, the figures they read, a case.

The score is the sum of the points of every rule that fires (``domain/risk.py``); at or over
``threshold`` an early-warning case opens (``EarlyWarningWorkflow``), worked by the staff of
``roles`` on two clocks: acknowledge, then act; it closes with an outcome.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field

from models.base import Model, PolicyModel, TimeLimit, TimeUnit
from models.intake import KEEPABLE
from models.roles import Role
from models.signature import Signature, SigningCarried

Points = Annotated[int, Field(ge=0, le=1000)]
WithinDays = Annotated[int, Field(ge=1, le=3660)]


class DaysPastDueBand(PolicyModel):
    days: int = Field(ge=1)
    points: Points


class WindowRule(PolicyModel):
    """Fires when at least ``count`` of its events fall within ``within_days``."""

    points: Points
    within_days: WithinDays = 365
    count: int = Field(default=1, ge=1, le=100)


class RatingRule(PolicyModel):
    """Fires when a rating change within the window took the rating ``notches`` or more down."""

    points: Points
    notches: int = Field(default=2, ge=1, le=20)
    within_days: WithinDays = 365


class AmountRule(PolicyModel):
    """Fires when the customer's complaints within the window dispute at least ``at_least`` in
    ``currency`` together: the intake's amounts, totalled on each complaints row (0019); amounts
    in another currency are not converted. A complaint filed before the row kept its amount
    counts when one of ``tier_rules`` (the policy's amount rule) classified it."""

    points: Points
    at_least: Decimal = Field(default=Decimal(1_000_000), gt=0, max_digits=20, decimal_places=2)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    tier_rules: list[str] = Field(default_factory=lambda: ["large-amount"])
    within_days: WithinDays = 365


class RegulatorRule(PolicyModel):
    """Fires for a complaint within the window referred by a regulator (its channel), classified
    by one of ``tier_rules`` (lodged with several regulators), or with a regulator report clock."""

    points: Points
    tier_rules: list[str] = Field(default_factory=lambda: ["regulator-referral", "several-regulators"])
    within_days: WithinDays = 365


def _bands() -> list[DaysPastDueBand]:
    return [DaysPastDueBand(days=30, points=30), DaysPastDueBand(days=90, points=50)]


class RiskPolicy(PolicyModel):
    """The early-warning rules (each scored on its own figures), threshold, clocks and roles."""

    threshold: int = Field(default=50, ge=1)
    days_past_due: list[DaysPastDueBand] = Field(default_factory=_bands, description="The highest band reached counts.")
    restructuring: WindowRule = WindowRule(points=20, within_days=180)
    covenant_breach: WindowRule = WindowRule(points=25, within_days=365)
    rating_down: RatingRule = RatingRule(points=20, notches=2)
    drawdowns_refused: WindowRule = WindowRule(points=15, within_days=90, count=2)
    repeat_complaints: WindowRule = WindowRule(points=15, within_days=365, count=2)
    repayment_collection_complaint: WindowRule = WindowRule(points=10, within_days=365)
    amount_in_dispute: AmountRule = AmountRule(points=10)
    refiled_after_withdrawal: WindowRule = WindowRule(points=10, within_days=365)
    regulator_involved: RegulatorRule = RegulatorRule(points=10)
    acknowledge: TimeLimit = TimeLimit(amount=1, unit=TimeUnit.BUSINESS_DAYS)
    act: TimeLimit = TimeLimit(amount=5, unit=TimeUnit.BUSINESS_DAYS)
    roles: list[Role] = Field(
        default_factory=lambda: [Role.RELATIONSHIP_MANAGER, Role.COMPLIANCE],
        min_length=1,
        description="Who works a case (acknowledge, act, close): told when it opens, their managers on a breach.",
    )


# -- the figures and the score ------------------------------------------------------------


class CustomerFigures(Model):
    """What the rules read about one customer at ``as_of`` (db/risk_queries.py)."""

    customer_id: str
    as_of: AwareDatetime
    days_past_due: int = 0  # the latest observation per contract, the worst of them
    days_past_due_record: str | None = None
    restructurings: list[AwareDatetime] = Field(default_factory=list)
    covenant_breaches: list[AwareDatetime] = Field(default_factory=list)
    rating_changes: list[tuple[AwareDatetime, str, str]] = Field(default_factory=list)  # when, from, to
    drawdowns_refused: list[tuple[AwareDatetime, Decimal, str]] = Field(default_factory=list)
    complaints: list[ComplaintSignal] = Field(default_factory=list)


class ComplaintSignal(Model):
    complaint_id: str
    category: str
    channel: str
    status: str
    received_at: AwareDatetime
    closed_at: AwareDatetime | None = None
    tier_rule: str | None = None
    regulator_report: bool = False
    amount_in_dispute: Decimal | None = None  # the intake's amounts, totalled (0019)
    amount_currency: str | None = None


class FiredRule(Model):
    rule: str
    points: int
    why: str  # the figures in words


class RiskScore(Model):
    customer_id: str
    as_of: AwareDatetime
    points: int
    threshold: int
    fired: list[FiredRule] = Field(default_factory=list)

    @property
    def crossed(self) -> bool:
        return self.points >= self.threshold


# -- the case -----------------------------------------------------------------------------


class WarningStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ACTING = "acting"
    CLOSED = "closed"


class WarningOutcome(StrEnum):
    MONITORED = "monitored"
    RESTRUCTURED = "restructured"
    COLLECTIONS = "collections"
    LIMIT_REDUCED = "limit_reduced"
    NO_ACTION = "no_action"


Text = Annotated[str, Field(min_length=1, max_length=2000), KEEPABLE]


class WarningStart(Model):
    customer_id: str
    carried: list[RiskScore] = Field(default_factory=list)  # crossings that came in as a case closed
    signing: SigningCarried | None = None  # the run before's signing set-up, carried on


class WarningPlan(Model):
    """Who works the case and its clocks (an activity: the directory and the policy's calendar)."""

    opened_at: AwareDatetime
    acknowledge_due: AwareDatetime
    act_due: AwareDatetime
    workers: list[str]  # active staff of the policy's roles
    escalate_to: list[str]  # their managers (a breach)
    policy_version: str


class WarningEntry(Model):
    at: AwareDatetime
    kind: str  # opened, signal, acknowledge_due, act_due, acknowledged, acted, closed
    by: str
    text: str


class WarningAction(Model):
    customer_id: str
    actor: str
    note: Text
    outcome: WarningOutcome | None = None  # close only
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class WarningActionResult(Model):
    customer_id: str
    status: WarningStatus
    message: str


class WarningState(Model):
    customer_id: str
    workflow_id: str
    status: WarningStatus = WarningStatus.OPEN
    score: RiskScore | None = None
    plan: WarningPlan | None = None
    history: list[WarningEntry] = Field(default_factory=list)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acted_at: datetime | None = None
    acted_by: str | None = None
    acknowledge_breached_at: datetime | None = None
    act_breached_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    outcome: WarningOutcome | None = None


class WarningNotice(Model):
    idempotency_key: str
    customer_id: str
    kind: str
    recipients: list[str]
    subject: str
    body: str


CustomerFigures.model_rebuild()
