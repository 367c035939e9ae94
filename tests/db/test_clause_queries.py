"""Counting clause references for legal review in SQL (SQLite and PostgreSQL).

The rows lie in 2035 and their contracts start with a prefix of this run's own, mapped by the
test's policy to a template of its own: no other test's complaints are counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, delete
from temporalio.testing import ActivityEnvironment

from activities.clauses import ClauseActivities
from db import clause_queries
from db.tables import ClauseReviewRow, Complaint, ComplaintClause
from domain.calendar import add_limit
from domain.policy import PolicyStore
from models.clause_review import ClauseReviewPolicy, ClauseReviewRequest
from tests.workflows.test_policy_switches import variant

NOW = datetime(2035, 6, 30, 12, 0, tzinfo=UTC)
TOKEN = uuid.uuid4().hex[:6].upper()
TEMPLATE = f"cqt-{TOKEN.lower()}"
POLICY = ClauseReviewPolicy.model_validate({"templates": [{"prefix": f"CQT{TOKEN}-", "template": TEMPLATE}]})


def _id(n: int) -> str:
    return f"CQ{TOKEN}{n}"


def complaint(n: int, days_ago: float, *, closed_days_ago: float | None = None, **fields: Any) -> Complaint:
    received = NOW - timedelta(days=days_ago)
    defaults: dict[str, Any] = dict(
        workflow_id=f"complaint-{_id(n)}",
        source_system="test",
        source_reference=_id(n),
        channel="phone",
        category="contract_dispute",
        status="closed" if closed_days_ago is not None else "in_handling",
        customer_id=f"CQ-{n}",
        customer_name="Customer",
        contract_number=f"CQT{TOKEN}-2035-{n:04d}",
        closed_at=NOW - timedelta(days=closed_days_ago) if closed_days_ago is not None else None,
        snapshot={},
        updated_at=received,
    )
    return Complaint(complaint_id=_id(n), received_at=received, **(defaults | fields))


@pytest.fixture
def cited(engine: Engine) -> Iterator[Engine]:
    rows: list[Any] = [
        complaint(1, 1),
        complaint(2, 30),
        complaint(3, 89),
        complaint(4, 120),  # before the window, open: not counted
        complaint(5, 200, closed_days_ago=10, root_cause="contract_wording"),  # closed in it: counted
        complaint(6, 200, closed_days_ago=10, root_cause="pricing_error"),  # another root cause: not
        complaint(7, 2, contract_number=f"OTHER{TOKEN}-1"),  # another template
        complaint(8, 3),
    ]
    rows += [
        ComplaintClause(complaint_id=_id(1), clause="7.3 prepayment fee"),
        ComplaintClause(complaint_id=_id(1), clause="第7.3条 提前还款费用"),
        ComplaintClause(complaint_id=_id(2), clause="7.3 prepayment fee"),
        ComplaintClause(complaint_id=_id(3), clause="Clause 7.3"),
        ComplaintClause(complaint_id=_id(4), clause="7.3 prepayment fee"),
        ComplaintClause(complaint_id=_id(5), clause="7.3 prepayment fee"),
        ComplaintClause(complaint_id=_id(6), clause="7.3 prepayment fee"),
        ComplaintClause(complaint_id=_id(7), clause="7.3 prepayment fee"),
        ComplaintClause(complaint_id=_id(8), clause="9.1 default interest"),
    ]
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    yield engine
    with Session(engine) as session:
        ids = [_id(n) for n in range(1, 9)]
        session.exec(delete(ComplaintClause).where(ComplaintClause.complaint_id.in_(ids)))  # type: ignore[attr-defined]
        session.exec(delete(Complaint).where(Complaint.complaint_id.in_(ids)))  # type: ignore[attr-defined]
        session.exec(delete(ClauseReviewRow).where(ClauseReviewRow.template == TEMPLATE))  # type: ignore[arg-type]
        session.commit()


def ours(engine: Engine, policy: ClauseReviewPolicy = POLICY) -> list[tuple[str, list[str], list[str]]]:
    return [
        (c.clause, c.complaint_ids, c.confirmed_ids)
        for c in clause_queries.clause_counts(engine, policy, NOW)
        if c.template == TEMPLATE
    ]


def review(number: int, status: str, linked: list[str]) -> ClauseReviewRow:
    return ClauseReviewRow(
        review_id=f"{TEMPLATE}-7.3-{number}",
        workflow_id=f"clause-review-{TEMPLATE}-7.3",
        template=TEMPLATE,
        clause="7.3",
        references=["7.3 prepayment fee"],
        status=status,
        owner="S-LEG-001",
        opened_at=NOW - timedelta(days=5),
        due_at=NOW + timedelta(days=9),
        linked=linked,
        updated_at=NOW,
    )


def test_distinct_complaints_citing_a_clause_in_the_window_or_closed_in_it_as_wording(cited: Engine) -> None:
    assert ours(cited) == [
        ("7.3", [_id(1), _id(2), _id(3), _id(5)], [_id(5)]),
        ("9.1", [_id(8)], []),
    ]
    acted = [c for c in clause_queries.to_act_on(cited, POLICY, NOW) if c.template == TEMPLATE]
    assert [(c.clause, c.count, c.open_review_id) for c in acted] == [("7.3", 4, None)]


def test_an_open_review_takes_new_complaints_and_a_closed_ones_are_not_counted_again(cited: Engine) -> None:
    with Session(cited) as session:
        session.add(review(1, "open", [_id(1), _id(2), _id(3)]))
        session.commit()
    acted = [c for c in clause_queries.to_act_on(cited, POLICY, NOW) if c.template == TEMPLATE]
    assert [(c.clause, c.open_review_id) for c in acted] == [("7.3", f"{TEMPLATE}-7.3-1")]
    assert clause_queries.reviews_of(cited, TEMPLATE, "7.3") == 1

    with Session(cited) as session:
        row = session.get(ClauseReviewRow, f"{TEMPLATE}-7.3-1")
        assert row is not None
        row.status, row.linked = "closed", [_id(1), _id(2), _id(3), _id(5)]
        session.add(row)
        session.commit()
    assert ours(cited) == [("9.1", [_id(8)], [])], "what the closed review took counts no more"
    assert [c for c in clause_queries.to_act_on(cited, POLICY, NOW) if c.template == TEMPLATE] == []
    found = clause_queries.find_review(cited, f"{TEMPLATE}-7.3")
    assert found is not None and found.review_id == f"{TEMPLATE}-7.3-1"
    assert [r.review_id for r in clause_queries.list_reviews(cited, open_only=True) if r.template == TEMPLATE] == []


def test_the_window_and_the_root_causes_are_the_policys(cited: Engine) -> None:
    short = POLICY.model_copy(update={"window_days": 20, "root_causes": ["pricing_error"]})
    assert ours(cited, short) == [("7.3", [_id(1), _id(6)], [_id(6)]), ("9.1", [_id(8)], [])]


def test_the_owner_the_closers_and_the_due_date_are_the_policys(engine: Engine) -> None:
    policy = variant(
        f"clauses-plan-{TOKEN}",
        clause_review={
            "owner_role": "compliance",
            "closer_roles": ["compliance", "senior_manager"],
            "due": {"amount": 10, "unit": "business_days"},
            "warning_fraction": 0.5,
        },
    )
    request = ClauseReviewRequest(
        review_id=f"{TEMPLATE}-7.3-1", template=TEMPLATE, clause="7.3", references=[], complaint_ids=[]
    )
    plan = ActivityEnvironment().run(ClauseActivities(engine, PolicyStore(policy)).plan_clause_review, request)
    assert (plan.owner, plan.manager_id, plan.escalate_to) == ("S-CMP-001", "S-SM-001", ["S-SM-001"])
    assert plan.closers == ["S-CMP-001", "S-CMP-002", "S-SM-001"]
    assert plan.due_at == add_limit(plan.opened_at, policy.clause_review.due, policy).due_at
    assert plan.due_at - plan.opened_at > timedelta(days=13), "ten business days on the pack's calendar"
    assert plan.warning_at == plan.opened_at + (plan.due_at - plan.opened_at) * 0.5
