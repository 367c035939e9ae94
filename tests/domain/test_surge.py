"""Surges as pure rules (step 6.2): the windows, the median baseline, the ids, who may act."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import surge
from models.base import TimeLimit, TimeUnit
from models.incident import (
    AssignLeadRequest,
    CloseIncidentRequest,
    IncidentPlan,
    IncidentReviewRequest,
    IncidentState,
    IncidentStatus,
    SurgeDimension,
    SurgePolicy,
)

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
WEEKLY = SurgePolicy(
    window=TimeLimit(amount=7, unit=TimeUnit.CALENDAR_DAYS), baseline_windows=8, factor=3.0, min_complaints=10
)
P = SurgeDimension.PRODUCT


def test_the_windows_are_the_latest_and_the_baseline_before_it() -> None:
    edges = surge.boundaries(NOW, WEEKLY)
    assert len(edges) == 10 and edges[0] == NOW and edges[1] == NOW - timedelta(days=7)
    assert edges[-1] == NOW - timedelta(days=63)
    assert surge.window_start(NOW, WEEKLY) == edges[1]
    compressed = SurgePolicy(window=TimeLimit(amount=120, unit=TimeUnit.SECONDS))
    assert surge.window_length(compressed) == timedelta(seconds=120)


def test_a_surge_is_factor_times_the_median_and_at_least_the_minimum() -> None:
    quiet = [4, 5, 3, 4, 6, 4, 5, 4]  # median 4: a surge needs 12
    assert surge.assess(P, "trade_finance", 11, quiet, WEEKLY, NOW).surging is False
    found = surge.assess(P, "trade_finance", 12, quiet, WEEKLY, NOW)
    assert found.surging and found.median == 4 and found.needed == 12
    assert found.key == "product=trade_finance"
    assert "12 complaints in the last 7 calendar days" in found.explanation
    assert "against a median of 4 in the 8 windows before; a surge from 12" in found.explanation
    assert found.explanation.endswith(": a surge")
    # A key new to the book (median 0): the minimum alone decides.
    assert surge.assess(P, "overdraft", 9, [], WEEKLY, NOW).surging is False
    new = surge.assess(P, "overdraft", 10, [], WEEKLY, NOW)
    assert new.surging and new.baseline == [0] * 8 and new.needed == 10
    # An even baseline's median is the mean of the middle two; the threshold rounds up.
    assert surge.assess(P, "x", 14, [4, 5, 4, 5, 4, 5, 4, 5], WEEKLY, NOW).needed == 14  # 3 x 4.5 = 13.5


def test_counts_become_figures_per_key_surges_first() -> None:
    rows = [
        ("product", "trade_finance", 0, 12),
        ("product", "trade_finance", 3, 1),
        ("region", "CN-SH", 0, 12),
        *[("region", "CN-SH", w, 5) for w in range(1, 9)],  # median 5: needs 15
        ("channel", "phone", 1, 30),  # nothing in the latest window: not assessed
        ("category", "other", 0, 2),
    ]
    found = surge.figures(rows, WEEKLY, NOW)
    assert [(f.key, f.surging) for f in found] == [
        ("product=trade_finance", True),
        ("region=CN-SH", False),
        ("category=other", False),
    ]
    assert found[0].baseline == [0, 0, 1, 0, 0, 0, 0, 0]
    assert [f.key for f in surge.surges(rows, WEEKLY, NOW)] == ["product=trade_finance"]
    only_regions = WEEKLY.model_copy(update={"dimensions": [SurgeDimension.REGION]})
    assert [f.key for f in surge.figures(rows, only_regions, NOW)] == ["region=CN-SH"]


@pytest.mark.parametrize(
    ("dimension", "value", "workflow_id"),
    [
        (SurgeDimension.PRODUCT, "trade_finance", "incident-product-trade_finance"),
        (SurgeDimension.REGION, "CN-SH", "incident-region-CN-SH"),
        (SurgeDimension.PRODUCT, "loans/2025 (old)", "incident-product-loans-2025-old"),
        (SurgeDimension.CHANNEL, "///", "incident-channel-unknown"),
    ],
)
def test_an_incident_is_one_workflow_per_key(dimension: SurgeDimension, value: str, workflow_id: str) -> None:
    assert surge.workflow_id(dimension, value) == workflow_id
    assert surge.incident_id(dimension, value, 2) == f"{workflow_id}-2"


def _state(**changes: object) -> IncidentState:
    figures = surge.assess(P, "trade_finance", 12, [], WEEKLY, NOW)
    plan = IncidentPlan(
        opened_at=NOW,
        crisis_team=["S-CMP-001", "S-LEG-001", "S-SM-001"],
        lead_candidates=["S-SM-001", "S-MGR-001"],
        closers=["S-SM-001"],
        lead_roles=["senior_manager", "manager"],
        closer_roles=["senior_manager"],
        root_causes=["product_design", "other"],
        situation_report_seconds=86_400,
        internal_clock_factor=0.5,
        window_seconds=604_800,
        policy_version="test",
    )
    state = IncidentState(
        incident_id="incident-product-trade_finance-1",
        workflow_id="incident-product-trade_finance",
        dimension=P,
        value="trade_finance",
        figures=figures,
        plan=plan,
        lead="S-SM-001",
    )
    return state.model_copy(update=changes)


def test_who_may_name_the_lead() -> None:
    state = _state()
    ok = AssignLeadRequest(incident_id=state.incident_id, actor="S-LEG-001", lead="S-MGR-001")
    assert surge.lead_refusal(state, ok) is None
    assert surge.lead_refusal(state, ok.model_copy(update={"incident_id": state.workflow_id})) is None
    handler = surge.lead_refusal(state, ok.model_copy(update={"actor": "S-HND-001"}))
    assert handler and "S-HND-001 may not name the lead" in handler
    not_a_lead = surge.lead_refusal(state, ok.model_copy(update={"lead": "S-LEG-001"}))
    assert not_a_lead and "a lead is an active senior manager or manager" in not_a_lead
    same = surge.lead_refusal(state, ok.model_copy(update={"lead": "S-SM-001"}))
    assert same == "S-SM-001 already leads incident-product-trade_finance-1"
    assert "being set up" in (surge.lead_refusal(_state(plan=None), ok) or "")
    other = surge.lead_refusal(state, ok.model_copy(update={"incident_id": "incident-product-trade_finance-2"}))
    assert other and "is not the one open" in other


def test_the_review_needs_a_root_cause_of_the_policy_and_closing_needs_the_review() -> None:
    state = _state()
    review = IncidentReviewRequest(
        incident_id=state.incident_id, actor="S-SM-001", review="A fee change", root_cause="product_design"
    )
    assert surge.review_refusal(state, review) is None
    assert "not one of the policy's" in (
        surge.review_refusal(state, review.model_copy(update={"root_cause": "gremlins"})) or ""
    )
    assert "may not record the review" in (
        surge.review_refusal(state, review.model_copy(update={"actor": "S-HND-001"})) or ""
    )
    assert "is required" in (surge.review_refusal(state, review.model_copy(update={"review": "  "})) or "")

    close = CloseIncidentRequest(incident_id=state.incident_id, actor="S-SM-001")
    assert "needs its post-incident review and root cause first" in (surge.close_refusal(state, close) or "")
    reviewed = _state(review="A fee change", root_cause="product_design", lead="S-MGR-001")
    assert surge.close_refusal(reviewed, close) is None  # a closer role
    assert surge.close_refusal(reviewed, close.model_copy(update={"actor": "S-MGR-001"})) is None  # the lead
    refused = surge.close_refusal(reviewed, close.model_copy(update={"actor": "S-HND-001"}))
    assert refused and "S-HND-001 may not close" in refused and "only its lead (S-MGR-001) or senior manager" in refused
    closed = _state(status=IncidentStatus.CLOSED, closed_by="S-SM-001")
    assert "already closed by S-SM-001" in (surge.close_refusal(closed, close) or "")


def test_an_interval_reads_as_staff_say_it() -> None:
    assert [surge.every(s) for s in (20, 60, 900, 3600, 86_400, 172_800, 90)] == [
        "20 seconds",
        "1 minute",
        "15 minutes",
        "1 hour",
        "1 day",
        "2 days",
        "90 seconds",
    ]
