"""Step 3.2: the periodic analysis and the regulators' returns: what the policy sets, what comes out.

The policy's ``reporting`` section (``ReportingPolicy``) and a pack's ``returns`` (``PackReturn``)
say when the analysis runs, which returns fall due, the product catalogue that maps the firm's
products to each regulator's product groups, and the thresholds whose crossing is a risk point.
``Analysis`` is what one run computes for a period against the period before: every table of
the HTML report, each also written as CSV and JSON.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from models.base import PolicyModel

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"


class ReturnKind(StrEnum):
    """A regulator's periodic return, each with its schema in models/returns/<value>.schema.json."""

    ASIC_IDR = "asic_idr"  # ASIC IDR data file: one row per complaint, half-yearly
    FCA_DISP = "fca_disp"  # FCA complaints return, DISP 1 Annex 1, half-yearly
    CFPB = "cfpb"  # a CFPB-shaped export of its published complaint fields
    NFRA_QUARTERLY = "nfra_quarterly"  # China: quarterly consumer-complaint statistics


ANALYSIS = "analysis"  # the kind of an analysis report in analysis_reports (returns use ReturnKind)


class PackReturn(PolicyModel):
    """A return a regulatory pack's firms file, and how often."""

    kind: ReturnKind
    period: PeriodKind


class Product(PolicyModel):
    """One of the firm's products, with the group each regulator counts it under."""

    code: Code
    label: Annotated[str, Field(min_length=1, max_length=120)]
    fca_product_group: Annotated[str, Field(min_length=1, max_length=80)] = "Other banking"
    asic_product: Annotated[str, Field(min_length=1, max_length=80)] = "Other"
    cfpb_product: Annotated[str, Field(min_length=1, max_length=120)] = "Business loan"
    nfra_business_line: Annotated[str, Field(min_length=1, max_length=80)] = "其他"


class RiskMeasure(StrEnum):
    """What a risk rule watches; each has a figure per subject, in the unit named."""

    ROOT_CAUSE_SHARE_CHANGE = "root_cause_share_change"  # percentage points, period on period
    CATEGORY_COUNT_CHANGE = "category_count_change"  # percent, period on period
    CLOCK_BREACH_RATE = "clock_breach_rate"  # percent of the clock's settled or breached
    SATISFACTION_AVERAGE = "satisfaction_average"  # 1..5
    REOPEN_RATE = "reopen_rate"  # percent of the closed
    REPEAT_COMPLAINANT_SHARE = "repeat_complainant_share"  # percent of the period's complainants
    CLAUSE_CITATIONS = "clause_citations"  # complaints citing one clause in the period


class RiskRule(PolicyModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)]
    measure: RiskMeasure
    above: float | None = None
    below: float | None = None
    min_cases: int = Field(default=5, ge=0, description="Fewer cases behind the figure: not a risk point.")
    owner: Annotated[str, Field(min_length=1, max_length=80)] = Field(
        description="Who owns the improvement (a role or a team), shown beside the risk point."
    )
    proposal: Annotated[str, Field(max_length=300)] = ""

    @model_validator(mode="after")
    def _one_bound(self) -> RiskRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"reporting.risk_points {self.id}: give exactly one of above or below")
        return self


class ReportingPolicy(PolicyModel):
    """When the analysis runs (in the policy's time zone) and what it looks for."""

    run_day: int = Field(default=1, ge=1, le=28, description="Day of the month the monthly run starts.")
    run_hour: int = Field(default=6, ge=0, le=23)
    repeat_window_days: int = Field(default=365, ge=1, le=3660, description="Repeat complainant: 2+ in this window.")
    top_clauses: int = Field(default=10, ge=1, le=100)
    products: list[Product] = Field(default_factory=list)
    risk_points: list[RiskRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ReportingPolicy:
        for name, codes in (
            ("products", [p.code for p in self.products]),
            ("risk_points", [r.id for r in self.risk_points]),
        ):
            if len(codes) != len(set(codes)):
                raise ValueError(f"reporting.{name}: codes must be unique")
        return self

    def product(self, code: str | None) -> Product | None:
        return next((p for p in self.products if p.code == code), None)


# ---- what one run computes ----------------------------------------------------------------


class Period(BaseModel):
    label: str  # 2026-10, 2026-Q3, 2026-H1, or 2026-10-01..2026-10-15
    start: date
    end: date  # inclusive


class CountRow(BaseModel):
    dimension: str  # category, tier, channel, product, root_cause
    key: str
    count: int
    previous: int


class DurationRow(BaseModel):
    measure: str  # acknowledge, first_response, resolution
    tier: str
    cases: int
    median_hours: float | None
    p90_hours: float | None
    previous_median_hours: float | None
    previous_p90_hours: float | None


class ClockRow(BaseModel):
    clock: str
    met: int
    breached: int
    breach_rate: float | None  # percent
    previous_breach_rate: float | None


class SatisfactionRow(BaseModel):
    score: int
    count: int
    previous: int


class ClauseRow(BaseModel):
    clause: str
    complaints: int
    previous: int


class RegulatorReportRow(BaseModel):
    regulator: str
    filed: int
    late: int
    previous_filed: int


class RiskPoint(BaseModel):
    rule: str
    measure: RiskMeasure
    subject: str  # the root cause, clock, category... the figure is about
    figure: float
    threshold: float
    direction: str  # above, below
    cases: int
    owner: str
    detail: str  # the figures that crossed, in words
    proposal: str = ""  # the improvement the policy proposes for this rule


class TeamRow(BaseModel):
    """One person's line of the team table: their scorecard's headline figures (step 4)."""

    staff_id: str
    name: str
    cases: int
    clocks_met_rate: float | None  # percent
    satisfaction_average: float | None
    reopen_rate: float | None  # percent of their closed
    score: float | None


class EducationRow(BaseModel):
    """One education topic of the period (step 5): complaints closed as a customer misunderstanding
    (the policy's ``education.root_causes``) by product and topic, and the last action before it."""

    product: str  # a product code, or unspecified
    topic: str  # the complaints' category
    count: int
    previous: int
    last_action_on: date | None
    last_action_kind: str | None  # meeting, leaflet, page
    last_action_title: str | None


class Headline(BaseModel):
    received: int
    closed: int
    open_at_end: int
    escalations: int
    extensions: int
    satisfaction_average: float | None
    reopen_rate: float | None  # percent of the closed
    repeat_complainants: int
    repeat_complainant_share: float | None  # percent of the period's complainants
    remedy_paid: Decimal


class Analysis(BaseModel):
    period: Period
    previous: Period
    policy_version: str
    currency: str
    generated_at: datetime
    headline: Headline
    previous_headline: Headline
    counts: list[CountRow]
    durations: list[DurationRow]
    clocks: list[ClockRow]
    satisfaction: list[SatisfactionRow]
    clauses: list[ClauseRow]
    regulator_reports: list[RegulatorReportRow]
    risk_points: list[RiskPoint]
    team: list[TeamRow] = []  # defaulted: an analysis.json written before step 4 still loads
    education: list[EducationRow] = []  # defaulted: an analysis.json written before step 5 still loads


# ---- the reporting workflow's input, steps and result ---------------------------------------


def report_kind(value: str) -> str:
    """``analysis`` or a return's kind; anything else names the field."""
    if value != ANALYSIS and value not in {k.value for k in ReturnKind}:
        known = ", ".join([ANALYSIS, *(k.value for k in ReturnKind)])
        raise ValueError(f"kinds: {value!r} is not a report kind ({known})")
    return value


class ReportRequest(BaseModel):
    """What to produce: for a named period (on demand), or for the period of ``period_kind``
    that ended before the schedule's start time (a scheduled run)."""

    kinds: list[Annotated[str, AfterValidator(report_kind)]] = Field(min_length=1)
    period: Period | None = None
    period_kind: PeriodKind | None = None
    timezone: str
    requested_by: Annotated[str, Field(min_length=1, max_length=80)] = "schedule"

    @model_validator(mode="after")
    def _one_period(self) -> ReportRequest:
        if (self.period is None) == (self.period_kind is None):
            raise ValueError("period: give a period or a period_kind, not both or neither")
        return self


class ProduceRequest(BaseModel):
    """One report or return of one period (an activity's input: nothing else it needs)."""

    kind: str
    period: Period
    previous: Period
    run_key: str  # the workflow run and kind: a retry after a crash finds the version it wrote


class ReportOutput(BaseModel):
    kind: str
    period_label: str
    version: int | None = None
    directory: str | None = None
    files: dict[str, str] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None  # a return that failed its schema: nothing was written


class ReportOutcome(BaseModel):
    period: Period
    previous: Period
    outputs: list[ReportOutput]
