"""The service quality score, the award's ranking and the training rules (pure rules, no server)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.performance import inputs_of, nominees, score, team_table, term_points, training_due
from domain.policy import PolicyStore
from models.performance import AwardPolicy, Scorecard, ScoreInput, ScoreTerm, TrainingRule
from models.roles import Accountability
from tests.policies import POLICIES

STANDARD = PolicyStore.from_file(POLICIES / "standard.yaml").current


def term(input: ScoreInput, weight: float, best: float, worst: float) -> ScoreTerm:
    return ScoreTerm(input=input, weight=weight, best=best, worst=worst)


def card(staff_id: str, **figures: Any) -> Scorecard:
    base: dict[str, Any] = dict(
        staff_id=staff_id, name=f"Name {staff_id}", role="handler", team="customer-service", period_label="2034-Q1",
        period_start=date(2034, 1, 1), period_end=date(2034, 3, 31), cases=12,
        median_first_response_hours={"simple": 3.0, "complex": None, "major": None, "all": 3.0},
        median_resolution_hours={"simple": 20.0, "complex": None, "major": None, "all": 20.0},
        clocks_met=20, clocks_breached=0, clocks_met_rate=100.0, satisfaction_average=4.5, satisfaction_cases=10,
        reopen_rate=0.0, escalations_received=0, accountability_entries=0, training_completed=1, training_overdue=0,
        score=90.0, score_lines=[],
    )  # fmt: skip
    return Scorecard.model_validate(base | figures)


# ---- the formula --------------------------------------------------------------------------


def test_each_term_earns_its_weight_in_a_straight_line_clamped_at_both_ends() -> None:
    met = term(ScoreInput.CLOCKS_MET_RATE, 30, best=100, worst=80)
    assert term_points(100, met) == 30
    assert term_points(90, met) == 15
    assert term_points(80, met) == 0
    assert term_points(50, met) == 0, "below worst earns nothing, not less"
    assert term_points(120, met) == 30, "beyond best earns no more than the weight"


def test_a_scale_where_less_is_better_runs_from_worst_down_to_best() -> None:
    reopen = term(ScoreInput.REOPEN_RATE, 15, best=0, worst=20)
    assert [term_points(v, reopen) for v in (0, 5, 20, 40)] == [15, 11.25, 0, 0]
    assert term_points(-1, reopen) == 15


def test_the_score_is_a_hundred_times_earned_over_the_weights_of_the_terms_with_a_value() -> None:
    terms = STANDARD.performance.scorecard
    inputs = {
        ScoreInput.CLOCKS_MET_RATE: 90.0,  # 15 of 30
        ScoreInput.SATISFACTION_AVERAGE: 4.0,  # 15 of 30
        ScoreInput.REOPEN_RATE: 10.0,  # 7.5 of 15
        ScoreInput.MEDIAN_FIRST_RESPONSE_HOURS: 4.0,  # 15 of 15
        ScoreInput.ACCOUNTABILITY_ENTRIES: 1.0,  # 2.5 of 5
        ScoreInput.TRAINING_OVERDUE: 0.0,  # 5 of 5
    }
    total, lines = score(inputs, terms)
    assert total == 60.0  # 60 of 100
    assert [(line.input, line.value, line.weight, line.points) for line in lines] == [
        (ScoreInput.CLOCKS_MET_RATE, 90.0, 30, 15.0),
        (ScoreInput.SATISFACTION_AVERAGE, 4.0, 30, 15.0),
        (ScoreInput.REOPEN_RATE, 10.0, 15, 7.5),
        (ScoreInput.MEDIAN_FIRST_RESPONSE_HOURS, 4.0, 15, 15.0),
        (ScoreInput.ACCOUNTABILITY_ENTRIES, 1.0, 5, 2.5),
        (ScoreInput.TRAINING_OVERDUE, 0.0, 5, 5.0),
    ]


def test_a_missing_figure_earns_nothing_and_leaves_the_maximum_but_is_still_shown() -> None:
    terms = [term(ScoreInput.CLOCKS_MET_RATE, 30, 100, 80), term(ScoreInput.SATISFACTION_AVERAGE, 30, 5, 3)]
    total, lines = score({ScoreInput.CLOCKS_MET_RATE: 90.0, ScoreInput.SATISFACTION_AVERAGE: None}, terms)
    assert total == 50.0  # 15 of the 30 that had a value
    assert [(line.value, line.points) for line in lines] == [(90.0, 15.0), (None, 0.0)]
    total, lines = score({}, terms)
    assert total is None and len(lines) == 2


def test_best_and_worst_must_differ() -> None:
    with pytest.raises(ValueError, match="best and worst must differ"):
        term(ScoreInput.REOPEN_RATE, 10, 5, 5)


def test_a_cards_inputs_include_the_median_over_every_tier() -> None:
    inputs = inputs_of(card("A", median_first_response_hours={"simple": 2.0, "complex": 40.0, "all": 6.5}))
    assert inputs[ScoreInput.MEDIAN_FIRST_RESPONSE_HOURS] == 6.5
    assert inputs[ScoreInput.CASES] == 12.0 and inputs[ScoreInput.TRAINING_OVERDUE] == 0.0
    assert set(inputs) == set(ScoreInput)


# ---- the award ----------------------------------------------------------------------------

AWARD = AwardPolicy(min_cases=10)


def test_each_reason_a_handler_is_not_eligible_is_given_in_words() -> None:
    cards = [
        card("H-FEW", cases=7, score=99.0),
        card("H-WARN", score=98.0),
        card("H-BREACH", score=97.0),
        card("H-ALL", cases=3, score=None),
        card("H-OK", score=80.0),
    ]
    decisions = {"H-WARN": ["training", "warning"], "H-ALL": ["disciplinary"], "H-OK": ["none", "training"]}
    breaches = {"H-BREACH": 2, "H-ALL": 1}
    found = {n.staff_id: n for n in nominees(cards, AWARD, decisions, breaches)}
    assert found["H-FEW"].reasons == ["fewer than 10 cases (7)"]
    assert found["H-WARN"].reasons == ["warning decision in the quarter"]
    assert found["H-BREACH"].reasons == ["2 breached clocks on their own complaints"]
    assert found["H-ALL"].reasons == [
        "fewer than 10 cases (3)",
        "disciplinary decision in the quarter",
        "1 breached clock on their own complaints",
        "no figure of the formula to score",
    ]
    assert found["H-OK"].eligible and found["H-OK"].rank == 1 and found["H-OK"].reasons == []
    assert all(n.rank is None and not n.eligible for k, n in found.items() if k != "H-OK")


def test_the_policy_decides_which_decisions_and_breaches_exclude() -> None:
    lenient = AwardPolicy(min_cases=0, exclude_decisions=[Accountability.DISCIPLINARY], exclude_own_breach=False)
    [nominee] = nominees([card("H-1", cases=1)], lenient, {"H-1": ["warning"]}, {"H-1": 3})
    assert nominee.eligible and nominee.rank == 1


def test_eligible_handlers_rank_by_score_then_more_cases_then_staff_id() -> None:
    cards = [
        card("H-C", score=80.0, cases=12),
        card("H-B", score=90.0, cases=11),
        card("H-A", score=80.0, cases=12),
        card("H-D", score=80.0, cases=20),
        card("H-X", score=99.0, cases=2),  # not eligible: listed after the ranked, with its reason
        card("M-1", role="manager", score=100.0, cases=30),  # not a handler: not a nominee
    ]
    ranked = nominees(cards, AWARD, {}, {})
    assert [(n.staff_id, n.rank) for n in ranked] == [
        ("H-B", 1),
        ("H-D", 2),
        ("H-A", 3),
        ("H-C", 4),
        ("H-X", None),
    ]
    top = ranked[0]
    assert (top.name, top.team, top.cases, top.satisfaction_average, top.clocks_met_rate) == (
        "Name H-B",
        "customer-service",
        11,
        4.5,
        100.0,
    )


def test_a_nominee_carries_the_score_lines_behind_the_score() -> None:
    total, lines = score({ScoreInput.CLOCKS_MET_RATE: 95.0}, [term(ScoreInput.CLOCKS_MET_RATE, 30, 100, 80)])
    [nominee] = nominees([card("H-1", score=total, score_lines=lines)], AWARD, {}, {})
    assert nominee.score == 75.0 and nominee.score_lines == lines


# ---- training -----------------------------------------------------------------------------

RULES = STANDARD.performance.training.rules  # satisfaction below 3.5 over 5+; reopen rate above 20 over 5+


def test_a_training_rule_fires_when_its_figure_crosses_with_enough_cases_behind_it() -> None:
    cards = [
        card("H-LOW", satisfaction_average=3.2, satisfaction_cases=6),
        card("H-FEW-RATED", satisfaction_average=2.0, satisfaction_cases=4),  # only 4 rated: too few
        card("H-AT", satisfaction_average=3.5, satisfaction_cases=9),  # at the bound: not below
        card("H-REOPEN", reopen_rate=25.0, cases=8),
        card("H-REOPEN-FEW", reopen_rate=50.0, cases=4),
        card("H-NONE", satisfaction_average=None, satisfaction_cases=0),
    ]
    needs = training_due(cards, RULES)
    assert [(n.staff_id, n.rule, n.course, n.figure, n.threshold, n.cases) for n in needs] == [
        ("H-LOW", "low-satisfaction", "empathy", 3.2, 3.5, 6),
        ("H-REOPEN", "reopened-often", "complaint-procedure", 25.0, 20.0, 8),
    ]
    assert needs[0].detail == "satisfaction average 3.20 over 6 rated cases, below 3.50 (rule low-satisfaction)"
    assert needs[1].detail == "reopen rate 25.0% over 8 cases, above 20.0% (rule reopened-often)"


def test_a_rule_on_any_input_of_the_card() -> None:
    rule = TrainingRule(
        id="overdue", input=ScoreInput.TRAINING_OVERDUE, above=0, min_cases=0, course="complaint-procedure"
    )
    needs = training_due([card("H-1", training_overdue=2), card("H-2")], [rule])
    assert [(n.staff_id, n.figure) for n in needs] == [("H-1", 2.0)]
    assert needs[0].detail == "training overdue 2 over 12 cases, above 0 (rule overdue)"


# ---- the analysis's team table ------------------------------------------------------------


def test_the_team_table_lists_who_worked_complaints_most_cases_first() -> None:
    cards = [
        card("H-1", cases=3),
        card("H-2", cases=9),
        card("M-1", role="manager", cases=0, clocks_met=0, clocks_breached=0),
        card("H-3", cases=0, clocks_met=0, clocks_breached=2, clocks_met_rate=0.0, score=None),
    ]
    rows = team_table(cards)
    assert [(r.staff_id, r.cases) for r in rows] == [("H-2", 9), ("H-1", 3), ("H-3", 0)]
    assert rows[2].score is None and rows[0].name == "Name H-2"


def test_a_share_of_breached_clocks_within_the_tolerance_leaves_a_handler_eligible() -> None:
    tolerant = AwardPolicy(min_cases=0, own_breach_tolerance=5)
    busy = card("H-1", cases=100, clocks_met=290, clocks_breached=10)  # 3 of 300 their own: 1%
    [nominee] = nominees([busy], tolerant, {}, {"H-1": 3})
    assert nominee.eligible
    [nominee] = nominees([busy], tolerant, {}, {"H-1": 20})  # 20 of 300: 6.7%
    assert nominee.reasons == ["20 breached clocks on their own complaints (6.7%, over 5%)"]
    [nominee] = nominees([busy], AwardPolicy(min_cases=0), {}, {"H-1": 1})  # the default: none may breach
    assert nominee.reasons == ["1 breached clock on their own complaints"]
