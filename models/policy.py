"""The SLA and classification policy: a versioned, validated file (see ``policies/``).

Durations are never hard-coded in workflows. Tests and the demo load a compressed
policy whose limits are seconds, so no test waits for a real day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, Field, model_validator

from models.analysis import PackReturn, ReportingPolicy
from models.base import PolicyModel, TimeLimit
from models.base import TimeUnit as TimeUnit  # re-exported: the policy's time units live with TimeLimit
from models.clause_review import ClauseReviewPolicy
from models.education import EducationPolicy
from models.incident import IncidentPolicy, SurgePolicy
from models.intake import Category, Channel, ComplaintFlag, Money
from models.performance import PerformancePolicy
from models.recall import RecallPolicy
from models.retention import RetentionPolicy
from models.risk import RiskPolicy
from models.roles import Accountability as Accountability  # re-exported
from models.roles import Role as Role  # re-exported
from models.signature import SigningMode, SigningPolicy


class Tier(StrEnum):
    SIMPLE = "simple"
    COMPLEX = "complex"
    MAJOR = "major"


TIER_RANK = {Tier.SIMPLE: 0, Tier.COMPLEX: 1, Tier.MAJOR: 2}


class ClockSpec(PolicyModel):
    label: Annotated[str, Field(min_length=1, max_length=80)]
    limit: TimeLimit
    source: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Where the limit comes from (company rule, rule text), for compliance to check."
    )


class RuleCondition(PolicyModel):
    """All given conditions must hold (an empty condition always holds)."""

    channels: list[Channel] | None = None
    categories: list[Category] | None = None
    min_regulators: int | None = Field(default=None, ge=1)
    staff_misconduct_alleged: bool | None = None
    keywords_any: list[Annotated[str, Field(min_length=1)]] | None = None
    amount_at_least: Decimal | None = Field(default=None, gt=0)


class ClassificationRule(PolicyModel):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: Annotated[str, Field(min_length=1, max_length=200)]
    tier: Tier
    when: RuleCondition


class ExtensionSpec(PolicyModel):
    """An extension of the decision limit: the new total limit, counted from intake."""

    label: Annotated[str, Field(min_length=1, max_length=80)]
    limit: TimeLimit
    approver_roles: list[Role] = Field(min_length=1)
    source: Annotated[str, Field(min_length=1, max_length=200)]


@cache
def _subdivisions() -> dict[str, list[str]]:
    """Countries ``holidays`` knows (ISO 3166 codes, as tzdata's zone.tab), with their subdivisions."""
    return holidays.list_supported_countries(include_aliases=False)


@cache
def _zones_of(country: str) -> frozenset[str]:
    """The time zones tzdata places in a country (its zone.tab)."""
    table = (files("tzdata.zoneinfo") / "zone.tab").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in table.splitlines() if line and not line.startswith("#"))
    return frozenset(row[2] for row in rows if row[0] == country)


def calendar_problem(country: str, subdivision: str | None, timezone: str) -> str | None:
    """What is wrong with a business calendar's country, subdivision and time zone, if anything."""
    supported = _subdivisions()
    if country not in supported:
        return f"business calendar: no public holidays known for country {country!r}"
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        return f"business calendar: {country} has no subdivision {subdivision!r} (known: {known})"
    try:
        ZoneInfo(timezone)
    except Exception:
        return f"timezone: unknown time zone {timezone!r}"
    if timezone not in _zones_of(country):
        zones = ", ".join(sorted(_zones_of(country)))
        return (
            f"timezone: {timezone} is not a time zone of {country}, whose business days are counted (one of: {zones})"
        )
    return None


class BusinessCalendar(PolicyModel):
    """Which days are business days, and when one closes.

    Public holidays of ``country`` (and of ``subdivision``, a state or nation, when given)
    from ``holidays``; for CN, China's official calendar (``chinesecalendar``) with its
    substituted working weekends. A business-day limit falls due at ``close_of_business`` in
    ``timezone``. The defaults are China's: every pack counted on it before packs named one.
    """

    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "CN"
    subdivision: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,4}$")] | None = None
    timezone: str = "Asia/Shanghai"
    close_of_business: time = time(18, 0)

    @model_validator(mode="after")
    def _known(self) -> BusinessCalendar:
        problem = calendar_problem(self.country, self.subdivision, self.timezone)
        if problem:
            raise ValueError(problem)
        return self

    def describe(self) -> str:
        where = f"{self.country}-{self.subdivision}" if self.subdivision else self.country
        return f"{where} business days, close of business {self.close_of_business:%H:%M} {self.timezone}"


class SummaryResolutionSpec(PolicyModel):
    """A complaint resolved within ``limit`` of receipt gets a summary resolution communication
    instead of the final response (FCA DISP 1.5)."""

    limit: TimeLimit
    source: Annotated[str, Field(min_length=1, max_length=200)]


class FlaggedDecisionSpec(ClockSpec):
    """The decision limit for complaints that carry any of ``flags`` (instead of the pack's own)."""

    flags: list[ComplaintFlag] = Field(min_length=1)


class RegulatoryPack(PolicyModel):
    id: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    calendar: BusinessCalendar = Field(
        default_factory=BusinessCalendar, description="Whose business days the pack's limits count."
    )
    acknowledgement: ClockSpec
    decision: ClockSpec
    flagged_decisions: list[FlaggedDecisionSpec] = Field(
        default_factory=list,
        max_length=5,
        description="Shorter decision limits for flagged complaints; the first whose flags match applies.",
    )
    summary_resolution: SummaryResolutionSpec | None = None
    extensions: list[ExtensionSpec] = Field(default_factory=list, max_length=5)
    pause_while_awaiting_customer: bool = Field(
        default=False, description="Whether clocks stop while the complaint waits on the customer."
    )
    returns: list[PackReturn] = Field(
        default_factory=list, description="The periodic returns the pack's regulator asks for, and how often."
    )
    notes: str = ""


class ApprovalLevel(PolicyModel):
    """Remedies worth up to ``up_to`` (None: any amount) need one of these roles to approve."""

    up_to: Decimal | None = Field(default=None, ge=0)
    approver_roles: list[Role] = Field(min_length=1)


class FollowUpPolicy(PolicyModel):
    """The follow-up call (回访) after a resolution is accepted."""

    due: dict[Tier, TimeLimit] = Field(description="Window for the call after acceptance, by tier.")
    different_caller: bool = Field(default=True, description="Someone other than the handler calls.")
    retry_after: TimeLimit = Field(description="When to try again after the customer was not reached.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Calls before a letter is sent instead.")
    satisfaction_threshold: int = Field(default=3, ge=1, le=5, description="Below this the complaint reopens.")


class LookBackPolicy(PolicyModel):
    """Look-back revisits (回头看) of major complaints and those a manager marks."""

    interval: TimeLimit
    revisits: int = Field(default=3, ge=1, le=120)
    window: TimeLimit = Field(description="How long the named person has for each revisit once it is due.")
    revisits_per_run: int = Field(
        default=12, ge=1, le=500, description="Revisits before the workflow continues as new (bounded history)."
    )


class RegulatorReportingPolicy(PolicyModel):
    due: TimeLimit = Field(description="When the initial report to each regulator is due, from the start of handling.")
    retry_window_fraction: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="Share of the time to the deadline spent retrying before compliance is alerted.",
    )
    default_regulator: str = Field(default="NFRA", pattern=r"^[A-Z][A-Z0-9_-]+$")


class InvestigationPolicy(PolicyModel):
    """The internal investigation of a major complaint: its clock and who decides accountability."""

    due: TimeLimit = Field(description="Time to conclude, from the moment the complaint becomes major.")
    accountability_deciders: dict[Accountability, list[Role]] = Field(
        description="Roles that may decide each accountability outcome."
    )
    evidence_required: bool = Field(default=True, description="At least one evidence reference before concluding.")

    @model_validator(mode="after")
    def _every_decision(self) -> InvestigationPolicy:
        missing = [d.value for d in Accountability if not self.accountability_deciders.get(d)]
        if missing:
            raise ValueError(f"investigation.accountability_deciders: no roles for {', '.join(missing)}")
        return self


class IntakePolicy(PolicyModel):
    """Which ``received_at`` intake accepts; it refuses any other before a workflow starts."""

    earliest_received_on: date = Field(
        default=date(2020, 1, 1),
        description="No complaint is received before this day (in the policy's time zone): an older "
        "received_at is a default or mistyped date, not a complaint clocks can run for.",
    )
    clock_skew_seconds: int = Field(
        default=300, ge=0, le=3600, description="How far ahead of this system's clock a received_at may lie."
    )

    def received_at_problem(self, received_at: datetime, now: datetime, timezone: str) -> str | None:
        """Why ``received_at`` lies outside the window (naming the field), or None."""
        floor = datetime.combine(self.earliest_received_on, time(0), ZoneInfo(timezone))
        if received_at < floor:
            return f"received_at: lies before {floor.isoformat()}, the earliest the policy accepts"
        if received_at - now > timedelta(seconds=self.clock_skew_seconds):
            return f"received_at: lies in the future (more than {self.clock_skew_seconds} s ahead of our clock)"
        return None


class RootCause(PolicyModel):
    code: Annotated[str, Field(max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]  # complaints.root_cause
    label: Annotated[str, Field(min_length=1, max_length=120)]
    upheld: bool = Field(
        default=True,
        description="Whether a complaint closed with this cause counts as upheld (the firm at fault, in "
        "whole or part) in the regulators' returns; false for causes that find no fault.",
    )


CALENDAR_FIELDS = {
    "business_calendar": "country",
    "calendar_subdivision": "subdivision",
    "timezone": "timezone",
    "business_day_close": "close_of_business",
}


class Policy(PolicyModel):
    """The firm's policy under one regulatory pack.

    The business calendar is the pack's (``regulatory_pack.calendar``): a policy that does
    not state ``business_calendar``, ``calendar_subdivision``, ``timezone`` or
    ``business_day_close`` takes the pack's. A policy may name the firm's own subdivision (an
    Australian state), time zone (one of the calendar country's) and close of business;
    ``business_calendar``, if stated, must be the pack's country. These fields then hold what
    applies: deadlines count on them, and times are shown in ``timezone``.
    """

    version: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9._-]+$")]
    description: str = ""
    timezone: str = "Asia/Shanghai"
    business_calendar: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "CN"
    calendar_subdivision: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,4}$")] | None = None
    business_day_close: time = time(18, 0)
    regulatory_pack: RegulatoryPack
    tier_clocks: dict[Tier, ClockSpec]
    amount_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    classification_rules: list[ClassificationRule] = Field(min_length=1)
    warning_fraction: float = Field(default=0.8, gt=0, lt=1)
    approval_matrix: list[ApprovalLevel] = Field(
        default_factory=lambda: [ApprovalLevel(approver_roles=[Role.MANAGER, Role.SENIOR_MANAGER])], min_length=1
    )
    follow_up: FollowUpPolicy
    look_back: LookBackPolicy
    regulator_reporting: RegulatorReportingPolicy
    investigation: InvestigationPolicy
    root_causes: list[RootCause] = Field(min_length=1)
    intake: IntakePolicy = Field(default_factory=IntakePolicy)
    reporting: ReportingPolicy = Field(default_factory=ReportingPolicy)
    performance: PerformancePolicy = Field(default_factory=PerformancePolicy)
    risk: RiskPolicy = Field(default_factory=RiskPolicy)
    clause_review: ClauseReviewPolicy = Field(default_factory=ClauseReviewPolicy)
    education: EducationPolicy = Field(default_factory=EducationPolicy)
    surge: SurgePolicy = Field(default_factory=SurgePolicy)
    incident: IncidentPolicy = Field(default_factory=IncidentPolicy)
    recall: RecallPolicy = Field(default_factory=RecallPolicy)
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    signing: SigningPolicy = Field(default_factory=SigningPolicy)

    @model_validator(mode="before")
    @classmethod
    def _calendar_from_pack(cls, data: Any) -> Any:
        """What the policy does not state of its business calendar, it takes from its pack."""
        if not isinstance(data, dict):
            return data
        pack = data.get("regulatory_pack")
        raw = (
            pack.calendar
            if isinstance(pack, RegulatoryPack)
            else pack.get("calendar")
            if isinstance(pack, dict)
            else None
        )
        try:
            calendar = BusinessCalendar.model_validate(raw if raw is not None else {})
        except ValueError:
            return data  # validating the pack names the problem
        return {**{field: getattr(calendar, own) for field, own in CALENDAR_FIELDS.items()}, **data}

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        for name, per_tier in (("tier_clocks", self.tier_clocks), ("follow_up.due", self.follow_up.due)):
            missing = [t.value for t in Tier if t not in per_tier]
            if missing:
                raise ValueError(f"{name}: no entry for tier(s) {', '.join(missing)}")
        ids = [r.id for r in self.classification_rules]
        if len(ids) != len(set(ids)):
            raise ValueError("classification_rules: rule ids must be unique")
        if self.classification_rules[-1].when != RuleCondition():
            raise ValueError("classification_rules: the last rule must be a catch-all (empty 'when')")
        if self.approval_matrix[-1].up_to is not None:
            raise ValueError("approval_matrix: the last level must have no upper bound (up_to omitted)")
        bounds = [level.up_to for level in self.approval_matrix[:-1]]
        if any(b is None for b in bounds) or bounds != sorted(bounds):  # type: ignore[type-var]
            raise ValueError("approval_matrix: levels must be in increasing up_to order")
        pack_calendar = self.regulatory_pack.calendar
        if self.business_calendar != pack_calendar.country:
            raise ValueError(
                f"business_calendar: {self.business_calendar}, but regulatory pack {self.regulatory_pack.id} counts "
                f"{pack_calendar.describe()}; leave out business_calendar, timezone and business_day_close "
                "to take the pack's, or state the firm's own within that country"
            )
        problem = calendar_problem(self.business_calendar, self.calendar_subdivision, self.timezone)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def calendar(self) -> BusinessCalendar:
        """The business calendar that applies: the pack's, with what the policy states of its own."""
        return BusinessCalendar(**{own: getattr(self, field) for field, own in CALENDAR_FIELDS.items()})

    def amount_in_policy_currency(self, amounts: list[Money]) -> Decimal:
        """Sum of amounts in the policy currency; other currencies are not converted."""
        return sum((m.amount for m in amounts if m.currency == self.amount_currency), Decimal(0))


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
    # Signed staff actions (issue 16; absent from histories recorded before them: not checked).
    signing_mode: SigningMode = SigningMode.OFF
    signing_window_seconds: int = 300
