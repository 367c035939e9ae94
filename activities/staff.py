"""Staff directory look-ups."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio import activity

from activities.logging import activity_logger, bound_logger
from db.signed_actions import kept_nonces, record_signed_action
from db.staff_keys import keys_for
from db.tables import Complaint, Staff, StaffServiceEvent, TrainingAssignmentRow
from domain import training
from domain.policy import PolicyError, PolicyStore
from models.performance import TrainingStatus
from models.policy import Policy, Role
from models.signature import SignedAction, SigningPolicy, SigningRequest, SigningSetup
from models.staff import (
    HandlerChoice,
    HandlerChoiceRequest,
    RosterEntry,
    RosterRequest,
    ServiceEvent,
    StaffKeys,
    StaffLookupRequest,
    StaffRecord,
    StaffRoster,
)

HISTORY_LIMIT = 20


class StaffActivities:
    def __init__(self, engine: Engine, policies: PolicyStore | None = None) -> None:
        self._engine = engine
        self._policies = policies

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
        keys = keys_for(self._engine, [s.staff_id for s in staff])
        activity_logger(request.complaint_id).info("roster loaded", staff=len(staff), keys=len(keys))
        return StaffRoster(
            entries=[
                RosterEntry(staff_id=s.staff_id, name=s.name, role=Role(s.role), team=s.team, manager_id=s.manager_id)
                for s in staff
            ],
            keys=keys,
        )

    @activity.defn
    def load_staff_keys(self, request: RosterRequest) -> StaffKeys:
        """The registered public keys of active staff, as a complaint re-reads them after a key changed."""
        with Session(self._engine) as session:
            active = session.exec(select(Staff.staff_id).where(col(Staff.active).is_(True))).all()
        keys = keys_for(self._engine, active)
        activity_logger(request.complaint_id).info("staff keys loaded", keys=len(keys))
        return StaffKeys(keys=keys)

    @activity.defn
    def load_signing(self, request: SigningRequest) -> SigningSetup:
        """A cross-complaint workflow's signing: the current policy's mode and window, and the keys.

        Read once when the workflow starts (its staff actions are checked as the policy said then;
        a later policy does not change a running award or recall) and the keys again on
        ``refresh_staff_keys``. No policy store: nothing is checked.
        """
        with Session(self._engine) as session:
            active = session.exec(select(Staff.staff_id).where(col(Staff.active).is_(True))).all()
        keys = keys_for(self._engine, active)
        signing = self._policies.current.signing if self._policies is not None else SigningPolicy()
        bound_logger().info("signing loaded", mode=signing.mode.value, keys=len(keys))
        nonces = kept_nonces(self._engine, request.workflow_id)
        return SigningSetup(mode=signing.mode, window_seconds=signing.window_seconds, keys=keys, nonces=nonces)

    @activity.defn
    def record_signed_action(self, action: SignedAction) -> bool:
        """Keep an accepted staff action of a cross-complaint workflow as it was signed (once)."""
        kept = record_signed_action(self._engine, action)
        bound_logger().info(
            "signed action kept" if kept else "signed action already kept", action=action.action, actor=action.actor
        )
        return kept

    @activity.defn
    def choose_handler(self, request: HandlerChoiceRequest) -> HandlerChoice:
        """The active handler with the category's skill, the customer's language and the fewest open complaints.

        By the policy's switch, a complex or major complaint skips handlers overdue on training
        mandatory for its category; the reason names whom and why.
        """
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
        skipped = self._overdue_mandatory(request, [h.staff_id for h in candidates])
        candidates = [h for h in candidates if h.staff_id not in skipped]
        skips = "".join(f"; skipped {s}: overdue training {', '.join(c)}" for s, c in skipped.items())
        if not candidates:
            log.warning("no handler available", excluded=request.exclude, skipped=sorted(skipped))
            why = " or overdue on mandatory training" if skipped else ""
            return HandlerChoice(staff_id=None, reason=f"no active handler who is not implicated{why}{skips}")

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
        reason += skips
        log.info("handler chosen", staff_id=best.staff_id, reason=reason)
        return HandlerChoice(staff_id=best.staff_id, reason=reason)

    def _overdue_mandatory(self, request: HandlerChoiceRequest, staff_ids: list[str]) -> dict[str, list[str]]:
        """Handlers to skip, with their overdue courses mandatory for the complaint's category.

        Only by the policy's switch and for complex and major complaints. Overdue is what the
        assignment's workflow recorded (its timer fires at the due time). A catalogue that cannot
        be read skips nobody: a complaint must still get a handler.
        """
        if self._policies is None or not staff_ids:
            return {}
        policy = self._policy(request.policy_version)
        if not training.skips_handlers(policy, request.tier):
            return {}
        try:
            catalogue = training.load_catalogue(policy)
        except PolicyError as err:
            activity_logger(request.complaint_id).error("training not checked in routing", error=str(err))
            return {}
        with Session(self._engine) as session:
            rows = session.exec(
                select(TrainingAssignmentRow.staff_id, TrainingAssignmentRow.course).where(
                    col(TrainingAssignmentRow.staff_id).in_(staff_ids),
                    TrainingAssignmentRow.status == TrainingStatus.OVERDUE.value,
                )
            ).all()
        overdue: dict[str, set[str]] = {}
        for staff_id, course in rows:
            overdue.setdefault(staff_id, set()).add(course)
        blocking = {s: training.blocking_courses(catalogue, codes, request.category) for s, codes in overdue.items()}
        return {s: courses for s, courses in sorted(blocking.items()) if courses}

    def _policy(self, version: str | None) -> Policy:
        assert self._policies is not None
        if version is None:
            return self._policies.current
        try:
            return self._policies.get(version)
        except PolicyError:
            return self._policies.current
