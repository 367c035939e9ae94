"""Find complaints by customer id, contract number or (part of) the customer's name.

The customer id and contract number are clear columns, matched in SQL. The name is sealed at
rest when a key ring is configured (``db/sealing.py``), and a sealed value cannot be matched in
SQL (each is encrypted with its own nonce): then the newest ``scan`` complaints' names are read,
opened, and matched here. With no key ring the name is matched in SQL like the rest.
"""

from __future__ import annotations

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from db.sealing import sealer_for
from db.tables import Complaint

LIMIT = 500  # complaint ids at most: the CLI's list asks Temporal for these workflows
NAME_SCAN = 50_000  # newest complaints whose sealed names are opened and matched


def search_complaints(engine: Engine, text: str, *, limit: int = LIMIT, scan: int = NAME_SCAN) -> list[str]:
    """Ids of complaints whose customer id, contract number or customer name contains ``text``."""
    needle = text.strip()
    pattern = f"%{needle}%"
    clear = [col(Complaint.customer_id).ilike(pattern), col(Complaint.contract_number).ilike(pattern)]
    sealed = sealer_for(engine.dialect) is not None
    if not sealed:
        clear.append(col(Complaint.customer_name).ilike(pattern))
    with Session(engine) as session:
        found = list(session.exec(select(Complaint.complaint_id).where(or_(*clear)).limit(limit)).all())
        if sealed and len(found) < limit:
            wanted = needle.casefold()
            rows = session.exec(
                select(Complaint.complaint_id, Complaint.customer_name)
                .order_by(col(Complaint.received_at).desc(), col(Complaint.complaint_id))
                .limit(scan)
                .execution_options(yield_per=1000)
            )
            for complaint_id, name in rows:
                if wanted in (name or "").casefold() and complaint_id not in found:
                    found.append(complaint_id)
                    if len(found) >= limit:
                        break
    return found
