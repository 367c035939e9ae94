"""Step 4: TrainingAssignmentWorkflow, one person's assignment of one course, until it is done.

Started by joining (the worker, at start), an investigation's 'training' decision, a figure of
the quarter's scorecards, or a manager (``complaints training assign``); workflow id
``training-<assignment_id>``, so the same cause starts it once.

1. plan it (an activity: the course's title, due date on the policy's calendar, the reminder at
   ``reminder_fraction`` of the way, who is told and who may record completion) and record it;
2. sleep (named timers) to the reminder, telling the trainee once, then to the due date: overdue,
   the trainee's manager told once (the escalation);
3. wait for ``complete`` (an update with a validator: the trainee, their manager or compliance),
   which records completion in the row and the trainee's service history;
4. a renewing course (joining and renewal assignments of a course with ``renew_every``) sleeps
   until renewal is due and continues as new as the next assignment (``<id>-r1``, ``-r2``, …).

Staff actions are signed (issue 16; ``workflows.signing.StaffSignatures``): ``complete`` is
checked in its validator and again in the handler's turn, and kept once accepted. A manual
assignment is itself a staff action that starts the workflow: its assigner signs the assignment
as sent (action ``assign_training``), and the workflow admits it at the start, checking the
signature and the assigner's role in the staff directory (a manager, senior manager or
compliance; the plan activity reads it). A refused start records nothing, tells nobody and fails
(type ``ActionRefused``): the id stays free for a legitimate assignment. ``admission`` (an update
the client sends with the start) answers once the start was checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.training import TrainingActivities
    from domain import training as rules
    from domain.rules import Refused
    from domain.times import fmt_utc
    from models.performance import (
        CompleteTrainingRequest,
        TrainingActionResult,
        TrainingAdmission,
        TrainingAssignment,
        TrainingCompletion,
        TrainingNotice,
        TrainingPlan,
        TrainingRecord,
        TrainingSource,
        TrainingState,
        TrainingStatus,
    )
    from workflows.handlers import recheck
    from workflows.options import call
    from workflows.signing import SIGNED_STAFF_ACTIONS, StaffSignatures


def refusal(state: TrainingState, request: CompleteTrainingRequest) -> str | None:
    """Why ``request`` may not complete the assignment (None: it may). Pure, for the validator."""
    plan, a = state.plan, state.assignment
    if plan is None:
        return f"assignment {a.assignment_id} is still being set up; try again in a moment"
    if request.assignment_id != a.assignment_id:
        return f"assignment {request.assignment_id} is no longer open: this workflow now runs {a.assignment_id}"
    if state.status == TrainingStatus.COMPLETED:
        when, by = fmt_utc(state.completed_at), state.completed_by
        return f"assignment {a.assignment_id} was already completed {when} by {by}"
    allowed = [a.staff_id, *([plan.manager_id] if plan.manager_id else []), *plan.completers]
    if request.actor not in allowed:
        manager = f"their manager ({plan.manager_id}), " if plan.manager_id else ""
        return f"{request.actor} may not record {a.staff_id}'s training: the trainee, {manager}or compliance may"
    return None


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class TrainingAssignmentWorkflow:
    @workflow.init
    def __init__(self, assignment: TrainingAssignment) -> None:
        started = assignment.assigned_at or workflow.now()
        self._state = TrainingState(
            # The signature is checked at the start and kept in signed_actions, not in the state.
            assignment=assignment.model_copy(update={"assigned_at": started, "signature": None}),
            workflow_id=workflow.info().workflow_id,
            status=TrainingStatus.ASSIGNED,
        )
        self._lock = asyncio.Lock()  # the timers' steps and ``complete`` act one after the other
        self._signing = StaffSignatures()
        self._refusal: str | None = None  # why the start was refused
        self._admitted = False  # the start was checked and admitted

    @workflow.run
    async def run(self, assignment: TrainingAssignment) -> TrainingState:
        state = self._state
        await self._signing.load()
        self._show("Planning the assignment from the training catalogue")
        try:
            plan: TrainingPlan = await call(
                TrainingActivities.plan_training, state.assignment, summary=f"Plan {assignment.course}"
            )
        except ActivityError as err:  # an unknown course or trainee: ``admission`` says so, then the run fails
            self._refusal = str(getattr(err.cause, "message", None) or err)
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise
        self._refusal = await self._admit(assignment, plan)
        if self._refusal is not None:  # nothing recorded, nobody told; the id stays free (a failed run)
            self._show(f"**Refused:** {self._refusal}")
            await workflow.wait_condition(workflow.all_handlers_finished)
            raise ApplicationError(self._refusal, type="ActionRefused", non_retryable=True)
        self._admitted = True
        state.plan = plan
        state.assignment.due_at = plan.due_at
        if not plan.trainee_active:  # left since the assignment (a renewal): nothing to follow up
            state.status = TrainingStatus.CANCELLED
            await self._record(f"Record {plan.course} cancelled: {plan.staff_id} has left")
            self._show()
            return state
        await self._record(f"Record the assignment of {plan.course}")
        self._show()
        await self._until(plan.reminder_at, f"Remind {plan.staff_id} {fmt_utc(plan.reminder_at)}")
        await self._step(self._remind)
        await self._until(plan.due_at, f"Due {fmt_utc(plan.due_at)}; overdue after")
        await self._step(self._overdue)
        await workflow.wait_condition(lambda: state.completed_at is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if plan.renew_every_seconds is None or state.completed_at is None:
            self._show()
            return state
        state.renewal_at = state.completed_at + timedelta(seconds=plan.renew_every_seconds)
        self._show()
        remaining = (state.renewal_at - workflow.now()).total_seconds()
        if remaining > 0:
            await workflow.sleep(remaining, summary=f"Renewal of {plan.course} due {fmt_utc(state.renewal_at)}")
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._renewal())

    # -- the timers' steps ------------------------------------------------------------------

    async def _until(self, at: datetime, summary: str) -> None:
        """Sleep (a named timer) until ``at``, or until the assignment is completed."""
        remaining = (at - workflow.now()).total_seconds()
        if remaining <= 0:
            return
        try:
            await workflow.wait_condition(self._completed, timeout=remaining, timeout_summary=summary)
        except TimeoutError:
            pass

    async def _step(self, act: Callable[[], Awaitable[None]]) -> None:
        """A timer's step, unless a completion came first (the lock keeps them apart)."""
        async with self._lock:
            if not self._completed():
                await act()

    async def _remind(self) -> None:
        state, plan = self._state, self._plan()
        state.reminded_at = workflow.now()
        self._show()
        await self._notify(
            "reminder",
            "training_reminder",
            [plan.staff_id],
            f"Training due {fmt_utc(plan.due_at)}: {plan.course_title}",
            f"{state.assignment.reason}\nWhen done: complaints training complete {plan.assignment_id} "
            f"--as {plan.staff_id}",
        )
        await self._record(f"Record the reminder to {plan.staff_id}")

    async def _overdue(self) -> None:
        state, plan = self._state, self._plan()
        state.status, state.overdue_at = TrainingStatus.OVERDUE, workflow.now()
        self._show()
        await self._record(f"Record {plan.course} overdue")
        await self._notify(
            "escalation",
            "training_overdue",
            plan.escalate_to,
            f"OVERDUE: {plan.staff_id} ({plan.trainee_name}) has not completed {plan.course_title}",
            f"Due {fmt_utc(plan.due_at)}; assigned {fmt_utc(plan.assigned_at)} ({state.assignment.source.value}: "
            f"{state.assignment.reason}). Record it when done: complaints training complete "
            f"{plan.assignment_id} --as <you>",
        )

    # -- staff actions ---------------------------------------------------------------------

    @workflow.update
    async def complete(self, request: CompleteTrainingRequest) -> TrainingActionResult:
        async with self._lock, self._signing.turn():  # the re-check in the turn counts and holds the signature
            recheck(self._validate_complete, request)
            state, plan = self._state, self._plan()
            late = state.status == TrainingStatus.OVERDUE
            state.status, state.completed_at, state.completed_by = (
                TrainingStatus.COMPLETED,
                workflow.now(),
                request.actor,
            )
            self._show()
            await call(
                TrainingActivities.record_training_completion,
                TrainingCompletion(record=self._as_record(), course_title=plan.course_title, note=request.note),
                summary=f"Record {plan.course} completed by {plan.staff_id}",
            )
            return TrainingActionResult(
                assignment_id=plan.assignment_id,
                status=state.status,
                message=f"{plan.course} completed by {plan.staff_id}" + (" (after it was overdue)" if late else ""),
            )

    @complete.validator
    def _validate_complete(self, request: CompleteTrainingRequest) -> None:
        problem = refusal(self._state, request)
        if problem:
            raise Refused(problem)
        self._signing.check(request)  # who records it is proven (issue 16)

    @workflow.update
    async def admission(self) -> TrainingAdmission:
        """Once the start was checked: the assignment this workflow runs, or ActionRefused (why).

        The client sends it with the start (update-with-start), so a refused assignment's assigner
        reads the reason; a second ask for a running assignment reads whose it is."""
        await workflow.wait_condition(lambda: self._admitted or self._refusal is not None)
        if self._refusal is not None:
            raise ApplicationError(self._refusal, type="ActionRefused", non_retryable=True)
        a = self._state.assignment
        return TrainingAdmission(assignment_id=a.assignment_id, assigned_by=a.assigned_by, source=a.source)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def status(self) -> TrainingState:
        return self._state

    # -- helpers ---------------------------------------------------------------------------

    async def _admit(self, assignment: TrainingAssignment, plan: TrainingPlan) -> str | None:
        """Why the start is refused (None: admitted). A manual assignment is its assigner's signed
        action: their role (as the plan read it) and their signature, on the assignment as sent.
        The system's assignments, and runs from before signing, are admitted as they are."""
        if not rules.signed_by_assigner(assignment.source) or not workflow.patched(SIGNED_STAFF_ACTIONS):
            return None
        problem = rules.assigner_refusal(assignment.assigned_by, plan.assigner_role)
        if problem is not None:
            return problem
        return await self._signing.admit(assignment, rules.ASSIGN_ACTION, actor=assignment.assigned_by)

    def _completed(self) -> bool:
        return self._state.completed_at is not None

    def _plan(self) -> TrainingPlan:
        assert self._state.plan is not None, "planned before any step or action"
        return self._state.plan

    def _renewal(self) -> TrainingAssignment:
        """The next assignment of a renewing course: a fresh one, due from when it starts."""
        a = self._state.assignment
        return TrainingAssignment(
            assignment_id=rules.renewal_assignment_id(a.assignment_id),
            staff_id=a.staff_id,
            course=a.course,
            source=TrainingSource.RENEWAL,
            reason=f"Renewal of {a.course} (last completed {fmt_utc(self._state.completed_at)})",
            assigned_by="system",
        )

    def _as_record(self) -> TrainingRecord:
        s = self._state
        return TrainingRecord(
            assignment=s.assignment,
            workflow_id=s.workflow_id,
            status=s.status,
            reminded_at=s.reminded_at,
            overdue_at=s.overdue_at,
            completed_at=s.completed_at,
            completed_by=s.completed_by,
        )

    async def _record(self, summary: str) -> None:
        await call(TrainingActivities.record_training, self._as_record(), summary=summary)

    async def _notify(self, key: str, kind: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        assignment_id = self._state.assignment.assignment_id
        await call(
            TrainingActivities.notify_training,
            TrainingNotice(
                idempotency_key=f"training:{assignment_id}:{key}",
                assignment_id=assignment_id,
                kind=kind,
                recipients=recipients,
                subject=subject,
                body=body,
            ),
            summary=f"Notify {', '.join(recipients)}: {key}",
        )

    def _show(self, stage: str | None = None) -> None:
        workflow.set_current_details(stage or details(self._state))


def details(state: TrainingState) -> str:
    """What a manager reads in the Web UI: whose training, where it stands, what to do next."""
    a, plan = state.assignment, state.plan
    if plan is None:
        return f"**Training:** {a.course} for {a.staff_id}, being planned"
    lines = [
        f"**Training:** {plan.course_title} ({plan.course}, catalogue {plan.catalogue_version})",
        f"**Trainee:** {plan.staff_id} ({plan.trainee_name}); manager {plan.manager_id or 'none'}",
        f"**Why:** {a.source.value}: {a.reason} (assigned by {a.assigned_by}, {fmt_utc(plan.assigned_at)})",
        f"**Status:** {state.status.value}; due {fmt_utc(plan.due_at)}, reminder {fmt_utc(plan.reminder_at)}"
        + (f" (sent {fmt_utc(state.reminded_at)})" if state.reminded_at else ""),
    ]
    if state.overdue_at:
        lines.append(f"**Overdue since** {fmt_utc(state.overdue_at)}: told {', '.join(plan.escalate_to) or 'nobody'}")
    if state.completed_at:
        lines.append(f"**Completed** {fmt_utc(state.completed_at)}, recorded by {state.completed_by}")
    elif state.status == TrainingStatus.CANCELLED:
        lines.append(f"**Cancelled:** {plan.staff_id} is no longer active in the staff directory")
    else:
        lines.append(
            "**Next:** the trainee, their manager or compliance runs "
            f"`complaints training complete {a.assignment_id} --as <id>`"
        )
    if state.renewal_at:
        lines.append(f"**Renewal** due {fmt_utc(state.renewal_at)}: it continues as a fresh assignment")
    return "\n\n".join(lines)
