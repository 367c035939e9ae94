"""Policy files load, validate and name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from complaints.config import PROJECT_ROOT
from domain.policy import PolicyError, PolicyStore, load_policy
from tests.policies import policy_under

POLICIES = PROJECT_ROOT / "policies"


def test_shipped_policies_load() -> None:
    store = PolicyStore.from_file(POLICIES / "standard.yaml")
    assert store.current.version == "2026.11-standard"
    assert store.get("2026.11-compressed").tier_clocks


def test_compressed_policy_keeps_the_standard_rules() -> None:
    # Tests and the demo must classify exactly as production does; only the durations shrink.
    standard, compressed = load_policy(POLICIES / "standard.yaml"), load_policy(POLICIES / "compressed.yaml")
    assert compressed.classification_rules == standard.classification_rules
    assert {t: c.label for t, c in compressed.tier_clocks.items()} == {
        t: c.label for t, c in standard.tier_clocks.items()
    }
    assert compressed.investigation.accountability_deciders == standard.investigation.accountability_deciders


def _write(tmp_path: Path, change: dict) -> Path:
    raw = yaml.safe_load((POLICIES / "standard.yaml").read_text(encoding="utf-8"))
    raw["regulatory_pack"] = yaml.safe_load((POLICIES / "packs" / "cn-2020.yaml").read_text(encoding="utf-8"))
    raw.update(change)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        (
            {"tier_clocks": {"simple": {"label": "x", "limit": {"amount": 1, "unit": "hours"}, "source": "s"}}},
            "tier_clocks",
        ),
        (
            {
                "classification_rules": [
                    {"id": "only", "description": "d", "tier": "simple", "when": {"categories": ["other"]}}
                ]
            },
            "catch-all",
        ),
        ({"regulatory_pack": {"id": "X", "name": "x"}}, "regulatory_pack.acknowledgement"),
        ({"version": ""}, "version"),
        ({"approval_matrix": [{"up_to": 100, "approver_roles": ["manager"]}]}, "no upper bound"),
        (
            {"approval_matrix": [{"up_to": 100, "approver_roles": ["janitor"]}, {"approver_roles": ["manager"]}]},
            "approval_matrix.0.approver_roles.0",
        ),
        ({"warning_fraction": 1.5}, "warning_fraction"),
        (
            {
                "investigation": {
                    "due": {"amount": 10, "unit": "business_days"},
                    "accountability_deciders": {"none": ["compliance"]},
                }
            },
            "investigation.accountability_deciders: no roles for training, warning, disciplinary",
        ),
        (
            {
                "investigation": {
                    "due": {"amount": 10, "unit": "business_days"},
                    "accountability_deciders": {
                        "none": ["compliance"],
                        "training": ["janitor"],
                        "warning": ["senior_manager"],
                        "disciplinary": ["senior_manager"],
                    },
                }
            },
            "investigation.accountability_deciders.training.0",
        ),
    ],
)
def test_invalid_policy_names_the_problem(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, change))


def test_unknown_pinned_version_is_an_error() -> None:
    with pytest.raises(PolicyError, match=r"'1999\.01' is not available"):
        PolicyStore.from_file(POLICIES / "standard.yaml").get("1999.01")


@pytest.mark.parametrize("pack", ["cn-2020", "asic-rg271", "fca-disp", "cfpb"])
def test_every_regulatory_pack_can_be_selected(tmp_path: Path, pack: str) -> None:
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / f"{pack}.yaml").write_text((POLICIES / "packs" / f"{pack}.yaml").read_text(encoding="utf-8"))
    raw = yaml.safe_load((POLICIES / "standard.yaml").read_text(encoding="utf-8"))
    raw["regulatory_pack"] = pack
    for line in ("timezone", "business_calendar", "business_day_close"):  # China's: the pack's apply instead
        del raw[line]
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    policy = load_policy(tmp_path / "policy.yaml")
    assert policy.regulatory_pack.decision.limit.unit.value == "calendar_days"
    assert policy.calendar == policy.regulatory_pack.calendar


def test_a_policy_on_another_countrys_calendar_than_its_pack_is_refused(tmp_path: Path) -> None:
    # standard.yaml states China's calendar and time zone; the FCA pack counts England's.
    (tmp_path / "packs").symlink_to(POLICIES / "packs")
    raw = yaml.safe_load((POLICIES / "standard.yaml").read_text(encoding="utf-8"))
    raw["regulatory_pack"] = "fca-disp"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(
        PolicyError,
        match=r"business_calendar: CN, but regulatory pack FCA-DISP counts GB-ENG business days, close of business "
        r"17:00 Europe/London; leave out business_calendar, timezone and business_day_close",
    ):
        load_policy(tmp_path / "p.yaml")


@pytest.mark.parametrize(
    ("own", "message"),
    [
        ({"timezone": "Asia/Shanghai"}, r"timezone: Asia/Shanghai is not a time zone of AU, .*Australia/Perth"),
        ({"timezone": "Mars/Olympus"}, r"timezone: unknown time zone 'Mars/Olympus'"),
        ({"calendar_subdivision": "XX"}, r"AU has no subdivision 'XX' \(known: ACT, NSW, NT, QLD, SA, TAS, VIC, WA\)"),
    ],
)
def test_the_firms_own_calendar_must_lie_within_the_packs_country(own: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        policy_under("asic-rg271", **own)


def test_a_pack_without_a_calendar_counts_on_chinas_as_before() -> None:
    # Inline packs written before packs named a calendar (compressed.yaml's) keep China's.
    compressed = load_policy(POLICIES / "compressed.yaml")
    assert (
        "calendar" not in yaml.safe_load((POLICIES / "compressed.yaml").read_text(encoding="utf-8"))["regulatory_pack"]
    )
    assert (compressed.timezone, compressed.business_calendar, str(compressed.business_day_close)) == (
        "Asia/Shanghai",
        "CN",
        "18:00:00",
    )


def test_the_new_limits_name_their_rules() -> None:
    fca, asic = policy_under("fca-disp").regulatory_pack, policy_under("asic-rg271").regulatory_pack
    assert fca.summary_resolution is not None
    assert fca.summary_resolution.limit.describe() == "3 business days"
    assert fca.summary_resolution.source.startswith("DISP 1.5")
    [flagged] = asic.flagged_decisions
    assert (flagged.flags, flagged.limit.describe()) == (["default_notice", "hardship"], "21 calendar days")
    assert flagged.source.startswith("RG 271")
    for name in ("cn-2020", "cfpb"):
        other = policy_under(name).regulatory_pack
        assert other.summary_resolution is None and other.flagged_decisions == []


def test_an_unknown_pack_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"no pack 'mars-2030' \(known: asic-rg271, cfpb, cn-2020, fca-disp\)"):
        raw = yaml.safe_load((POLICIES / "standard.yaml").read_text(encoding="utf-8"))
        raw["regulatory_pack"] = "mars-2030"
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        (tmp_path / "packs").symlink_to(POLICIES / "packs")
        load_policy(tmp_path / "p.yaml")
