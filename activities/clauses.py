"""Contract clause reviews' I/O (step 5): the count, opening or linking reviews, a review's plan,
its row and its notices.

Each is idempotent: the count only reads; opening is a signal-with-start on the clause's
workflow id (a running review is found, not started twice, and the link signal names complaints
the review keeps once); the row is an upsert that never moves a timestamp already written; a
notice goes once per ``clause-review:<review_id>:<kind>``.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError

from activities.logging import bound_logger
from activities.notifications import Notifier, OutboxNotifier, send_staff_notices
from db import clause_queries
from db.tables import ClauseReviewRow, Staff, utc_now
from domain import clauses
from domain.calendar import add_limit
from domain.policy import PolicyStore
from domain.times import kept_first
from models.clause_review import (
    ClauseCount,
    ClauseLink,
    ClauseReviewNotice,
    ClauseReviewPlan,
    ClauseReviewRequest,
    ClauseReviewState,
    ClauseWatchRequest,
    ClauseWatchResult,
    ReviewStatus,
)

REVIEW_WORKFLOW = "ClauseReviewWorkflow"
LINK_SIGNAL = "link_complaint"


class ClauseActivities:
    def __init__(
        self, engine: Engine, policies: PolicyStore, notifier: Notifier | None = None, client: Client | None = None
    ) -> None:
        self._engine = engine
        self._policies = policies
        self._notifier = notifier or OutboxNotifier(engine)
        self._client = client

    # -- the watch ----------------------------------------------------------------------------

    @activity.defn
    def find_clause_crossings(self, request: ClauseWatchRequest) -> list[ClauseCount]:
        """Clauses at the threshold or with a review open, each with the id a new review would take."""
        policy = self._policies.current.clause_review
        found = clause_queries.to_act_on(self._engine, policy, utc_now())
        result = []
        for c in found:
            number = clause_queries.reviews_of(self._engine, c.template, c.clause) + 1
            result.append(c.model_copy(update={"next_review_id": clauses.review_id(c.template, c.clause, number)}))
        structlog.get_logger().info(
            "clauses counted", requested_by=request.requested_by, to_act_on=[(c.template, c.clause) for c in result]
        )
        return result

    @activity.defn
    async def open_or_link_clause_reviews(self, found: list[ClauseCount]) -> ClauseWatchResult:
        """Signal-with-start each clause's review: opened if none runs, else the citing complaints linked."""
        if self._client is None:
            raise ApplicationError("this worker has no Temporal client to open clause reviews", non_retryable=True)
        result = ClauseWatchResult(counted=found)
        task_queue = activity.info().task_queue
        for c in found:
            review = c.open_review_id or c.next_review_id
            assert review is not None, "find_clause_crossings names each review"
            handle = await self._client.start_workflow(
                REVIEW_WORKFLOW,
                ClauseReviewRequest(
                    review_id=review,
                    template=c.template,
                    clause=c.clause,
                    references=c.references,
                    complaint_ids=c.complaint_ids,
                ),
                id=clauses.workflow_id(c.template, c.clause),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,  # a closed review: the next is new
                start_signal=LINK_SIGNAL,
                start_signal_args=[ClauseLink(complaint_ids=c.complaint_ids)],
                static_summary=f"Legal review of clause {c.clause} of {c.template} ({c.count} complaints)",
            )
            response = getattr(handle, "_start_workflow_response", None)
            started = bool(getattr(response, "started", False))
            (result.opened if started else result.linked).append(review)
        return result

    # -- one review ---------------------------------------------------------------------------

    @activity.defn
    def plan_clause_review(self, request: ClauseReviewRequest) -> ClauseReviewPlan:
        """The owner (the owner role's first active member), the due date on the policy's calendar,
        the warning, who is told at the due time and who may close it."""
        policy = self._policies.current
        rules = policy.clause_review
        with Session(self._engine) as session:
            active = list(session.exec(select(Staff).where(col(Staff.active).is_(True)).order_by(Staff.staff_id)))
        owners = [s for s in active if s.role == rules.owner_role]
        if not owners:
            raise ApplicationError(
                f"nobody active in the role {rules.owner_role.value} to own clause reviews",
                type="ValidationError",
                non_retryable=True,
            )
        owner = owners[0]
        opened = utc_now()
        due = add_limit(opened, rules.due, policy).due_at
        seniors = [s.staff_id for s in active if s.role == "senior_manager" and s.staff_id != owner.staff_id]
        plan = ClauseReviewPlan(
            review_id=request.review_id,
            owner=owner.staff_id,
            owner_name=owner.name,
            manager_id=owner.manager_id,
            escalate_to=[owner.manager_id] if owner.manager_id else seniors,
            closers=[s.staff_id for s in active if s.role in rules.closer_roles],
            closer_roles=[r.value for r in rules.closer_roles],
            opened_at=opened,
            due_at=due,
            warning_at=clauses.warning_at(opened, due, rules.warning_fraction),
            window_days=rules.window_days,
            threshold=rules.threshold,
        )
        bound_logger(review_id=request.review_id).info(
            "clause review planned", owner=owner.staff_id, due_at=due.isoformat()
        )
        return plan

    @activity.defn
    def record_clause_review(self, state: ClauseReviewState) -> bool:
        """Upsert the review's row; True when it changed."""
        with Session(self._engine) as session:
            changed = self._upsert(session, state)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent attempt inserted it first: again, as an update
                changed = self._upsert(session, state)
                session.commit()
        bound_logger(review_id=state.request.review_id).info(
            "clause review recorded", status=state.status.value, changed=changed
        )
        return changed

    @activity.defn
    def notify_clause_review(self, notice: ClauseReviewNotice) -> int:
        sent = send_staff_notices(
            self._notifier,
            notice.idempotency_key,
            notice.recipients,
            kind=notice.kind,
            subject=notice.subject,
            body=notice.body,
        )
        bound_logger(review_id=notice.review_id).info(
            "clause review notice", kind=notice.kind, recipients=notice.recipients
        )
        return sent

    @staticmethod
    def _upsert(session: Session, state: ClauseReviewState) -> bool:
        plan, request = state.plan, state.request
        assert plan is not None, "the workflow records a planned review"
        row = session.get(ClauseReviewRow, request.review_id)
        new = row is None
        if row is None:
            row = ClauseReviewRow(
                review_id=request.review_id,
                workflow_id=state.workflow_id,
                template=request.template,
                clause=request.clause,
                references=request.references[:20],
                status=state.status.value,
                owner=plan.owner,
                opened_at=plan.opened_at,
                due_at=plan.due_at,
                updated_at=utc_now(),
            )
        before = (row.status, len(row.linked), row.warned_at, row.overdue_at, row.closed_at)
        if row.status != ReviewStatus.CLOSED.value:  # a late retry of a timer's step does not reopen it
            row.status = state.status.value
        row.linked = list(dict.fromkeys([*row.linked, *state.linked]))
        row.warned_at = kept_first(row.warned_at, state.warned_at)
        row.overdue_at = kept_first(row.overdue_at, state.overdue_at)
        row.closed_at = kept_first(row.closed_at, state.closed_at)
        row.closed_by = row.closed_by or state.closed_by
        row.outcome = row.outcome or (state.outcome.value if state.outcome else None)
        row.reasons = row.reasons or state.reasons
        row.new_template_version = row.new_template_version or state.new_template_version
        changed = new or before != (row.status, len(row.linked), row.warned_at, row.overdue_at, row.closed_at)
        if changed:
            row.updated_at = utc_now()
        session.add(row)
        return changed
