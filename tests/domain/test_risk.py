"""The risk early warning's score: each rule of the policy's ``risk`` section, its points, its
window and its count, and every rule that fired said in words with its figures (step 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from complaints.config import PROJECT_ROOT
from domain.policy import load_policy
from domain.risk import explain, score, workflow_id
from models.base import TimeUnit
from models.risk import (
    AmountRule,
    ComplaintSignal,
    CustomerFigures,
    DaysPastDueBand,
    RatingRule,
    RegulatorRule,
    RiskPolicy,
    RiskScore,
    WarningAction,
    WarningOutcome,
    WarningPlan,
    WarningState,
    WarningStatus,
    WindowRule,
)
from models.roles import Role
from workflows.step5_risk import details, refusal

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def figures(**fields: Any) -> CustomerFigures:
    return CustomerFigures(customer_id="C-1", as_of=NOW, **fields)


def complaint(n: int, days_ago: float, category: str = "contract_dispute", **fields: Any) -> ComplaintSignal:
    base: dict[str, Any] = {"channel": "phone", "status": "in_handling"}
    return ComplaintSignal(complaint_id=f"CMP-{n}", category=category, received_at=ago(days_ago), **{**base, **fields})


def fired(result: Any) -> dict[str, int]:
    return {f.rule: f.points for f in result.fired}


RULES = RiskPolicy()


def test_days_past_due_scores_the_highest_band_reached() -> None:
    assert fired(score(figures(days_past_due=29), RULES)) == {}
    result = score(figures(days_past_due=31, days_past_due_record="CORE/DPD-2"), RULES)
    assert fired(result) == {"days_past_due": 30}
    assert result.fired[0].why == "31 days past due (record CORE/DPD-2), at least 30"
    assert fired(score(figures(days_past_due=95), RULES)) == {"days_past_due": 50}
    bands = RULES.model_copy(update={"days_past_due": [DaysPastDueBand(days=10, points=5)]})
    assert fired(score(figures(days_past_due=95), bands)) == {"days_past_due": 5}


def test_the_threshold_decides_whether_the_score_crosses() -> None:
    f = figures(days_past_due=31, covenant_breaches=[ago(3)])
    assert score(f, RULES).points == 55 and score(f, RULES).crossed
    higher = RULES.model_copy(update={"threshold": 60})
    assert not score(f, higher).crossed and score(f, higher).threshold == 60
    assert explain(score(f, higher))[-1] == "= 55 points (under the threshold of 60)"


def test_each_loan_book_rule_scores_its_points_within_its_window() -> None:
    f = figures(
        restructurings=[ago(170)],
        covenant_breaches=[ago(10)],
        drawdowns_refused=[(ago(80), Decimal("2500000.00"), "CNY"), (ago(5), Decimal("1800000.00"), "CNY")],
    )
    result = score(f, RULES)
    assert fired(result) == {"restructuring": 20, "covenant_breach": 25, "drawdowns_refused": 15}
    why = {x.rule: x.why for x in result.fired}
    assert why["drawdowns_refused"].startswith("2 drawdowns refused in the last 90 days (2500000.00 CNY on 2026-09-11")
    assert why["restructuring"] == "1 restructuring(s) in the last 180 days (2026-06-13)"
    narrower = RULES.model_copy(
        update={
            "restructuring": WindowRule(points=20, within_days=90),
            "covenant_breach": WindowRule(points=40, within_days=30, count=2),
            "drawdowns_refused": WindowRule(points=7, within_days=30, count=1),
        }
    )
    assert fired(score(f, narrower)) == {"drawdowns_refused": 7}


def test_a_rating_counts_only_when_it_fell_enough_notches_within_its_window() -> None:
    two_down = figures(rating_changes=[(ago(30), "BBB", "BB+")])
    result = score(two_down, RULES)
    assert fired(result) == {"rating_down": 20}
    assert result.fired[0].why == "rating down 2 notches, BBB to BB+ on 2026-10-31 (at least 2)"
    assert fired(score(figures(rating_changes=[(ago(30), "BBB", "BBB-")]), RULES)) == {}
    assert fired(score(figures(rating_changes=[(ago(30), "BB", "BBB")]), RULES)) == {}
    assert fired(score(two_down, RULES.model_copy(update={"rating_down": RatingRule(points=9, notches=3)}))) == {}
    assert fired(score(two_down, RULES.model_copy(update={"rating_down": RatingRule(points=9, within_days=20)}))) == {}
    assert fired(score(two_down, RULES.model_copy(update={"rating_down": RatingRule(points=9, notches=1)}))) == {
        "rating_down": 9
    }


def test_each_complaint_rule_scores_its_points_within_its_window() -> None:
    withdrawn = complaint(1, 200, "repayment_collection", status="withdrawn", closed_at=ago(190))
    again = complaint(2, 20, "repayment_collection")
    f = figures(complaints=[withdrawn, again])
    result = score(f, RULES)
    assert fired(result) == {
        "repeat_complaints": 15,
        "repayment_collection_complaint": 10,
        "refiled_after_withdrawal": 10,
    }
    why = {x.rule: x.why for x in result.fired}
    assert why["repeat_complaints"] == "2 complaints in the last 365 days (CMP-1, CMP-2)"
    assert why["refiled_after_withdrawal"] == "CMP-1 withdrawn, CMP-2 filed again (repayment_collection)"
    other_category = figures(complaints=[withdrawn, complaint(2, 20, "privacy")])
    assert "refiled_after_withdrawal" not in fired(score(other_category, RULES))
    narrower = RULES.model_copy(
        update={
            "repeat_complaints": WindowRule(points=15, within_days=100, count=2),
            "repayment_collection_complaint": WindowRule(points=10, within_days=365, count=3),
            "refiled_after_withdrawal": WindowRule(points=10, within_days=100),
        }
    )
    assert fired(score(f, narrower)) == {}
    louder = RULES.model_copy(
        update={
            "repeat_complaints": WindowRule(points=1, count=2),
            "repayment_collection_complaint": WindowRule(points=2),
            "refiled_after_withdrawal": WindowRule(points=3),
        }
    )
    assert score(f, louder).points == 6


def test_amounts_and_regulators_are_read_from_what_the_projection_holds() -> None:
    large = complaint(1, 10, tier_rule="large-amount")
    referred = complaint(2, 10, channel="regulator_referral", tier_rule="regulator-referral")
    several = complaint(3, 10, tier_rule="several-regulators")
    reported = complaint(4, 10, regulator_report=True)
    result = score(figures(complaints=[large]), RULES)
    assert fired(result) == {"amount_in_dispute": 10}
    assert result.fired[0].why == "1 complaint(s) with a large amount in dispute (classified large-amount): CMP-1"
    for c in (referred, several, reported):
        assert fired(score(figures(complaints=[c]), RULES)) == {"regulator_involved": 10}
    old = complaint(5, 400, tier_rule="large-amount", channel="regulator_referral")
    assert fired(score(figures(complaints=[old]), RULES)) == {}
    other = RULES.model_copy(
        update={
            "amount_in_dispute": AmountRule(points=4, tier_rules=["several-regulators"], within_days=30),
            "regulator_involved": RegulatorRule(points=6, tier_rules=[], within_days=5),
        }
    )
    assert fired(score(figures(complaints=[large, several, reported]), other)) == {
        "amount_in_dispute": 4,
        "repeat_complaints": 15,
    }


def test_the_amounts_in_dispute_count_together_in_the_rules_currency_and_are_listed() -> None:
    def disputed(n: int, days_ago: float, amount: str, currency: str = "CNY", **more: Any) -> ComplaintSignal:
        return complaint(n, days_ago, amount_in_dispute=Decimal(amount), amount_currency=currency, **more)

    under = [disputed(1, 10, "600000.00"), disputed(2, 20, "300000.00")]
    assert fired(score(figures(complaints=under), RULES)) == {"repeat_complaints": 15}, "900,000 CNY: under"
    over = [*under, disputed(3, 30, "100000.00"), disputed(4, 5, "5000000.00", "USD"), disputed(5, 400, "9e6")]
    result = score(figures(complaints=over), RULES)
    assert fired(result)["amount_in_dispute"] == 10
    why = next(f.why for f in result.fired if f.rule == "amount_in_dispute")
    assert why == (
        "1,000,000.00 CNY in dispute in 3 complaint(s) in the last 365 days "
        "(CMP-3 100,000.00; CMP-2 300,000.00; CMP-1 600,000.00), at least 1,000,000.00"
    ), "USD is not converted; a complaint outside the window does not count"
    # A stored amount is read, not the tier it was classified by; a row without one falls back on it.
    tiered = disputed(6, 10, "10.00", tier_rule="large-amount")
    assert "amount_in_dispute" not in fired(score(figures(complaints=[tiered]), RULES))
    dollars = RULES.model_copy(
        update={"amount_in_dispute": AmountRule(points=7, at_least=Decimal("5000000"), currency="USD")}
    )
    assert fired(score(figures(complaints=over[3:4]), dollars)) == {"amount_in_dispute": 7}


def test_the_shipped_policies_set_the_case_clocks_and_who_works_it() -> None:
    standard = load_policy(PROJECT_ROOT / "policies" / "standard.yaml").risk
    compressed = load_policy(PROJECT_ROOT / "policies" / "compressed.yaml").risk
    assert (standard.acknowledge.amount, standard.acknowledge.unit) == (1, TimeUnit.BUSINESS_DAYS)
    assert (standard.act.amount, standard.act.unit) == (5, TimeUnit.BUSINESS_DAYS)
    assert compressed.acknowledge.unit == compressed.act.unit == TimeUnit.SECONDS
    assert standard.roles == compressed.roles == [Role.RELATIONSHIP_MANAGER, Role.COMPLIANCE]
    assert standard.threshold == compressed.threshold == RiskPolicy().threshold


def test_nothing_fired_is_zero_points_and_the_case_id_is_the_customers() -> None:
    result = score(figures(), RULES)
    assert result.points == 0 and result.fired == [] and not result.crossed
    assert explain(result) == ["= 0 points (under the threshold of 50)"]
    assert workflow_id("C-100482") == "early-warning-C-100482"


def test_who_may_act_on_a_case_and_when() -> None:
    state = WarningState(customer_id="C-1", workflow_id="early-warning-C-1")
    ask = WarningAction(customer_id="C-1", actor="S-RM-007", note="seen")
    assert (
        refusal(state, "acknowledge", ask) == "the early warning for C-1 is still being set up; try again in a moment"
    )
    state.plan = WarningPlan(
        opened_at=NOW,
        acknowledge_due=NOW + timedelta(days=1),
        act_due=NOW + timedelta(days=5),
        workers=["S-CMP-001", "S-RM-007"],
        escalate_to=["S-MGR-002"],
        policy_version="p",
    )
    state.score = RiskScore(customer_id="C-1", as_of=NOW, points=55, threshold=50)
    assert refusal(state, "acknowledge", ask) is None
    assert refusal(state, "acknowledge", ask.model_copy(update={"actor": "S-MGR-002"})) is None
    assert refusal(state, "acknowledge", ask.model_copy(update={"actor": "S-HND-001"})) == (
        "S-HND-001 may not acknowledge this early warning: the case's workers (S-CMP-001, S-RM-007) "
        "or their managers (S-MGR-002) may"
    )
    assert refusal(state, "act on", ask.model_copy(update={"customer_id": "C-2"})) == "this case is C-1's, not C-2's"
    assert refusal(state, "close", ask) == "closing needs an outcome"
    assert refusal(state, "act on", ask.model_copy(update={"outcome": WarningOutcome.MONITORED})) == (
        "an outcome is given only when closing"
    )
    state.acknowledged_at, state.acknowledged_by = NOW, "S-RM-007"
    assert refusal(state, "acknowledge", ask) == "already acknowledged 2026-11-30 02:00 UTC by S-RM-007"
    assert "**Score:** 55 (threshold 50)" in details(state)
    state.status, state.closed_at, state.closed_by = WarningStatus.CLOSED, NOW, "S-CMP-001"
    state.outcome = WarningOutcome.MONITORED
    assert refusal(state, "act on", ask) == "the early warning for C-1 was closed 2026-11-30 02:00 UTC by S-CMP-001"
    assert "**Closed** 2026-11-30 02:00 UTC by S-CMP-001: monitored" in details(state)


def test_a_rule_fires_only_with_its_count_of_events_within_its_window() -> None:
    withdrawn = complaint(1, 200, "privacy", status="withdrawn", closed_at=ago(199))
    f = figures(
        restructurings=[ago(10)], covenant_breaches=[ago(10)], complaints=[withdrawn, complaint(2, 20, "privacy")]
    )
    rules = {"restructuring", "covenant_breach", "repeat_complaints", "refiled_after_withdrawal"}
    assert rules <= set(fired(score(f, RULES)))
    twice = RULES.model_copy(
        update={
            "covenant_breach": WindowRule(points=25, within_days=5),
            "restructuring": WindowRule(points=20, within_days=180, count=2),
            "repeat_complaints": WindowRule(points=15, count=3),
            "refiled_after_withdrawal": WindowRule(points=10, count=2),
        }
    )
    assert fired(score(f, twice)) == {}
