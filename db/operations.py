"""What the operations dashboards read from the projection (issue 17)."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.tables import Complaint


def open_by_status(engine: Engine) -> dict[str, int]:
    """Open complaints (not closed) by status, as the projection has them."""
    with Session(engine) as session:
        rows = session.exec(
            select(Complaint.status, func.count()).where(col(Complaint.closed_at).is_(None)).group_by(Complaint.status)
        ).all()
    return {str(status): int(count) for status, count in rows}
