"""Step 1, intake and classification: record, classify by the pinned policy, look up the staff
member a service-attitude complaint names, acknowledge with the deadlines that apply."""

from __future__ import annotations

from temporalio import workflow

from activities.classification import ClassificationActivities
from activities.notifications import NotificationActivities
from activities.staff import StaffActivities
from models.complaint import (
    ClassificationResult,
    ClassifyRequest,
    ComplaintWorkflowInput,
    Status,
)
from models.intake import Category
from models.notifications import AcknowledgementRequest, NotificationReceipt
from models.staff import StaffLookupRequest, StaffRecord
from workflows import metrics
from workflows.case import Case


async def receive(case: Case, input: ComplaintWorkflowInput) -> None:
    """From the intake to the acknowledgement; the pinned rules come with the classification."""
    intake, snap = input.intake, case.snap
    case.describe("Received; classifying")
    await case.record("received", actor=f"intake:{intake.source_system}", detail={"channel": intake.channel.value})

    result: ClassificationResult = await case.call(
        ClassificationActivities.classify_complaint,
        ClassifyRequest(complaint_id=input.complaint_id, intake=intake),
        summary="Classify by the policy's rules",
    )
    cls = result.classification
    snap.classification, snap.clocks, snap.status = cls, result.clocks, Status.CLASSIFIED
    snap.summary_resolution_by = result.summary_resolution_by
    case.rules = result.rules
    metrics.filed(cls.tier.value, intake.category.value)
    if not case.lean:  # lean runs publish once, acknowledged
        case.publish()
    await case.record(
        "classified",
        detail={
            "tier": cls.tier.value,
            "rule": cls.rule_id,
            "matched": cls.matched,
            "policy_version": cls.policy_version,
        },
    )

    if intake.category == Category.SERVICE_ATTITUDE:
        staff_id: str = intake.details.staff_id  # type: ignore[union-attr]
        record: StaffRecord = await case.call(
            StaffActivities.look_up_staff_record,
            StaffLookupRequest(complaint_id=input.complaint_id, staff_id=staff_id),
            summary=f"Look up staff member {staff_id}",
        )
        snap.staff_record = record
        await case.record(
            "staff_record_looked_up",
            detail={"staff_id": staff_id, "found": record.found, "score": record.service_quality_score},
        )

    receipt: NotificationReceipt = await case.call(
        NotificationActivities.send_acknowledgement,
        AcknowledgementRequest(
            complaint_id=input.complaint_id, intake=intake, classification=cls, clocks=result.clocks
        ),
        summary="Acknowledge to the customer with the deadlines",
    )
    now = workflow.now()
    snap.acknowledged_at = now
    metrics.acknowledged(cls.tier.value, now - intake.received_at)
    for clock in case.board.named(["acknowledgement"]):
        case.board.settle(clock, now, "acknowledgement", strict=True)
    snap.status = Status.AWAITING_ASSIGNMENT
    case.publish()
    await case.record("acknowledged", detail={"channel": receipt.channel, "recipient": receipt.recipient})
    await case.flush()
