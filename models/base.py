"""The base every case-file model shares: unknown fields are an error, not silently kept."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
