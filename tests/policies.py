"""The standard policy under another regulatory pack, as a firm regulated there would write it."""

from __future__ import annotations

from typing import Any

import yaml

from complaints.config import PROJECT_ROOT
from models.policy import CALENDAR_FIELDS, Policy

POLICIES = PROJECT_ROOT / "policies"


def pack(name: str) -> dict[str, Any]:
    """A shipped pack (policies/packs/<name>.yaml) as its file holds it."""
    raw: dict[str, Any] = yaml.safe_load((POLICIES / "packs" / f"{name}.yaml").read_text(encoding="utf-8"))
    return raw


def policy_under(regulatory_pack: str | dict[str, Any], base: str = "standard", **own: Any) -> Policy:
    """policies/<base>.yaml with the pack swapped in and its calendar lines left out (the pack's
    apply), plus ``own``: what the firm states (e.g. ``calendar_subdivision``, ``timezone``)."""
    raw = yaml.safe_load((POLICIES / f"{base}.yaml").read_text(encoding="utf-8"))
    for field in CALENDAR_FIELDS:
        raw.pop(field, None)
    raw["regulatory_pack"] = pack(regulatory_pack) if isinstance(regulatory_pack, str) else regulatory_pack
    return Policy.model_validate({**raw, **own})
