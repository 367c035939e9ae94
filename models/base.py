"""The bases every model shares: unknown fields are an error, not silently kept; and a policy's time limit."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyModel(BaseModel):
    """A section of a policy file: unknown keys are errors, and a loaded policy does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeUnit(StrEnum):
    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    CALENDAR_DAYS = "calendar_days"
    BUSINESS_DAYS = "business_days"


class TimeLimit(PolicyModel):
    """One limit; its unit says whether 'days' are calendar or business days."""

    amount: int = Field(ge=0, le=10_000)
    unit: TimeUnit

    def describe(self) -> str:
        unit = self.unit.value.replace("_", " ")
        return f"{self.amount} {unit[:-1] if self.amount == 1 else unit}"
