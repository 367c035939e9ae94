"""Contract clauses sent to legal review: the pure rules (step 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from complaints.clauses import watch_schedule
from complaints.config import PROJECT_ROOT
from domain import clauses
from domain.clauses import Citation
from domain.policy import load_policy
from models.clause_review import (
    ClauseReviewPlan,
    ClauseReviewPolicy,
    ClauseReviewRequest,
    ClauseReviewState,
    CloseReviewRequest,
    ReviewOutcome,
)
from models.roles import Role

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
POLICY = ClauseReviewPolicy.model_validate(
    {"templates": [{"prefix": "PF-", "template": "project-finance"}, {"prefix": "CL-", "template": "corporate-loan"}]}
)


def cite(cid: str, reference: str = "7.3 prepayment fee", days_ago: float = 1, **more: object) -> Citation:
    return Citation(
        complaint_id=cid,
        contract_number=str(more.pop("contract", "PF-2025-0417")),
        reference=reference,
        received_at=NOW - timedelta(days=days_ago),
        **more,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("number", "template"),
    [
        ("PF-2025-0417", "project-finance"),
        ("pf-2025-0001", "project-finance"),
        ("CL-2024-1188", "corporate-loan"),
        ("EL-2025-0031", "EL"),  # no rule: the leading letters
        ("2025/0042", "unknown"),
        (None, "unknown"),
    ],
)
def test_the_template_comes_from_the_policys_prefixes_else_the_leading_letters(
    number: str | None, template: str
) -> None:
    assert clauses.template_of(number, POLICY) == template


@pytest.mark.parametrize(
    ("reference", "clause"),
    [
        ("7.3 prepayment fee", "7.3"),
        ("第7.3条 提前还款费用", "7.3"),
        ("Clause 12(b): default interest", "12"),
        ("  Prepayment   FEE ", "prepayment fee"),
    ],
)
def test_the_clause_is_the_references_leading_number(reference: str, clause: str) -> None:
    assert clauses.clause_of(reference) == clause


def test_a_reviews_workflow_id_is_one_per_clause_and_safe() -> None:
    assert clauses.workflow_id("project-finance", "7.3") == "clause-review-project-finance-7.3"
    assert clauses.workflow_id("EL", "prepayment fee/early") == "clause-review-EL-prepayment-fee-early"
    assert clauses.review_id("project-finance", "7.3", 2) == "project-finance-7.3-2"


def test_distinct_complaints_citing_a_clause_in_the_window_are_counted_per_template_and_clause() -> None:
    found = clauses.counts(
        [
            cite("A"),
            cite("A", "第7.3条 提前还款费用"),  # the same complaint citing the clause twice counts once
            cite("B", days_ago=89),
            cite("C", days_ago=91),  # outside the 90-day window
            cite("D", contract="CL-2024-1188"),  # another template's clause 7.3
            cite("E", "9.1 default interest"),
        ],
        POLICY,
        NOW,
    )
    assert [(c.template, c.clause, c.complaint_ids) for c in found] == [
        ("project-finance", "7.3", ["A", "B"]),
        ("corporate-loan", "7.3", ["D"]),
        ("project-finance", "9.1", ["E"]),
    ]
    assert found[0].references == ["7.3 prepayment fee", "第7.3条 提前还款费用"]


def test_a_complaint_closed_in_the_window_with_a_counted_root_cause_counts_from_its_closure() -> None:
    old = NOW - timedelta(days=200)
    found = clauses.counts(
        [
            cite("OLD-WORDING", days_ago=200, closed_at=NOW - timedelta(days=10), root_cause="contract_wording"),
            cite("OLD-DESIGN", days_ago=200, closed_at=NOW - timedelta(days=5), root_cause="product_design"),
            cite("OLD-PRICING", days_ago=200, closed_at=NOW - timedelta(days=5), root_cause="pricing_error"),
            cite("OLD-LONG-AGO", days_ago=300, closed_at=old, root_cause="contract_wording"),
            cite("NEW", closed_at=NOW, root_cause="contract_wording"),
        ],
        POLICY,
        NOW,
    )
    assert found[0].complaint_ids == ["NEW", "OLD-DESIGN", "OLD-WORDING"]
    assert found[0].confirmed_ids == ["NEW", "OLD-DESIGN", "OLD-WORDING"]
    only_wording = POLICY.model_copy(update={"root_causes": ["contract_wording"]})
    assert (
        clauses.counts([cite("X", days_ago=200, closed_at=NOW, root_cause="product_design")], only_wording, NOW) == []
    )


def test_the_clause_a_root_cause_blames_counts_while_the_root_cause_is_one_the_policy_counts() -> None:
    def blamed(cid: str, cause: str | None, **more: object) -> Citation:
        return cite(cid, "7.3", source="root_cause", root_cause=cause, **more)

    found = clauses.counts(
        [
            cite("CITED"),
            blamed("WORDING", "contract_wording", days_ago=200, closed_at=NOW - timedelta(days=3)),
            blamed("DESIGN", "product_design", contract=None, template="project-finance"),
            blamed("CHANGED", "pricing_error"),  # its root cause was recorded again, blaming no clause
            blamed("ELSEWHERE", "contract_wording", contract="EL-2025-0031"),
        ],
        POLICY,
        NOW,
    )
    assert [(c.template, c.clause, c.complaint_ids) for c in found] == [
        ("project-finance", "7.3", ["CITED", "DESIGN", "WORDING"]),
        ("EL", "7.3", ["ELSEWHERE"]),
    ], "the template named with the root cause, else the contract number's"


def test_the_threshold_opens_and_an_open_review_takes_new_complaints_whatever_the_count() -> None:
    citations = [cite("A"), cite("B"), cite("C"), cite("D", "9.1 default interest")]
    found = clauses.counts(citations, POLICY, NOW)
    acted = clauses.to_act_on(found, POLICY, {("project-finance", "9.1"): "project-finance-9.1-1"})
    assert [(c.clause, c.count, c.open_review_id) for c in acted] == [
        ("7.3", 3, None),
        ("9.1", 1, "project-finance-9.1-1"),
    ]
    four = POLICY.model_copy(update={"threshold": 4})
    assert clauses.to_act_on(clauses.counts(citations, four, NOW), four, {}) == []


def test_complaints_a_closed_review_took_do_not_count_again() -> None:
    citations = [cite("A"), cite("B"), cite("C"), cite("D")]
    reviewed = {("project-finance", "7.3"): {"A", "B", "C"}}
    found = clauses.counts(citations, POLICY, NOW, reviewed)
    assert [c.complaint_ids for c in found] == [["D"]]
    assert clauses.to_act_on(found, POLICY, {}) == [], "one new complaint: no new crossing yet"


def test_the_window_is_the_policys() -> None:
    short = POLICY.model_copy(update={"window_days": 30})
    assert clauses.counts([cite("A", days_ago=45)], short, NOW) == []
    assert clauses.window_start(NOW, short) == NOW - timedelta(days=30)


def _state(closers: list[str] | None = None) -> ClauseReviewState:
    request = ClauseReviewRequest(
        review_id="project-finance-7.3-1", template="project-finance", clause="7.3", references=[], complaint_ids=[]
    )
    plan = ClauseReviewPlan(
        review_id=request.review_id,
        owner="S-LEG-001",
        owner_name="Sun Li",
        manager_id="S-SM-001",
        escalate_to=["S-SM-001"],
        closers=closers or ["S-LEG-001", "S-SM-001"],
        closer_roles=["legal", "senior_manager"],
        opened_at=NOW,
        due_at=NOW + timedelta(days=14),
        warning_at=NOW + timedelta(days=11),
        window_days=90,
        threshold=3,
    )
    return ClauseReviewState(request=request, workflow_id="clause-review-project-finance-7.3", plan=plan)


def close(
    actor: str = "S-LEG-001", outcome: str = "reword", reasons: str = "Ambiguous", version: str | None = "v2"
) -> CloseReviewRequest:
    return CloseReviewRequest(
        review_id="project-finance-7.3-1",
        actor=actor,
        outcome=ReviewOutcome(outcome),
        reasons=reasons,
        new_template_version=version,
    )


def test_a_close_is_refused_with_the_reason() -> None:
    state = _state()
    assert clauses.close_refusal(state, close()) is None
    assert clauses.close_refusal(state, close(actor="S-SM-001", outcome="keep", version=None)) is None
    refused = clauses.close_refusal(state, close(actor="S-HND-001"))
    assert refused == (
        "S-HND-001 may not close review project-finance-7.3-1: only legal or senior manager may (S-LEG-001, S-SM-001)"
    )
    assert "reasons are required" in str(clauses.close_refusal(state, close(reasons="  ")))
    assert "new template version" in str(clauses.close_refusal(state, close(version=None)))
    assert "goes with the outcome reword" in str(clauses.close_refusal(state, close(outcome="withdraw_product")))
    assert "not the one open" in str(clauses.close_refusal(state, close().model_copy(update={"review_id": "x-1"})))
    closed = state.model_copy(update={"closed_at": NOW, "closed_by": "S-LEG-001", "outcome": ReviewOutcome.KEEP})
    assert "already closed by S-LEG-001" in str(clauses.close_refusal(closed, close()))
    assert "being set up" in str(clauses.close_refusal(state.model_copy(update={"plan": None}), close()))


def test_the_warning_comes_at_the_policys_fraction() -> None:
    assert clauses.warning_at(NOW, NOW + timedelta(days=10), 0.8) == NOW + timedelta(days=8)


def test_the_shipped_policies_count_the_wording_and_design_root_causes_they_define() -> None:
    policy = load_policy(PROJECT_ROOT / "policies" / "compressed.yaml")
    rules = policy.clause_review
    assert set(rules.root_causes) <= {r.code for r in policy.root_causes}
    assert rules.root_causes == ["contract_wording", "product_design"]
    assert rules.owner_role == Role.LEGAL and rules.closer_roles == [Role.LEGAL, Role.SENIOR_MANAGER]
    assert rules.threshold == 3 and rules.window_days == 90


def test_the_watch_runs_on_a_schedule_every_policys_minutes() -> None:
    policy = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")
    schedule = watch_schedule(policy, "complaints")
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=15)]
    assert schedule.action.workflow == "ClauseWatchWorkflow"  # type: ignore[attr-defined]
    faster = policy.model_copy(
        update={"clause_review": policy.clause_review.model_copy(update={"watch_every_minutes": 5})}
    )
    assert [i.every for i in watch_schedule(faster, "complaints").spec.intervals] == [timedelta(minutes=5)]
