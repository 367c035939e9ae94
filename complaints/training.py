"""Starting, completing and listing training assignments (client plumbing; step 4).

Every assignment is a ``TrainingAssignmentWorkflow`` with id ``training-<assignment_id>``: a
second start of the same assignment finds the first, running (``USE_EXISTING``) or closed
(``REJECT_DUPLICATE``: a completed assignment is not started again). Joining assignments are
``<staff>-<course>``, so ``ensure_joining_training`` may run at every worker start.

A manual assignment is its assigner's staff action (issue 16): signed with their key
(``KeyFileSigner.sign_as``, action ``assign_training`` on the assignment's workflow) and started together
with the workflow's ``admission`` update, which answers once the workflow checked the signature
and the assigner's role; a refusal raises ActionRefused. A refused run fails, so its id stays free
for a legitimate assignment (``ALLOW_DUPLICATE_FAILED_ONLY``); a completed one is still not
assigned again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from complaints.intake import ActionRefused
from complaints.keys import KeyFileSigner, Signer
from db.tables import Staff, TrainingAssignmentRow
from domain import training
from domain.times import fmt_utc
from models.performance import (
    CompleteTrainingRequest,
    TrainingActionResult,
    TrainingAdmission,
    TrainingAssignment,
    TrainingSource,
    TrainingStatus,
)
from models.policy import Policy
from workflows.step4_training import TrainingAssignmentWorkflow

START_TIMEOUT_SECONDS = 20.0


class AssignmentNotFound(LookupError):
    """No training assignment by that id."""


async def start_assignment(client: Client, task_queue: str, assignment: TrainingAssignment) -> tuple[str, bool]:
    """(workflow id, whether this call started it)."""
    workflow_id = training.workflow_id(assignment.assignment_id)
    try:
        handle = await client.start_workflow(
            TrainingAssignmentWorkflow.run,
            assignment,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Training {assignment.course} for {assignment.staff_id} ({assignment.source.value})",
        )
    except WorkflowAlreadyStartedError:
        return workflow_id, False  # done before: a completed assignment is not assigned again
    # The server says whether this start made a new run or found the running one; the SDK keeps
    # its answer on the handle (no public accessor yet), so read it defensively.
    response = getattr(handle, "_start_workflow_response", None)
    return workflow_id, bool(getattr(response, "started", True))


async def assign_training(
    client: Client,
    task_queue: str,
    assignment: TrainingAssignment,
    signer: KeyFileSigner | None = None,
) -> str:
    """Start the assignment's workflow (once, however often asked); its workflow id.

    A manual assignment is signed on the way with its assigner's key (``KeyFileSigner``, or
    ``signer``: the newest key the directory holds good, as for any action) and admitted by
    the workflow as it starts: refused (ActionRefused, the workflow's reason) if the signature or
    the assigner's role does not hold."""
    if not training.signed_by_assigner(assignment.source):
        workflow_id, _ = await start_assignment(client, task_queue, assignment)
        return workflow_id
    workflow_id = training.workflow_id(assignment.assignment_id)
    by = assignment.assigned_by
    signed = (signer or KeyFileSigner()).sign_as(by, workflow_id, training.ASSIGN_ACTION, assignment)
    await admit_assignment(client, task_queue, signed)
    return workflow_id


async def admit_assignment(client: Client, task_queue: str, assignment: TrainingAssignment) -> TrainingAdmission | None:
    """Start a manual assignment (signed as it is) with its ``admission`` update: what the workflow
    admitted (the running one's, if it was asked before), or None if it ran to its end before;
    ActionRefused with the workflow's reason."""
    workflow_id = training.workflow_id(assignment.assignment_id)
    start = WithStartWorkflowOperation(
        TrainingAssignmentWorkflow.run,
        assignment,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A refused start fails its run: the id is free again for a legitimate assignment; a
        # completed assignment is not assigned again.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        static_summary=f"Training {assignment.course} for {assignment.staff_id} (manual, by {assignment.assigned_by})",
    )
    try:
        return await client.execute_update_with_start_workflow(
            TrainingAssignmentWorkflow.admission, start_workflow_operation=start, id=str(uuid.uuid4())
        )
    except WorkflowAlreadyStartedError:
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await start.workflow_handle()  # the operation's own copy of the error, read (else logged as unread)
        return None  # done before: a completed assignment is not assigned again
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(f"assignment {assignment.assignment_id} refused: {cause}") from err


def joining_assignments(engine: Engine, policy: Policy) -> list[TrainingAssignment]:
    """Every active staff member times each course their role needs (raises PolicyError for a bad catalogue)."""
    catalogue = training.load_catalogue(policy)
    with Session(engine) as session:
        staff = session.exec(select(Staff).where(col(Staff.active).is_(True)).order_by(Staff.staff_id)).all()
    return [
        TrainingAssignment(
            assignment_id=training.joining_assignment_id(s.staff_id, course.code),
            staff_id=s.staff_id,
            course=course.code,
            source=TrainingSource.JOINING,
            reason=f"Joining: a {s.role.replace('_', ' ')} takes {course.title} (catalogue {catalogue.version})"[:500],
            assigned_by="system",
        )
        for s in staff
        for course in training.courses_for_role(catalogue, s.role)
    ]


async def ensure_joining_training(client: Client, task_queue: str, engine: Engine, policy: Policy) -> int:
    """Start each joining assignment not started before; how many were started now."""
    started = 0
    for assignment in joining_assignments(engine, policy):
        _, new = await start_assignment(client, task_queue, assignment)
        started += new
    return started


class TrainingStarter:
    """Starts assignments from a sync activity (run on the worker's thread pool).

    The client belongs to the worker's event loop, so the start is handed to that loop and the
    activity's thread waits for it. Build it on that loop (``build_worker`` runs there).
    """

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._client = client
        self._loop = loop or asyncio.get_running_loop()

    def assign(self, task_queue: str, assignment: TrainingAssignment) -> str:
        future = asyncio.run_coroutine_threadsafe(assign_training(self._client, task_queue, assignment), self._loop)
        try:
            return future.result(timeout=START_TIMEOUT_SECONDS)
        except FutureTimeout:
            future.cancel()
            raise


# ---- completing and reading -------------------------------------------------------------------


def find_assignment(engine: Engine, assignment_id: str) -> TrainingAssignmentRow | None:
    with Session(engine) as session:
        return session.get(TrainingAssignmentRow, assignment_id)


async def complete_training(
    client: Client, engine: Engine, request: CompleteTrainingRequest, signer: Signer[Any] | None = None
) -> TrainingActionResult:
    """Run the ``complete`` update on the assignment's workflow; a refusal raises ActionRefused.

    Signed on the way with the actor's key (``KeyFileSigner``, or ``signer``)."""
    row = find_assignment(engine, request.assignment_id)
    workflow_id = row.workflow_id if row else training.workflow_id(request.assignment_id)
    handle = client.get_workflow_handle_for(TrainingAssignmentWorkflow.run, workflow_id)
    signed = (signer or KeyFileSigner())(workflow_id, "complete", request)  # the update's name
    try:
        return await handle.execute_update(TrainingAssignmentWorkflow.complete, signed, id=str(uuid.uuid4()))
    except WorkflowUpdateFailedError as err:
        cause = getattr(err.cause, "message", None) or str(err.cause)
        raise ActionRefused(f"completion of {request.assignment_id} refused: {cause}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND and row is None:
            raise AssignmentNotFound(f"no training assignment {request.assignment_id}") from err
        if "completed" in err.message or err.status == RPCStatusCode.NOT_FOUND:
            done = f" {fmt_utc(row.completed_at)} by {row.completed_by}" if row and row.completed_at else ""
            raise ActionRefused(f"completion of {request.assignment_id} refused: already completed{done}") from err
        raise


def list_assignments(
    engine: Engine, staff_id: str | None = None, status: TrainingStatus | None = None
) -> list[TrainingAssignmentRow]:
    """Assignments, soonest due first (of one person, or in one status, if given)."""
    query = select(TrainingAssignmentRow)
    if staff_id:
        query = query.where(TrainingAssignmentRow.staff_id == staff_id)
    if status:
        query = query.where(TrainingAssignmentRow.status == status.value)
    with Session(engine) as session:
        ordered = query.order_by(col(TrainingAssignmentRow.due_at), col(TrainingAssignmentRow.staff_id))
        return list(session.exec(ordered))


def manual_assignment_id(staff_id: str, course: str, now: datetime | None = None) -> str:
    """A manager's assignment: one per person, course and day (asking twice the same day finds the first)."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"{staff_id}-{course}-manual-{day}"
