"""Step 6.2: what a recall reads and writes: its affected customers, pages of them, progress.

The same SQL on SQLite and PostgreSQL (SQLAlchemy's JSON index reads the contract's product:
``json_extract`` on SQLite, ``->>`` on PostgreSQL). The affected set is written once per recall
(a retry inserts only the customers not there yet); every timestamp on a customer's row is
written once, the first time (a retry never moves it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, case, func, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from db.tables import Complaint, LoanBookSignalRow, OutboxMessage, RecallCustomerRow, RecallRow
from domain import recall as rules
from models.complaint import CLOSED_STATUSES
from models.loan_book import SignalKind
from models.recall import RecallProgress

CHUNK = 500
DEFAULT_LANGUAGE = "zh"  # the intake's default: a customer who never complained


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def find_affected(engine: Engine, product: str) -> dict[str, dict[str, Any]]:
    """Customer id -> {complaints: open complaint ids, contracts: contract numbers, language}.

    Affected: every customer who complained about the product (open or closed complaint), and
    every customer the loan book reports holding a contract on it (active or closed: a closed
    loan may be owed a refund too)."""
    closed = [s.value for s in CLOSED_STATUSES]
    found: dict[str, dict[str, Any]] = {}

    def entry(customer_id: str) -> dict[str, Any]:
        return found.setdefault(customer_id, {"complaints": [], "contracts": [], "language": None})

    with Session(engine) as session:
        complaints = session.exec(
            select(Complaint.customer_id, Complaint.complaint_id, Complaint.status, Complaint.contract_number)
            .where(Complaint.product == product)
            .order_by(col(Complaint.received_at))
        ).all()
        for customer_id, complaint_id, status, contract in complaints:
            e = entry(customer_id)
            if status not in closed:
                e["complaints"].append(complaint_id)
            if contract and contract not in e["contracts"]:
                e["contracts"].append(contract)
        contracts = session.exec(
            select(LoanBookSignalRow.customer_id, LoanBookSignalRow.figures)
            .where(LoanBookSignalRow.kind == SignalKind.CONTRACT.value)
            .where(col(LoanBookSignalRow.figures)["product"].as_string() == product)
            .order_by(col(LoanBookSignalRow.observed_at), col(LoanBookSignalRow.id))
        ).all()
        for customer_id, figures in contracts:
            e = entry(customer_id)
            number = str(figures.get("contract_number") or "")
            if number and number not in e["contracts"]:
                e["contracts"].append(number)
        # The language of the letters their complaints got (the projection keeps no contact data).
        ids = [c[1] for c in complaints]
        by_complaint = {c[1]: c[0] for c in complaints}
        for chunk in _chunks(ids):
            rows = session.exec(
                select(OutboxMessage.complaint_id, OutboxMessage.language)
                .where(col(OutboxMessage.complaint_id).in_(chunk))
                .where(OutboxMessage.channel != "staff")
                .order_by(col(OutboxMessage.id))
            ).all()
            for complaint_id, language in rows:
                found[by_complaint[complaint_id]]["language"] = language  # the latest wins
    return found


def materialise(engine: Engine, recall: str, product: str) -> int:
    """Write the recall's affected customers (those not written yet); how many it has."""
    affected = find_affected(engine, product)
    with Session(engine) as session:
        have = set(session.exec(select(RecallCustomerRow.customer_id).where(RecallCustomerRow.recall_id == recall)))
        for customer_id in sorted(set(affected) - have):
            e = affected[customer_id]
            session.add(
                RecallCustomerRow(
                    recall_id=recall,
                    customer_id=customer_id,
                    complaint_ids=e["complaints"],
                    contract_numbers=e["contracts"],
                    workflow_id=rules.remediation_id(recall, customer_id),
                    language=e["language"] or DEFAULT_LANGUAGE,
                )
            )
        session.commit()
        return session.exec(
            select(func.count()).select_from(RecallCustomerRow).where(RecallCustomerRow.recall_id == recall)
        ).one()


def page(engine: Engine, recall: str, after: str | None, limit: int) -> list[str]:
    """The next ``limit`` customer ids after ``after``, in order."""
    query = select(RecallCustomerRow.customer_id).where(RecallCustomerRow.recall_id == recall)
    if after is not None:
        query = query.where(RecallCustomerRow.customer_id > after)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(RecallCustomerRow.customer_id)).limit(limit)))


def progress(engine: Engine, recall: str) -> RecallProgress:
    c = RecallCustomerRow
    with Session(engine) as session:
        row = session.execute(
            core_select(
                func.count(),
                func.count(col(c.told_at)),
                func.count(col(c.opened_at)),
                func.count(col(c.remediated_at)),
                func.count(col(c.overdue_at)),
                func.coalesce(
                    func.sum(case((col(c.overdue_at).is_not(None) & col(c.remediated_at).is_(None), 1), else_=0)), 0
                ),
            ).where(col(c.recall_id) == recall)
        ).one()
    affected, told, opened, remediated, overdue, overdue_open = row
    return RecallProgress(
        affected=affected,
        told=told,
        opened=opened,
        remediated=remediated,
        overdue=overdue,
        overdue_open=int(overdue_open),
    )


def customer(engine: Engine, recall: str, customer_id: str) -> RecallCustomerRow | None:
    with Session(engine) as session:
        return session.get(RecallCustomerRow, (recall, customer_id))


def customers(engine: Engine, recall: str, *, overdue_only: bool = False) -> list[RecallCustomerRow]:
    query = select(RecallCustomerRow).where(RecallCustomerRow.recall_id == recall)
    if overdue_only:
        query = query.where(col(RecallCustomerRow.overdue_at).is_not(None)).where(
            col(RecallCustomerRow.remediated_at).is_(None)
        )
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(RecallCustomerRow.customer_id))))


def set_once(engine: Engine, recall: str, customer_id: str, guard: str, **values: Any) -> bool:
    """Write ``values`` on the customer's row unless ``guard`` (a timestamp column) is written
    already; True when this call wrote them (a retry, or a second attempt, writes nothing)."""
    c = RecallCustomerRow
    with Session(engine) as session:
        result = session.exec(
            update(c)
            .where(col(c.recall_id) == recall, col(c.customer_id) == customer_id)
            .where(getattr(c, guard).is_(None))
            .values(**values)
        )
        session.commit()
        return bool(result.rowcount)


def language_and_complaints(engine: Engine, recall: str, customer_id: str) -> tuple[str, list[str]]:
    row = customer(engine, recall, customer_id)
    if row is None:
        return DEFAULT_LANGUAGE, []
    return row.language or DEFAULT_LANGUAGE, list(row.complaint_ids)


def complaint_workflows(engine: Engine, complaint_ids: list[str]) -> list[tuple[str, str]]:
    """(complaint id, workflow id) of those still open (a complaint closed since is left alone)."""
    if not complaint_ids:
        return []
    closed = [s.value for s in CLOSED_STATUSES]
    with Session(engine) as session:
        rows = session.exec(
            select(Complaint.complaint_id, Complaint.workflow_id)
            .where(col(Complaint.complaint_id).in_(complaint_ids))
            .where(col(Complaint.status).not_in(closed))
        ).all()
    return [(a, b) for a, b in rows]


# -- the recall's own row ---------------------------------------------------------------------


def next_number(engine: Engine, product: str) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(RecallRow).where(RecallRow.product == product)).one() + 1


def open_recall(engine: Engine, product: str) -> RecallRow | None:
    with Session(engine) as session:
        return session.exec(
            select(RecallRow).where(RecallRow.product == product).where(RecallRow.status != "closed")
        ).first()


def find(engine: Engine, key: str) -> RecallRow | None:
    """A recall by its id, or a product's latest recall."""
    with Session(engine) as session:
        row = session.get(RecallRow, key)
        if row is not None:
            return row
        return session.exec(
            select(RecallRow).where(RecallRow.product == key).order_by(col(RecallRow.declared_at).desc())
        ).first()


def list_recalls(engine: Engine, open_only: bool = False) -> list[RecallRow]:
    query = select(RecallRow)
    if open_only:
        query = query.where(RecallRow.status != "closed")
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(RecallRow.declared_at).desc())))
