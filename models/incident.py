"""Step 6.2: surges and the incidents that run the emergency plan, as the policy sets them.

The policy's ``surge`` section says what a surge is: complaints per key (a product, category,
channel or region) in the last ``window`` against the median of the ``baseline_windows`` windows
before it, at ``factor`` times that median and at least ``min_complaints``. The watch counts every
``check_every`` on a Temporal Schedule. Its ``incident`` section is the emergency plan: who the
crisis team is, who may lead and close an incident, how often a situation report goes out, and by
how much a linked complaint's internal clocks shrink (the regulator's never do).

An incident is one workflow per key at a time, id ``incident-<dimension>-<value>``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.base import PolicyModel, TimeLimit, TimeUnit
from models.roles import Role
from models.signature import Signature, SigningCarried


class SurgeDimension(StrEnum):
    PRODUCT = "product"
    CATEGORY = "category"
    CHANNEL = "channel"
    REGION = "region"


class SurgePolicy(PolicyModel):
    dimensions: list[SurgeDimension] = Field(default_factory=lambda: list(SurgeDimension), min_length=1)
    window: TimeLimit = Field(
        default_factory=lambda: TimeLimit(amount=7, unit=TimeUnit.CALENDAR_DAYS),
        description="The short window counted (calendar time; business days are not meant here).",
    )
    baseline_windows: int = Field(default=8, ge=1, le=52, description="Windows before it whose median is the baseline.")
    factor: float = Field(
        default=3.0, gt=1, le=100, description="A surge: the window's count at this times the median."
    )
    min_complaints: int = Field(default=10, ge=1, le=100_000, description="And at least this many in the window.")
    check_every: TimeLimit = Field(
        default_factory=lambda: TimeLimit(amount=15, unit=TimeUnit.MINUTES),
        description="How often the watch counts (its Temporal Schedule's interval).",
    )


class IncidentPolicy(PolicyModel):
    crisis_team: list[Role] = Field(
        default_factory=lambda: [Role.SENIOR_MANAGER, Role.COMPLIANCE, Role.LEGAL],
        min_length=1,
        description="Every active member of these roles is told when an incident opens, and gets its reports.",
    )
    lead_roles: list[Role] = Field(
        default_factory=lambda: [Role.SENIOR_MANAGER, Role.MANAGER],
        min_length=1,
        description="Who may lead; the first active member of the first role leads until one is named.",
    )
    closer_roles: list[Role] = Field(default_factory=lambda: [Role.SENIOR_MANAGER], min_length=1)
    situation_report_every: TimeLimit = Field(default_factory=lambda: TimeLimit(amount=1, unit=TimeUnit.CALENDAR_DAYS))
    internal_clock_factor: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A linked complaint's internal (tier) clocks keep this share of their time; 1 leaves them.",
    )


class IncidentLink(BaseModel):
    """Signal to a complaint: it is part of an incident (``ComplaintWorkflow.link_incident``).

    The complaint records the link once, shrinks its running internal clocks by the factor (never a
    regulator's clock, never later than they were), tells its holder, and sends the customer the
    holding reply once per customer and incident."""

    incident_id: str = Field(max_length=200)
    key: str = Field(max_length=200, description="What surged, e.g. 'product=trade_finance'.")
    lead: str | None = Field(default=None, max_length=64)
    internal_clock_factor: float = Field(default=1.0, gt=0, le=1)
    linked_at: datetime


# -- the watch ------------------------------------------------------------------------------------


class SurgeFigures(BaseModel):
    """One key's count over the window against its baseline, and whether that is a surge."""

    dimension: SurgeDimension
    value: str
    count: int  # complaints received in the window
    baseline: list[int]  # per earlier window, the most recent first
    median: float
    needed: int  # the count that is a surge: at least min_complaints and factor x the median
    factor: float
    min_complaints: int
    window_start: datetime
    window_end: datetime
    surging: bool
    explanation: str

    @property
    def key(self) -> str:
        return f"{self.dimension.value}={self.value}"


class SurgeAction(BaseModel):
    """What one scan does for one key: open an incident, or link new complaints to the open one."""

    incident_id: str
    workflow_id: str
    dimension: SurgeDimension
    value: str
    open: bool  # True: a new incident (signal-with-start); False: the open incident joins them
    complaint_ids: list[str]
    figures: SurgeFigures | None = None  # the surge that opens it (None: a join)


class SurgeWatchRequest(BaseModel):
    requested_by: str = "schedule"


class SurgeWatchResult(BaseModel):
    surging: list[SurgeFigures] = Field(default_factory=list)  # every key over its threshold now
    actions: list[SurgeAction] = Field(default_factory=list)
    opened: list[str] = Field(default_factory=list)  # incident ids opened by this scan
    linked: dict[str, int] = Field(default_factory=dict)  # incident id -> complaints sent to it


# -- one incident ---------------------------------------------------------------------------------


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class IncidentComplaints(BaseModel):
    """Signal ``add_complaints``: complaints that match the incident's key (each linked once)."""

    complaint_ids: list[str]


class IncidentPlan(BaseModel):
    """Who the plan names, taken from the policy and the staff directory when the incident opens."""

    opened_at: datetime
    crisis_team: list[str]  # active staff of incident.crisis_team roles
    lead_candidates: list[str]  # active staff of incident.lead_roles, in the roles' order
    closers: list[str]  # active staff of incident.closer_roles
    lead_roles: list[str]
    closer_roles: list[str]
    root_causes: list[str]  # the policy's root cause codes
    situation_report_seconds: float
    internal_clock_factor: float
    window_seconds: float
    policy_version: str


class SituationReport(BaseModel):
    number: int
    at: datetime
    linked: int
    open: int
    closed: int
    customers: int
    new_since_last: int = 0


class IncidentState(BaseModel):
    incident_id: str  # incident-<dimension>-<value>-<n>: the n-th incident of that key
    workflow_id: str  # incident-<dimension>-<value>
    dimension: SurgeDimension
    value: str
    figures: SurgeFigures
    status: IncidentStatus = IncidentStatus.OPEN
    plan: IncidentPlan | None = None
    lead: str | None = None
    lead_assigned_by: str | None = None
    lead_changes: int = 0  # leads named after the default one
    linked: list[str] = Field(default_factory=list)  # complaint ids, in the order linked
    reports: int = 0
    last_report: SituationReport | None = None
    next_report_at: datetime | None = None
    review: str | None = None
    root_cause: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    closing_note: str | None = None
    runs: int = 1  # runs of the workflow (continue-as-new after many links or reports)

    @property
    def key(self) -> str:
        return f"{self.dimension.value}={self.value}"


class IncidentStart(BaseModel):
    incident_id: str
    dimension: SurgeDimension
    value: str
    figures: SurgeFigures
    opened_by: str = "surge-watch"
    carried: IncidentState | None = None  # continue-as-new: the incident so far
    pending: list[str] = Field(default_factory=list)  # complaints sent but not linked yet
    history_limit: int = Field(default=4000, ge=20, description="Events before it continues as new.")
    signing: SigningCarried | None = None  # continue-as-new: the run before's signing set-up, carried on


class AssignLeadRequest(BaseModel):
    incident_id: str = Field(max_length=200)
    actor: str = Field(max_length=64)
    lead: str = Field(max_length=64)
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class IncidentReviewRequest(BaseModel):
    """The post-incident review: what happened and why, with a root cause code of the policy."""

    incident_id: str = Field(max_length=200)
    actor: str = Field(max_length=64)
    review: str = Field(max_length=4000)
    root_cause: str = Field(max_length=40)
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class CloseIncidentRequest(BaseModel):
    incident_id: str = Field(max_length=200)
    actor: str = Field(max_length=64)
    note: str = Field(default="", max_length=2000)
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class IncidentActionResult(BaseModel):
    incident_id: str
    status: IncidentStatus
    lead: str | None
    message: str


class IncidentNotice(BaseModel):
    idempotency_key: str
    incident_id: str
    kind: str
    recipients: list[str]
    subject: str
    body: str


class SituationReportRequest(BaseModel):
    incident_id: str
    number: int
    key: str
    lead: str | None
    recipients: list[str]
    opened_at: datetime
    previous_linked: int = 0


class IncidentRecord(BaseModel):
    """The incident's row as the workflow holds it. ``state.linked`` is left empty: the links are a
    table of their own, and each record carries only those made since the last one (``new_links``),
    so the history does not hold every complaint id again at each record."""

    state: IncidentState
    linked_count: int
    new_links: list[str] = Field(default_factory=list)
    at: datetime
