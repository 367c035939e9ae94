"""Projects every state change into the database: the complaints row and the audit log."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from activities.logging import activity_logger
from db.tables import Complaint, ComplaintEventRow, utc_now
from models.complaint import ComplaintEvent, ComplaintSnapshot


def _apply_snapshot(row: Complaint, snap: ComplaintSnapshot, seq: int) -> None:
    intake = snap.intake
    row.status = snap.status.value
    row.tier = snap.classification.tier.value if snap.classification else None
    row.tier_rule = snap.classification.rule_id if snap.classification else None
    row.policy_version = snap.classification.policy_version if snap.classification else None
    row.assignee = snap.holder
    row.acknowledged_at = snap.acknowledged_at
    row.next_deadline = snap.next_deadline
    row.sla_breached = snap.sla_breached
    row.closed_at = snap.closed_at
    row.reopened_count = snap.reopened_count
    row.root_cause = snap.root_cause.code if snap.root_cause else None
    row.satisfaction = snap.closure.satisfaction if snap.closure else None
    row.outcome = snap.closure.outcome if snap.closure else None
    row.customer_name = intake.customer.name
    row.contract_number = intake.contract_number
    row.staff_named = getattr(intake.details, "staff_id", None)
    row.snapshot = snap.model_dump(mode="json")
    row.last_seq = seq
    row.updated_at = utc_now()


class ProjectionActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def record_complaint_event(self, event: ComplaintEvent) -> bool:
        """Append the event and update the projection; a retry of the same seq changes nothing.

        Returns whether this call wrote the event (False: it was already recorded).
        """
        log = activity_logger(event.complaint_id)
        snap = event.snapshot
        with Session(self._engine) as session:
            already = session.exec(
                select(ComplaintEventRow.id).where(
                    ComplaintEventRow.complaint_id == event.complaint_id, ComplaintEventRow.seq == event.seq
                )
            ).first()
            if already is not None:
                log.info("event already recorded", seq=event.seq, kind=event.kind)
                return False
            session.add(
                ComplaintEventRow(
                    complaint_id=event.complaint_id,
                    seq=event.seq,
                    kind=event.kind,
                    actor=event.actor,
                    at=event.at,
                    detail=event.detail,
                    recorded_at=utc_now(),
                )
            )
            row = session.get(Complaint, event.complaint_id)
            if row is None:
                row = Complaint(
                    complaint_id=snap.complaint_id,
                    workflow_id=snap.workflow_id,
                    source_system=snap.intake.source_system,
                    source_reference=snap.intake.source_reference,
                    channel=snap.intake.channel.value,
                    category=snap.intake.category.value,
                    customer_id=snap.intake.customer.customer_id,
                    received_at=snap.intake.received_at,
                    status=snap.status.value,
                    customer_name=snap.intake.customer.name,
                    updated_at=utc_now(),
                )
            if event.seq > row.last_seq:
                _apply_snapshot(row, snap, event.seq)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                # A concurrent attempt with the same seq won the race: the event is recorded.
                session.rollback()
                log.info("event recorded concurrently", seq=event.seq, kind=event.kind)
                return False
        log.info("event recorded", seq=event.seq, kind=event.kind, status=snap.status.value)
        return True
