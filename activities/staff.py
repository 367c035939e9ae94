"""Staff directory look-ups."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, select
from temporalio import activity

from db.tables import Complaint, Staff, StaffServiceEvent
from models.complaint import ServiceEvent, StaffLookupRequest, StaffRecord

from activities.logging import activity_logger

HISTORY_LIMIT = 20


class StaffActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def look_up_staff_record(self, request: StaffLookupRequest) -> StaffRecord:
        """Service history and service-quality score of the staff member a complaint names."""
        log = activity_logger(request.complaint_id)
        with Session(self._engine) as session:
            staff = session.get(Staff, request.staff_id)
            if staff is None:
                log.warning("staff member named in complaint not in directory", staff_id=request.staff_id)
                return StaffRecord(staff_id=request.staff_id, found=False)
            history = session.exec(
                select(StaffServiceEvent)
                .where(StaffServiceEvent.staff_id == staff.staff_id)
                .order_by(StaffServiceEvent.occurred_on.desc())
                .limit(HISTORY_LIMIT)
            ).all()
            naming = session.exec(
                select(func.count())
                .select_from(Complaint)
                .where(Complaint.staff_named == staff.staff_id, Complaint.complaint_id != request.complaint_id)
                .where(Complaint.closed_at.is_(None))
            ).one()
        log.info("staff record looked up", staff_id=staff.staff_id, score=staff.service_quality_score)
        return StaffRecord(
            staff_id=staff.staff_id,
            found=True,
            name=staff.name,
            role=staff.role,
            team=staff.team,
            service_quality_score=staff.service_quality_score,
            service_history=[
                ServiceEvent(occurred_on=h.occurred_on.isoformat(), kind=h.kind, note=h.note) for h in history
            ],
            open_complaints_naming_them=naming,
        )
