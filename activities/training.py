"""A training assignment's I/O: its plan from the catalogue and directory, its row, its notices,
and the completion in the trainee's service history.

Each is idempotent on a business key: the row on ``assignment_id`` (an upsert that never moves
a timestamp already written back), a notice on ``training:<assignment_id>:<kind>``, and the
service-history entry on ``training:<assignment_id>``, so a retry after a crash writes and sends
nothing twice.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.logging import bound_logger
from activities.notifications import Notifier, OutboxNotifier, send_staff_notices
from db.tables import Staff, StaffServiceEvent, TrainingAssignmentRow, utc_now
from domain import training
from domain.policy import PolicyStore
from domain.times import kept_first
from models.performance import (
    TrainingAssignment,
    TrainingCompletion,
    TrainingNotice,
    TrainingPlan,
    TrainingRecord,
)
from models.roles import Role


def _refuse(message: str) -> ApplicationError:
    """Bad input (an unknown course or person) will not heal by retrying: fail the assignment."""
    return ApplicationError(message, type="TrainingRefused", non_retryable=True)


class TrainingActivities:
    def __init__(self, engine: Engine, policies: PolicyStore, notifier: Notifier | None = None) -> None:
        self._engine = engine
        self._policies = policies
        self._notifier = notifier or OutboxNotifier(engine)

    @activity.defn
    def plan_training(self, assignment: TrainingAssignment) -> TrainingPlan:
        """The course's title and dates under the current policy, and who is told and may complete it."""
        policy = self._policies.current
        catalogue = training.load_catalogue(policy)
        course = catalogue.course(assignment.course)
        if course is None:
            raise _refuse(f"no course {assignment.course!r} in training catalogue {catalogue.version}")
        assigned_at = assignment.assigned_at or utc_now()
        due = assignment.due_at or training.due_at(course, assigned_at, policy)
        with Session(self._engine) as session:
            trainee = session.get(Staff, assignment.staff_id)
            if trainee is None:
                raise _refuse(f"no staff member {assignment.staff_id} in the staff directory")
            active = session.exec(select(Staff).where(col(Staff.active).is_(True))).all()
        # A manual assignment's assigner: the workflow checks their role itself (the CLI's check
        # is the assigner's own machine's, which a forged --as passes by).
        assigner = next((s for s in active if s.staff_id == assignment.assigned_by), None)
        assigner_role = Role(assigner.role) if assigner and training.signed_by_assigner(assignment.source) else None
        seniors = sorted(s.staff_id for s in active if s.role == Role.SENIOR_MANAGER and s.staff_id != trainee.staff_id)
        renew = training.renewal_after(course, assignment.source, assigned_at, policy)
        plan = TrainingPlan(
            assignment_id=assignment.assignment_id,
            staff_id=trainee.staff_id,
            trainee_name=trainee.name,
            course=course.code,
            course_title=course.title,
            catalogue_version=catalogue.version,
            assigned_at=assigned_at,
            due_at=due,
            reminder_at=training.reminder_at(assigned_at, due, policy.performance.training.reminder_fraction),
            renew_every_seconds=renew.total_seconds() if renew else None,
            manager_id=trainee.manager_id,
            escalate_to=[trainee.manager_id] if trainee.manager_id else seniors,
            completers=sorted(s.staff_id for s in active if s.role == Role.COMPLIANCE),
            trainee_active=trainee.active,
            assigner_role=assigner_role,
        )
        bound_logger(assignment_id=assignment.assignment_id).info(
            "training planned", course=course.code, staff_id=trainee.staff_id, due_at=due.isoformat()
        )
        return plan

    @activity.defn
    def record_training(self, record: TrainingRecord) -> bool:
        """Upsert the assignment's row; True when it changed."""
        with Session(self._engine) as session:
            changed = self._upsert(session, record)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent attempt inserted it first: retry as an update
                changed = self._upsert(session, record)
                session.commit()
        bound_logger(assignment_id=record.assignment.assignment_id).info(
            "training recorded", status=record.status.value, changed=changed
        )
        return changed

    @activity.defn
    def notify_training(self, notice: TrainingNotice) -> int:
        """Tell staff about an assignment, through the outbox; returns how many were sent now."""
        sent = send_staff_notices(
            self._notifier,
            notice.idempotency_key,
            notice.recipients,
            kind=notice.kind,
            subject=notice.subject,
            body=notice.body,
        )
        bound_logger(assignment_id=notice.assignment_id).info(
            "training notice", kind=notice.kind, recipients=notice.recipients
        )
        return sent

    @activity.defn
    def record_training_completion(self, completion: TrainingCompletion) -> bool:
        """The row completed, and one 'training' entry in the service history; True when written now."""
        record = completion.record
        assignment = record.assignment
        key = f"training:{assignment.assignment_id}"
        policy = self._policies.current
        completed_at = record.completed_at or utc_now()
        note = (
            f"Completed {completion.course_title} ({assignment.course}; {assignment.source.value}: "
            f"{assignment.reason}), recorded by {record.completed_by}"
            + (f": {completion.note}" if completion.note else "")
        )
        with Session(self._engine) as session:
            self._upsert(session, record)
            written = session.exec(select(StaffServiceEvent.id).where(StaffServiceEvent.source_key == key)).first()
            if written is None:
                session.add(
                    StaffServiceEvent(
                        staff_id=assignment.staff_id,
                        occurred_on=completed_at.astimezone(ZoneInfo(policy.timezone)).date(),
                        kind="training",
                        note=note[:500],
                        source_key=key,
                    )
                )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent attempt wrote both
                return False
        bound_logger(assignment_id=assignment.assignment_id).info("training completed", by=record.completed_by)
        return written is None

    @staticmethod
    def _upsert(session: Session, record: TrainingRecord) -> bool:
        a = record.assignment
        assert a.assigned_at is not None and a.due_at is not None, "the workflow records a planned assignment"
        row = session.get(TrainingAssignmentRow, a.assignment_id)
        new = row is None
        if row is None:
            row = TrainingAssignmentRow(
                assignment_id=a.assignment_id,
                staff_id=a.staff_id,
                course=a.course,
                source=a.source.value,
                reason=a.reason[:500],
                assigned_by=a.assigned_by[:80],
                status=record.status.value,
                assigned_at=a.assigned_at,
                due_at=a.due_at,
                workflow_id=record.workflow_id,
                updated_at=utc_now(),
            )
        before = (row.status, row.reminded_at, row.overdue_at, row.completed_at)
        if row.status != "completed":  # a late retry of 'overdue' does not undo a completion
            row.status = record.status.value
        row.reminded_at = kept_first(row.reminded_at, record.reminded_at)
        row.overdue_at = kept_first(row.overdue_at, record.overdue_at)
        row.completed_at = kept_first(row.completed_at, record.completed_at)
        row.completed_by = row.completed_by or record.completed_by
        changed = new or before != (row.status, row.reminded_at, row.overdue_at, row.completed_at)
        if changed:
            row.updated_at = utc_now()
        session.add(row)
        return changed
