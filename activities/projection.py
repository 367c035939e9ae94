"""Projects every state change into the database: the complaints row and the audit log."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import prevention
from activities.logging import activity_logger
from db.tables import Complaint, ComplaintClause, ComplaintEventRow, utc_now
from models.complaint import (
    ComplaintEvent,
    ComplaintEventBatch,
    ComplaintFacts,
    ComplaintProjection,
)


def _new_row(complaint_id: str, facts: ComplaintFacts, projection: ComplaintProjection) -> Complaint:
    return Complaint(
        complaint_id=complaint_id,
        workflow_id=facts.workflow_id,
        source_system=facts.source_system,
        source_reference=facts.source_reference,
        channel=facts.channel,
        category=facts.category,
        customer_id=facts.customer_id,
        customer_name=facts.customer_name,
        contract_number=facts.contract_number,
        staff_named=facts.staff_named,
        received_at=facts.received_at,
        product=facts.product,
        region=facts.region,
        status=projection.status.value,
        updated_at=utc_now(),
    )


def _apply(row: Complaint, p: ComplaintProjection, seq: int) -> None:
    row.status = p.status.value
    row.tier = p.tier.value if p.tier else None
    row.tier_rule = p.tier_rule
    row.policy_version = p.policy_version
    row.assignee = p.holder
    row.team = list(p.team)
    row.acknowledged_at = p.acknowledged_at
    row.next_deadline = p.next_deadline
    row.sla_breached = p.sla_breached
    row.closed_at = p.closed_at
    row.reopened_count = p.reopened_count
    row.root_cause = p.root_cause
    row.satisfaction = p.satisfaction
    row.outcome = p.outcome
    row.resolution_communication = p.resolution_communication.value if p.resolution_communication else None
    row.last_seq = seq
    row.updated_at = utc_now()


class ProjectionActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def record_complaint_events(self, batch: ComplaintEventBatch) -> int:
        """Several events of one step in order; returns how many this call wrote."""
        return sum(self.record_complaint_event(event) for event in batch.events)

    @activity.defn
    def record_complaint_event(self, event: ComplaintEvent) -> bool:
        """Append the event and update the projection; a retry of the same seq changes nothing.

        Returns whether this call wrote the event (False: it was already recorded). An event
        older than the row's last one is logged but does not roll the row back.
        """
        log = activity_logger(event.complaint_id)
        projection, facts = event.fields()
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
            with session.no_autoflush:  # the event row is added above: a race on it shows at commit
                row = session.get(Complaint, event.complaint_id)
            if row is None:
                if facts is None:
                    raise ApplicationError(
                        f"complaint {event.complaint_id} has no row yet and event {event.seq} carries no facts",
                        type="ValidationError",
                        non_retryable=True,
                    )
                row = _new_row(event.complaint_id, facts, projection)
                for clause in dict.fromkeys(c[:200] for c in facts.clause_references):
                    session.add(ComplaintClause(complaint_id=event.complaint_id, clause=clause))
                if event.snapshot is not None:
                    row.snapshot = event.snapshot.model_dump(mode="json")
            if event.seq > row.last_seq:
                _apply(row, projection, event.seq)
                if event.snapshot is not None:
                    row.snapshot = event.snapshot.model_dump(mode="json")
            prevention.project(session, row, event)  # step 5: the amounts in dispute, a root cause's clause
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                # A concurrent attempt with the same seq won the race: the event is recorded.
                session.rollback()
                log.info("event recorded concurrently", seq=event.seq, kind=event.kind)
                return False
        log.info("event recorded", seq=event.seq, kind=event.kind, status=projection.status.value)
        return True
