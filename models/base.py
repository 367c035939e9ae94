"""The base every case-file model shares: unknown fields are an error, not silently kept."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyModel(BaseModel):
    """A section of a policy file: unknown keys are errors, and a loaded policy does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
