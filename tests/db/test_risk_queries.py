"""Loan-book signals stored once per source record, and a customer's risk figures read back from
them and from the complaints, on SQLite and PostgreSQL (step 5). Customer ids are the test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from complaints.loan_book import LoanBookClient, SubmitOutcome
from db.risk_queries import customer_figures, latest_warning, stored_signals, warnings
from db.tables import Complaint, ComplaintClock, ComplaintEventRow, LoanBookSignalRow, RiskWarningRow, utc_now
from models.risk import RiskPolicy

NOW = datetime.now(UTC).replace(microsecond=0)
RULES = RiskPolicy()


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


@pytest.fixture
def customer(engine: Engine) -> Iterator[str]:
    customer_id = f"C-RISK-{uuid.uuid4().hex[:8]}"
    yield customer_id
    with Session(engine) as session:
        ids = list(session.exec(select(Complaint.complaint_id).where(Complaint.customer_id == customer_id)).all())
        session.exec(delete(ComplaintClock).where(col(ComplaintClock.complaint_id).in_(ids)))
        session.exec(delete(ComplaintEventRow).where(col(ComplaintEventRow.complaint_id).in_(ids)))
        session.exec(delete(Complaint).where(col(Complaint.customer_id) == customer_id))
        session.exec(delete(LoanBookSignalRow).where(col(LoanBookSignalRow.customer_id) == customer_id))
        session.exec(delete(RiskWarningRow).where(col(RiskWarningRow.customer_id) == customer_id))
        session.commit()


def signal(customer_id: str, record: str, kind: str, days_ago: float, **figures: Any) -> dict[str, Any]:
    return {
        "source_system": "CORE-LOANS",
        "source_record_id": f"{customer_id}-{record}",
        "customer_id": customer_id,
        "observed_at": ago(days_ago),
        "kind": kind,
        **figures,
    }


async def test_a_record_is_stored_once_and_never_changed(engine: Engine, customer: str) -> None:
    book = LoanBookClient(engine)
    rows = [
        signal(customer, "dpd-1", "days_past_due", 3, days=31, contract_number="PF-1"),
        signal(customer, "cov-1", "covenant_breach", 5, covenant="DSCR at least 1.2"),
        signal(customer, "drw-1", "drawdown_refused", 6, amount="2500000.00"),
    ]
    first = await book.submit(rows)
    assert (first.outcome, first.stored, first.unchanged, first.errors) == (SubmitOutcome.STORED, 3, 0, [])
    again = await book.submit(rows)
    assert (again.outcome, again.stored, again.unchanged) == (SubmitOutcome.STORED, 0, 3)
    changed = [signal(customer, "new-1", "restructuring", 1), {**rows[0], "days": 45}]
    refused = await book.submit(changed)
    assert refused.outcome == SubmitOutcome.REFUSED and len(refused.errors) == 1
    assert refused.errors[0].startswith(f"record CORE-LOANS/{customer}-dpd-1: already received ")
    assert refused.errors[0].endswith("with other content; a record is never changed: send a new source_record_id")
    stored = stored_signals(engine, customer)
    assert sorted(r.source_record_id for r in stored) == sorted(f"{customer}-{r}" for r in ("dpd-1", "cov-1", "drw-1"))
    assert next(r for r in stored if r.kind == "days_past_due").figures == {"days": 31, "contract_number": "PF-1"}
    assert next(r for r in stored if r.kind == "drawdown_refused").figures == {
        "amount": "2500000.00",
        "currency": "CNY",
    }


async def test_a_batch_with_one_bad_row_writes_nothing(engine: Engine, customer: str) -> None:
    rows = [
        signal(customer, "dpd-1", "days_past_due", 3, days=31),
        signal(customer, "rt-1", "rating_change", 3, from_rating="BBB"),
        signal(customer, "dpd-2", "days_past_due", 3, days=-2),
    ]
    result = await LoanBookClient(engine).submit(rows)
    assert result.outcome == SubmitOutcome.REFUSED
    assert result.errors == [
        "row 2: to_rating: Field required",
        "row 3: days: Input should be greater than or equal to 0",
    ]
    assert stored_signals(engine, customer) == []


async def test_a_customers_figures_come_from_the_loan_book_and_the_complaints(engine: Engine, customer: str) -> None:
    submitted = await LoanBookClient(engine).submit(
        [
            signal(customer, "dpd-a1", "days_past_due", 40, days=60, contract_number="PF-A"),
            signal(customer, "dpd-a2", "days_past_due", 10, days=0, contract_number="PF-A"),  # cleared since
            signal(customer, "dpd-b1", "days_past_due", 12, days=33, contract_number="PF-B"),
            signal(customer, "rst-1", "restructuring", 100),
            signal(customer, "rst-old", "restructuring", 800),  # before the longest window
            signal(customer, "rt-1", "rating_change", 30, from_rating="BBB", to_rating="BB+"),
            signal(customer, "drw-1", "drawdown_refused", 20, amount="100.50", currency="USD"),
            signal(customer, "cov-1", "covenant_breach", 1),  # observed after as_of below
        ]
    )
    assert submitted.outcome == SubmitOutcome.STORED, submitted.errors
    prefix = f"RSK-{uuid.uuid4().hex[:8]}-"
    with Session(engine) as session:
        for tag, days, status, channel in [
            ("w", 60, "withdrawn", "phone"),
            ("again", 20, "in_handling", "regulator_referral"),
            ("old", 500, "closed", "phone"),
        ]:
            session.add(
                Complaint(
                    complaint_id=prefix + tag,
                    workflow_id=f"complaint-{prefix}{tag}",
                    source_system="risk-test",
                    source_reference=prefix + tag,
                    channel=channel,
                    category="repayment_collection",
                    tier_rule="large-amount" if tag == "w" else None,
                    status=status,
                    customer_id=customer,
                    customer_name="Risk Test Ltd",
                    received_at=NOW - timedelta(days=days),
                    closed_at=NOW - timedelta(days=days - 2) if status != "in_handling" else None,
                    amount_in_dispute=Decimal("250000.00") if tag == "again" else None,
                    amount_currency="CNY" if tag == "again" else None,
                    updated_at=utc_now(),
                )
            )
        session.add(ComplaintClock(complaint_id=prefix + "w", name="regulator_report_NFRA", state="met"))
        # A report owed shows in the audit log at once, before the analysis facts' refresh writes its clock.
        session.add(
            ComplaintEventRow(
                complaint_id=prefix + "again",
                seq=4,
                kind="regulator_report_due",
                actor="system",
                at=NOW - timedelta(days=19),
                recorded_at=utc_now(),
            )
        )
        session.commit()
    f = customer_figures(engine, customer, NOW - timedelta(days=2), RULES)
    assert (f.days_past_due, f.days_past_due_record) == (33, f"CORE-LOANS/{customer}-dpd-b1")
    assert [d.date() for d in f.restructurings] == [(NOW - timedelta(days=100)).date()]
    assert customer_figures(engine, customer, NOW, RULES).covenant_breaches != []
    assert f.covenant_breaches == []
    assert [(a, b) for _, a, b in f.rating_changes] == [("BBB", "BB+")]
    assert [(amount, currency) for _, amount, currency in f.drawdowns_refused] == [(Decimal("100.50"), "USD")]
    assert [(c.complaint_id, c.status, c.tier_rule, c.regulator_report) for c in f.complaints] == [
        (prefix + "w", "withdrawn", "large-amount", True),
        (prefix + "again", "in_handling", None, True),
    ]
    assert [(c.amount_in_dispute, c.amount_currency) for c in f.complaints] == [
        (None, None),
        (Decimal("250000.00"), "CNY"),
    ]
    assert f.complaints[1].channel == "regulator_referral"


def test_the_open_case_is_the_customers_warning_else_the_latest_closed(engine: Engine, customer: str) -> None:
    assert latest_warning(engine, customer) is None
    with Session(engine) as session:
        for run, status, days in [("r1", "closed", 30), ("r2", "open", 2), ("r3", "closed", 1)]:
            session.add(
                RiskWarningRow(
                    workflow_run_id=f"{customer}-{run}",
                    workflow_id=f"early-warning-{customer}",
                    customer_id=customer,
                    status=status,
                    opened_at=NOW - timedelta(days=days),
                    updated_at=utc_now(),
                )
            )
        session.commit()
    found = latest_warning(engine, customer)
    assert found is not None and found.workflow_run_id == f"{customer}-r2"
    assert [w.workflow_run_id for w in warnings(engine, customer_id=customer)] == [
        f"{customer}-r3",
        f"{customer}-r2",
        f"{customer}-r1",
    ]
    assert f"{customer}-r2" in {w.workflow_run_id for w in warnings(engine, open_only=True)}
    assert f"{customer}-r1" not in {w.workflow_run_id for w in warnings(engine, open_only=True)}
