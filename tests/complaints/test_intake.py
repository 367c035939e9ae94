"""Generated intakes, valid and invalid, filed through the real server on PostgreSQL.

Every accepted complaint is stored (its projection row) and acknowledged (its outbox message);
every refused one names its field and leaves nothing behind: no workflow, no row, no message.
Valid payloads include the longest each category allows, so every write the workflow makes of
an intake is tried at the limits of the model against PostgreSQL's columns.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import FilingOutcome, validate_intake
from db.tables import Complaint, ComplaintEventRow, OutboxMessage
from models.intake import MAX_DESCRIPTION_CHARS, complaint_id_for, workflow_id_for
from tests.conftest import Service
from tests.helpers import complaint_row, eventually, outbox
from tests.intake_payloads import CATEGORIES, CONTACTS, Mutation, longest_payload, mutations, valid_payloads

# PostgreSQL only: it is the database that refuses what SQLite would keep (and under CI=true
# the fixture fails instead of skipping when PostgreSQL is unreachable).
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

Filing = tuple[dict[str, Any], Mutation | None, str | None]


@st.composite
def filings(draw: st.DrawFn) -> Filing:
    """A valid payload (sometimes the longest allowed), and half the time what makes it invalid."""
    longest = st.builds(longest_payload, st.sampled_from(CATEGORIES), st.sampled_from(CONTACTS))
    payload = copy.deepcopy(draw(st.one_of(valid_payloads(), longest)))
    if draw(st.booleans()):
        return payload, None, None
    mutate, field = draw(mutations(payload))
    return payload, mutate, field


def own_complaint(payload: dict[str, Any]) -> str:
    """Make the payload a complaint of its own, received just now; returns its source reference."""
    reference = f"PROP-{uuid.uuid4().hex[:12]}"
    payload["source_reference"] = str(payload["source_reference"])[: 128 - len(reference)].strip() + reference
    payload["received_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    return payload["source_reference"]


async def traces(service: Service, payload: dict[str, Any], reference: str) -> list[str]:
    """What a filing left behind: rows with its source reference; the workflow, and messages,
    of the complaint id it would have had."""
    with Session(service.engine) as session:
        rows = session.exec(select(Complaint).where(Complaint.source_reference == reference)).all()
    left = [f"row {r.complaint_id}" for r in rows]
    source_system, source_reference = payload.get("source_system"), payload.get("source_reference")
    if isinstance(source_system, str) and isinstance(source_reference, str):
        complaint_id = complaint_id_for(source_system.strip(), source_reference.strip())
        left += [f"message {m.kind}" for m in outbox(service.engine, complaint_id)]
        try:
            await service.client.get_workflow_handle(workflow_id_for(complaint_id)).describe()
            left.append(f"workflow {workflow_id_for(complaint_id)}")
        except RPCError as err:
            assert err.status == RPCStatusCode.NOT_FOUND, err
    return left


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(filing=filings())
async def test_filed_intakes_are_stored_and_acknowledged_or_refused_without_a_trace(
    service: Service, filing: Filing
) -> None:
    payload, mutate, field = copy.deepcopy(filing[0]), filing[1], filing[2]
    reference = own_complaint(payload)
    if mutate is not None:
        mutate(payload)

    result = await service.intake.file(payload)
    longest = len(str(filing[0]["description"])) == MAX_DESCRIPTION_CHARS
    event(f"{result.outcome.value}: {field or 'valid'}{' (longest)' if longest else ''}")

    if field is None:
        assert result.outcome == FilingOutcome.FILED, result.errors
        assert result.complaint_id is not None
        intake = validate_intake(payload)
        complaint_id = result.complaint_id

        async def acknowledged() -> list[OutboxMessage] | None:
            return outbox(service.engine, complaint_id, "acknowledgement") or None

        [message] = await eventually(acknowledged, timeout=60, what=f"acknowledgement of {complaint_id}")
        customer = intake.customer
        assert message.recipient == (customer.email or customer.phone or customer.postal_address)

        async def stored() -> Complaint | None:
            return complaint_row(service.engine, complaint_id)

        row = await eventually(stored, timeout=60, what=f"projection row of {complaint_id}")
        assert (row.customer_name, row.source_reference) == (customer.name, intake.source_reference)
        return

    assert result.outcome == FilingOutcome.REJECTED
    assert any(e.startswith(f"{field}:") for e in result.errors), (field, result.errors)
    assert result.complaint_id is None
    assert await traces(service, payload, reference) == []


@pytest.mark.parametrize("category", CATEGORIES)
async def test_the_longest_intake_of_each_category_is_stored_and_acknowledged(service: Service, category: str) -> None:
    """Every text field at its limit, through the workflow's own writes (the audit log's actor
    ``intake:<source_system>``, the projection row, the letter, e-mail or SMS recipient)."""
    contact = CONTACTS[CATEGORIES.index(category) % len(CONTACTS)]
    payload = longest_payload(category, contact)
    own_complaint(payload)

    result = await service.intake.file(payload)

    assert result.outcome == FilingOutcome.FILED, result.errors
    complaint_id = str(result.complaint_id)

    async def acknowledged_and_stored() -> tuple[OutboxMessage, Complaint] | None:
        messages = outbox(service.engine, complaint_id, "acknowledgement")
        row = complaint_row(service.engine, complaint_id)
        return (messages[0], row) if messages and row else None

    message, row = await eventually(acknowledged_and_stored, timeout=60, what=f"{complaint_id} stored and acknowledged")
    assert message.recipient == payload["customer"][contact]
    assert row.customer_name == payload["customer"]["name"]
    assert first_actor(service, complaint_id) == f"intake:{payload['source_system']}"


def first_actor(service: Service, complaint_id: str) -> str:
    with Session(service.engine) as session:
        return session.exec(
            select(ComplaintEventRow.actor).where(
                ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.seq == 1
            )
        ).one()
