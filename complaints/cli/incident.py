"""`complaints incident`: surges of complaints and the incidents that run the emergency plan (step 6.2).

``list`` and ``show`` read the ``incidents`` and ``incident_complaints`` tables (``show`` adds the
open incident's live state from its workflow); ``watch`` counts now (the schedule does it every
``surge.check_every``); ``lead``, ``report`` (the post-incident review and its root cause) and
``close`` run the incident's updates, whose validators say who may.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from complaints.cli.common import (
    EXIT_USAGE,
    As,
    CliError,
    Json,
    engine,
    out,
    print_json,
    require_staff,
    run,
    signer,
    temporal_client,
    when,
)
from complaints.config import Settings
from complaints.incident import assign_lead, close_incident, incident_state, record_review, run_watch
from db import surge_queries
from models.incident import AssignLeadRequest, CloseIncidentRequest, IncidentReviewRequest

IncidentId = Annotated[
    str,
    typer.Argument(
        help="An incident, e.g. incident-product-trade_finance-1 (or incident-product-trade_finance: its latest)."
    ),
]

incident_app = typer.Typer(
    help="Surges of complaints and their incidents: the crisis team, the lead, the linked complaints, closing one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@incident_app.command("list")
def incident_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only incidents not closed yet.")] = False,
    as_json: Json = False,
) -> None:
    """Incidents, newest first."""

    async def body(settings: Settings) -> None:
        rows = surge_queries.list_incidents(engine(settings), open_only)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no incidents" + (" open" if open_only else " yet"))
            return
        table = Table("incident", "key", "status", "lead", "complaints", "reports", "opened", "root cause")
        for r in rows:
            table.add_row(
                r.incident_id,
                f"{r.dimension}={r.value}",
                r.status,
                r.lead or "",
                str(r.linked_count),
                str(r.reports),
                when(r.opened_at),
                r.root_cause or "",
            )
        out.print(table)

    run(body)


@incident_app.command("show")
def incident_show(incident: IncidentId, as_json: Json = False) -> None:
    """One incident: the surge, the crisis team and lead, its complaints, the latest situation report."""

    async def body(settings: Settings) -> None:
        db = engine(settings)
        row, state = await incident_state(await temporal_client(settings), db, incident)
        linked = surge_queries.linked_complaints(db, row.incident_id)
        if as_json:
            print_json(
                {
                    "incident": row.model_dump(mode="json"),
                    "complaints": [
                        {
                            "complaint_id": c.complaint_id,
                            "customer_id": c.customer_id,
                            "status": c.status,
                            "assignee": c.assignee,
                            "linked_at": c.linked_at,
                        }
                        for c in linked
                    ],
                    "state": state.model_dump(mode="json") if state else None,
                }
            )
            return
        figures = row.figures
        out.print(f"Incident {row.incident_id}: surge of complaints, {row.dimension}={row.value}")
        out.print(f"  surge:       {figures.get('explanation', '')}")
        out.print(f"  status:      {row.status}; opened {when(row.opened_at)}")
        out.print(f"  lead:        {row.lead or 'none'}")
        out.print(f"  crisis team: {', '.join(row.crisis_team) or 'nobody'}")
        report = row.last_report
        if report:
            out.print(
                f"  report {report['number']}:    {report['linked']} linked, {report['open']} open, "
                f"{report['closed']} closed, {report['customers']} customers "
                f"(sent {when(datetime.fromisoformat(report['at']))})"
            )
        elif state and state.next_report_at:
            out.print(f"  first report: {when(state.next_report_at)}")
        if row.review:
            out.print(f"  review:      {row.review} (root cause {row.root_cause}, by {row.reviewed_by})")
        if row.closed_at:
            note = f": {row.closing_note}" if row.closing_note else ""
            out.print(f"  closed:      {when(row.closed_at)} by {row.closed_by}{note}")
        out.print(f"  workflow:    {row.workflow_id} (Web UI: ComplaintIncidents = '{row.incident_id}')")
        if not linked:
            out.print("  no complaints linked yet")
            return
        table = Table("complaint", "customer", "status", "held by", "linked")
        for c in linked:
            table.add_row(c.complaint_id, c.customer_id, c.status, c.assignee or "", when(c.linked_at))
        out.print(table)

    run(body)


@incident_app.command("watch")
def incident_watch(as_json: Json = False) -> None:
    """Count now: open an incident for a surging key, link new complaints to the open ones."""

    async def body(settings: Settings) -> None:
        result = await run_watch(await temporal_client(settings), settings.task_queue)
        if as_json:
            print_json(result)
            return
        if not result.surging and not result.linked:
            out.print("no surge, and no complaint to link")
        for f in result.surging:
            out.print(f.explanation)
        for incident in result.opened:
            action = next(a for a in result.actions if a.incident_id == incident)
            out.print(f"opened {incident} with {len(action.complaint_ids)} complaints")
        for incident, count in result.linked.items():
            out.print(f"linked {count} complaint(s) to {incident}")

    run(body)


@incident_app.command("lead")
def incident_lead(
    incident: IncidentId,
    actor: As,
    lead: Annotated[str, typer.Option("--lead", help="The new lead's staff id (a lead role of the policy).")],
    as_json: Json = False,
) -> None:
    """Name the incident's lead (lead roles or the crisis team may)."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        request = AssignLeadRequest(incident_id=incident, actor=actor, lead=lead)
        result = await assign_lead(await temporal_client(settings), engine(settings), request, signer(settings))
        print_json(result) if as_json else out.print(f"{result.incident_id}: {result.message}")

    run(body)


@incident_app.command("report")
def incident_report(
    incident: IncidentId,
    actor: As,
    root_cause: Annotated[str, typer.Option("--root-cause", help="A root cause code of the policy.")],
    review: Annotated[str, typer.Option("--review", help="The post-incident review: what happened, what changes.")],
    as_json: Json = False,
) -> None:
    """Record the post-incident review and its root cause (the lead or the crisis team)."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        if not review.strip():
            raise CliError("--review: say what happened and what changes", EXIT_USAGE)
        request = IncidentReviewRequest(incident_id=incident, actor=actor, review=review, root_cause=root_cause)
        result = await record_review(await temporal_client(settings), engine(settings), request, signer(settings))
        print_json(result) if as_json else out.print(f"{result.incident_id}: {result.message}")

    run(body)


@incident_app.command("close")
def incident_close(
    incident: IncidentId,
    actor: As,
    note: Annotated[str, typer.Option("--note", help="A closing note.")] = "",
    as_json: Json = False,
) -> None:
    """Close the incident (its lead or a closer role; the review and root cause must be on file)."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        request = CloseIncidentRequest(incident_id=incident, actor=actor, note=note)
        result = await close_incident(await temporal_client(settings), engine(settings), request, signer(settings))
        if as_json:
            print_json(result)
        else:
            out.print(f"{result.incident_id}: {result.message} (status {result.status.value})")

    run(body)
