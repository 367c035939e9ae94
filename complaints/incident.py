"""Surges and incidents (step 6.2), client plumbing: the surge watch on its Schedule and on demand,
an incident's state, and the staff's actions on it.

The watch is ``SurgeWatchWorkflow``: on the Schedule ``complaints-surge-watch`` (every
``surge.check_every``, one count at a time) and on demand (``run_watch``, what ``complaints
incident watch`` and the tests call). It opens a key's incident or links new complaints to the
open one; see ``workflows/step6_incident.py``. ``lead``, ``report`` and ``close`` are updates on
the incident's workflow: a refusal raises ``ActionRefused`` with the workflow's reason. Each is
signed on the way with its actor's key (``KeyFileSigner``, or the ``signer`` given: the CLI's),
action name the update's, on the incident's workflow id (issue 16).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio.client import (
    Client,
    Schedule,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import ActionRefused, ComplaintNotFound
from complaints.keys import KeyFileSigner, Signer
from complaints.schedules import create_or_update_schedule, interval_schedule
from db import surge_queries
from db.tables import IncidentRow
from domain.calendar import add_limit
from models.incident import (
    AssignLeadRequest,
    CloseIncidentRequest,
    IncidentActionResult,
    IncidentReviewRequest,
    IncidentState,
    SurgeWatchRequest,
    SurgeWatchResult,
)
from models.policy import Policy
from workflows.step6_incident import IncidentWorkflow, SurgeWatchWorkflow

WATCH_SCHEDULE = "complaints-surge-watch"


class IncidentNotFound(ComplaintNotFound):
    """No incident by that id (nor a key's workflow id with an incident)."""


async def run_watch(client: Client, task_queue: str, requested_by: str = "on demand") -> SurgeWatchResult:
    """Count now; open or join incidents; what it did."""
    return await client.execute_workflow(
        SurgeWatchWorkflow.run,
        SurgeWatchRequest(requested_by=requested_by),
        id=f"surge-watch-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=10),
        static_summary=f"Count complaints for surges, asked for by {requested_by}",
    )


def check_every(policy: Policy) -> timedelta:
    """The watch's interval (``surge.check_every``, at least a second)."""
    now = datetime.now(UTC)
    return max(add_limit(now, policy.surge.check_every, policy).due_at - now, timedelta(seconds=1))


def surge_watch_schedule(policy: Policy, task_queue: str, schedule_id: str = WATCH_SCHEDULE) -> Schedule:
    return interval_schedule(
        SurgeWatchWorkflow.run,
        SurgeWatchRequest(requested_by="schedule"),
        schedule_id=schedule_id,
        task_queue=task_queue,
        every=check_every(policy),
        timeout=timedelta(minutes=10),
        summary="Count complaints per product, category, channel and region; open or join incidents",
    )


async def ensure_surge_watch_schedule(
    client: Client, policy: Policy, task_queue: str, schedule_id: str = WATCH_SCHEDULE
) -> str:
    """Create or update the surge watch's schedule (its interval follows the policy)."""
    await create_or_update_schedule(client, schedule_id, surge_watch_schedule(policy, task_queue, schedule_id))
    return schedule_id


def incident_row(engine: Engine, incident: str) -> IncidentRow:
    row = surge_queries.find_incident(engine, incident)
    if row is None:
        raise IncidentNotFound(f"no incident {incident} (see `complaints incident list`)")
    return row


async def incident_state(client: Client, engine: Engine, incident: str) -> tuple[IncidentRow, IncidentState | None]:
    """The incident's row, and its workflow's state while that workflow is this incident's."""
    row = incident_row(engine, incident)
    try:
        state = await client.get_workflow_handle(row.workflow_id).query(IncidentWorkflow.status)
    except RPCError:
        return row, None
    return row, state if state.incident_id == row.incident_id else None


async def _update(
    client: Client, engine: Engine, update: Any, name: str, request: Any, signer: Signer[Any] | None
) -> IncidentActionResult:
    row = incident_row(engine, request.incident_id)
    request = request.model_copy(update={"incident_id": row.incident_id})  # the incident itself is signed
    if row.status == "closed":
        raise ActionRefused(f"incident {row.incident_id} was already closed by {row.closed_by}")
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, row.workflow_id)
    signed = (signer or KeyFileSigner())(row.workflow_id, name, request)  # the update's name
    try:
        result: IncidentActionResult = await handle.execute_update(update, signed, id=str(uuid.uuid4()))
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(cause) from err  # the workflow's reason names the incident
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND or "completed" in err.message:
            raise ActionRefused(f"incident {row.incident_id} is already closed") from err
        raise
    return result


async def assign_lead(
    client: Client, engine: Engine, request: AssignLeadRequest, signer: Signer[Any] | None = None
) -> IncidentActionResult:
    return await _update(client, engine, IncidentWorkflow.assign_lead, "assign_lead", request, signer)


async def record_review(
    client: Client, engine: Engine, request: IncidentReviewRequest, signer: Signer[Any] | None = None
) -> IncidentActionResult:
    return await _update(client, engine, IncidentWorkflow.record_review, "record_review", request, signer)


async def close_incident(
    client: Client, engine: Engine, request: CloseIncidentRequest, signer: Signer[Any] | None = None
) -> IncidentActionResult:
    return await _update(client, engine, IncidentWorkflow.close, "close", request, signer)
