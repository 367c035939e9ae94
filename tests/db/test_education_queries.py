"""Education topics and the effect of an action count what a person counting by hand would
(SQLite and PostgreSQL).

The rows lie from December 2035 to June 2036 (Asia/Shanghai), which no other test uses; their
products (``edu_``…) and ids (``EDQ-``…) are this test's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from complaints.education import EducationActionInvalid, record_action
from complaints.intake import ActionRefused, StaffNotFound
from db.education_queries import education_table, overview
from db.tables import Complaint, EducationActionRow
from domain.analysis import period_before, period_from_label
from models.education import EducationActionRequest, EducationKind, EducationOverview, EducationPolicy, TopicLine
from models.intake import Category
from models.policy import Policy
from tests.policies import policy_under

POLICY = policy_under("cn-2020")
Q2 = period_from_label("2036-Q2")
PREFIX = "EDQ-"
A, C = "edu_loan_a", "edu_loan_c"  # A: fees and interest, with two actions; C: contract disputes


def at(month: int, day: int, hour: int = 10, year: int = 2036) -> datetime:
    """A time in Shanghai (UTC+8)."""
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=8)


def complaint(n: int, closed: datetime | None, product: str | None = A, **fields: Any) -> Complaint:
    defaults: dict[str, Any] = dict(
        workflow_id=f"complaint-{PREFIX}{n}", source_system="test", source_reference=f"{PREFIX}{n}", channel="phone",
        category="fees_and_interest", tier="simple", status="closed" if closed else "in_handling",
        customer_id=f"EDQ-CUST-{n}", customer_name="Customer", root_cause="customer_misunderstanding",
        snapshot={}, updated_at=closed or at(1, 1),
    )  # fmt: skip
    received = (closed or at(6, 1)) - timedelta(days=3)
    return Complaint(
        complaint_id=f"{PREFIX}{n}", received_at=received, closed_at=closed, product=product, **(defaults | fields)
    )


def action(held_on: date, kind: str, title: str) -> EducationActionRow:
    return EducationActionRow(
        product=A, topic="fees_and_interest", kind=kind, title=title, held_on=held_on, reach=40,
        recorded_by="S-RM-007", recorded_at=at(6, 30), note="",
    )  # fmt: skip


@pytest.fixture
def rows(engine: Engine) -> Iterator[Engine]:
    data: list[Any] = [
        # A, closed as a misunderstanding: 2035-Q4 1, 2036-Q1 4, 2036-Q2 3.
        complaint(1, at(12, 20, year=2035)),
        complaint(2, at(1, 10)),
        complaint(3, at(2, 5)),
        complaint(4, at(2, 20)),
        complaint(5, at(3, 3)),
        complaint(6, at(4, 1, 1)),  # 1 April 01:00 in Shanghai (31 March in UTC): the second quarter
        complaint(7, at(4, 2)),
        complaint(8, at(5, 20)),
        # Not education topics: another root cause, and one still open.
        complaint(9, at(5, 5), root_cause="pricing_error"),
        complaint(10, None, status="in_handling"),
        # No product (unspecified), repayment and collection: one in Q2.
        complaint(11, at(5, 1), product=None, category="repayment_collection"),
        # C: a contract dispute closed in Q1.
        complaint(12, at(2, 14), product=C, category="contract_dispute"),
    ]
    data += [action(date(2036, 3, 15), "leaflet", "How fees are charged"), action(date(2036, 4, 20), "meeting", "Q&A")]
    with Session(engine) as session:
        session.add_all(data)
        session.commit()
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            t = Complaint.__table__  # type: ignore[attr-defined]
            conn.execute(sa.delete(t).where(t.c.complaint_id.startswith(PREFIX)))
            e = EducationActionRow.__table__  # type: ignore[attr-defined]
            conn.execute(sa.delete(e).where(e.c.product.in_([A, C, "overdraft"]), e.c.held_on >= date(2035, 1, 1)))


def with_education(**fields: Any) -> Policy:
    """The test policy with its education section changed (validated, as a policy file would be)."""
    return POLICY.model_copy(
        update={"education": EducationPolicy.model_validate(POLICY.education.model_dump() | fields)}
    )


def ours(found: EducationOverview) -> dict[tuple[str, str], TopicLine]:
    return {(t.product, t.topic): t for t in found.topics if t.product in (A, C, "unspecified")}


def test_topics_are_counted_by_product_and_category_in_the_period_and_the_periods_before(rows: Engine) -> None:
    with rows.connect() as conn:
        found = overview(conn, Q2, POLICY, today=date(2036, 11, 1))
    assert found.periods == ["2036-Q2", "2036-Q1", "2035-Q4", "2035-Q3"] and found.as_of == date(2036, 6, 30)
    assert found.root_causes == ["customer_misunderstanding"]
    topics = ours(found)
    assert {k: t.counts for k, t in topics.items()} == {
        (A, "fees_and_interest"): [3, 4, 1, 0],
        ("unspecified", "repayment_collection"): [1, 0, 0, 0],
        (C, "contract_dispute"): [0, 1, 0, 0],
    }
    assert [t.product for t in found.topics if t.product in (A, C)] == [A, C], "this period's most first"
    # Which root causes make a topic is the policy's.
    pricing = with_education(root_causes=["pricing_error"])
    with rows.connect() as conn:
        other = ours(overview(conn, Q2, pricing, today=date(2036, 11, 1)))
    assert {k: t.counts for k, t in other.items()} == {(A, "fees_and_interest"): [1, 0, 0, 0]}


def test_each_action_compares_the_months_before_it_with_the_whole_months_after(rows: Engine) -> None:
    with rows.connect() as conn:
        found = overview(conn, Q2, POLICY, today=date(2036, 11, 1))
    leaflet, meeting = ours(found)[A, "fees_and_interest"].actions
    # 15 March: before 15 Dec-14 Jan (20 Dec, 10 Jan), 15 Jan-14 Feb (5 Feb), 15 Feb-14 Mar (20 Feb, 3 Mar);
    # after 15 Mar-14 Apr (1 Apr, 2 Apr), 15 Apr-14 May (none), 15 May-14 Jun (20 May).
    assert (leaflet.action.title, leaflet.effect.before, leaflet.effect.after) == (
        "How fees are charged",
        [2, 1, 2],
        [2, 0, 1],
    )
    assert (leaflet.effect.change_percent, leaflet.effect.verdict) == (-40.0, "fell")
    # 20 April: before (5 Feb), (20 Feb, 3 Mar), (1 Apr, 2 Apr); by 30 June two months after: (none), (20 May).
    assert (meeting.effect.before, meeting.effect.after) == ([1, 2, 2], [0, 1])
    assert (meeting.effect.before_per_month, meeting.effect.after_per_month) == (1.67, 0.5)
    assert (meeting.effect.change_percent, meeting.effect.verdict) == (-70.0, "fell")
    # One month either side, as a policy may set it: 15 Feb-14 Mar (20 Feb, 3 Mar) against 15 Mar-14 Apr (1, 2 Apr).
    with rows.connect() as conn:
        found = overview(conn, Q2, with_education(comparison_months=1), today=date(2036, 11, 1))
    leaflet, _ = ours(found)[A, "fees_and_interest"].actions
    assert (leaflet.effect.before, leaflet.effect.after, leaflet.effect.verdict) == ([2], [2], "unchanged")


def test_while_the_months_after_run_only_those_ended_count(rows: Engine) -> None:
    with rows.connect() as conn:
        found = overview(conn, Q2, POLICY, today=date(2036, 5, 10))
    assert found.as_of == date(2036, 5, 10)
    leaflet, meeting = ours(found)[A, "fees_and_interest"].actions
    assert (leaflet.effect.after, leaflet.effect.change_percent, leaflet.effect.verdict) == ([2], 20.0, "rose")
    assert (meeting.effect.after, meeting.effect.verdict) == ([], "too early")
    with rows.connect() as conn:
        earlier = overview(conn, period_from_label("2036-03"), POLICY, periods=1, today=date(2036, 11, 1))
    # March alone: the April meeting was not yet held; its leaflet of 15 March not a month old at the end.
    (leaflet,) = ours(earlier)[A, "fees_and_interest"].actions
    assert (leaflet.effect.after, leaflet.effect.verdict) == ([], "too early")
    assert ours(earlier)[A, "fees_and_interest"].counts == [1]


def test_the_analysis_table_gives_this_and_the_previous_period_and_the_last_action_before(rows: Engine) -> None:
    with rows.connect() as conn:
        table = [r for r in education_table(conn, Q2, period_before(Q2), POLICY) if r.product in (A, C, "unspecified")]
    assert [(r.product, r.topic, r.count, r.previous) for r in table] == [
        (A, "fees_and_interest", 3, 4),
        ("unspecified", "repayment_collection", 1, 0),
        (C, "contract_dispute", 0, 1),
    ]
    # The April meeting was held within the quarter: the last action before it is the March leaflet.
    assert (table[0].last_action_on, table[0].last_action_kind, table[0].last_action_title) == (
        date(2036, 3, 15), "leaflet", "How fees are charged",
    )  # fmt: skip
    assert table[1].last_action_on is None and table[2].last_action_on is None


def test_an_action_is_recorded_once_by_a_staff_member_whose_role_may(rows: Engine) -> None:
    now = datetime(2036, 7, 1, tzinfo=UTC)
    request = EducationActionRequest(
        product="overdraft", topic=Category.FEES_AND_INTEREST, kind=EducationKind.PAGE,
        title="Overdraft interest, day by day", held_on=date(2036, 6, 30), reach=1200, recorded_by="S-MGR-001",
    )  # fmt: skip
    first, new = record_action(rows, POLICY, request, now)
    assert new and first.recorded_by == "S-MGR-001" and first.reach == 1200 and first.recorded_at == now
    again, new = record_action(rows, POLICY, request, now)
    assert not new and again.id == first.id
    with pytest.raises(ActionRefused, match=r"^recorded_by: S-HND-001 is a handler; education actions are logged by"):
        record_action(rows, POLICY, request.model_copy(update={"recorded_by": "S-HND-001"}), now)
    with pytest.raises(StaffNotFound, match=r"^recorded_by: no staff member S-NOBODY"):
        record_action(rows, POLICY, request.model_copy(update={"recorded_by": "S-NOBODY"}), now)
    with pytest.raises(EducationActionInvalid, match=r"^product: 'edu_loan_a' is not in the policy's catalogue"):
        record_action(rows, POLICY, request.model_copy(update={"product": A}), now)
    # Who may log is the policy's.
    only_compliance = with_education(recorder_roles=["compliance"])
    with pytest.raises(ActionRefused, match="S-MGR-001 is a manager; education actions are logged by compliance"):
        record_action(rows, only_compliance, request.model_copy(update={"title": "Another"}), now)
