"""Scorecards count what a person counting the rows by hand would (SQLite and PostgreSQL).

The rows lie in the first quarter of 2034 (Asia/Shanghai), which no other test uses, and belong
to staff this module inserts (``SC-``) and removes afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from db.scorecards import award_inputs, scorecards, store_scores, team
from db.seed import seed_staff_directory
from db.tables import Complaint, ComplaintClock, ComplaintEventRow, Staff, StaffServiceEvent, TrainingAssignmentRow
from domain.analysis import period_from_label
from domain.performance import nominees
from domain.policy import PolicyStore
from models.performance import Scorecard
from tests.policies import POLICIES

POLICY = PolicyStore.from_file(POLICIES / "standard.yaml").current  # Asia/Shanghai
Q1 = period_from_label("2034-Q1")
PREFIX = "SCT-"


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2034) -> datetime:
    """A time in Shanghai (UTC+8)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


AFTER = datetime(2034, 4, 5, tzinfo=UTC)  # "now" for these tests: after the quarter (overdue counts at its end)


def person(staff_id: str, role: str = "handler", active: bool = True) -> Staff:
    return Staff(
        staff_id=staff_id, name=f"Test {staff_id}", role=role, team="customer-service", manager_id=None,
        skills=[], languages=["zh"], service_quality_score=70.0, active=active,
    )  # fmt: skip


def complaint(n: int, assignee: str, received: datetime, **fields: Any) -> Complaint:
    defaults: dict[str, Any] = dict(
        workflow_id=f"complaint-{PREFIX}{n}", source_system="test", source_reference=f"{PREFIX}{n}",
        channel="phone", category="fees_and_interest", tier="simple", status="closed", customer_id=f"SC-CUST-{n}",
        customer_name="Customer", snapshot={}, updated_at=received,
    )  # fmt: skip
    return Complaint(complaint_id=f"{PREFIX}{n}", assignee=assignee, received_at=received, **(defaults | fields))


def clock(n: int, name: str, started: datetime, state: str, **times: datetime) -> ComplaintClock:
    return ComplaintClock(complaint_id=f"{PREFIX}{n}", name=name, started_at=started, state=state, **times)


def breached_event(n: int, seq: int, when: datetime, to: str | None) -> ComplaintEventRow:
    return ComplaintEventRow(
        complaint_id=f"{PREFIX}{n}", seq=seq, kind="sla_breached", actor="system", at=when,
        detail={"clock": "simple_first_response", "escalated_to": to, "escalation_level": seq}, recorded_at=when,
    )  # fmt: skip


def assignment(n: int, staff_id: str, status: str, **times: Any) -> TrainingAssignmentRow:
    start = at(1, 2, 9)
    return TrainingAssignmentRow(
        assignment_id=f"SC-TRN-{n}", staff_id=staff_id, course="empathy", source="manual", reason="test",
        assigned_by="S-SM-001", status=status, assigned_at=start, due_at=start + timedelta(days=20),
        workflow_id=f"training-SC-TRN-{n}", updated_at=start, **times,
    )  # fmt: skip


def history(staff_id: str, day: date, kind: str, key: str | None) -> StaffServiceEvent:
    return StaffServiceEvent(staff_id=staff_id, occurred_on=day, kind=kind, note="test", source_key=key)


@pytest.fixture
def quarter(engine: Engine) -> Iterator[Engine]:
    rows: list[Any] = [
        person("SC-H1"), person("SC-H2"), person("SC-M1", role="manager"), person("SC-OLD", active=False),
        # SC-H1 closed 1-4 in Q1. 1: 10 h to resolve, satisfied (5).
        complaint(1, "SC-H1", at(1, 5, 9), resolved_at=at(1, 5, 19), closed_at=at(1, 6, 9), satisfaction=5),
        # 2: 24 h, reopened once, satisfaction 3.
        complaint(2, "SC-H1", at(1, 10, 9), resolved_at=at(1, 11, 9), closed_at=at(1, 12, 9), satisfaction=3,
                  reopened_count=1),
        # 3: complex, 96 h, not rated.
        complaint(3, "SC-H1", at(2, 1, 9), tier="complex", resolved_at=at(2, 5, 9), closed_at=at(2, 6, 9)),
        # 4: closed 31 March 23:30 in Shanghai (still Q1), 2 h, satisfaction 4.
        complaint(4, "SC-H1", at(3, 31, 20), resolved_at=at(3, 31, 22), closed_at=at(3, 31, 23, 30), satisfaction=4),
        # 5: resolved and closed on 1 April in Shanghai: the next quarter.
        complaint(5, "SC-H1", at(3, 31, 21), resolved_at=at(4, 1, 0, 10), closed_at=at(4, 1, 0, 30), satisfaction=1),
        # 6: still open, its first-response clock breached in March (escalated to SC-M1).
        complaint(6, "SC-H1", at(3, 1, 9), status="in_handling"),
        # SC-H2: 7 in Q1 (2 h, satisfaction 2, reopened twice); 8 closed in December 2033.
        complaint(7, "SC-H2", at(2, 10, 9), resolved_at=at(2, 10, 11), closed_at=at(2, 11, 9), satisfaction=2,
                  reopened_count=2),
        complaint(8, "SC-H2", at(12, 1, 9, year=2033), resolved_at=at(12, 2, 9, year=2033),
                  closed_at=at(12, 31, 9, year=2033), satisfaction=5),
        # Clocks of SC-H1: first responses of 4 h (1), 12 h (2) and 48 h (3, complex), an
        # acknowledgement met (2); the first response of 6 and 1's follow-up call breached; a
        # regulator report (compliance's, counted nowhere).
        clock(1, "simple_first_response", at(1, 5, 9), "met", settled_at=at(1, 5, 13)),
        clock(2, "simple_first_response", at(1, 10, 9), "met", settled_at=at(1, 10, 21)),
        clock(3, "complex_first_response", at(2, 1, 9), "met", settled_at=at(2, 3, 9)),
        clock(2, "acknowledgement", at(1, 10, 9), "met", settled_at=at(1, 10, 10)),
        clock(6, "simple_first_response", at(3, 1, 9), "breached", breached_at=at(3, 2, 9)),
        clock(1, "follow_up", at(1, 6, 9), "breached", breached_at=at(1, 20, 9), settled_at=at(1, 21, 9)),
        clock(2, "regulator_report_NFRA", at(1, 10, 9), "breached", breached_at=at(1, 11, 9), settled_at=at(1, 12, 9)),
        # SC-H2: a first response of 1 h and an acknowledgement, both met; 8's in December.
        clock(7, "simple_first_response", at(2, 10, 9), "met", settled_at=at(2, 10, 10)),
        clock(7, "acknowledgement", at(2, 10, 9), "met", settled_at=at(2, 10, 9, 30)),
        clock(8, "simple_first_response", at(12, 1, 9, year=2033), "met", settled_at=at(12, 1, 10, year=2033)),
        # Breaches escalated to SC-M1: two in Q1, one in December; one escalated to nobody.
        breached_event(6, 1, at(3, 2, 9), "SC-M1"),
        breached_event(6, 2, at(3, 3, 9), "SC-M1"),
        breached_event(8, 1, at(12, 2, 9, year=2033), "SC-M1"),
        breached_event(6, 3, at(3, 4, 9), None),
        # SC-H1's history: a warning from an investigation in February (counted), a commendation
        # (no investigation), a training decision in December (another quarter).
        history("SC-H1", date(2034, 2, 15), "warning", "INV-SC-1:SC-H1:accountability"),
        history("SC-H1", date(2034, 3, 1), "commendation", None),
        history("SC-H1", date(2033, 12, 20), "training", "INV-SC-0:SC-H1:accountability"),
        # SC-H1's training: done in February; overdue since 1 March; overdue on 1 February but
        # done on 10 March; cancelled. Completed in Q1: 2; overdue at its end: 1.
        assignment(1, "SC-H1", "completed", completed_at=at(2, 10, 9)),
        assignment(2, "SC-H1", "overdue", overdue_at=at(3, 1, 9)),
        assignment(3, "SC-H1", "completed", overdue_at=at(2, 1, 9), completed_at=at(3, 10, 9)),
        assignment(4, "SC-H1", "cancelled", overdue_at=at(2, 1, 9)),
    ]  # fmt: skip
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            for table, column in (
                (Complaint, "complaint_id"), (ComplaintClock, "complaint_id"), (ComplaintEventRow, "complaint_id"),
                (StaffServiceEvent, "staff_id"), (TrainingAssignmentRow, "staff_id"), (Staff, "staff_id"),
            ):  # fmt: skip
                t = table.__table__  # type: ignore[union-attr]
                conn.execute(sa.delete(t).where(t.c[column].startswith(PREFIX if column == "complaint_id" else "SC-")))


def cards_of(engine: Engine, **kw: Any) -> dict[str, Scorecard]:
    with engine.connect() as conn:
        return {c.staff_id: c for c in scorecards(conn, Q1, POLICY, **({"now": AFTER} | kw))}


def test_a_handlers_card_counts_their_complaints_closed_in_the_quarter(quarter: Engine) -> None:
    h1 = cards_of(quarter)["SC-H1"]
    assert (h1.name, h1.role, h1.team, h1.period_label) == ("Test SC-H1", "handler", "customer-service", "2034-Q1")
    assert (h1.period_start, h1.period_end) == (date(2034, 1, 1), date(2034, 3, 31))
    assert h1.cases == 4  # 1-4; 5 closed on 1 April in Shanghai
    assert (h1.satisfaction_average, h1.satisfaction_cases) == (4.0, 3)  # 5, 3, 4
    assert h1.reopen_rate == 25.0  # 2 of 4
    # First response: 4 h and 12 h (simple), 48 h (complex); over all: 12 h.
    assert h1.median_first_response_hours == {"simple": 8.0, "complex": 48.0, "major": None, "all": 12.0}
    # Resolution: 10, 24 and 2 h (simple), 96 h (complex); 5 resolved in April.
    assert h1.median_resolution_hours == {"simple": 10.0, "complex": 96.0, "major": None, "all": 17.0}
    # Met: three first responses and an acknowledgement; breached: 6's first response and the follow-up.
    assert (h1.clocks_met, h1.clocks_breached, h1.clocks_met_rate) == (4, 2, 66.7)
    assert (h1.escalations_received, h1.accountability_entries) == (0, 1)
    assert (h1.training_completed, h1.training_overdue) == (2, 1)


def test_the_score_is_the_policys_formula_with_every_line_shown(quarter: Engine) -> None:
    cards = cards_of(quarter)
    h1, h2 = cards["SC-H1"], cards["SC-H2"]
    # SC-H1: met 66.7% (below 80: 0 of 30), satisfaction 4.0 (15 of 30), reopened 25% (0 of 15),
    # first response 12 h (36/44 of 15 = 12.27), one accountability entry (2.5 of 5), one course
    # overdue (2.5 of 5): 32.27 of 100.
    assert [(line.input.value, line.value, line.points) for line in h1.score_lines] == [
        ("clocks_met_rate", 66.7, 0.0),
        ("satisfaction_average", 4.0, 15.0),
        ("reopen_rate", 25.0, 0.0),
        ("median_first_response_hours", 12.0, 12.27),
        ("accountability_entries", 1.0, 2.5),
        ("training_overdue", 1.0, 2.5),
    ]
    assert h1.score == 32.3
    # SC-H2: 1 case; met 100% (30), satisfaction 2 (0), reopened 100% (0), 1 h (15), 5, 5: 55.
    assert (h2.cases, h2.satisfaction_average, h2.reopen_rate, h2.clocks_met_rate) == (1, 2.0, 100.0, 100.0)
    assert h2.median_first_response_hours["all"] == 1.0 and h2.median_resolution_hours["simple"] == 2.0
    assert h2.score == 55.0


def test_everyone_active_has_a_card_and_who_closed_nothing_has_no_score(quarter: Engine) -> None:
    cards = cards_of(quarter)
    assert {"SC-H1", "SC-H2", "SC-M1", "S-HND-001", "S-SM-001"} <= set(cards)
    assert "SC-OLD" not in cards, "inactive"
    m1 = cards["SC-M1"]
    assert (m1.role, m1.cases, m1.escalations_received) == ("manager", 0, 2)  # December's and the null one: not
    assert m1.score is None and len(m1.score_lines) == 6
    assert cards["S-HND-001"].cases == 0 and cards["S-HND-001"].score is None
    assert list(cards) == sorted(cards)


def test_one_persons_card_and_an_unknown_staff_id(quarter: Engine) -> None:
    [h1] = cards_of(quarter, staff_id="SC-H1").values()
    assert h1 == cards_of(quarter)["SC-H1"]
    [old] = cards_of(quarter, staff_id="SC-OLD").values()
    assert old.cases == 0, "an inactive member asked for by id still has a card"
    with pytest.raises(LookupError, match="no staff member SC-NOBODY in the staff directory"):
        cards_of(quarter, staff_id="SC-NOBODY")


def test_training_overdue_is_counted_at_the_quarters_end_or_now_if_sooner(quarter: Engine) -> None:
    # On 15 February only the assignment overdue since 1 February (done 10 March) was overdue.
    h1 = cards_of(quarter, staff_id="SC-H1", now=at(2, 15, 9))["SC-H1"]
    assert h1.training_overdue == 1
    h1 = cards_of(quarter, staff_id="SC-H1", now=at(1, 15, 9))["SC-H1"]
    assert h1.training_overdue == 0


def test_the_awards_inputs_and_its_ranking(quarter: Engine) -> None:
    with quarter.connect() as conn:
        decisions, breaches = award_inputs(conn, Q1, POLICY)
        cards = scorecards(conn, Q1, POLICY, now=AFTER)
    assert decisions.get("SC-H1") == ["warning"] and "SC-H2" not in decisions
    assert breaches.get("SC-H1") == 1, "6's first response; the follow-up call is another person's"
    assert "SC-H2" not in breaches
    award = POLICY.performance.award.model_copy(update={"min_cases": 1, "own_breach_tolerance": 0})
    found = {n.staff_id: n for n in nominees(cards, award, decisions, breaches)}
    assert found["SC-H2"].eligible and found["SC-H2"].rank == 1
    assert found["SC-H1"].reasons == ["warning decision in the quarter", "1 breached clock on their own complaints"]
    assert "SC-M1" not in found, "managers are not nominees"
    assert found["S-HND-001"].reasons == ["fewer than 1 case (0)", "no figure of the formula to score"]


def test_scores_are_stored_and_a_restart_of_the_seed_keeps_them(quarter: Engine, tmp_path: Path) -> None:
    with quarter.begin() as conn:
        cards = [c for c in scorecards(conn, Q1, POLICY, now=AFTER) if c.staff_id.startswith("SC-")]
        assert store_scores(conn, cards) == 2  # SC-H1 and SC-H2; SC-M1 has no score
    with Session(quarter) as session:
        scores = {s: session.get(Staff, s).service_quality_score for s in ("SC-H1", "SC-H2", "SC-M1")}  # type: ignore[union-attr]
    assert scores == {"SC-H1": 32.3, "SC-H2": 55.0, "SC-M1": 70.0}
    directory = tmp_path / "staff.yaml"
    directory.write_text(
        "staff:\n"
        "  - {staff_id: SC-H1, name: Renamed, role: handler, team: customer-service, service_quality_score: 99}\n"
        "  - {staff_id: SC-NEW, name: New, role: handler, team: customer-service, service_quality_score: 81.5}\n",
        encoding="utf-8",
    )
    seed_staff_directory(quarter, directory)
    with Session(quarter) as session:
        h1, new = session.get(Staff, "SC-H1"), session.get(Staff, "SC-NEW")
        assert h1 is not None and new is not None
        assert (h1.name, h1.service_quality_score) == ("Renamed", 32.3), "the file's score only starts a new member"
        assert new.service_quality_score == 81.5


def test_the_team_table_of_the_periodic_analysis(quarter: Engine) -> None:
    with quarter.connect() as conn:
        rows = [r for r in team(conn, Q1, POLICY, now=AFTER) if r.staff_id.startswith("SC-")]
    assert [(r.staff_id, r.cases, r.clocks_met_rate, r.satisfaction_average, r.reopen_rate, r.score) for r in rows] == [
        ("SC-H1", 4, 66.7, 4.0, 25.0, 32.3),
        ("SC-H2", 1, 100.0, 2.0, 100.0, 55.0),
    ]
