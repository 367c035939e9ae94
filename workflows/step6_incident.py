"""Step 6.2: surges of complaints, and the incidents that run the emergency plan.

``SurgeWatchWorkflow`` counts (a Temporal Schedule every ``surge.check_every``, or on demand:
``complaints incident watch``): per product, category, channel and region, the complaints of the
latest window against the median of the windows before it (``domain.surge``). Counting is off the
intake path: one indexed query every few seconds or minutes costs less than a count at every
filing, and a burst of filings does not each race to open the incident. A surging key with no
incident open gets a signal-with-start of its ``IncidentWorkflow`` (id
``incident-<dimension>-<value>``, conflict policy USE_EXISTING: two watches at once open one
incident); an open incident gets the complaints of its key it has not linked yet (the signal
``add_complaints``), so a complaint filed after the incident opened is linked at the next count.

``IncidentWorkflow``, one incident of one key (``incident-<dimension>-<value>-<n>``, the n-th):

1. plan it (an activity: the crisis team is the active staff of ``incident.crisis_team``; the
   lead, the first active member of ``incident.lead_roles`` in order; who may close; the root
   causes; the report interval), record it, tell the crisis team and the lead once;
2. link each complaint once: the workflow signals the complaint (``link_incident``, an
   ``IncidentLink``) itself, with ``get_external_workflow_handle``. A signal from the workflow is
   a durable command: it is sent once, even if the worker dies, with no client in an activity
   and no retry re-sending it; an incident links tens to hundreds of complaints, two events each,
   and the workflow continues as new long before its history grows large. The complaint does the
   rest: its holder told, its internal clocks shortened by ``incident.internal_clock_factor``
   (never a regulator's), one holding reply per customer, its ``ComplaintIncidents`` search
   attribute (``workflows/step6_linked.py``). A complaint that no longer runs is skipped;
3. every ``incident.situation_report_every`` (a named timer) a situation report to the crisis
   team and the lead: complaints linked, open and closed among them, customers;
4. staff act through updates whose validators say who may (``domain.surge``): ``assign_lead``,
   ``record_review`` (the post-incident review and a root cause of the policy), ``close`` (refused
   without the review). Closed, it ends; the key's next surge opens incident n+1, not counting
   the complaints this one took. Each action is signed by its actor (issue 16): the signing set-up
   is loaded when the incident starts (``workflows.signing.StaffSignatures``), each validator
   checks the signature after the incident's own refusal, the handler checks it again in its turn,
   and an accepted action is kept in ``signed_actions`` (``complaints verify <workflow id>``).

Every step runs under one ``asyncio.Lock``; handlers re-check their validator once they hold it.
After ``IncidentStart.history_limit`` events (4000; or when the server suggests it) the incident
continues as new, carrying its state and the complaints sent but not linked yet, once every
handler has finished: the incident id, its notices' keys and its report numbers carry on.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import VersioningBehavior
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from activities.incident import IncidentActivities
    from domain import surge as rules
    from domain.rules import Refused
    from domain.times import fmt_utc
    from models import search_attributes as sa
    from models.incident import (
        AssignLeadRequest,
        CloseIncidentRequest,
        IncidentActionResult,
        IncidentComplaints,
        IncidentLink,
        IncidentNotice,
        IncidentPlan,
        IncidentRecord,
        IncidentReviewRequest,
        IncidentStart,
        IncidentState,
        IncidentStatus,
        SituationReportRequest,
        SurgeWatchRequest,
        SurgeWatchResult,
    )
    from models.intake import workflow_id_for
    from workflows.handlers import recheck
    from workflows.options import ACTIVITY_TIMEOUT, RETRY, call
    from workflows.signing import StaffSignatures

SIGNAL_BATCH = 50  # complaints signalled at once


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class SurgeWatchWorkflow:
    def __init__(self) -> None:
        self._requested_by: str | None = None

    @workflow.run
    async def run(self, request: SurgeWatchRequest) -> SurgeWatchResult:
        self._requested_by = request.requested_by
        workflow.set_current_details(f"Counting complaints per key (asked for by {request.requested_by})")
        found: SurgeWatchResult = await workflow.execute_activity_method(
            IncidentActivities.find_surges,
            request,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
            summary="Count complaints per product, category, channel and region",
        )
        if not found.actions:
            workflow.set_current_details(
                "No surge and nothing to link" if not found.surging else "Surging keys all have their incident"
            )
            return found
        result: SurgeWatchResult = await workflow.execute_activity_method(
            IncidentActivities.open_or_join_incidents,
            found,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"Open or join {len(found.actions)} incident(s)",
        )
        workflow.set_current_details(
            "\n\n".join(
                [
                    f"**Surging:** {', '.join(f.key for f in result.surging) or 'none'}",
                    f"**Opened:** {', '.join(result.opened) or 'none'}",
                    "**Linked:** " + (", ".join(f"{k} +{n}" for k, n in result.linked.items()) or "none"),
                ]
            )
        )
        return result


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class IncidentWorkflow:
    @workflow.init
    def __init__(self, start: IncidentStart) -> None:
        carried = start.carried
        self._state = carried or IncidentState(
            incident_id=start.incident_id,
            workflow_id=workflow.info().workflow_id,
            dimension=start.dimension,
            value=start.value,
            figures=start.figures,
        )
        self._pending: list[str] = list(start.pending)
        self._history_limit = start.history_limit
        self._lock = asyncio.Lock()  # planning, links, reports and staff actions one at a time
        self._signing = StaffSignatures(start.signing)

    @workflow.signal
    def add_complaints(self, batch: IncidentComplaints) -> None:
        """Complaints matching the key (from the watch): each is linked once."""
        known = {*self._state.linked, *self._pending}
        self._pending.extend(c for c in dict.fromkeys(batch.complaint_ids) if c not in known)

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentState:
        state = self._state
        await self._signing.load()
        if start.carried is None:
            workflow.upsert_search_attributes([sa.INCIDENT_STATUS.value_set(IncidentStatus.OPEN.value)])
            self._show(f"**Incident {state.incident_id}:** {state.figures.explanation}. Planning the response")
            async with self._lock:
                await self._open()
        else:
            state.runs += 1
        self._show()
        while not self._closed() and not self._history_full():
            if self._pending:
                async with self._lock:
                    if not self._closed():
                        await self._link_pending()
                continue
            due = state.next_report_at
            assert due is not None, "planned with its first report"
            try:
                await workflow.wait_condition(
                    lambda: bool(self._pending) or self._closed(),
                    timeout=max((due - workflow.now()).total_seconds(), 0.001),
                    timeout_summary=f"Situation report {state.reports + 1} at {fmt_utc(due)}",
                )
            except TimeoutError:
                async with self._lock:
                    if not self._closed():
                        await self._report()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if not self._closed():
            workflow.continue_as_new(
                IncidentStart(
                    incident_id=state.incident_id,
                    dimension=state.dimension,
                    value=state.value,
                    figures=state.figures,
                    carried=state,
                    pending=self._pending,
                    history_limit=self._history_limit,
                    signing=self._signing.carry(),
                )
            )
        self._show()
        return state

    # -- the plan's steps ---------------------------------------------------------------------

    async def _open(self) -> None:
        state = self._state
        plan: IncidentPlan = await call(
            IncidentActivities.plan_incident, workflow.now(), summary=f"Plan incident {state.incident_id}"
        )
        state.plan = plan
        state.lead = plan.lead_candidates[0] if plan.lead_candidates else None
        state.next_report_at = plan.opened_at + timedelta(seconds=plan.situation_report_seconds)
        self._show()
        await self._record(f"Record incident {state.incident_id} opened")
        await self._notify(
            "opened",
            "incident_opened",
            self._team(),
            f"INCIDENT {state.incident_id}: surge of complaints, {state.key}; lead {state.lead or 'none'}",
            f"{state.figures.explanation}.\n"
            f"Lead: {state.lead or 'nobody active in ' + ', '.join(plan.lead_roles)}. Crisis team: "
            f"{', '.join(plan.crisis_team) or 'nobody'}. A situation report every "
            f"{rules.every(plan.situation_report_seconds)}.\n"
            f"Linked complaints are prioritised, their handlers told, and each customer gets a holding reply.\n"
            f"complaints incident show {state.incident_id}",
        )

    async def _link_pending(self) -> None:
        state, plan = self._state, self._plan()
        batch, self._pending = self._pending, []
        known = set(state.linked)
        batch = [c for c in batch if c not in known]
        link = IncidentLink(
            incident_id=state.incident_id,
            key=state.key,
            lead=state.lead,
            internal_clock_factor=plan.internal_clock_factor,
            linked_at=workflow.now(),
        )
        linked: list[str] = []
        for i in range(0, len(batch), SIGNAL_BATCH):
            part = batch[i : i + SIGNAL_BATCH]
            sent = await asyncio.gather(*(self._signal(cid, link) for cid in part))
            linked += [cid for cid, ok in zip(part, sent, strict=True) if ok]
        state.linked.extend(linked)
        self._show()
        await self._record(f"Record {len(linked)} complaint(s) linked", new_links=linked)

    async def _signal(self, complaint_id: str, link: IncidentLink) -> bool:
        try:
            await workflow.get_external_workflow_handle(workflow_id_for(complaint_id)).signal("link_incident", link)
        except FailureError as err:
            workflow.logger.warning("complaint %s not linked to %s: %s", complaint_id, link.incident_id, err)
            return False  # the complaint's workflow no longer runs
        return True

    async def _report(self) -> None:
        state, plan = self._state, self._plan()
        number = state.reports + 1
        report = await call(
            IncidentActivities.situation_report,
            SituationReportRequest(
                incident_id=state.incident_id,
                number=number,
                key=state.key,
                lead=state.lead,
                recipients=self._team(),
                opened_at=plan.opened_at,
                previous_linked=state.last_report.linked if state.last_report else 0,
            ),
            summary=f"Situation report {number} to the crisis team",
        )
        state.reports, state.last_report = number, report
        state.next_report_at = workflow.now() + timedelta(seconds=plan.situation_report_seconds)
        self._show()
        await self._record(f"Record situation report {number}")

    # -- staff actions ------------------------------------------------------------------------

    @workflow.update
    async def assign_lead(self, request: AssignLeadRequest) -> IncidentActionResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_assign_lead, request)
            state = self._state
            before = state.lead
            state.lead, state.lead_assigned_by = request.lead, request.actor
            state.lead_changes += 1
            self._show()
            await self._record(f"Record {request.lead} leading, named by {request.actor}")
            await self._notify(
                f"lead:{state.lead_changes}",
                "incident_lead",
                sorted({request.lead, *([before] if before else [])}),
                f"Incident {state.incident_id}: {request.lead} now leads (named by {request.actor})",
                f"{state.incident_id} ({state.key}), {len(state.linked)} complaints linked. "
                f"Lead was {before or 'none'}.\n"
                f"complaints incident show {state.incident_id}",
            )
            return self._result(f"{request.lead} leads, named by {request.actor} (was {before or 'none'})")

    @assign_lead.validator
    def _validate_assign_lead(self, request: AssignLeadRequest) -> None:
        self._refuse(rules.lead_refusal(self._state, request))
        self._signing.check(request)  # who acts is proven (issue 16)

    @workflow.update
    async def record_review(self, request: IncidentReviewRequest) -> IncidentActionResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_record_review, request)
            state = self._state
            state.review, state.root_cause = request.review.strip(), request.root_cause
            state.reviewed_by, state.reviewed_at = request.actor, workflow.now()
            self._show()
            await self._record(f"Record the post-incident review by {request.actor}")
            return self._result(f"post-incident review recorded by {request.actor}, root cause {request.root_cause}")

    @record_review.validator
    def _validate_record_review(self, request: IncidentReviewRequest) -> None:
        self._refuse(rules.review_refusal(self._state, request))
        self._signing.check(request)

    @workflow.update
    async def close(self, request: CloseIncidentRequest) -> IncidentActionResult:
        async with self._lock, self._signing.turn():
            recheck(self._validate_close, request)
            state = self._state
            state.status, state.closed_at, state.closed_by = IncidentStatus.CLOSED, workflow.now(), request.actor
            state.closing_note = request.note.strip() or None
            workflow.upsert_search_attributes([sa.INCIDENT_STATUS.value_set(IncidentStatus.CLOSED.value)])
            self._show()
            await self._record(f"Record incident {state.incident_id} closed by {request.actor}")
            await self._notify(
                "closed",
                "incident_closed",
                self._team(),
                f"Incident {state.incident_id} closed by {request.actor}",
                f"{state.key}: {len(state.linked)} complaints linked, {state.reports} situation reports.\n"
                f"Root cause: {state.root_cause}. Review: {state.review}",
            )
            return self._result(f"closed by {request.actor}")

    @close.validator
    def _validate_close(self, request: CloseIncidentRequest) -> None:
        self._refuse(rules.close_refusal(self._state, request))
        self._signing.check(request)

    @workflow.signal
    async def refresh_staff_keys(self) -> None:
        """A key was registered or revoked (``complaints keys register|revoke|refresh``)."""
        await self._signing.refresh()

    @workflow.query
    def status(self) -> IncidentState:
        return self._state

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _refuse(problem: str | None) -> None:
        if problem:
            raise Refused(problem)

    def _result(self, message: str) -> IncidentActionResult:
        s = self._state
        return IncidentActionResult(incident_id=s.incident_id, status=s.status, lead=s.lead, message=message)

    def _closed(self) -> bool:
        return self._state.status == IncidentStatus.CLOSED

    def _history_full(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._history_limit

    def _plan(self) -> IncidentPlan:
        assert self._state.plan is not None, "planned before any step or action"
        return self._state.plan

    def _team(self) -> list[str]:
        """The crisis team and the lead."""
        lead = self._state.lead
        return sorted({*self._plan().crisis_team, *([lead] if lead else [])})

    async def _record(self, summary: str, new_links: list[str] | None = None) -> None:
        state = self._state
        record = IncidentRecord(
            state=state.model_copy(update={"linked": []}),
            linked_count=len(state.linked),
            new_links=new_links or [],
            at=workflow.now(),
        )
        await call(IncidentActivities.record_incident, record, summary=summary)

    async def _notify(self, key: str, kind: str, recipients: list[str], subject: str, body: str) -> None:
        if not recipients:
            return
        incident = self._state.incident_id
        await call(
            IncidentActivities.notify_incident,
            IncidentNotice(
                idempotency_key=f"incident:{incident}:{key}",
                incident_id=incident,
                kind=kind,
                recipients=recipients,
                subject=subject,
                body=body,
            ),
            summary=f"Notify {', '.join(recipients)}: {key}",
        )

    def _show(self, stage: str | None = None) -> None:
        workflow.set_current_details(stage or details(self._state))


def details(state: IncidentState) -> str:
    """What the crisis team reads in the Web UI: the surge, who leads, the complaints, what is next."""
    plan = state.plan
    lines = [
        f"**Incident {state.incident_id}:** surge of complaints, {state.key} ({state.status.value})",
        f"**Surge:** {state.figures.explanation}",
    ]
    if plan is None:
        return "\n\n".join([*lines, "**Next:** planning the response"])
    lines += [
        f"**Lead:** {state.lead or 'none'}"
        + (f" (named by {state.lead_assigned_by})" if state.lead_assigned_by else ""),
        f"**Crisis team:** {', '.join(plan.crisis_team) or 'nobody'}",
        f"**Complaints linked ({len(state.linked)}):** {', '.join(state.linked[:30])}"
        + (f" and {len(state.linked) - 30} more" if len(state.linked) > 30 else "")
        + f" (Workflows: `ComplaintIncidents = '{state.incident_id}'`)",
    ]
    report = state.last_report
    if report:
        lines.append(
            f"**Situation report {report.number}** ({fmt_utc(report.at)}): {report.linked} linked, "
            f"{report.open} open, {report.closed} closed, {report.customers} customers"
        )
    if state.review:
        lines.append(f"**Post-incident review** by {state.reviewed_by}, root cause {state.root_cause}: {state.review}")
    if state.closed_at:
        lines.append(
            f"**Closed** {fmt_utc(state.closed_at)} by {state.closed_by}"
            + (f": {state.closing_note}" if state.closing_note else "")
        )
    else:
        nxt = f"situation report {state.reports + 1} at {fmt_utc(state.next_report_at)}"
        todo = (
            f"`complaints incident close {state.incident_id} --as <id>`"
            if state.review
            else f"`complaints incident report {state.incident_id} --as <id> --root-cause <code> --review ...`, "
            "then close"
        )
        lines.append(f"**Next:** {nxt}; {todo}")
    return "\n\n".join(lines)
