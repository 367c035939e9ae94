"""Each return's figures from the projection, on SQLite and PostgreSQL, as a person counts them.

The complaints live in 2018-2019, before any complaint other tests keep (intake takes none
received before 2020), so no other test's open complaint is outstanding at these periods' start;
their ids are unique to the test, and they are deleted afterwards (the engine is shared by the
whole session). Times are in the policy's
time zone (Asia/Shanghai): ``late`` arrives at 00:30 on 1 April there, still 31 March in UTC,
and belongs to April; ``n3`` arrives at 23:30 on 31 March there and belongs to March.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, col

from activities.returns import write_return
from complaints.config import PROJECT_ROOT
from db.returns_queries import build_return
from db.tables import Complaint, ComplaintClock, utc_now
from domain.policy import load_policy
from domain.returns import ReturnInvalid, columns
from models.analysis import Period, Product, ReturnKind

POLICY = load_policy(PROJECT_ROOT / "policies" / "standard.yaml")
SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = Period(label="2019-03", start=date(2019, 3, 1), end=date(2019, 3, 31))
FEBRUARY = Period(label="2019-02", start=date(2019, 2, 1), end=date(2019, 2, 28))
Q1 = Period(label="2019-Q1", start=date(2019, 1, 1), end=date(2019, 3, 31))
Q4 = Period(label="2018-Q4", start=date(2018, 10, 1), end=date(2018, 12, 31))


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# tag: received, closed, status, product, root cause, remedy paid
COMPLAINTS: dict[str, tuple[datetime, datetime | None, str, str | None, str | None, str | None]] = {
    "p2": (at(2018, 11, 1), at(2018, 11, 5), "closed", "trade_finance", "process_delay", None),
    "p1": (at(2018, 12, 15), at(2018, 12, 20), "closed", "overdraft", "pricing_error", None),
    "x": (at(2019, 2, 5), at(2019, 2, 20), "closed", "overdraft", "staff_conduct", None),
    "o1": (at(2019, 2, 10), at(2019, 3, 4), "closed", "overdraft", "pricing_error", "100"),
    "o2": (at(2019, 2, 20), None, "in_handling", "overdraft", None, None),
    "n1": (at(2019, 3, 4), at(2019, 3, 6, 12), "closed", "overdraft", "customer_misunderstanding", None),
    "n2": (at(2019, 3, 8), at(2019, 4, 2), "closed", "overdraft", "process_delay", None),
    "n4": (at(2019, 3, 14), at(2019, 3, 15), "withdrawn", None, None, None),
    "n3": (at(2019, 3, 31, 23, 30), None, "in_handling", "overdraft", None, None),
    "late": (at(2019, 4, 1, 0, 30), None, "in_handling", "trade_finance", None, None),
}


@pytest.fixture
def ids(engine: Engine) -> Iterator[dict[str, str]]:
    """The test's complaints (and n2's breached decision clock), removed afterwards."""
    prefix = f"RET-{uuid.uuid4().hex[:8]}-"
    ids = {tag: prefix + tag for tag in COMPLAINTS}
    with Session(engine) as session:
        for tag, (received, closed, status, product, cause, remedy) in COMPLAINTS.items():
            session.add(
                Complaint(
                    complaint_id=ids[tag],
                    workflow_id=f"complaint-{ids[tag]}",
                    source_system="returns-test",
                    source_reference=ids[tag],
                    channel="email" if tag == "n1" else "phone",
                    category="fees_and_interest",
                    status=status,
                    customer_id="C-RET",
                    customer_name="Returns Test Ltd",
                    received_at=received,
                    closed_at=closed,
                    product=product,
                    root_cause=cause,
                    remedy_paid=Decimal(remedy) if remedy else None,
                    reopened_count=1 if tag == "n1" else 0,
                    # o2 is an older row whose case file holds the intake (with its flags); the rest are newer.
                    snapshot={"intake": {"flags": ["hardship"]}} if tag == "o2" else {},
                    updated_at=utc_now(),
                )
            )
        session.add(
            ComplaintClock(
                complaint_id=ids["n2"],
                name="regulatory_decision",
                started_at=at(2019, 3, 8),
                due_at=at(2019, 3, 22, 18),
                breached_at=at(2019, 3, 22, 18),
                state="breached",
            )
        )
        session.commit()
    try:
        yield ids
    finally:
        with Session(engine) as session:
            session.exec(delete(ComplaintClock).where(col(ComplaintClock.complaint_id).startswith(prefix)))  # type: ignore[call-overload]
            session.exec(delete(Complaint).where(col(Complaint.complaint_id).startswith(prefix)))  # type: ignore[call-overload]
            session.commit()


def build(
    engine: Engine, kind: ReturnKind, period: Period = MARCH, previous: Period = FEBRUARY
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return build_return(conn, kind, period, previous, POLICY)


def mine(rows: list[dict[str, Any]], ids: dict[str, str], column: str) -> dict[str, dict[str, Any]]:
    """The test's own rows, by tag."""
    tags = {v: k for k, v in ids.items()}
    return {tags[row[column]]: row for row in rows if row[column] in tags}


def test_fca_return_by_product_line(engine: Engine, ids: dict[str, str]) -> None:
    rows = {row["product_group"]: row for row in build(engine, ReturnKind.FCA_DISP)}
    assert list(rows) == ["Overdrafts", "Other banking"]  # the catalogue's lines, in the form's order
    # Outstanding on 1 March: o1 and o2. Opened: n1, n2, n3 (late is April's). Closed in March:
    # o1 (22 days, remedy paid: upheld) and n1 (2 business days, no fault found).
    assert rows["Overdrafts"] == {
        "grouping": "Banking and credit cards",
        "product_group": "Overdrafts",
        "outstanding_at_start": 2,
        "opened": 3,
        "closed": 2,
        "closed_within_3_business_days_pct": 50.0,
        "closed_after_3_business_days_within_8_weeks_pct": 50.0,
        "upheld_pct": 50.0,
        "redress_paid": Decimal("100.00"),
        "main_causes": ["customer_misunderstanding", "pricing_error"],
    }
    # n4 has no product ("other": the model's default line) and was withdrawn the next day.
    other = rows["Other banking"]
    assert (other["opened"], other["closed"], other["closed_within_3_business_days_pct"], other["upheld_pct"]) == (
        1,
        1,
        100.0,
        0.0,
    )


def test_asic_rows_are_the_periods_complaints_and_those_open_at_its_start(engine: Engine, ids: dict[str, str]) -> None:
    rows = mine(build(engine, ReturnKind.ASIC_IDR), ids, "complaint_id")
    assert list(rows) == ["o1", "o2", "n1", "n2", "n4", "n3"]  # in order of receipt
    assert rows["o1"] == {
        "complaint_id": ids["o1"],
        "complaint_type": "Standard",
        "status": "Closed",
        "received_method": "Phone",
        "date_received": "2019-02-10",
        "date_closed": "2019-03-04",
        "days_to_resolve": 22,
        "products": ["Business overdraft"],
        "issues": ["Fees and charges"],
        "outcome": "Monetary remedy",
        "monetary_remedy": Decimal("100.00"),
    }
    assert (rows["n1"]["outcome"], rows["n1"]["received_method"]) == ("Explanation provided", "Email")
    assert rows["o2"]["complaint_type"] == "Default notice or hardship"  # its intake flagged hardship
    assert (rows["n2"]["status"], rows["n2"]["date_closed"]) == ("Open", None)  # closed only in April
    assert rows["n3"]["date_received"] == "2019-03-31"
    assert (rows["n4"]["outcome"], rows["n4"]["products"]) == ("Complaint withdrawn", ["Other"])


def test_cfpb_rows_are_the_complaints_received(engine: Engine, ids: dict[str, str]) -> None:
    rows = mine(build(engine, ReturnKind.CFPB), ids, "Complaint ID")
    assert list(rows) == ["n1", "n2", "n4", "n3"]
    assert rows["n1"]["Company response to consumer"] == "Closed with explanation"
    assert (rows["n1"]["Consumer disputed?"], rows["n1"]["Submitted via"]) == ("Yes", "Email")
    assert (rows["n2"]["Company response to consumer"], rows["n2"]["Timely response?"]) == ("Untimely response", "No")
    assert rows["n3"]["Company response to consumer"] == "In progress"
    assert rows["n3"]["Date received"] == rows["n3"]["Date sent to company"] == "2019-03-31"


def test_nfra_quarter_on_quarter(engine: Engine, ids: dict[str, str]) -> None:
    rows = {row["business_line"]: row for row in build(engine, ReturnKind.NFRA_QUARTERLY, Q1, Q4)}
    assert list(rows) == ["对公贷款", "贸易融资", "其他"]
    # Q1: x, o1, o2, n1, n2, n3 on overdrafts, n4 without a product; Q4: p1 and p2.
    assert rows["对公贷款"] == {
        "business_line": "对公贷款",
        "complaints": 6,
        "share_pct": 85.7,
        "previous_complaints": 1,
        "change_pct": 500.0,
    }
    assert (rows["贸易融资"]["complaints"], rows["贸易融资"]["change_pct"]) == (0, -100.0)
    assert (rows["其他"]["complaints"], rows["其他"]["share_pct"], rows["其他"]["change_pct"]) == (1, 14.3, None)


def test_write_return_writes_csv_and_json(engine: Engine, ids: dict[str, str], tmp_path: Path) -> None:
    result = write_return(engine, ReturnKind.FCA_DISP, MARCH, FEBRUARY, POLICY, tmp_path / "2019-03")
    csv_text = Path(result["files"]["csv"]).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0].split(",") == columns(ReturnKind.FCA_DISP)
    assert result["rows"] == 2
    assert result["summary"] == {"outstanding_at_start": 2, "opened": 4, "closed": 3, "redress_paid": "100.00"}
    assert '"product_group": "Overdrafts"' in Path(result["files"]["json"]).read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "2019-03").iterdir()) == ["fca_disp.csv", "fca_disp.json"]


def test_a_return_that_fails_its_schema_writes_nothing(engine: Engine, ids: dict[str, str], tmp_path: Path) -> None:
    wrong = Product(code="overdraft", label="Business overdraft", asic_product="Home loan")  # not ASIC's value
    policy = POLICY.model_copy(update={"reporting": POLICY.reporting.model_copy(update={"products": [wrong]})})
    with pytest.raises(ReturnInvalid) as refused:
        write_return(engine, ReturnKind.ASIC_IDR, MARCH, FEBRUARY, policy, tmp_path)
    assert (refused.value.field, refused.value.row_id) == ("products", ids["o1"])
    assert "'Home loan' is not one of" in str(refused.value)
    assert list(tmp_path.iterdir()) == []
