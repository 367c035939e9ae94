"""What the risk rules read about a customer: loan-book signals and complaints (step 5).

Plain SQL through SQLModel, the same on SQLite and PostgreSQL. Only the window the policy's
rules look back over is read (the longest of them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.tables import Complaint, ComplaintClock, ComplaintEventRow, LoanBookSignalRow, RiskWarningRow
from models.loan_book import SignalKind
from models.risk import ComplaintSignal, CustomerFigures, RiskPolicy

WITHDRAWN = "withdrawn"
REGULATOR_REPORT_DUE = "regulator_report_due"  # the audit log's entry as a report to a regulator is owed


def lookback_days(rules: RiskPolicy) -> int:
    windows = [
        rules.restructuring.within_days,
        rules.covenant_breach.within_days,
        rules.rating_down.within_days,
        rules.drawdowns_refused.within_days,
        rules.repeat_complaints.within_days,
        rules.repayment_collection_complaint.within_days,
        rules.amount_in_dispute.within_days,
        rules.refiled_after_withdrawal.within_days,
        rules.regulator_involved.within_days,
    ]
    return max(windows)


def customer_figures(engine: Engine, customer_id: str, as_of: datetime, rules: RiskPolicy) -> CustomerFigures:
    """The customer's figures at ``as_of`` (signals observed and complaints received by then)."""
    since = as_of - timedelta(days=lookback_days(rules))
    figures = CustomerFigures(customer_id=customer_id, as_of=as_of)
    with Session(engine) as session:
        signals = session.exec(
            select(LoanBookSignalRow)
            .where(LoanBookSignalRow.customer_id == customer_id)
            .where(LoanBookSignalRow.kind != SignalKind.CONTRACT.value)  # who holds what: not a risk signal
            .where(col(LoanBookSignalRow.observed_at) <= as_of)
            .order_by(col(LoanBookSignalRow.observed_at), col(LoanBookSignalRow.id))
        ).all()
        complaints = session.exec(
            select(Complaint)
            .where(Complaint.customer_id == customer_id)
            .where(col(Complaint.received_at) >= since)
            .where(col(Complaint.received_at) <= as_of)
            .order_by(col(Complaint.received_at))
        ).all()
        ids = [c.complaint_id for c in complaints]
        reported = (
            set(
                session.exec(
                    select(ComplaintClock.complaint_id)
                    .where(col(ComplaintClock.complaint_id).in_(ids))
                    .where(col(ComplaintClock.name).startswith("regulator_report_"))
                ).all()
            )
            if ids
            else set()
        )
        if ids:  # the audit log has it at once; the clocks table after the analysis facts' refresh
            reported |= set(
                session.exec(
                    select(ComplaintEventRow.complaint_id)
                    .where(col(ComplaintEventRow.complaint_id).in_(ids))
                    .where(ComplaintEventRow.kind == REGULATOR_REPORT_DUE)
                ).all()
            )
    latest_dpd: dict[str, LoanBookSignalRow] = {}  # per contract: the latest observation counts
    for s in signals:
        f = s.figures
        if s.kind == SignalKind.DAYS_PAST_DUE:
            latest_dpd[str(f.get("contract_number") or "")] = s
        elif s.observed_at < since:
            continue
        elif s.kind == SignalKind.RESTRUCTURING:
            figures.restructurings.append(s.observed_at)
        elif s.kind == SignalKind.COVENANT_BREACH:
            figures.covenant_breaches.append(s.observed_at)
        elif s.kind == SignalKind.RATING_CHANGE:
            figures.rating_changes.append((s.observed_at, str(f["from_rating"]), str(f["to_rating"])))
        elif s.kind == SignalKind.DRAWDOWN_REFUSED:
            figures.drawdowns_refused.append((s.observed_at, Decimal(str(f["amount"])), str(f.get("currency", ""))))
    if latest_dpd:
        worst = max(latest_dpd.values(), key=lambda s: int(s.figures.get("days", 0)))
        figures.days_past_due = int(worst.figures.get("days", 0))
        figures.days_past_due_record = f"{worst.source_system}/{worst.source_record_id}"
    figures.complaints = [
        ComplaintSignal(
            complaint_id=c.complaint_id,
            category=c.category,
            channel=c.channel,
            status=c.status,
            received_at=c.received_at,
            closed_at=c.closed_at,
            tier_rule=c.tier_rule,
            regulator_report=c.complaint_id in reported,
            amount_in_dispute=c.amount_in_dispute,
            amount_currency=c.amount_currency,
        )
        for c in complaints
    ]
    return figures


def stored_signals(engine: Engine, customer_id: str | None = None) -> list[LoanBookSignalRow]:
    """Stored signals, newest observation first (one customer's, if given)."""
    query = select(LoanBookSignalRow)
    if customer_id is not None:
        query = query.where(LoanBookSignalRow.customer_id == customer_id)
    with Session(engine) as session:
        return list(
            session.exec(query.order_by(col(LoanBookSignalRow.observed_at).desc(), col(LoanBookSignalRow.id))).all()
        )


def warnings(engine: Engine, *, open_only: bool = False, customer_id: str | None = None) -> list[RiskWarningRow]:
    """Early-warning cases, newest first."""
    query = select(RiskWarningRow)
    if open_only:
        query = query.where(RiskWarningRow.status != "closed")
    if customer_id is not None:
        query = query.where(RiskWarningRow.customer_id == customer_id)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(RiskWarningRow.opened_at).desc())).all())


def latest_warning(engine: Engine, customer_id: str) -> RiskWarningRow | None:
    """The customer's open case, else their latest closed one; None when they never had one."""
    cases = warnings(engine, customer_id=customer_id)
    open_cases = [w for w in cases if w.status != "closed"]
    chosen = open_cases or cases
    return chosen[0] if chosen else None
