"""Policy files load, validate and name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from complaints.config import PROJECT_ROOT
from complaints.policy import PolicyError, PolicyStore, load_policy

POLICIES = PROJECT_ROOT / "policies"


def test_shipped_policies_load() -> None:
    store = PolicyStore.from_file(POLICIES / "standard.yaml")
    assert store.current.version == "2026.11-standard"
    assert store.get("2026.11-compressed").tier_clocks


def test_compressed_policy_keeps_the_standard_rules() -> None:
    # Tests and the demo must classify exactly as production does; only the durations shrink.
    standard, compressed = load_policy(POLICIES / "standard.yaml"), load_policy(POLICIES / "compressed.yaml")
    assert compressed.classification_rules == standard.classification_rules
    assert {t: c.label for t, c in compressed.tier_clocks.items()} == {t: c.label for t, c in standard.tier_clocks.items()}


def _write(tmp_path: Path, change: dict) -> Path:
    raw = yaml.safe_load((POLICIES / "standard.yaml").read_text(encoding="utf-8"))
    raw.update(change)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"tier_clocks": {"simple": {"label": "x", "limit": {"amount": 1, "unit": "hours"}, "source": "s"}}}, "tier_clocks"),
        ({"classification_rules": [{"id": "only", "description": "d", "tier": "simple", "when": {"categories": ["other"]}}]},
         "catch-all"),
        ({"regulatory_pack": {"id": "X", "name": "x"}}, "regulatory_pack.acknowledgement"),
        ({"version": ""}, "version"),
    ],
)
def test_invalid_policy_names_the_problem(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, change))


def test_unknown_pinned_version_is_an_error() -> None:
    with pytest.raises(PolicyError, match="'1999.01' is not available"):
        PolicyStore.from_file(POLICIES / "standard.yaml").get("1999.01")
