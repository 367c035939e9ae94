"""Counting complaints for surges in SQL, and an incident's links (SQLite and PostgreSQL).

The rows lie in 2035, about a product and a region of this run's own: no other test's complaints
are counted for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, delete

from db import surge_queries
from db.tables import Complaint, IncidentComplaintRow, IncidentRow
from domain import surge
from models.base import TimeLimit, TimeUnit
from models.incident import SurgeDimension, SurgePolicy

NOW = datetime(2035, 6, 30, 12, 0, tzinfo=UTC)
TOKEN = uuid.uuid4().hex[:6].upper()
PRODUCT = f"sq-{TOKEN.lower()}"
REGION = f"Q{TOKEN[:1]}-{TOKEN[1:4]}"
POLICY = SurgePolicy(
    dimensions=[SurgeDimension.PRODUCT, SurgeDimension.REGION],
    window=TimeLimit(amount=120, unit=TimeUnit.SECONDS),
    baseline_windows=8,
    factor=3.0,
    min_complaints=4,
)


def _id(n: int) -> str:
    return f"SQ{TOKEN}{n}"


def complaint(n: int, seconds_ago: float, **fields: Any) -> Complaint:
    received = NOW - timedelta(seconds=seconds_ago)
    defaults: dict[str, Any] = dict(
        workflow_id=f"complaint-{_id(n)}",
        source_system="test",
        source_reference=_id(n),
        channel="phone",
        category="fees_and_interest",
        status="in_handling",
        customer_id=f"SQ-{n % 3}",
        customer_name="Customer",
        product=PRODUCT,
        region=REGION,
        snapshot={},
        updated_at=received,
    )
    return Complaint(complaint_id=_id(n), received_at=received, **(defaults | fields))


@pytest.fixture
def burst(engine: Engine) -> Iterator[Engine]:
    rows = [
        complaint(1, 5),
        complaint(2, 30),
        complaint(3, 60, region=None),  # no region on file: counted for the product only
        complaint(4, 119.5, status="closed"),
        complaint(5, 120),  # on the boundary: the window before
        complaint(6, 400),  # window 3
        complaint(7, 9 * 120 + 1),  # before the baseline: not read
        complaint(8, -30),  # after now: not read
    ]
    ids = [r.complaint_id for r in rows]
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    yield engine
    with Session(engine) as session:
        session.exec(delete(IncidentComplaintRow).where(col(IncidentComplaintRow.complaint_id).in_(ids)))
        session.exec(delete(IncidentRow).where(col(IncidentRow.value).in_([PRODUCT, REGION])))
        session.exec(delete(Complaint).where(col(Complaint.complaint_id).in_(ids)))
        session.commit()


def _mine(rows: list[tuple[str, str, int, int]]) -> list[tuple[str, str, int, int]]:
    return [r for r in rows if r[1] in (PRODUCT, REGION)]


def test_complaints_are_counted_per_key_and_window(burst: Engine) -> None:
    rows = surge_queries.window_counts(burst, POLICY, NOW)
    assert _mine(rows) == [
        ("product", PRODUCT, 0, 4),
        ("product", PRODUCT, 1, 1),
        ("product", PRODUCT, 3, 1),
        ("region", REGION, 0, 3),
        ("region", REGION, 1, 1),
        ("region", REGION, 3, 1),
    ]
    found = {f.key: f for f in surge.figures(rows, POLICY, NOW) if f.value in (PRODUCT, REGION)}
    assert found[f"product={PRODUCT}"].surging and found[f"product={PRODUCT}"].count == 4
    assert not found[f"region={REGION}"].surging  # 3 < the minimum of 4
    only_products = POLICY.model_copy(update={"dimensions": [SurgeDimension.PRODUCT]})
    assert {r[0] for r in _mine(surge_queries.window_counts(burst, only_products, NOW))} == {"product"}


def test_matching_complaints_and_links(burst: Engine) -> None:
    since = NOW - timedelta(seconds=120)
    product = SurgeDimension.PRODUCT
    assert surge_queries.matching(burst, product, PRODUCT, since) == [_id(4), _id(3), _id(2), _id(1), _id(8)]
    assert surge_queries.matching(burst, SurgeDimension.REGION, REGION, since) == [_id(4), _id(2), _id(1), _id(8)]

    incident = surge.incident_id(product, PRODUCT, 1)
    with Session(burst) as session:
        session.add(
            IncidentRow(
                incident_id=incident,
                workflow_id=surge.workflow_id(product, PRODUCT),
                dimension="product",
                value=PRODUCT,
                status="open",
                opened_at=NOW,
                window_start=since,
                updated_at=NOW,
            )
        )
        assert surge_queries.record_links(session, incident, [_id(1), _id(2), _id(1)], NOW) == 2
        session.commit()
    with Session(burst) as session:
        assert surge_queries.record_links(session, incident, [_id(2), _id(4)], NOW + timedelta(seconds=1)) == 1
        session.commit()
    assert surge_queries.matching(burst, product, PRODUCT, since, unlinked_from=incident) == [_id(3), _id(8)]
    linked = surge_queries.linked_complaints(burst, incident)
    assert [(c.complaint_id, c.closed) for c in linked] == [(_id(2), False), (_id(1), False), (_id(4), True)]
    assert surge_queries.taken(burst, product, PRODUCT) == set(), "an open incident takes nothing yet"
    assert [r.incident_id for r in surge_queries.open_incidents(burst) if r.value == PRODUCT] == [incident]
    assert surge_queries.incidents_of(burst, product, PRODUCT) == 1
    assert surge_queries.find_incident(burst, incident) is not None
    found = surge_queries.find_incident(burst, surge.workflow_id(product, PRODUCT))
    assert found is not None and found.incident_id == incident

    with Session(burst) as session:
        row = session.get(IncidentRow, incident)
        assert row is not None
        row.status = "closed"
        session.add(row)
        session.commit()
    assert surge_queries.taken(burst, product, PRODUCT) == {_id(1), _id(2), _id(4)}
    assert [r.incident_id for r in surge_queries.open_incidents(burst) if r.value == PRODUCT] == []
