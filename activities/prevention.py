"""Step 5 on a complaint's own path: what the projection keeps for prevention, and what follows it.

Two pieces, neither of which ever fails or holds up the complaint:

- ``project``: in the projection's transaction (``activities/projection.py`` calls it before it
  commits an event), the intake's amounts in dispute on a new complaints row, and the clause
  the complaint's root cause blames among the clauses it cites (``complaint_clauses``, source
  ``root_cause``). Idempotent with the event: a retry of the same seq is not applied again.
- ``WatchedProjection``: the projection's two activities as the worker registers them. After the
  events are recorded, a complaint's first event, classification, withdrawal or regulator report
  re-scores its customer (``complaints.risk.warn_on_news``: the customer's early warning opened
  or joined, one per customer, only when the score is news to it), and a complaint that now
  cites a clause under an open legal review is linked to it (the review keeps each complaint
  once). Both also run on a retry: they are idempotent. A failure is logged and left: the next
  event re-scores, and the clause watch links what was missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.service import RPCError, RPCStatusCode

from db.tables import Complaint, ComplaintClause, utc_now
from models.complaint import ComplaintEvent, ComplaintEventBatch
from models.intake import Money

if TYPE_CHECKING:
    from temporalio.client import Client

    from activities.projection import ProjectionActivities
    from domain.policy import PolicyStore

T = TypeVar("T")

ROOT_CAUSE = "root_cause"  # complaint_clauses.source of the clause a root cause blames
ROOT_CAUSE_RECORDED = "root_cause_recorded"
# What may change a customer's score: a new complaint, its tier, a withdrawal, a regulator report.
RISK_EVENTS = frozenset({"received", "classified", "withdrawn", "regulator_report_due"})
# What may make a complaint cite a clause: its intake, its root cause, its closure with that cause.
CLAUSE_EVENTS = frozenset({"received", ROOT_CAUSE_RECORDED, "closed"})
WAIT_SECONDS = 5.0  # at most this long on Temporal per batch of events; then the complaint goes on


def disputed_total(amounts: list[Money]) -> tuple[Decimal, str] | None:
    """The amounts in dispute totalled in their currency (the first amount's, if several)."""
    if not amounts:
        return None
    currency = amounts[0].currency
    return sum((m.amount for m in amounts if m.currency == currency), Decimal(0)), currency


def project(session: Session, row: Complaint, event: ComplaintEvent) -> None:
    """Step 5's part of the projection, in its transaction (before ``session.add(row)``)."""
    if row.last_seq != event.seq:
        return  # an event older than the row's last one changes nothing
    projection, facts = event.fields()
    if facts is not None and row.amount_in_dispute is None:
        total = disputed_total(facts.amounts_in_dispute)
        if total is not None:
            row.amount_in_dispute, row.amount_currency = total
    clause = (projection.root_cause_clause or "")[:200] or None
    if clause is None and event.kind != ROOT_CAUSE_RECORDED:
        return
    with session.no_autoflush:  # the event row is pending: a race on it shows at commit
        blamed = session.exec(
            select(ComplaintClause).where(
                ComplaintClause.complaint_id == row.complaint_id, ComplaintClause.source == ROOT_CAUSE
            )
        ).all()
        for old in blamed:
            if old.clause != clause:  # the root cause was recorded again: it blames another clause, or none
                session.delete(old)
        if clause is None or any(b.clause == clause for b in blamed):
            return
        pending = {(c.complaint_id, c.clause) for c in session.new if isinstance(c, ComplaintClause)}
        cited = session.get(ComplaintClause, (row.complaint_id, clause))
        if cited is not None or (row.complaint_id, clause) in pending:
            return  # the intake cites it already
        session.add(
            ComplaintClause(
                complaint_id=row.complaint_id,
                clause=clause,
                source=ROOT_CAUSE,
                template=projection.root_cause_template,
            )
        )


class WatchedProjection:
    """``ProjectionActivities``' two activities, each followed by step 5's look at the complaint.

    Registered in their place by ``build_worker`` (same activity names: the complaint workflow
    calls them as it always has). Build it on the worker's event loop: the client belongs to it.
    """

    def __init__(
        self, projection: ProjectionActivities, engine: Engine, policies: PolicyStore, client: Client | None
    ) -> None:
        self._projection = projection
        self._engine = engine
        self._policies = policies
        self._client = client
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # built off a loop: nothing to reach Temporal with, the projection alone

    @activity.defn(name="record_complaint_event")
    def record_complaint_event(self, event: ComplaintEvent) -> bool:
        wrote = self._projection.record_complaint_event(event)
        self.after(event.complaint_id, [event])
        return wrote

    @activity.defn(name="record_complaint_events")
    def record_complaint_events(self, batch: ComplaintEventBatch) -> int:
        wrote = self._projection.record_complaint_events(batch)
        self.after(batch.complaint_id, batch.events)
        return wrote

    def after(self, complaint_id: str, events: Iterable[ComplaintEvent]) -> None:
        """Re-score the customer and link the complaint to an open review, as its events ask."""
        kinds = {e.kind for e in events}
        rescore, link = bool(kinds & RISK_EVENTS), bool(kinds & CLAUSE_EVENTS)
        if not (rescore or link) or self._client is None or self._loop is None:
            return
        log = structlog.get_logger().bind(complaint_id=complaint_id)
        task_queue = activity.info().task_queue
        try:
            with Session(self._engine) as session:
                row = session.get(Complaint, complaint_id)
                customer_id = row.customer_id if row is not None else None
            if rescore and customer_id:
                outcome = self._rescore(customer_id, task_queue)
                log.info("customer re-scored", customer_id=customer_id, warning=outcome, kinds=sorted(kinds))
            if link:
                linked = self._link(complaint_id)
                if linked:
                    log.info("complaint linked to open clause reviews", reviews=linked)
        except Exception as err:  # never the complaint's failure: the next event or the watch catches up
            log.warning("step 5 not brought up to date after the complaint's events", error=repr(err))

    def _rescore(self, customer_id: str, task_queue: str) -> str:
        from complaints.risk import evaluate, warn_on_news  # here: it imports the workflows
        from db.risk_queries import latest_warning
        from models.risk import WarningStatus

        policy = self._policies.current
        score = evaluate(self._engine, customer_id, policy)
        if not score.crossed:
            case = latest_warning(self._engine, customer_id)
            if case is None or case.status == WarningStatus.CLOSED:
                return "none"  # under the threshold and no open case to tell: no call to Temporal
        assert self._client is not None
        return self._wait(warn_on_news(self._client, task_queue, score))

    def _link(self, complaint_id: str) -> list[str]:
        from activities.clauses import LINK_SIGNAL
        from db import clause_queries
        from domain import clauses
        from models.clause_review import ClauseLink

        reviews = clause_queries.open_reviews(self._engine)
        if not reviews:
            return []
        policy = self._policies.current.clause_review
        now = utc_now()
        found = clause_queries.citations(
            self._engine, clauses.window_start(now, policy), policy.root_causes, complaint_id=complaint_id
        )
        counted = clauses.counts(found, policy, now, clause_queries.reviewed(self._engine))
        targets = {
            reviews[c.template, c.clause]: (c.template, c.clause) for c in counted if (c.template, c.clause) in reviews
        }
        client = self._client
        assert client is not None

        async def link_all() -> list[str]:
            linked = []
            for review, (template, clause) in targets.items():
                handle = client.get_workflow_handle(clauses.workflow_id(template, clause))
                try:
                    await handle.signal(LINK_SIGNAL, ClauseLink(complaint_ids=[complaint_id]))
                    linked.append(review)
                except RPCError as err:
                    if err.status != RPCStatusCode.NOT_FOUND:  # closed meanwhile: the next crossing is new
                        raise
            return linked

        return self._wait(link_all()) if targets else []

    def _wait(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the worker's loop (this activity's thread waits, a few seconds at most)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(timeout=WAIT_SECONDS)
        except FutureTimeout:
            raise TimeoutError(f"Temporal did not answer within {WAIT_SECONDS} s; left to run") from None
