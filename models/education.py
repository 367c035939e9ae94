"""Step 5: customer education. Complaints closed as a customer misunderstanding, grouped by
product and topic (the complaint's category), are education topics; an education action (a
meeting, a leaflet, a page) is logged against one, and the months after it show whether the
topic's complaints fell.

The policy's ``education`` section (``EducationPolicy``) names the root causes that make a topic,
who may log an action, and how many months before and after an action are compared.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from models.base import Model, PolicyModel
from models.intake import Category
from models.roles import Role
from models.signature import Signature

UNSPECIFIED = "unspecified"  # the product of a complaint that names none
RootCauseCode = Annotated[str, Field(max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]


class EducationKind(StrEnum):
    MEETING = "meeting"  # a customer meeting or seminar
    LEAFLET = "leaflet"  # printed or PDF
    PAGE = "page"  # a web or app page


class EducationPolicy(PolicyModel):
    """Which closed complaints are education topics, who logs actions, what is compared."""

    root_causes: list[RootCauseCode] = Field(
        default_factory=lambda: ["customer_misunderstanding"],
        min_length=1,
        description="Complaints closed with one of these root causes are education topics.",
    )
    recorder_roles: list[Role] = Field(
        default_factory=lambda: [Role.RELATIONSHIP_MANAGER, Role.MANAGER, Role.SENIOR_MANAGER, Role.COMPLIANCE],
        min_length=1,
        description="Roles that may log an education action.",
    )
    comparison_months: int = Field(
        default=3, ge=1, le=12, description="Months before an action compared with as many after it."
    )

    @model_validator(mode="after")
    def _unique(self) -> EducationPolicy:
        if len(self.root_causes) != len(set(self.root_causes)):
            raise ValueError("education.root_causes: codes must be unique")
        return self


class EducationActionRequest(Model):
    """An education action as staff log it; ``product`` and ``recorded_by`` are checked against
    the policy's catalogue and the staff directory when it is recorded."""

    product: Annotated[str, Field(min_length=1, max_length=64)]
    topic: Category
    kind: EducationKind
    title: Annotated[str, Field(min_length=1, max_length=200)]
    held_on: date
    reach: int | None = Field(default=None, ge=0, le=10_000_000, description="People reached, if known.")
    recorded_by: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=500)] = ""
    signature: Signature | None = None  # the recorder's (issue 16; checked by EducationLogWorkflow)


class EducationAction(BaseModel):
    """An education action as recorded."""

    id: int
    product: str
    topic: str
    kind: EducationKind
    title: str
    held_on: date
    reach: int | None
    recorded_by: str
    recorded_at: datetime
    note: str


class Effect(BaseModel):
    """A topic's complaints closed in the months before an action against the months after it.

    ``before`` holds ``comparison_months`` monthly counts, oldest first, ending the day before
    the action; ``after`` the whole months since it, at most as many (fewer while they run).
    """

    months: int
    before: list[int]
    after: list[int]
    before_per_month: float
    after_per_month: float | None  # None: not a whole month has passed yet
    change_percent: float | None  # after against before, per month; None when nothing to compare
    verdict: str  # fell, rose, unchanged, too early, no complaints before


class ActionEffect(BaseModel):
    action: EducationAction
    effect: Effect


class TopicLine(BaseModel):
    """One education topic in `complaints education list`: its complaints in the period and the
    periods before (newest first, as ``periods`` names them), and the actions logged against it."""

    product: str
    topic: str
    counts: list[int]
    actions: list[ActionEffect] = Field(default_factory=list)


class EducationOverview(BaseModel):
    periods: list[str]  # the period and those before it, newest first
    as_of: date  # effects are counted up to this day (the period's end, or today if sooner)
    root_causes: list[str]
    topics: list[TopicLine]


class EducationLogResult(BaseModel):
    """What ``EducationLogWorkflow`` answers: the action as recorded (``recorded``: by this call),
    or why it was refused (``invalid``: a field the policy refuses; ``unknown_staff``: no such
    recorder)."""

    action: EducationAction | None = None
    recorded: bool = False
    refused: str | None = None
    invalid: bool = False
    unknown_staff: bool = False
