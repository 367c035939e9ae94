"""Whatever intake accepts, the database keeps, on SQLite and PostgreSQL.

The longest intake each category allows (every text field at its limit, read from the pydantic
model) is projected and acknowledged by the real activities; every text column it fills must
hold its value whole (the column lengths read from the tables). A longer limit in the model or
a narrower column fails here, on PostgreSQL as a refused write, on both as a value too long for
its column. The workflow's own writes of such an intake are covered through the real server by
tests/complaints/test_intake.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, String
from sqlmodel import Session, SQLModel, select
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities, OutboxNotifier
from activities.projection import ProjectionActivities
from db.tables import Complaint, ComplaintEventRow, OutboxMessage
from domain.classification import classify, initial_clocks
from domain.policy import PolicyStore
from models.complaint import ComplaintEvent, ComplaintFacts, ComplaintProjection, ComplaintSnapshot, Status
from models.intake import ComplaintIntake, workflow_id_for
from models.notifications import AcknowledgementRequest
from tests.intake_payloads import CATEGORIES, CONTACTS, longest_payload, text_fields


def too_long(row: SQLModel) -> list[str]:
    """Each text column of ``row`` whose value is longer than the column."""
    problems = []
    for column in type(row).__table__.columns:  # type: ignore[attr-defined]
        value, length = getattr(row, column.name), getattr(column.type, "length", None)
        if isinstance(column.type, String) and length and isinstance(value, str) and len(value) > length:
            problems.append(f"{column.table.name}.{column.name}: {len(value)} characters, column {length}")
    return problems


def test_every_text_field_of_the_intake_has_a_length_limit() -> None:
    # Without one, no column could be long enough: the check below relies on every limit.
    assert {f.loc: f.max_length for f in text_fields()}


@pytest.mark.parametrize("contact", CONTACTS)
@pytest.mark.parametrize("category", CATEGORIES)
def test_the_longest_intake_is_stored_and_acknowledged(
    engine: Engine, policies: PolicyStore, category: str, contact: str
) -> None:
    payload = longest_payload(category, contact)
    # Still as long as allowed, but its own complaint (source system + reference are unique).
    payload["source_reference"] = payload["source_reference"][:-12] + uuid.uuid4().hex[:12]
    intake = ComplaintIntake.model_validate(payload)
    complaint_id = intake.complaint_id
    snap = ComplaintSnapshot(
        complaint_id=complaint_id, workflow_id=workflow_id_for(complaint_id), status=Status.RECEIVED, intake=intake
    )
    received = ComplaintEvent(  # as step 1 (workflows/step1_intake.py) records it
        complaint_id=complaint_id,
        seq=1,
        kind="received",
        at=datetime.now(UTC),
        actor=f"intake:{intake.source_system}",
        detail={"channel": intake.channel.value},
        projection=ComplaintProjection.of(snap),
        facts=ComplaintFacts.of(snap),
    )
    policy = policies.current
    classification = classify(intake, policy)
    acknowledgement = AcknowledgementRequest(
        complaint_id=complaint_id,
        intake=intake,
        classification=classification,
        clocks=initial_clocks(classification.tier, intake.received_at, policy),
    )

    env = ActivityEnvironment()
    assert env.run(ProjectionActivities(engine).record_complaint_event, received)
    receipt = env.run(NotificationActivities(OutboxNotifier(engine), policies).send_acknowledgement, acknowledgement)

    with Session(engine) as session:
        row = session.get(Complaint, complaint_id)
        events = session.exec(select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == complaint_id)).all()
        messages = session.exec(select(OutboxMessage).where(OutboxMessage.complaint_id == complaint_id)).all()
    assert row is not None and row.customer_name == intake.customer.name
    assert row.source_reference == intake.source_reference
    assert [e.actor for e in events] == [received.actor]
    assert [m.recipient for m in messages] == [getattr(intake.customer, contact)] == [receipt.recipient]
    assert too_long(row) + [p for r in [*events, *messages] for p in too_long(r)] == []


@pytest.mark.parametrize("category", ["contract_dispute", "fees_and_interest"])
def test_the_largest_amounts_in_dispute_intake_allows_are_kept_whole_as_their_total(
    engine: Engine, category: str
) -> None:
    # The most intake allows: 50 amounts of 14 digits and 2 decimals (one for a fee complaint). SQLite
    # keeps NUMERIC as a double (as remedy_paid): exact to 15 significant digits, 13 before the point.
    exact = engine.dialect.name == "postgresql"
    largest = {"amount": "99999999999999.99" if exact else "9999999999999.99", "currency": "CNY"}
    payload = longest_payload(category, "email")
    payload["source_reference"] = payload["source_reference"][:-12] + uuid.uuid4().hex[:12]
    many = 49 if exact else 1
    if category == "contract_dispute":
        payload["details"]["amounts_in_dispute"] = [largest] * many + [{"amount": "5.00", "currency": "USD"}]
    else:
        payload["details"]["amount_disputed"] = largest
    intake = ComplaintIntake.model_validate(payload)
    snap = ComplaintSnapshot(
        complaint_id=intake.complaint_id,
        workflow_id=workflow_id_for(intake.complaint_id),
        status=Status.RECEIVED,
        intake=intake,
    )
    received = ComplaintEvent(
        complaint_id=intake.complaint_id,
        seq=1,
        kind="received",
        at=datetime.now(UTC),
        actor=f"intake:{intake.source_system}",
        projection=ComplaintProjection.of(snap),
        facts=ComplaintFacts.of(snap),
    )
    assert ActivityEnvironment().run(ProjectionActivities(engine).record_complaint_event, received)
    with Session(engine) as session:
        row = session.get(Complaint, intake.complaint_id)
    assert row is not None
    expected = Decimal(largest["amount"]) * (many if category == "contract_dispute" else 1)
    assert (row.amount_in_dispute, row.amount_currency) == (expected, "CNY"), "the first amount's currency, whole"
