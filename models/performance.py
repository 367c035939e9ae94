"""Step 4: the team's performance and training, as the policy sets it and as a person's card shows it.

The policy's ``performance`` section holds the scorecard formula (``ScoreTerm``: each input,
its weight, and the values that score all or none of it), the Service Quality Award's
eligibility and approval, and the training rules: the catalogue file, the reminder, which
figures assign a course, and whether routing skips a handler whose mandatory training is
overdue. The catalogue (``TrainingCatalogue``) is a versioned file of its own,
``policies/training/*.yaml``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from models.base import PolicyModel, TimeLimit
from models.intake import Category
from models.roles import Accountability, Role
from models.signature import Signature

CourseCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class ScoreInput(StrEnum):
    """A figure of a person's scorecard that the formula, an award or a training rule can use."""

    CASES = "cases"  # complaints they closed as the holder
    CLOCKS_MET_RATE = "clocks_met_rate"  # percent of their complaints' clocks met, of met + breached
    SATISFACTION_AVERAGE = "satisfaction_average"  # 1..5, from follow-up calls
    REOPEN_RATE = "reopen_rate"  # percent of their closed complaints that had been reopened
    MEDIAN_FIRST_RESPONSE_HOURS = "median_first_response_hours"
    ESCALATIONS_RECEIVED = "escalations_received"  # breaches escalated to them
    ACCOUNTABILITY_ENTRIES = "accountability_entries"  # investigation decisions naming them
    TRAINING_OVERDUE = "training_overdue"  # assignments overdue at the period's end


class ScoreTerm(PolicyModel):
    """One term of the service quality score: ``weight`` points, all of them at ``best``, none at
    ``worst``, in a straight line between (and no further)."""

    input: ScoreInput
    weight: float = Field(gt=0, le=100)
    best: float
    worst: float

    @model_validator(mode="after")
    def _apart(self) -> ScoreTerm:
        if self.best == self.worst:
            raise ValueError(f"performance.scorecard {self.input.value}: best and worst must differ")
        return self


class AwardPolicy(PolicyModel):
    """The Service Quality Award (服务质量奖), each quarter."""

    winners: int = Field(default=3, ge=1, le=50)
    min_cases: int = Field(default=10, ge=0, description="Fewer complaints closed in the quarter: not eligible.")
    exclude_decisions: list[Accountability] = Field(
        default_factory=lambda: [Accountability.WARNING, Accountability.DISCIPLINARY],
        description="An investigation decision of these kinds naming the person in the quarter: not eligible.",
    )
    exclude_own_breach: bool = Field(default=True, description="A breached clock on their own complaint: not eligible.")
    own_breach_tolerance: float = Field(
        default=0,
        ge=0,
        le=100,
        description="With exclude_own_breach: the percent of the clocks on their own complaints that may have "
        "breached and still leave them eligible (0: none may).",
    )
    approver_roles: list[Role] = Field(default_factory=lambda: [Role.SENIOR_MANAGER], min_length=1)
    run_day: int = Field(default=5, ge=1, le=28, description="Day of the quarter's first month the award is proposed.")
    run_hour: int = Field(default=9, ge=0, le=23)


class TrainingRule(PolicyModel):
    """A figure that assigns a course: e.g. a satisfaction average below 3.5 over 5+ cases."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=60)]
    input: ScoreInput
    above: float | None = None
    below: float | None = None
    min_cases: int = Field(default=5, ge=0)
    course: CourseCode

    @model_validator(mode="after")
    def _one_bound(self) -> TrainingRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"performance.training.rules {self.id}: give exactly one of above or below")
        return self


class TrainingPolicy(PolicyModel):
    catalogue: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default="training/catalogue-2026.11.yaml", description="The catalogue file, relative to the policy's folder."
    )
    reminder_fraction: float = Field(default=0.8, gt=0, lt=1, description="When the trainee is reminded.")
    investigation_course: CourseCode = Field(
        default="complaint-procedure", description="What an investigation's 'training' decision assigns."
    )
    rules: list[TrainingRule] = Field(default_factory=list)
    routing_skips_overdue: bool = Field(
        default=True,
        description="A handler with overdue mandatory training for a category is not chosen automatically "
        "for complex or major complaints of that category.",
    )


class PerformancePolicy(PolicyModel):
    scorecard: list[ScoreTerm] = Field(default_factory=list)
    award: AwardPolicy = Field(default_factory=AwardPolicy)
    training: TrainingPolicy = Field(default_factory=TrainingPolicy)


# ---- the training catalogue (its own versioned file) ------------------------------------------


class Course(PolicyModel):
    code: CourseCode
    title: Annotated[str, Field(min_length=1, max_length=200)]
    topic: Annotated[str, Field(min_length=1, max_length=80)]  # procedure, regulation, product, empathy
    roles: list[Role] = Field(default_factory=list, description="Roles that must take it (on joining, then renewing).")
    categories: list[Category] = Field(
        default_factory=list,
        description="Complaint categories it is mandatory for: overdue, routing skips the handler for complex and "
        "major complaints of these (empty: of every category).",
    )
    due: TimeLimit = Field(description="From assignment to due.")
    renew_every: TimeLimit | None = Field(default=None, description="Taken again this long after completion.")


class TrainingCatalogue(PolicyModel):
    version: Annotated[str, Field(min_length=1, max_length=60)]
    source: Annotated[str, Field(min_length=1, max_length=300)]
    courses: list[Course] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> TrainingCatalogue:
        codes = [c.code for c in self.courses]
        if len(codes) != len(set(codes)):
            raise ValueError("courses: codes must be unique")
        return self

    def course(self, code: str) -> Course | None:
        return next((c for c in self.courses if c.code == code), None)


# ---- a person's card ------------------------------------------------------------------------


class ScoreLine(BaseModel):
    """One term of the score as computed: the input's value, and the points it earned."""

    input: ScoreInput
    value: float | None
    weight: float
    points: float


class Scorecard(BaseModel):
    staff_id: str
    name: str
    role: str
    team: str
    period_label: str
    period_start: date
    period_end: date
    cases: int
    median_first_response_hours: dict[str, float | None]  # by tier
    median_resolution_hours: dict[str, float | None]  # by tier
    clocks_met: int
    clocks_breached: int
    clocks_met_rate: float | None
    satisfaction_average: float | None
    satisfaction_cases: int
    reopen_rate: float | None
    escalations_received: int
    accountability_entries: int
    training_completed: int
    training_overdue: int
    score: float | None  # None: no term had a value
    score_lines: list[ScoreLine]


class TrainingSource(StrEnum):
    JOINING = "joining"
    RENEWAL = "renewal"
    INVESTIGATION = "investigation"
    THRESHOLD = "threshold"
    MANUAL = "manual"


class TrainingStatus(StrEnum):
    ASSIGNED = "assigned"
    OVERDUE = "overdue"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TrainingAssignment(BaseModel):
    """What starts an assignment workflow (workflow id ``training-<assignment_id>``)."""

    assignment_id: Annotated[str, Field(min_length=1, max_length=120)]
    staff_id: str
    course: CourseCode
    source: TrainingSource
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    assigned_by: str
    assigned_at: datetime | None = None  # set by the workflow when it starts
    due_at: datetime | None = None
    # A manual assignment's, by its assigner (issue 16; ``ASSIGN_ACTION``): the workflow admits it
    # only if it holds. The system's assignments (joining, renewal, investigation, threshold) carry none.
    signature: Signature | None = None


class Nominee(BaseModel):
    """A person as the Service Quality Award ranks them: eligible and ranked, or why not, with
    the figures behind their score."""

    staff_id: str
    name: str
    team: str
    score: float | None
    rank: int | None  # 1.. among the eligible; None: not eligible
    eligible: bool
    reasons: list[str] = Field(default_factory=list)  # why not eligible, in words
    cases: int
    satisfaction_average: float | None
    clocks_met_rate: float | None
    score_lines: list[ScoreLine] = Field(default_factory=list)


class TrainingNeed(BaseModel):
    """A training rule that a person's card crossed: the course it assigns, and why in words."""

    staff_id: str
    course: CourseCode
    rule: str
    figure: float
    threshold: float
    cases: int  # behind the figure
    detail: str  # e.g. "satisfaction average 3.20 over 6 rated cases, below 3.50 (rule low-satisfaction)"


# ---- a training assignment's workflow (workflows/step4_training.py) -------------------------


class TrainingPlan(BaseModel):
    """What the assignment workflow needs from the catalogue and the directory (it reads no files)."""

    assignment_id: str
    staff_id: str
    trainee_name: str
    course: CourseCode
    course_title: str
    catalogue_version: str
    assigned_at: datetime
    due_at: datetime
    reminder_at: datetime
    renew_every_seconds: float | None = None  # None: the course does not renew, or this source does not
    manager_id: str | None = None
    escalate_to: list[str] = Field(default_factory=list)  # the manager; senior managers for who has none
    completers: list[str] = Field(default_factory=list)  # besides trainee and manager: compliance
    trainee_active: bool = True  # False: they left (a renewal falls due after); the assignment is cancelled
    assigner_role: Role | None = None  # a manual assignment's assigner, if an active member of staff


class TrainingRecord(BaseModel):
    """The ``training_assignments`` row as the workflow leaves it (an upsert by assignment_id)."""

    assignment: TrainingAssignment
    workflow_id: str
    status: TrainingStatus
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None


class TrainingNotice(BaseModel):
    """A notice about an assignment; its idempotency key (``training:<id>:<kind>``) goes out once."""

    idempotency_key: Annotated[str, Field(max_length=160)]
    assignment_id: str
    kind: str  # training_reminder, training_overdue
    recipients: list[str]
    subject: str
    body: str


class CompleteTrainingRequest(BaseModel):
    """``complete``: who records that the trainee completed the course (the trainee, their manager
    or compliance)."""

    assignment_id: Annotated[str, Field(min_length=1, max_length=120)]
    actor: Annotated[str, Field(min_length=1, max_length=80)]
    note: Annotated[str, Field(max_length=300)] | None = None
    signature: Signature | None = None  # the actor's (issue 16; ``workflows.signing``)


class TrainingCompletion(BaseModel):
    """What ``record_training_completion`` writes: the row's completion and one service-history entry."""

    record: TrainingRecord
    course_title: str
    note: str | None = None


class TrainingState(BaseModel):
    """The ``status`` query: the assignment, its plan and where it stands."""

    assignment: TrainingAssignment
    workflow_id: str
    status: TrainingStatus
    plan: TrainingPlan | None = None
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    renewal_at: datetime | None = None


class TrainingAdmission(BaseModel):
    """``admission``: the assignment the workflow runs, once its start was checked (a refused
    start raises ActionRefused instead)."""

    assignment_id: str
    assigned_by: str
    source: TrainingSource


class TrainingActionResult(BaseModel):
    assignment_id: str
    status: TrainingStatus
    message: str
