"""A product recall's I/O (step 6.2): its plan and affected set, pages of customers, progress,
and each customer's remediation (told, complaints linked, opened, overdue, done).

Each is idempotent: the affected set is written once per recall and customer; a customer's
timestamps are written once (the first attempt wins, a retry writes nothing); the customer's
letter goes once per ``recall:<recall_id>:<customer_id>`` (the outbox's unique key); the owner's
overdue notice once per recall; a complaint keeps a recall's link once (``link_recall`` dedupes
on the recall id).

The letter goes on channel ``crm``, addressed to the customer id: the projection keeps no
contact data, and most affected customers never complained; the lender's customer system
(CRM) holds their contacts and delivers it. Its language is the customer's complaints' (the
letters they were sent), else the intake's default, Chinese.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.logging import bound_logger
from activities.notifications import Notifier, OutboxNotifier, OutgoingMessage, Templates, send_staff_notices
from db import recall_queries
from db.tables import RecallRow, Staff, utc_now
from domain import recall as rules
from domain.calendar import add_limit
from domain.policy import PolicyStore
from domain.times import fmt_utc
from models.recall import (
    RecallDeclaration,
    RecallLink,
    RecallPage,
    RecallPlan,
    RecallProgress,
    RecallState,
    RemediationOpened,
    RemediationRequest,
    RemediationState,
)

LINK_SIGNAL = "link_recall"
RECALL_DONE_SIGNAL = "customer_done"  # RecallWorkflow.customer_done: a remediation is open, its slot free
REMEDY_LABELS = {
    "en": {
        "refund": "a refund of what you were charged because of the defect",
        "contract_revision": "a revision of your contract",
        "fee_waiver": "a waiver of the fees concerned",
        "rate_reduction": "a reduction of your interest rate",
        "early_exit_without_fee": "the option to repay early without a fee",
    },
    "zh": {
        "refund": "退还因该缺陷多收取的款项",
        "contract_revision": "修订您的合同",
        "fee_waiver": "免除相关费用",
        "rate_reduction": "下调贷款利率",
        "early_exit_without_fee": "免费提前还款",
    },
}


class RecallActivities:
    def __init__(
        self,
        engine: Engine,
        policies: PolicyStore,
        notifier: Notifier | None = None,
        client: Client | None = None,
        templates: Templates | None = None,
    ) -> None:
        self._engine = engine
        self._policies = policies
        self._notifier = notifier or OutboxNotifier(engine)
        self._client = client
        self._templates = templates or Templates()

    # -- the recall ---------------------------------------------------------------------------

    @activity.defn
    def plan_recall(self, declaration: RecallDeclaration) -> RecallPlan:
        """Check the declarer again, find and write the affected customers, write the recall's row;
        the plan carries their count only (the customers stay in the table, not the history).

        Refused (``ValidationError``, before anything is written): a declarer who is not of the
        policy's declarer roles. (A signed declaration an earlier run of ``recall-<product>``
        accepted is refused as a replay before this plan: the run loads the nonces kept under its id.)"""
        policy = self._policies.current
        rules_ = policy.recall
        with Session(self._engine) as session:
            active = list(session.exec(select(Staff).where(col(Staff.active).is_(True)).order_by(Staff.staff_id)))
        declarer = next((s for s in active if s.staff_id == declaration.declared_by), None)
        declarers = {r.value for r in rules_.declarer_roles}
        if declarer is None or declarer.role not in declarers:
            raise ApplicationError(
                f"{declaration.declared_by} may not declare a recall (the policy's recall.declarer_roles: "
                f"{', '.join(sorted(declarers))})",
                type="ValidationError",
                non_retryable=True,
            )
        affected = recall_queries.materialise(self._engine, declaration.recall_id, declaration.product)
        remediators = {r.value for r in rules_.remediator_roles}
        plan = RecallPlan(
            affected=affected,
            owner=declaration.declared_by,
            remediators=[s.staff_id for s in active if s.role in remediators],
            remediator_roles=sorted(remediators),
            revisers=[s.staff_id for s in active if s.role in declarers],
            window=rules_.window,
            per_run=rules_.per_run,
            page_size=rules_.page_size,
            progress_every_seconds=rules_.progress_seconds(),
            remediation_due=rules_.remediation_due.describe(),
            policy_version=policy.version,
        )
        with Session(self._engine) as session:
            if session.get(RecallRow, declaration.recall_id) is None:
                session.add(
                    RecallRow(
                        recall_id=declaration.recall_id,
                        workflow_id=rules.workflow_id(declaration.product),
                        product=declaration.product,
                        reason=declaration.reason,
                        scope=declaration.scope,
                        remedy=declaration.remedy.value,
                        declared_by=declaration.declared_by,
                        declared_at=declaration.declared_at,
                        status="fanning_out",
                        affected=affected,
                        updated_at=utc_now(),
                    )
                )
                session.commit()
        bound_logger(recall_id=declaration.recall_id).info(
            "recall planned", product=declaration.product, affected=affected
        )
        return plan

    @activity.defn
    def recall_page(self, request: RecallPage) -> list[str]:
        return recall_queries.page(self._engine, request.recall_id, request.after, request.limit)

    @activity.defn
    def record_recall(self, state: RecallState) -> RecallProgress:
        """Count the customers' rows (affected, told, opened, remediated, overdue) and write them,
        with the recall's status, runs and revision, on its row; the counts."""
        d = state.declaration
        progress = recall_queries.progress(self._engine, d.recall_id)
        with Session(self._engine) as session:
            row = session.get(RecallRow, d.recall_id)
            if row is None:
                raise ApplicationError(f"recall {d.recall_id} has no row: planned first", non_retryable=True)
            if row.status != "closed":
                row.status = state.status.value
            row.affected, row.told, row.opened = progress.affected, progress.told, progress.opened
            row.remediated, row.overdue = progress.remediated, progress.overdue
            row.runs = max(row.runs, state.run)
            if state.revision is not None and row.revised_at is None:
                r = state.revision
                row.revision, row.new_version, row.revised_by, row.revised_at = (
                    r.revision,
                    r.new_version,
                    r.recorded_by,
                    r.recorded_at,
                )
            row.closed_at = row.closed_at or state.closed_at
            row.updated_at = utc_now()
            session.add(row)
            session.commit()
        return progress

    # -- one customer's remediation -----------------------------------------------------------

    @activity.defn
    async def open_remediation(self, request: RemediationRequest) -> RemediationOpened:
        """Tell the customer (once), link their open complaints about the product to the recall,
        record the remediation opened with its due date on the policy's calendar, and tell the
        recall (``customer_done``: its window has room for the next customer)."""
        recall, customer_id = request.recall_id, request.customer_id
        row = recall_queries.customer(self._engine, recall, customer_id)
        if row is None:
            raise ApplicationError(f"{customer_id} is not affected by recall {recall}", non_retryable=True)
        policy = self._policies.current
        opened_at = row.opened_at or utc_now()
        due_at = row.due_at or add_limit(opened_at, policy.recall.remediation_due, policy).due_at
        language = row.language if row.language in ("zh", "en") else "zh"
        recall_row = recall_queries.find(self._engine, recall)
        if recall_row is None:
            raise ApplicationError(f"recall {recall} has no row: planned first", non_retryable=True)
        product = policy.reporting.product(request.product)
        subject, body = self._templates.render(
            rules.NOTICE_KIND,
            language,
            recall_id=recall,
            customer_id=customer_id,
            product_label=product.label if product else request.product,
            reason=recall_row.reason,
            scope=recall_row.scope,
            remedy_label=REMEDY_LABELS[language].get(request.remedy.value, request.remedy.value),
            due_at=due_at,
            contracts=list(row.contract_numbers),
            complaints=list(row.complaint_ids),
        )
        told_now = self._notifier.send(
            OutgoingMessage(
                idempotency_key=rules.notice_key(recall, customer_id),
                complaint_id=(row.complaint_ids or [""])[0],
                kind=rules.NOTICE_KIND,
                channel="crm",
                recipient=customer_id,
                language=language,
                subject=subject,
                body=body,
            )
        )
        recall_queries.set_once(self._engine, recall, customer_id, "told_at", told_at=utc_now())
        linked = await self._link_complaints(recall_row, list(row.complaint_ids))
        recall_queries.set_once(self._engine, recall, customer_id, "opened_at", opened_at=opened_at, due_at=due_at)
        stored = recall_queries.customer(self._engine, recall, customer_id)  # the first attempt's times win
        if stored is not None and stored.opened_at and stored.due_at:
            opened_at, due_at = stored.opened_at, stored.due_at
        await self._tell_recall(request)
        bound_logger(recall_id=recall, customer_id=customer_id).info(
            "remediation opened", told_now=told_now, linked=linked, due=due_at.isoformat()
        )
        return RemediationOpened(
            opened_at=opened_at, due_at=due_at, told_now=told_now, language=language, complaints=linked
        )

    async def _tell_recall(self, request: RemediationRequest) -> None:
        """Free the customer's slot in the recall's window (by workflow id: its current run)."""
        if self._client is None:
            raise ApplicationError("this worker has no Temporal client to tell the recall", non_retryable=True)
        try:
            await self._client.get_workflow_handle(request.recall_workflow_id).signal(
                RECALL_DONE_SIGNAL, request.customer_id
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            bound_logger(recall_id=request.recall_id, customer_id=request.customer_id).warning(
                "the recall is not running: no slot to free"
            )

    async def _link_complaints(self, recall: RecallRow, complaint_ids: list[str]) -> list[str]:
        found = recall_queries.complaint_workflows(self._engine, complaint_ids)
        if not found:
            return []
        if self._client is None:
            raise ApplicationError("this worker has no Temporal client to link complaints", non_retryable=True)
        link = RecallLink(
            recall_id=recall.recall_id,
            product=recall.product,
            reason=recall.reason,
            declared_by=recall.declared_by,
            linked_at=recall.declared_at,
        )
        linked = []
        for complaint_id, workflow_id in found:
            try:
                await self._client.get_workflow_handle(workflow_id).signal(LINK_SIGNAL, link)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                continue  # closed since it was found: nothing to link
            linked.append(complaint_id)
        return linked

    @activity.defn
    def record_remediation_overdue(self, state: RemediationState) -> bool:
        """Record the remediation overdue; the recall's owner is told once per recall (the count
        of overdue remediations is in ``complaints recall show`` and the Web UI)."""
        r = state.request
        at = state.overdue_at or utc_now()
        written = recall_queries.set_once(self._engine, r.recall_id, r.customer_id, "overdue_at", overdue_at=at)
        due = state.opened.due_at if state.opened else at
        send_staff_notices(
            self._notifier,
            rules.overdue_key(r.recall_id),
            [r.owner],
            kind="recall_overdue",
            subject=f"OVERDUE: remediations of recall {r.recall_id} ({r.product})",
            body=(
                f"The remediation of {r.customer_id} was due {fmt_utc(due)} and is not done; others may follow. "
                f"See `complaints recall show {r.recall_id}` for how many are overdue, and record each done with "
                f"`complaints recall remediate {r.recall_id} CUSTOMER --as ... --note ...` (or `remediated --file`)."
            ),
        )
        bound_logger(recall_id=r.recall_id, customer_id=r.customer_id).info("remediation overdue", written=written)
        return written

    @activity.defn
    def record_remediated(self, state: RemediationState) -> bool:
        r = state.request
        at: datetime = state.remediated_at or utc_now()
        written = recall_queries.set_once(
            self._engine,
            r.recall_id,
            r.customer_id,
            "remediated_at",
            remediated_at=at,
            remediated_by=state.remediated_by,
            reference=state.reference,
            note=state.note,
        )
        bound_logger(recall_id=r.recall_id, customer_id=r.customer_id).info(
            "remediation done", by=state.remediated_by, written=written
        )
        return written
