"""Contract clause reviews (step 5), client plumbing: the watch on its Schedule and on demand,
a review's state, and closing it.

The watch is ``ClauseWatchWorkflow``: on the Schedule ``complaints-clause-watch`` (every
``clause_review.watch_every_minutes``, one run at a time) and on demand (``run_watch``, what
``complaints clauses watch`` and the tests call). It opens a clause's review or links new citing
complaints to the open one; see ``workflows/step5_clauses.py``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
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
from db import clause_queries
from db.tables import ClauseReviewRow
from models.clause_review import (
    ClauseReviewResult,
    ClauseReviewState,
    ClauseWatchRequest,
    ClauseWatchResult,
    CloseReviewRequest,
)
from models.policy import Policy
from workflows.step5_clauses import ClauseReviewWorkflow, ClauseWatchWorkflow

WATCH_SCHEDULE = "complaints-clause-watch"


class ReviewNotFound(ComplaintNotFound):
    """No clause review by that id (nor a clause key with a review)."""


async def run_watch(client: Client, task_queue: str, requested_by: str = "on demand") -> ClauseWatchResult:
    """Count now and open or link reviews; what it did."""
    return await client.execute_workflow(
        ClauseWatchWorkflow.run,
        ClauseWatchRequest(requested_by=requested_by),
        id=f"clause-watch-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=10),
        static_summary=f"Count clause citations, asked for by {requested_by}",
    )


def watch_schedule(policy: Policy, task_queue: str, schedule_id: str = WATCH_SCHEDULE) -> Schedule:
    return interval_schedule(
        ClauseWatchWorkflow.run,
        ClauseWatchRequest(requested_by="schedule"),
        schedule_id=schedule_id,
        task_queue=task_queue,
        every=timedelta(minutes=policy.clause_review.watch_every_minutes),
        timeout=timedelta(minutes=10),
        summary="Count clause citations; open or link legal reviews",
    )


async def ensure_watch_schedule(
    client: Client, policy: Policy, task_queue: str, schedule_id: str = WATCH_SCHEDULE
) -> str:
    """Create or update the watch's schedule (its interval follows the policy)."""
    await create_or_update_schedule(client, schedule_id, watch_schedule(policy, task_queue, schedule_id))
    return schedule_id


def review_row(engine: Engine, review_id: str) -> ClauseReviewRow:
    row = clause_queries.find_review(engine, review_id)
    if row is None:
        raise ReviewNotFound(f"no clause review {review_id} (see `complaints clauses list`)")
    return row


async def review_state(
    client: Client, engine: Engine, review_id: str
) -> tuple[ClauseReviewRow, ClauseReviewState | None]:
    """The review's row, and its workflow's state while that run is this review's."""
    row = review_row(engine, review_id)
    try:
        state = await client.get_workflow_handle(row.workflow_id).query(ClauseReviewWorkflow.status)
    except RPCError:
        return row, None
    return row, state if state.request.review_id == row.review_id else None


async def close_review(
    client: Client, engine: Engine, request: CloseReviewRequest, signer: Signer[Any] | None = None
) -> ClauseReviewResult:
    """Run the ``close`` update, signed with the actor's key (``KeyFileSigner``, or ``signer``); a
    refusal raises ActionRefused with the workflow's reason."""
    row = review_row(engine, request.review_id)
    request = request.model_copy(update={"review_id": row.review_id})
    if row.status == "closed":
        raise ActionRefused(f"review {row.review_id} was already closed by {row.closed_by} ({row.outcome})")
    handle = client.get_workflow_handle_for(ClauseReviewWorkflow.run, row.workflow_id)
    signed = (signer or KeyFileSigner())(handle.id, "close", request)  # the update's name
    try:
        return await handle.execute_update(ClauseReviewWorkflow.close, signed, id=str(uuid.uuid4()))
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(f"closing {row.review_id}: {cause}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND or "completed" in err.message:
            raise ActionRefused(f"review {row.review_id} is already closed") from err
        raise
