"""Staff directory look-ups."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio import activity

from activities.logging import activity_logger
from db.tables import Complaint, Staff, StaffServiceEvent
from models.policy import Role
from models.staff import (
    HandlerChoice,
    HandlerChoiceRequest,
    RosterEntry,
    RosterRequest,
    ServiceEvent,
    StaffLookupRequest,
    StaffRecord,
    StaffRoster,
)

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
                .order_by(col(StaffServiceEvent.occurred_on).desc())
                .limit(HISTORY_LIMIT)
            ).all()
            naming = session.exec(
                select(func.count())
                .select_from(Complaint)
                .where(Complaint.staff_named == staff.staff_id, Complaint.complaint_id != request.complaint_id)
                .where(col(Complaint.closed_at).is_(None))
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

    @activity.defn
    def load_staff_roster(self, request: RosterRequest) -> StaffRoster:
        """Active staff with roles and managers, so the workflow's validators can check actors.

        Skills and languages stay here: only ``choose_handler`` needs them, and the workflow
        keeps the roster in its history and memory.
        """
        with Session(self._engine) as session:
            staff = session.exec(select(Staff).where(col(Staff.active).is_(True)).order_by(Staff.staff_id)).all()
        activity_logger(request.complaint_id).info("roster loaded", staff=len(staff))
        return StaffRoster(
            entries=[
                RosterEntry(staff_id=s.staff_id, name=s.name, role=Role(s.role), team=s.team, manager_id=s.manager_id)
                for s in staff
            ]
        )

    @activity.defn
    def choose_handler(self, request: HandlerChoiceRequest) -> HandlerChoice:
        """The active handler with the category's skill, the customer's language and the fewest open complaints."""
        log = activity_logger(request.complaint_id)
        with Session(self._engine) as session:
            handlers = session.exec(
                select(Staff).where(col(Staff.active).is_(True), Staff.role == "handler").order_by(Staff.staff_id)
            ).all()
            workload = dict(
                session.exec(
                    select(Complaint.assignee, func.count())
                    .where(col(Complaint.assignee).is_not(None), col(Complaint.closed_at).is_(None))
                    .group_by(Complaint.assignee)
                ).all()
            )
        candidates = [h for h in handlers if h.staff_id not in request.exclude]
        if not candidates:
            log.warning("no handler available", excluded=request.exclude)
            return HandlerChoice(staff_id=None, reason="no active handler who is not implicated")

        def rank(h: Staff) -> tuple[int, int, int, str]:
            return (
                request.category not in h.skills,
                request.language not in h.languages,
                workload.get(h.staff_id, 0),
                h.staff_id,
            )

        best = min(candidates, key=rank)
        skill, language, load, _ = rank(best)
        reason = (
            f"{'has' if not skill else 'lacks'} skill {request.category}, "
            f"{'speaks' if not language else 'does not speak'} {request.language}, {load} open complaints"
        )
        log.info("handler chosen", staff_id=best.staff_id, reason=reason)
        return HandlerChoice(staff_id=best.staff_id, reason=reason)
