"""What an investigation tells other workflows: a review flag to each other open complaint of the
staff it implicates, and its progress to its own complaint (recusal, a breach).

Plain functions over the investigation's file, called by ``InvestigationWorkflow`` in its own
turn; a complaint closed since the database last heard from it takes no signal, and that is
recorded (``delivered``), not retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.investigation import InvestigationActivities
    from models.investigation import (
        FlaggedComplaint,
        InvestigationFile,
        InvestigationProgressSignal,
        OpenComplaints,
        OpenComplaintsRequest,
        ReviewFlagSignal,
    )

Call = Callable[..., Awaitable[Any]]  # the investigation's own way to run an activity


async def flag_open_complaints(
    call: Call, file: InvestigationFile, staff_ids: list[str], actor: str, reason: str
) -> list[FlaggedComplaint]:
    """Flag the other open complaints of ``staff_ids`` for a manager's review (each once); the
    flags are added to ``file.flagged`` and returned."""
    found: OpenComplaints = await call(
        InvestigationActivities.find_open_complaints,
        OpenComplaintsRequest(
            investigation_id=file.investigation_id,
            staff_ids=sorted(set(staff_ids)),
            exclude_complaint_id=file.complaint_id,
        ),
        summary=f"Find other open complaints of {', '.join(sorted(set(staff_ids)))}",
    )
    done = {(f.complaint_id, f.staff_id) for f in file.flagged if f.delivered}
    flagged: list[FlaggedComplaint] = []
    for ref in found.complaints:
        if (ref.complaint_id, ref.staff_id) in done:
            continue
        try:
            await workflow.get_external_workflow_handle(ref.workflow_id).signal(
                "flag_for_review",
                ReviewFlagSignal(
                    investigation_id=file.investigation_id,
                    staff_id=ref.staff_id,
                    relation=ref.relation,
                    flagged_by=actor,
                    reason=reason,
                ),
            )
            delivered = True
        except FailureError:
            delivered = False  # it closed since the database last heard from it
        item = FlaggedComplaint(
            complaint_id=ref.complaint_id, staff_id=ref.staff_id, relation=ref.relation, delivered=delivered
        )
        file.flagged.append(item)
        flagged.append(item)
    return flagged


async def tell_complaint(complaint_workflow_id: str, file: InvestigationFile) -> None:
    """The complaint applies recusal at once (implicated staff stop handling it) and shows a breach."""
    try:
        await workflow.get_external_workflow_handle(complaint_workflow_id).signal(
            "investigation_progress",
            InvestigationProgressSignal(
                investigation_id=file.investigation_id,
                lead=file.lead,
                implicated=file.implicated,
                breached=file.breached,
            ),
        )
    except FailureError:
        workflow.logger.warning("complaint %s no longer takes signals", complaint_workflow_id)
