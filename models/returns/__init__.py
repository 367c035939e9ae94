"""The regulators' returns' JSON Schemas (draft 2020-12), one ``<ReturnKind>.schema.json`` each.

Each schema describes one row of its return: its ``properties`` in the order of the CSV's
columns, the regulator's allowed values as enums, and in ``description`` the published source it
was written from and what of it could not be confirmed. ``x-row-id`` names the column that
identifies a row in an error; ``x-list-separator`` joins a list-valued cell in the CSV.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The schema of one return kind (a ``ReturnKind`` value), read once from the package."""
    text = (files(__name__) / f"{kind}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
