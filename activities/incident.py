"""Surges and incidents' I/O (step 6.2): the watch's count, opening or joining incidents, an
incident's plan, its row, its situation reports and its notices.

Each is idempotent on a business key:

- the count only reads;
- opening is a signal-with-start on the key's workflow id (``incident-<dimension>-<value>``,
  conflict policy USE_EXISTING: a running incident is found, never started twice, whatever number
  of watches run at once); a join is a plain signal, so a stale row never starts a closed
  incident again; the signal names complaints the incident keeps once;
- the row is an upsert on the incident id that never reopens a closed incident, and the links
  are rows keyed on (incident, complaint);
- a notice or a situation report goes once per ``incident:<incident id>:<what>`` and recipient
  (the n-th report is ``report:<n>``; the incident id is kept across continue-as-new).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.logging import bound_logger
from activities.notifications import Notifier, OutboxNotifier, send_staff_notices
from db import surge_queries
from db.tables import IncidentRow, Staff, utc_now
from domain import surge
from domain.calendar import add_limit
from domain.policy import PolicyStore
from domain.times import fmt_utc, kept_first
from models.incident import (
    IncidentComplaints,
    IncidentNotice,
    IncidentPlan,
    IncidentRecord,
    IncidentStart,
    IncidentStatus,
    SituationReport,
    SituationReportRequest,
    SurgeAction,
    SurgeDimension,
    SurgeWatchRequest,
    SurgeWatchResult,
)

INCIDENT_WORKFLOW = "IncidentWorkflow"
ADD_SIGNAL = "add_complaints"
REPORT_LISTS = 20  # open complaints named in a situation report (the rest are counted)


class IncidentActivities:
    def __init__(
        self, engine: Engine, policies: PolicyStore, notifier: Notifier | None = None, client: Client | None = None
    ) -> None:
        self._engine = engine
        self._policies = policies
        self._notifier = notifier or OutboxNotifier(engine)
        self._client = client

    # -- the watch ----------------------------------------------------------------------------

    @activity.defn
    def find_surges(self, request: SurgeWatchRequest) -> SurgeWatchResult:
        """The keys that surge now, and what to do: open an incident for a surging key with none
        open (not counting complaints a closed incident of the key took), and send each open
        incident the complaints of its key it has not linked yet."""
        policy = self._policies.current.surge
        now = utc_now()
        rows = surge_queries.window_counts(self._engine, policy, now)
        surging = surge.surges(rows, policy, now)
        open_rows = {(r.dimension, r.value): r for r in surge_queries.open_incidents(self._engine)}
        actions: list[SurgeAction] = []
        for found in surging:
            d, v = found.dimension, found.value
            if (d.value, v) in open_rows:
                continue  # joined below
            ids = surge_queries.matching(self._engine, d, v, found.window_start)
            gone = surge_queries.taken(self._engine, d, v)
            fresh = [cid for cid in ids if cid not in gone]
            if gone:
                found = surge.assess(d, v, len(fresh), found.baseline, policy, now)
                if not found.surging:
                    continue  # the surge a closed incident handled: a new one needs new complaints
            number = surge_queries.incidents_of(self._engine, d, v) + 1
            actions.append(
                SurgeAction(
                    incident_id=surge.incident_id(d, v, number),
                    workflow_id=surge.workflow_id(d, v),
                    dimension=d,
                    value=v,
                    open=True,
                    complaint_ids=fresh,
                    figures=found,
                )
            )
        for row in open_rows.values():
            d = SurgeDimension(row.dimension)
            new = surge_queries.matching(self._engine, d, row.value, row.window_start, unlinked_from=row.incident_id)
            if new:
                actions.append(
                    SurgeAction(
                        incident_id=row.incident_id,
                        workflow_id=row.workflow_id,
                        dimension=d,
                        value=row.value,
                        open=False,
                        complaint_ids=new,
                    )
                )
        structlog.get_logger().info(
            "surges counted",
            requested_by=request.requested_by,
            surging=[f.key for f in surging],
            actions=[(a.incident_id, a.open, len(a.complaint_ids)) for a in actions],
        )
        return SurgeWatchResult(surging=surging, actions=actions)

    @activity.defn
    async def open_or_join_incidents(self, found: SurgeWatchResult) -> SurgeWatchResult:
        """Signal-with-start each new incident (opened, or joined if one runs); signal each open one."""
        if self._client is None:
            raise ApplicationError("this worker has no Temporal client to open incidents", non_retryable=True)
        result = found.model_copy(update={"opened": [], "linked": {}})
        task_queue = activity.info().task_queue
        batch = IncidentComplaints
        for a in found.actions:
            if a.open:
                assert a.figures is not None, "find_surges gives an opening its figures"
                handle = await self._client.start_workflow(
                    INCIDENT_WORKFLOW,
                    IncidentStart(incident_id=a.incident_id, dimension=a.dimension, value=a.value, figures=a.figures),
                    id=a.workflow_id,
                    task_queue=task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,  # a closed incident: the next is new
                    start_signal=ADD_SIGNAL,
                    start_signal_args=[batch(complaint_ids=a.complaint_ids)],
                    static_summary=f"Incident: surge of complaints, {a.figures.key} "
                    f"({a.figures.count} in the window, baseline median {a.figures.median:g})",
                )
                response = getattr(handle, "_start_workflow_response", None)
                if bool(getattr(response, "started", False)):
                    result.opened.append(a.incident_id)
                else:
                    result.linked[a.incident_id] = len(a.complaint_ids)
                continue
            try:
                await self._client.get_workflow_handle(a.workflow_id).signal(
                    ADD_SIGNAL, batch(complaint_ids=a.complaint_ids)
                )
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue  # closed since it was read: its complaints wait for the next incident
                raise
            result.linked[a.incident_id] = len(a.complaint_ids)
        return result

    # -- one incident -------------------------------------------------------------------------

    @activity.defn
    def plan_incident(self, opened_at: datetime) -> IncidentPlan:
        """The emergency plan's people (active staff of the policy's roles), the report interval."""
        policy = self._policies.current
        rules = policy.incident
        with Session(self._engine) as session:
            active = list(session.exec(select(Staff).where(col(Staff.active).is_(True)).order_by(Staff.staff_id)))
        crisis = {r.value for r in rules.crisis_team}
        closers = {r.value for r in rules.closer_roles}
        leads = [s.staff_id for role in rules.lead_roles for s in active if s.role == role.value]
        every = add_limit(opened_at, rules.situation_report_every, policy).due_at - opened_at
        plan = IncidentPlan(
            opened_at=opened_at,
            crisis_team=[s.staff_id for s in active if s.role in crisis],
            lead_candidates=leads,
            closers=[s.staff_id for s in active if s.role in closers],
            lead_roles=[r.value for r in rules.lead_roles],
            closer_roles=[r.value for r in rules.closer_roles],
            root_causes=[r.code for r in policy.root_causes],
            situation_report_seconds=max(every.total_seconds(), 1.0),
            internal_clock_factor=rules.internal_clock_factor,
            window_seconds=surge.window_length(policy.surge).total_seconds(),
            policy_version=policy.version,
        )
        if not plan.crisis_team:
            structlog.get_logger().warning("incident without a crisis team", roles=sorted(crisis))
        return plan

    @activity.defn
    def record_incident(self, record: IncidentRecord) -> bool:
        """Upsert the incident's row and add its new links; True when the row was new."""
        with Session(self._engine) as session:
            new = self._upsert(session, record)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent attempt inserted it first: again, as an update
                new = self._upsert(session, record)
                session.commit()
        state = record.state
        bound_logger(incident_id=state.incident_id).info(
            "incident recorded", status=state.status.value, linked=record.linked_count, new=new
        )
        return new

    @activity.defn
    def situation_report(self, request: SituationReportRequest) -> SituationReport:
        """Count the incident's complaints now and send the report to the crisis team and the lead."""
        linked = surge_queries.linked_complaints(self._engine, request.incident_id)
        still_open = [c for c in linked if not c.closed]
        report = SituationReport(
            number=request.number,
            at=utc_now(),
            linked=len(linked),
            open=len(still_open),
            closed=len(linked) - len(still_open),
            customers=len({c.customer_id for c in linked}),
            new_since_last=max(len(linked) - request.previous_linked, 0),
        )
        named = [
            f"- {c.complaint_id} ({c.status}, held by {c.assignee or 'nobody'})" for c in still_open[:REPORT_LISTS]
        ]
        if len(still_open) > REPORT_LISTS:
            named.append(f"- and {len(still_open) - REPORT_LISTS} more")
        body = (
            f"Incident {request.incident_id} ({request.key}), open since {fmt_utc(request.opened_at)}, "
            f"led by {request.lead or 'nobody yet'}.\n"
            f"Complaints linked: {report.linked} ({report.new_since_last} new since the last report); "
            f"open {report.open}, closed {report.closed}; customers {report.customers}.\n"
            + ("Open complaints:\n" + "\n".join(named) + "\n" if named else "")
            + f"complaints incident show {request.incident_id}"
        )
        sent = send_staff_notices(
            self._notifier,
            f"incident:{request.incident_id}:report:{request.number}",
            request.recipients,
            kind="incident_situation_report",
            subject=f"Situation report {request.number}: incident {request.incident_id}, "
            f"{report.linked} complaints, {report.open} open",
            body=body,
            always_suffix=True,
        )
        bound_logger(incident_id=request.incident_id).info(
            "situation report", number=request.number, linked=report.linked, sent=sent
        )
        return report

    @activity.defn
    def notify_incident(self, notice: IncidentNotice) -> int:
        sent = send_staff_notices(
            self._notifier,
            notice.idempotency_key,
            notice.recipients,
            kind=notice.kind,
            subject=notice.subject,
            body=notice.body,
            always_suffix=True,
        )
        bound_logger(incident_id=notice.incident_id).info(
            "incident notice", kind=notice.kind, recipients=notice.recipients
        )
        return sent

    @staticmethod
    def _upsert(session: Session, record: IncidentRecord) -> bool:
        state, plan = record.state, record.state.plan
        assert plan is not None, "the workflow records a planned incident"
        row = session.get(IncidentRow, state.incident_id)
        new = row is None
        if row is None:
            row = IncidentRow(
                incident_id=state.incident_id,
                workflow_id=state.workflow_id,
                dimension=state.dimension.value,
                value=state.value,
                status=state.status.value,
                opened_at=plan.opened_at,
                window_start=state.figures.window_start,
                updated_at=utc_now(),
            )
        if row.status != IncidentStatus.CLOSED.value:  # a late retry of an older step does not reopen it
            row.status = state.status.value
            row.lead = state.lead
        row.crisis_team = plan.crisis_team
        row.figures = state.figures.model_dump(mode="json")
        row.linked_count = max(row.linked_count, record.linked_count)
        if state.reports >= row.reports and state.last_report is not None:
            row.reports, row.last_report = state.reports, state.last_report.model_dump(mode="json")
        row.review = row.review if row.status == IncidentStatus.CLOSED.value and row.review else state.review
        row.root_cause = (
            row.root_cause if row.status == IncidentStatus.CLOSED.value and row.root_cause else state.root_cause
        )
        row.reviewed_by = state.reviewed_by or row.reviewed_by
        row.reviewed_at = state.reviewed_at or row.reviewed_at
        row.closed_at = kept_first(row.closed_at, state.closed_at)
        row.closed_by = row.closed_by or state.closed_by
        row.closing_note = row.closing_note or state.closing_note
        row.updated_at = utc_now()
        session.add(row)
        surge_queries.record_links(session, state.incident_id, record.new_links, record.at)
        return new
