"""Classification rules as the standard policy writes them (pure; no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from complaints.config import PROJECT_ROOT
from domain.classification import classify, initial_clocks
from domain.policy import load_policy
from models.intake import ComplaintIntake
from models.policy import Tier
from tests.factories import CATEGORY_DETAILS, intake_payload

POLICY = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")


def intake(category: str = "other", **changes) -> ComplaintIntake:
    return ComplaintIntake.model_validate(intake_payload(category, **changes))


def test_case_study_lodged_with_several_regulators_is_major() -> None:
    c = classify(intake("contract_dispute", regulators=["NFRA", "PBOC"]), POLICY)
    assert (c.tier, c.rule_id) == (Tier.MAJOR, "several-regulators")
    assert "NFRA, PBOC" in c.matched


def test_amount_threshold_counts_only_the_policy_currency() -> None:
    details = {
        **CATEGORY_DETAILS["contract_dispute"],
        "amounts_in_dispute": [{"amount": "600000"}, {"amount": "400000"}],
    }
    assert classify(intake("contract_dispute", details=details), POLICY).rule_id == "large-amount"
    in_usd = {**details, "amounts_in_dispute": [{"amount": "2000000", "currency": "USD"}]}
    assert classify(intake("contract_dispute", details=in_usd), POLICY).rule_id == "contract-terms"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("对方涉嫌伪造签名", "suspected-illegality"),
        ("They asked me for a KICKBACK", "suspected-illegality"),
        ("我们已申请仲裁", "legal-keywords"),
        ("Our lawyer will write to you", "legal-keywords"),
        ("The branch was closed on a weekday", "default-simple"),
    ],
)
def test_keywords_in_chinese_and_english(text: str, rule: str) -> None:
    assert classify(intake("other", description=text), POLICY).rule_id == rule


def test_the_first_matching_rule_wins_and_is_recorded() -> None:
    c = classify(intake("contract_dispute", channel="regulator_referral", regulators=["NFRA"]), POLICY)
    assert (c.rule_id, c.rule_description, c.policy_version) == (
        "regulator-referral",
        "Referred to us by a regulator",
        "2026.11-standard",
    )


def test_initial_clocks_follow_the_tier() -> None:
    received = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
    clocks = {c.name: c for c in initial_clocks(Tier.SIMPLE, received, POLICY)}
    assert set(clocks) == {"acknowledgement", "simple_first_response", "regulatory_decision"}
    assert (clocks["simple_first_response"].due_at - received).total_seconds() == 24 * 3600
    assert (clocks["regulatory_decision"].due_at - received).days == 15
    assert clocks["acknowledgement"].due_at.isoformat() == "2026-11-24T18:00:00+08:00"
