"""Step 4's award activities: rank the quarter's nominees, and record and announce the winners.

Each is idempotent on the quarter: the ``awards`` row (one per quarter) says which workflow
holds the quarter's award; the winners' service-history entries are keyed
``award:<quarter>:<staff>`` and their notices carry the same key, so a retry or a second run
writes and sends nothing twice.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.logging import activity_logger
from activities.notifications import Notifier, OutgoingMessage
from db.tables import AwardRow, Staff, StaffServiceEvent, utc_now
from domain.policy import PolicyStore
from models.analysis import Period
from models.award import AwardProposal, AwardRecord
from models.performance import TrainingAssignment, TrainingSource


class AwardActivities:
    def __init__(self, engine: Engine, policies: PolicyStore, notifier: Notifier, client: Client | None = None) -> None:
        self._engine = engine
        self._policies = policies
        self._notifier = notifier
        self._client = client

    @activity.defn
    async def propose_award(self, quarter: Period) -> AwardProposal:
        """Scorecards, computed scores and the ranked nominees; the quarter taken by this workflow.

        A quarter held by another run stays that run's, unless that run has ended without a
        decision (terminated, timed out): then this one takes the quarter over.
        """
        info = activity.info()
        held = await asyncio.to_thread(self._held, quarter.label)
        if held is not None and held.workflow_id != info.workflow_id:
            if held.status == "approved" or await self._still_running(held.workflow_id):
                activity_logger(info.workflow_id or "award").info(
                    "award already held", quarter=quarter.label, by=held.workflow_id, status=held.status
                )
                return AwardProposal(
                    quarter=quarter.label,
                    workflow_id=info.workflow_id or "",
                    taken_by=held.workflow_id,
                    decided=held.status == "approved",
                )
        return await asyncio.to_thread(self._propose, quarter, info.workflow_id or "", held)

    async def _still_running(self, workflow_id: str) -> bool:
        if self._client is None:
            return True
        try:
            described = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return described.status == WorkflowExecutionStatus.RUNNING

    def _held(self, quarter: str) -> AwardRow | None:
        with Session(self._engine) as session:
            return session.get(AwardRow, quarter)

    def _propose(self, quarter: Period, workflow_id: str, held: AwardRow | None) -> AwardProposal:
        from db.scorecards import award_inputs, scorecards, store_scores
        from domain.performance import nominees

        log = activity_logger(workflow_id or "award")
        policy = self._policies.current
        award = policy.performance.award
        with self._engine.begin() as conn:
            cards = scorecards(conn, quarter, policy)
            stored = store_scores(conn, cards)
            decisions, breaches = award_inputs(conn, quarter, policy)
        ranked = nominees(cards, award, decisions, breaches)
        eligible = sorted((n for n in ranked if n.eligible), key=lambda n: n.rank or 0)
        proposed = [n.staff_id for n in eligible][: award.winners]
        row = AwardRow(
            quarter=quarter.label,
            workflow_id=workflow_id,
            status="proposed",
            nominees=[n.model_dump(mode="json") for n in ranked],
            winners=[],
            proposed_at=utc_now(),
        )
        with Session(self._engine) as session:
            if held is None:
                session.add(row)
            else:  # this run's own row (a retry), or one a run that ended undecided left
                session.merge(row)
            try:
                session.commit()
            except IntegrityError as err:
                raise ApplicationError(f"another run took the award for {quarter.label} meanwhile") from err
            approvers = session.exec(
                select(Staff.staff_id).where(
                    col(Staff.active).is_(True), col(Staff.role).in_([r.value for r in award.approver_roles])
                )
            ).all()
        log.info("award proposed", quarter=quarter.label, proposed=proposed, nominees=len(ranked))
        return AwardProposal(
            quarter=quarter.label,
            workflow_id=workflow_id,
            nominees=ranked,
            proposed=proposed,
            winners_allowed=award.winners,
            approver_roles=list(award.approver_roles),
            approvers=sorted(approvers),
            scores_stored=stored,
        )

    @activity.defn
    async def assign_training_needs(self, quarter: Period) -> int:
        """Start the training the quarter's figures call for (the policy's training rules), once each."""
        from complaints.training import assign_training

        needs = await asyncio.to_thread(self._training_needs, quarter)
        if needs and self._client is None:
            raise RuntimeError("the award activities need a Temporal client to assign training")
        for need in needs:
            assert self._client is not None
            await assign_training(self._client, activity.info().task_queue, need)
        return len(needs)

    def _training_needs(self, quarter: Period) -> list[TrainingAssignment]:
        from db.scorecards import scorecards
        from domain.performance import training_due

        policy = self._policies.current
        with self._engine.connect() as conn:
            cards = scorecards(conn, quarter, policy)
        return [
            TrainingAssignment(
                assignment_id=f"{quarter.label}-{need.staff_id}-{need.course}-{need.rule}",
                staff_id=need.staff_id,
                course=need.course,
                source=TrainingSource.THRESHOLD,
                reason=f"{quarter.label}: {need.detail}"[:500],
                assigned_by=f"rule:{need.rule}",
            )
            for need in training_due(cards, policy.performance.training.rules)
        ]

    @activity.defn
    def record_award(self, record: AwardRecord) -> int:
        """The winners in the awards row and their service history, and each told: once."""
        log = activity_logger(activity.info().workflow_id or "award")
        day = record.decided_at.date()
        with Session(self._engine) as session:
            row = session.get(AwardRow, record.quarter)
            if row is not None and row.status != "approved":
                row.status, row.winners = "approved", list(record.winners)
                row.approved_by, row.reason, row.approved_at = record.approved_by, record.reason, record.decided_at
                session.add(row)
            for staff_id in record.winners:
                key = f"award:{record.quarter}:{staff_id}"
                if session.exec(select(StaffServiceEvent.id).where(StaffServiceEvent.source_key == key)).first():
                    continue
                session.add(
                    StaffServiceEvent(
                        staff_id=staff_id,
                        occurred_on=day,
                        kind="commendation",
                        note=f"Service Quality Award {record.quarter} (approved by {record.approved_by})",
                        source_key=key,
                    )
                )
            session.commit()
        told = sum(
            self._notifier.send(
                OutgoingMessage(
                    idempotency_key=f"award:{record.quarter}:{staff_id}",
                    complaint_id=f"AWARD-{record.quarter}",
                    kind="service_quality_award",
                    channel="staff",
                    recipient=staff_id,
                    language="zh",
                    subject=f"服务质量奖 Service Quality Award {record.quarter}",
                    body=f"Congratulations: you receive the Service Quality Award for {record.quarter}. "
                    f"{record.reason}",
                )
            )
            for staff_id in record.winners
        )
        log.info("award recorded", quarter=record.quarter, winners=record.winners, told=told)
        return told


def award_rows(engine: Engine) -> list[AwardRow]:
    """Every quarter's award, newest first (for the CLI)."""
    with Session(engine) as session:
        return list(session.exec(select(AwardRow).order_by(sa.desc(AwardRow.quarter))))
