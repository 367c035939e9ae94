"""Counting complaints for surges, and the incidents' complaints (step 6.2): SQL over ``complaints``.

``window_counts`` is the watch's one counting query: per watched dimension (product, category,
channel, region: columns of ``complaints``) and value, the complaints received in each window,
the latest (number 0) and the ``baseline_windows`` before it. It reads only rows received in
``(now - (baseline_windows + 1) x window, now]`` (``received_at`` is indexed), and numbers the
windows with a CASE over bound boundaries, so the same SQL runs on SQLite and PostgreSQL. The
rule that reads the counts is ``domain.surge``.

The rest serve linking and reporting: the complaints of a key received since a time and not yet
linked to an incident, those closed incidents already took, and an incident's complaints with
their status for the situation report and ``complaints incident show``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.tables import Complaint, IncidentComplaintRow, IncidentRow
from domain import surge
from models.complaint import CLOSED_STATUSES
from models.incident import IncidentStatus, SurgeDimension, SurgePolicy

_complaints = Complaint.__table__  # type: ignore[attr-defined]
_links = IncidentComplaintRow.__table__  # type: ignore[attr-defined]
_incidents = IncidentRow.__table__  # type: ignore[attr-defined]
_CLOSED = sorted(s.value for s in CLOSED_STATUSES)


def _column(dimension: SurgeDimension) -> sa.ColumnElement[str]:
    return _complaints.c[dimension.value]


def window_counts(engine: Engine, policy: SurgePolicy, now: datetime) -> list[tuple[str, str, int, int]]:
    """(dimension, value, window number, complaints) for every watched key with a complaint in the
    latest window or the baseline windows before it; window 0 is the latest."""
    edges = surge.boundaries(now, policy)  # now, then each window's start, newest first
    received = _complaints.c.received_at
    number = sa.case(
        *[(received > edges[i + 1], sa.literal_column(str(i))) for i in range(len(edges) - 1)],
        else_=sa.literal_column("-1"),
    )
    parts = [
        sa.select(
            sa.literal_column(f"'{d.value}'").label("dimension"),
            _column(d).label("value"),
            number.label("window"),
        ).where(received > edges[-1], received <= now, _column(d).is_not(None))
        for d in policy.dimensions
    ]
    keyed = sa.union_all(*parts).subquery("keyed")
    query = (
        sa.select(keyed.c.dimension, keyed.c.value, keyed.c.window, sa.func.count())
        .group_by(keyed.c.dimension, keyed.c.value, keyed.c.window)
        .order_by(keyed.c.dimension, keyed.c.value, keyed.c.window)
    )
    with engine.connect() as conn:
        return [(str(d), str(v), int(w), int(n)) for d, v, w, n in conn.execute(query)]


def matching(
    engine: Engine, dimension: SurgeDimension, value: str, since: datetime, unlinked_from: str | None = None
) -> list[str]:
    """Complaints of the key received after ``since``, oldest first; with ``unlinked_from``, only
    those that incident has not linked yet."""
    c = _complaints.c
    query = sa.select(c.complaint_id).where(_column(dimension) == value, c.received_at > since)
    if unlinked_from is not None:
        linked = sa.select(_links.c.complaint_id).where(_links.c.incident_id == unlinked_from)
        query = query.where(c.complaint_id.not_in(linked))
    with engine.connect() as conn:
        return [cid for (cid,) in conn.execute(query.order_by(c.received_at, c.complaint_id))]


def taken(engine: Engine, dimension: SurgeDimension, value: str) -> set[str]:
    """Complaints that the key's closed incidents linked: they open no new incident."""
    query = (
        sa.select(_links.c.complaint_id)
        .join_from(_links, _incidents, _links.c.incident_id == _incidents.c.incident_id)
        .where(
            _incidents.c.dimension == dimension.value,
            _incidents.c.value == value,
            _incidents.c.status == IncidentStatus.CLOSED.value,
        )
    )
    with engine.connect() as conn:
        return {cid for (cid,) in conn.execute(query)}


def open_incidents(engine: Engine) -> list[IncidentRow]:
    with Session(engine) as session:
        query = select(IncidentRow).where(IncidentRow.status != IncidentStatus.CLOSED.value)
        return list(session.exec(query.order_by(col(IncidentRow.opened_at))))


def incidents_of(engine: Engine, dimension: SurgeDimension, value: str) -> int:
    """How many incidents the key has had (open or closed)."""
    with Session(engine) as session:
        query = select(sa.func.count()).select_from(IncidentRow)
        query = query.where(IncidentRow.dimension == dimension.value, IncidentRow.value == value)
        return int(session.exec(query).one())


def list_incidents(engine: Engine, open_only: bool = False) -> list[IncidentRow]:
    """Incidents, newest first (only those not closed, if asked)."""
    query = select(IncidentRow)
    if open_only:
        query = query.where(IncidentRow.status != IncidentStatus.CLOSED.value)
    with Session(engine) as session:
        return list(session.exec(query.order_by(col(IncidentRow.opened_at).desc(), col(IncidentRow.incident_id))))


def find_incident(engine: Engine, incident: str) -> IncidentRow | None:
    """An incident by its id; or, given its workflow id (``incident-<dimension>-<value>``), the
    latest incident of that key."""
    with Session(engine) as session:
        row = session.get(IncidentRow, incident)
        if row is not None:
            return row
        query = select(IncidentRow).where(IncidentRow.workflow_id == incident)
        return session.exec(query.order_by(col(IncidentRow.opened_at).desc())).first()


@dataclass(frozen=True)
class LinkedComplaint:
    complaint_id: str
    customer_id: str
    status: str
    assignee: str | None
    received_at: datetime
    linked_at: datetime

    @property
    def closed(self) -> bool:
        return self.status in _CLOSED


def linked_complaints(engine: Engine, incident_id: str) -> list[LinkedComplaint]:
    """The incident's complaints, in the order linked, with where each stands."""
    c = _complaints.c
    query = (
        sa.select(c.complaint_id, c.customer_id, c.status, c.assignee, c.received_at, _links.c.linked_at)
        .join_from(_links, _complaints, _links.c.complaint_id == c.complaint_id)
        .where(_links.c.incident_id == incident_id)
        .order_by(_links.c.linked_at, c.received_at, c.complaint_id)
    )
    with engine.connect() as conn:
        return [LinkedComplaint(*row) for row in conn.execute(query)]


def record_links(session: Session, incident_id: str, complaint_ids: list[str], at: datetime) -> int:
    """Add the links not recorded yet (in ``session``, not committed); how many were new."""
    if not complaint_ids:
        return 0
    known = set(
        session.exec(
            select(IncidentComplaintRow.complaint_id).where(
                IncidentComplaintRow.incident_id == incident_id,
                col(IncidentComplaintRow.complaint_id).in_(complaint_ids),
            )
        )
    )
    new = [cid for cid in dict.fromkeys(complaint_ids) if cid not in known]
    for cid in new:
        session.add(IncidentComplaintRow(incident_id=incident_id, complaint_id=cid, linked_at=at))
    return len(new)
