"""The investigation's I/O: its audit log, other open complaints of implicated staff, and the
accountability entry in each responsible person's service history (step 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, String, cast, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client

from activities.logging import activity_logger
from db.tables import (
    Complaint,
    InvestigationEventRow,
    InvestigationRow,
    StaffServiceEvent,
    utc_now,
)
from domain import training
from domain.policy import PolicyStore
from models.investigation import (
    AccountabilityRecordRequest,
    InvestigationEvent,
    OpenComplaintRef,
    OpenComplaints,
    OpenComplaintsRequest,
)
from models.performance import TrainingAssignment, TrainingSource
from models.roles import Accountability

if TYPE_CHECKING:
    from complaints.training import TrainingStarter


class InvestigationActivities:
    def __init__(self, engine: Engine, policies: PolicyStore, client: Client | None = None) -> None:
        """With a Temporal client (``build_worker`` passes it, on the worker's loop), a 'training'
        decision starts each person's training assignment."""
        self._engine = engine
        self._policies = policies
        self._starter: TrainingStarter | None = None
        if client is not None:
            # Imported here: the client plumbing imports the workflows, which import this module.
            from complaints.training import TrainingStarter

            self._starter = TrainingStarter(client)

    @activity.defn
    def record_investigation_event(self, event: InvestigationEvent) -> bool:
        """Append the event and update the investigations row; a retry of the same seq changes nothing."""
        log = activity_logger(event.complaint_id).bind(investigation_id=event.investigation_id)
        file = event.file
        with Session(self._engine) as session:
            already = session.exec(
                select(InvestigationEventRow.id).where(
                    InvestigationEventRow.investigation_id == event.investigation_id,
                    InvestigationEventRow.seq == event.seq,
                )
            ).first()
            if already is not None:
                log.info("investigation event already recorded", seq=event.seq, kind=event.kind)
                return False
            session.add(
                InvestigationEventRow(
                    investigation_id=event.investigation_id,
                    seq=event.seq,
                    kind=event.kind,
                    actor=event.actor,
                    at=event.at,
                    detail=event.detail,
                    recorded_at=utc_now(),
                )
            )
            row = session.get(InvestigationRow, event.investigation_id) or InvestigationRow(
                investigation_id=event.investigation_id,
                complaint_id=event.complaint_id,
                stage=file.stage.value,
                opened_at=file.opened_at,
                updated_at=utc_now(),
            )
            if event.seq > row.last_seq:
                decision = file.decision
                row.stage, row.lead, row.last_seq = file.stage.value, file.lead, event.seq
                row.due_at = file.clock.due_at if file.clock else None
                row.breached, row.concluded_at = file.breached, file.concluded_at
                row.accountability = decision.decision if decision else None
                row.suspected_illegal = file.suspected_illegal
                row.file, row.updated_at = file.model_dump(mode="json"), utc_now()
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                log.info("investigation event recorded concurrently", seq=event.seq, kind=event.kind)
                return False
        log.info("investigation event recorded", seq=event.seq, kind=event.kind, stage=file.stage.value)
        return True

    @activity.defn
    def find_open_complaints(self, request: OpenComplaintsRequest) -> OpenComplaints:
        """Other open complaints the staff handle, help with, or are named in."""
        log = activity_logger(request.exclude_complaint_id)
        wanted = set(request.staff_ids)
        found: list[OpenComplaintRef] = []
        # Handler, named staff and team are columns; the team is a JSON list, so the database
        # narrows to rows whose team mentions them and Python checks membership.
        mentions = [cast(Complaint.team, String).contains(f'"{staff_id}"') for staff_id in sorted(wanted)]
        with Session(self._engine) as session:
            rows = session.exec(
                select(Complaint)
                .where(col(Complaint.closed_at).is_(None), Complaint.complaint_id != request.exclude_complaint_id)
                .where(or_(col(Complaint.assignee).in_(wanted), col(Complaint.staff_named).in_(wanted), *mentions))
                .order_by(col(Complaint.received_at))
            ).all()
        for row in rows:
            team = set(row.team or [])
            for staff_id in sorted(wanted):
                relation: Literal["handler", "team", "named"] | None = (
                    "handler"
                    if row.assignee == staff_id
                    else "named"
                    if row.staff_named == staff_id
                    else "team"
                    if staff_id in team
                    else None
                )
                if relation:
                    found.append(
                        OpenComplaintRef(
                            complaint_id=row.complaint_id,
                            workflow_id=row.workflow_id,
                            staff_id=staff_id,
                            relation=relation,
                        )
                    )
        log.info("open complaints of implicated staff", staff=sorted(wanted), found=len(found))
        return OpenComplaints(complaints=found)

    @activity.defn
    def record_accountability(self, request: AccountabilityRecordRequest) -> int:
        """One service-history entry per responsible person, keyed by investigation and person."""
        log = activity_logger(request.complaint_id).bind(investigation_id=request.investigation_id)
        policy = self._policies.get(request.policy_version)
        day = request.decided_on.astimezone(ZoneInfo(policy.timezone)).date()
        written = 0
        for staff_id in request.staff_ids:
            key = f"{request.investigation_id}:{staff_id}:accountability"
            with Session(self._engine) as session:
                if session.exec(select(StaffServiceEvent.id).where(StaffServiceEvent.source_key == key)).first():
                    continue
                session.add(
                    StaffServiceEvent(
                        staff_id=staff_id,
                        occurred_on=day,
                        kind=request.decision,
                        source_key=key,
                        note=f"Investigation {request.investigation_id} ({request.complaint_id}): {request.reason}"[
                            :500
                        ],
                    )
                )
                try:
                    session.commit()
                    written += 1
                except IntegrityError:
                    session.rollback()  # a concurrent attempt wrote it
        log.info("accountability recorded", decision=request.decision, staff=request.staff_ids, written=written)
        if request.decision == Accountability.TRAINING:
            self._assign_training(request, policy.performance.training.investigation_course)
        return written

    def _assign_training(self, request: AccountabilityRecordRequest, course: str) -> None:
        """Each person's assignment of the policy's course; on every try, since a start is
        idempotent by workflow id (a crash after the entries were written still assigns)."""
        log = activity_logger(request.complaint_id).bind(investigation_id=request.investigation_id)
        if self._starter is None:
            log.warning("training decided but this worker has no Temporal client to assign it", course=course)
            return
        for staff_id in request.staff_ids:
            workflow_id = self._starter.assign(
                activity.info().task_queue,
                TrainingAssignment(
                    assignment_id=training.investigation_assignment_id(request.investigation_id, staff_id, course),
                    staff_id=staff_id,
                    course=course,
                    source=TrainingSource.INVESTIGATION,
                    reason=f"Investigation {request.investigation_id} ({request.complaint_id}): {request.reason}"[:500],
                    assigned_by=request.investigation_id,
                    assigned_at=request.decided_on,
                ),
            )
            log.info("training assigned", staff_id=staff_id, course=course, workflow_id=workflow_id)
