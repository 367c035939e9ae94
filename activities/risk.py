"""An early-warning case's I/O: its plan (who works it, its clocks), its row, its notices.

Idempotent on a business key: the row on the workflow's run id (an upsert of the case as the
workflow holds it), a notice on ``risk:<run id>:<kind>``, so a retry writes and sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity

from activities.logging import bound_logger
from activities.notifications import Notifier, OutboxNotifier, send_staff_notices
from db.tables import RiskWarningRow, Staff, utc_now
from domain.calendar import add_limit
from domain.policy import PolicyStore
from models.risk import WarningNotice, WarningPlan, WarningState, WarningStatus
from models.roles import Role


class RiskActivities:
    def __init__(self, engine: Engine, policies: PolicyStore, notifier: Notifier | None = None) -> None:
        self._engine = engine
        self._policies = policies
        self._notifier = notifier or OutboxNotifier(engine)

    @activity.defn
    def plan_warning(self, opened_at: datetime) -> WarningPlan:
        """The case's clocks on the policy's calendar, who works it and who hears of a breach."""
        policy = self._policies.current
        rules = policy.risk
        acknowledge_due = add_limit(opened_at, rules.acknowledge, policy).due_at
        act_due = add_limit(opened_at, rules.act, policy).due_at
        roles = {r.value for r in rules.roles}
        with Session(self._engine) as session:
            active = session.exec(select(Staff).where(col(Staff.active).is_(True)).order_by(Staff.staff_id)).all()
        workers = [s for s in active if s.role in roles]
        managers = sorted({s.manager_id for s in workers if s.manager_id})
        if not managers:
            managers = [s.staff_id for s in active if s.role == Role.SENIOR_MANAGER]
        return WarningPlan(
            opened_at=opened_at,
            acknowledge_due=acknowledge_due,
            act_due=max(act_due, acknowledge_due),
            workers=[s.staff_id for s in workers],
            escalate_to=managers,
            policy_version=policy.version,
        )

    @activity.defn
    def record_warning(self, state: WarningState) -> bool:
        """Upsert the case's row from the workflow's state; True when it was new."""
        run_id = activity.info().workflow_run_id
        assert run_id, "recorded by its workflow"
        with Session(self._engine) as session:
            new = self._upsert(session, run_id, state)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent attempt inserted it first: retry as an update
                new = self._upsert(session, run_id, state)
                session.commit()
        bound_logger(customer_id=state.customer_id).info("risk warning recorded", status=state.status.value, new=new)
        return new

    @activity.defn
    def notify_warning(self, notice: WarningNotice) -> int:
        """Tell staff about a case, through the outbox; how many were sent now."""
        sent = send_staff_notices(
            self._notifier,
            notice.idempotency_key,
            notice.recipients,
            kind=notice.kind,
            subject=notice.subject,
            body=notice.body,
            always_suffix=True,
        )
        bound_logger(customer_id=notice.customer_id).info(
            "risk warning notice", kind=notice.kind, recipients=notice.recipients
        )
        return sent

    @staticmethod
    def _upsert(session: Session, run_id: str, state: WarningState) -> bool:
        assert state.plan is not None and state.score is not None, "the workflow records a planned case"
        row = session.get(RiskWarningRow, run_id)
        new = row is None
        if row is None:
            row = RiskWarningRow(
                workflow_run_id=run_id,
                workflow_id=state.workflow_id,
                customer_id=state.customer_id,
                status=state.status.value,
                opened_at=state.plan.opened_at,
                updated_at=utc_now(),
            )
        if row.status != WarningStatus.CLOSED:  # a late retry of an older step does not reopen it
            row.status = state.status.value
        row.points, row.threshold = state.score.points, state.score.threshold
        row.fired = [f.model_dump(mode="json") for f in state.score.fired]
        row.signals = sum(1 for e in state.history if e.kind in ("opened", "signal"))
        row.acknowledge_due, row.act_due = state.plan.acknowledge_due, state.plan.act_due
        row.acknowledged_at, row.acknowledged_by = state.acknowledged_at, state.acknowledged_by
        row.acted_at, row.acted_by = state.acted_at, state.acted_by
        row.breached = bool(state.acknowledge_breached_at or state.act_breached_at)
        row.closed_at, row.closed_by = state.closed_at, state.closed_by
        row.outcome = state.outcome.value if state.outcome else None
        row.history = [e.model_dump(mode="json") for e in state.history]
        row.updated_at = utc_now()
        session.add(row)
        return new
