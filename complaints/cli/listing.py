"""Reading: `complaints list`, `mine` and `show` (Temporal visibility, the workflow's status
query, and the database for names, the timeline and the notifications sent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from complaints.cli.common import (
    EXIT_USAGE,
    As,
    CategoryChoice,
    CliError,
    ComplaintId,
    Json,
    StatusChoice,
    TierChoice,
    engine,
    err,
    out,
    print_json,
    require_staff,
    run,
    temporal_client,
    when,
)
from complaints.config import Settings
from complaints.intake import ComplaintIntakeClient, ComplaintNotFound
from db.customer_search import search_complaints
from db.risk_queries import latest_warning
from db.tables import Complaint, ComplaintEventRow, OutboxMessage
from domain.rules import NO_INDEPENDENT_CALLER
from models import search_attributes as sa
from models.complaint import ComplaintSnapshot
from models.intake import workflow_id_for

# What a case file shows of the customer's early warning.
WARNING_FIELDS = {"customer_id", "status", "points", "threshold", "opened_at", "closed_at", "outcome"}


def _quote(value: str, option: str) -> str:
    if '"' in value or "\\" in value:
        raise CliError(f"{option} may not contain quotes or backslashes", EXIT_USAGE)
    return f'"{value}"'


async def _list_rows(client: Client, query: str, settings: Settings) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async for wf in client.list_workflows(query):
        attrs = wf.typed_search_attributes
        rows.append(
            {
                "complaint_id": wf.id.removeprefix("complaint-").removeprefix("investigation-"),
                "kind": "investigation" if wf.workflow_type == "InvestigationWorkflow" else "complaint",
                "status": attrs.get(sa.STATUS),
                "tier": attrs.get(sa.TIER),
                "category": attrs.get(sa.CATEGORY),
                "assignee": attrs.get(sa.ASSIGNEE),
                "next_deadline": attrs.get(sa.NEXT_DEADLINE),
                "sla_breached": bool(attrs.get(sa.SLA_BREACHED)),
                "customer_id": attrs.get(sa.CUSTOMER_ID),
                "contract_number": attrs.get(sa.CONTRACT_NUMBER),
                "running": wf.status is not None and wf.status.name == "RUNNING",
            }
        )
    names = _customer_names(settings, [r["complaint_id"] for r in rows])
    for row in rows:
        row["customer_name"] = names.get(row["complaint_id"])
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (r["next_deadline"] or far, r["complaint_id"]))
    return rows


def _customer_names(settings: Settings, complaint_ids: list[str]) -> dict[str, str]:
    if not complaint_ids:
        return {}
    try:
        with Session(engine(settings)) as session:
            found = session.exec(
                select(Complaint.complaint_id, Complaint.customer_name).where(
                    col(Complaint.complaint_id).in_(complaint_ids)
                )
            ).all()
    except OperationalError:
        return {}  # names are a courtesy; the list itself comes from Temporal
    except CliError as e:
        err.print(f"note: no customer names: {e}")
        return {}
    return dict(found)


def _print_rows(rows: list[dict[str, Any]], settings: Settings, title: str) -> None:
    if not rows:
        out.print(f"{title}: none")
        return
    table = Table(title=f"{title} ({len(rows)})", title_justify="left")
    for header in (
        "complaint",
        "status",
        "tier",
        "category",
        "held by",
        "next deadline",
        "breached",
        "customer",
    ):
        table.add_column(header)
    for r in rows:
        table.add_row(
            r["complaint_id"],
            r["status"] or "",
            r["tier"] or "",
            r["category"] or "",
            r["assignee"] or "—",
            when(r["next_deadline"]),
            "BREACHED" if r["sla_breached"] else "",
            r["customer_name"] or r["customer_id"] or "",
        )
    out.print(table)


def list_complaints(
    status: Annotated[StatusChoice | None, typer.Option(help="Only this status.")] = None,
    tier: Annotated[TierChoice | None, typer.Option(help="Only this tier.")] = None,
    category: Annotated[CategoryChoice | None, typer.Option(help="Only this category.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Only complaints this staff id holds.")] = None,
    breached: Annotated[bool, typer.Option("--breached", help="Only complaints with a breached SLA.")] = False,
    overdue_within: Annotated[
        float | None, typer.Option(help="Only complaints whose next deadline is within this many hours.", min=0)
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Customer id or name, or contract number (part of it is enough).")
    ] = None,
    closed: Annotated[bool, typer.Option("--closed", help="Include closed complaints.")] = False,
    as_json: Json = False,
) -> None:
    """List complaints (Temporal visibility; --search also reads the database)."""

    async def body(settings: Settings) -> None:
        clauses = ['WorkflowType="ComplaintWorkflow"']
        if not closed:
            clauses.append('ExecutionStatus="Running"')
        for key, value, option in (
            (sa.STATUS, status, "--status"),
            (sa.TIER, tier, "--tier"),
            (sa.CATEGORY, category, "--category"),
            (sa.ASSIGNEE, assignee, "--assignee"),
        ):
            if value:
                clauses.append(f"{key.name}={_quote(str(value), option)}")
        if breached:
            clauses.append(f"{sa.SLA_BREACHED.name}=true")
        if overdue_within is not None:
            horizon = datetime.now(UTC) + timedelta(hours=overdue_within)
            clauses.append(f'{sa.NEXT_DEADLINE.name} <= "{horizon.isoformat()}"')
        if search:
            ids = _search_database(settings, search)
            if not ids:
                rows: list[dict[str, Any]] = []
                print_json(rows) if as_json else _print_rows(rows, settings, "Complaints")
                return
            clauses.append("WorkflowId IN (" + ", ".join(f'"{workflow_id_for(i)}"' for i in ids) + ")")
        client = await temporal_client(settings)
        rows = await _list_rows(client, " AND ".join(clauses), settings)
        if as_json:
            print_json(rows)
        else:
            _print_rows(rows, settings, "Complaints")

    run(body)


def _search_database(settings: Settings, text: str) -> list[str]:
    # Names sealed at rest are matched after opening them, not in SQL (db/customer_search.py).
    return search_complaints(engine(settings), text)


def mine(as_: As, as_json: Json = False) -> None:
    """What is on your desk: complaints you hold and investigations you lead, soonest deadline first."""

    async def body(settings: Settings) -> None:
        require_staff(settings, as_)
        client = await temporal_client(settings)
        query = (
            'WorkflowType IN ("ComplaintWorkflow", "InvestigationWorkflow") AND ExecutionStatus="Running" '
            f"AND {sa.ASSIGNEE.name}={_quote(as_, '--as')}"
        )
        rows = await _list_rows(client, query, settings)
        if as_json:
            print_json(rows)
        else:
            _print_rows(rows, settings, f"On the desk of {as_}")

    run(body)


async def _case_file(settings: Settings, complaint_id: str) -> dict[str, Any]:
    client = await temporal_client(settings)
    intake = ComplaintIntakeClient(client, task_queue=settings.task_queue)
    source = "workflow"
    try:
        snapshot = (await intake.status(complaint_id)).snapshot
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ComplaintNotFound(f"no complaint {complaint_id}") from e
        snapshot, source = None, "database"
    with Session(engine(settings)) as session:
        row = session.get(Complaint, complaint_id)
        events = session.exec(
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(col(ComplaintEventRow.seq))
        ).all()
        messages = session.exec(
            select(OutboxMessage).where(OutboxMessage.complaint_id == complaint_id).order_by(col(OutboxMessage.id))
        ).all()
    projection: dict[str, Any] | None = None
    if snapshot is None:
        if row is None:
            raise ComplaintNotFound(f"no complaint {complaint_id}")
        if row.snapshot:  # projected before events were lean: the case file as it was then
            snapshot = ComplaintSnapshot.model_validate(row.snapshot)
        else:  # no worker answered: the projection's columns
            projection = row.model_dump(mode="json", exclude={"snapshot"})
    customer_id = snapshot.intake.customer.customer_id if snapshot else row.customer_id if row else None
    warning = latest_warning(engine(settings), customer_id) if customer_id else None
    return {
        "source": source,
        "complaint": snapshot.model_dump(mode="json") if snapshot else None,
        "projection": projection,
        "risk_warning": warning.model_dump(mode="json", include=WARNING_FIELDS) if warning else None,
        "timeline": [
            {"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail} for e in events
        ],
        "notifications": [
            {
                "at": m.created_at.isoformat(),
                "kind": m.kind,
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "key": m.idempotency_key,
            }
            for m in messages
        ],
    }


def show(complaint_id: ComplaintId, as_json: Json = False) -> None:
    """The case file: parties, classification, clocks, timeline, evaluations, proposals, notifications."""

    async def body(settings: Settings) -> None:
        case = await _case_file(settings, complaint_id)
        if as_json:
            print_json(case)
            return
        _print_case(case)

    run(body)


def _parse_time(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _print_case(case: dict[str, Any]) -> None:
    if case["complaint"] is None:
        _print_projection(case["projection"], case)
        _print_timeline(case)
        return
    snap = ComplaintSnapshot.model_validate(case["complaint"])
    intake, c = snap.intake, snap.classification
    out.rule(f"{snap.complaint_id}  ·  {snap.status.value}")
    who = intake.customer
    out.print(
        f"Customer     {who.name} ({who.customer_id}){', ' + who.company if who.company else ''}; "
        f"{who.email or who.phone or who.postal_address}; language {who.language}"
    )
    out.print(
        f"Received     {when(intake.received_at)} via {intake.channel.value} "
        f"({intake.source_system} / {intake.source_reference})"
    )
    _print_risk_warning(case)
    out.print(f"Complaint    {intake.summary}")
    if intake.contract_number:
        out.print(f"Contract     {intake.contract_number}")
    if intake.regulators:
        out.print(f"Regulators   {', '.join(intake.regulators)}")
    if c:
        out.print(
            f"Category     {c.category.value}; tier {c.tier.value} by rule {c.rule_id} ({c.matched}); "
            f"policy {c.policy_version}"
        )
    team = f" with {', '.join(snap.team)}" if snap.team else ""
    out.print(
        f"Held by      {snap.assignee or 'unassigned'}{team}"
        + (f"; escalated to {snap.escalated_to} (level {snap.escalation_level})" if snap.escalated_to else "")
    )
    if snap.staff_record:
        s = snap.staff_record
        out.print(
            f"Staff named  {s.staff_id}: "
            + (
                f"{s.name}, {s.role}, service-quality score {s.service_quality_score}, "
                f"{s.open_complaints_naming_them} other open complaint(s)"
                if s.found
                else "not in the staff directory"
            )
        )
    if case["source"] == "database":
        out.print("(no worker answered; this is the database projection)")

    clocks = Table(title="Clocks", title_justify="left")
    for h in ("clock", "limit", "state", "due", "note"):
        clocks.add_column(h)
    for k in snap.clocks:
        note = ", ".join(
            filter(
                None,
                [
                    k.extended,
                    f"met by {k.met_by}" if k.met_by else "",
                    f"paused {k.paused_seconds:.0f}s" if k.paused_seconds else "",
                    "calendar estimated" if k.calendar_estimated else "",
                ],
            )
        )
        clocks.add_row(
            k.label,
            k.limit,
            k.state.value.upper() if k.state.value == "breached" else k.state.value,
            when(k.due_at),
            note,
        )
    out.print(clocks)

    for label, ev in (("Legal evaluation", snap.legal_evaluation), ("Manager evaluation", snap.manager_evaluation)):
        if ev:
            out.print(
                f"{label}: {ev.opinion} — {ev.by}, {when(ev.at)}"
                + (f"; proposes revision: {ev.clause_revision}" if ev.clause_revision else "")
            )
    if snap.loss_calculation:
        lc = snap.loss_calculation
        loss = f"{lc.actual_loss.amount} {lc.actual_loss.currency}" if lc.actual_loss else "none"
        out.print(f"Loss calculation: {loss} ({lc.method}) — {lc.by}")
    if snap.investigation:
        inv = snap.investigation
        outcome = (
            f"concluded: {inv.outcome.findings}; accountability {inv.outcome.accountability}"
            f"{'; responsible ' + ', '.join(inv.outcome.responsible) if inv.outcome.responsible else ''}"
            if inv.outcome
            else "in progress"
        )
        out.print(f"Investigation: opened by {inv.opened_by} {when(inv.opened_at)} ({inv.scope}); {outcome}")
        if inv.workflow_id:
            out.print(
                f"               {inv.workflow_id}, lead {inv.lead or '—'}; "
                f"recused: {', '.join(inv.implicated) or 'nobody'}"
                f" (details: complaints investigation show {snap.complaint_id})"
            )
    for flag in snap.review_flags:
        state = (
            f"reviewed by {flag.reviewed_by} {when(flag.reviewed_at)}: {flag.review_note}"
            if flag.reviewed_at
            else "OPEN: a manager reviews, then `complaints review-done`"
        )
        out.print(f"Review flag  {flag.staff_id} ({flag.relation}) implicated in {flag.investigation_id}; {state}")
    for incident in snap.incidents:
        out.print(
            f"Incident     {incident.incident_id} ({incident.key}), lead {incident.lead or '—'}, "
            f"linked {when(incident.linked_at)} (complaints incident show {incident.incident_id})"
        )
    for recall in snap.recalls:
        out.print(
            f"Recall       {recall.recall_id} of {recall.product}, declared by {recall.declared_by}: {recall.reason}"
        )
    if snap.follow_up:
        fu = snap.follow_up
        calls = (
            "; ".join(
                f"{when(c.at)} {c.by}"
                + (f" (taking over from {c.taken_over_from})" if c.taken_over_from else "")
                + ": "
                + (
                    f"satisfaction {c.satisfaction}, remedy {'delivered' if c.remedy_delivered else 'NOT delivered'}"
                    if c.reached
                    else "not reached"
                )
                for c in fu.calls
            )
            or "none yet"
        )
        out.print(
            f"Follow-up    caller {fu.caller or NO_INDEPENDENT_CALLER}; calls: {calls}"
            + (f"; outcome {fu.outcome}" if fu.outcome else "")
        )
    if snap.look_back:
        lb = snap.look_back
        done = (
            "; ".join(
                f"#{r.number} {when(r.at)} {r.situation} ({'kept' if r.commitments_kept else 'BROKEN'})"
                for r in lb.revisits
            )
            or "none yet"
        )
        out.print(
            f"Look-back    {len(lb.revisits)} of {lb.planned} revisits: {done}" + (f"; {lb.ended}" if lb.ended else "")
        )
    if snap.reopened_count:
        out.print(f"Reopened     {snap.reopened_count} time(s)")
    if snap.root_cause:
        out.print(f"Root cause   {snap.root_cause.code}: {snap.root_cause.text} — {snap.root_cause.by}")
    if snap.closure:
        closure = snap.closure
        out.print(
            f"Closed       {when(closure.closed_at)}: {closure.outcome}, "
            f"satisfaction {closure.satisfaction or '—'}, {closure.total_seconds / 86400:.1f} days from receipt"
        )
    for f in snap.findings:
        out.print(
            f"Finding: {f.summary} — {f.recorded_by}"
            + (f"; evidence {', '.join(e.uri for e in f.evidence)}" if f.evidence else "")
        )
    if snap.proposals:
        proposals = Table(title="Proposals", title_justify="left")
        for h in ("#", "by", "explanation", "remedies", "state", "decided by"):
            proposals.add_column(h)
        for p in snap.proposals:
            remedies = (
                "; ".join(
                    filter(
                        None,
                        [
                            f"refund {p.fee_refund.amount} {p.fee_refund.currency}" if p.fee_refund else "",
                            f"compensation {p.compensation.amount} {p.compensation.currency}" if p.compensation else "",
                            f"contract revision: {p.contract_revision}" if p.contract_revision else "",
                        ],
                    )
                )
                or "explanation only"
            )
            proposals.add_row(str(p.number), p.proposed_by, p.explanation, remedies, p.state, p.decided_by or "")
        out.print(proposals)
    _print_timeline(case)


def _print_risk_warning(case: dict[str, Any]) -> None:
    """The customer's early warning (step 5): open, or the latest closed one."""
    w = case.get("risk_warning")
    if not w:
        return
    closed = f", closed {when(_parse_time(w['closed_at']))}: {w['outcome']}" if w.get("closed_at") else ""
    out.print(
        f"Risk warning {w['status']}, {w['points']} points (threshold {w['threshold']}), "
        f"opened {when(_parse_time(w['opened_at']))}{closed}; complaints risk show {w['customer_id']}"
    )


def _print_projection(row: dict[str, Any], case: dict[str, Any]) -> None:
    out.rule(f"{row['complaint_id']}  ·  {row['status']}")
    out.print("(no worker answered; this is the database projection: the timeline below is the case file)")
    out.print(f"Customer     {row['customer_name']} ({row['customer_id']})")
    _print_risk_warning(case)
    out.print(
        f"Received     {when(_parse_time(row['received_at']))} via {row['channel']} "
        f"({row['source_system']} / {row['source_reference']})"
    )
    out.print(
        f"Category     {row['category']}; tier {row['tier'] or '—'} by rule {row['tier_rule'] or '—'}; "
        f"policy {row['policy_version'] or '—'}"
    )
    team = f" with {', '.join(row['team'])}" if row.get("team") else ""
    out.print(f"Held by      {row['assignee'] or 'unassigned'}{team}")
    deadline = when(_parse_time(row["next_deadline"])) if row["next_deadline"] else "—"
    out.print(f"Next due     {deadline}" + ("; an SLA clock is BREACHED" if row["sla_breached"] else ""))


def clip(text: str, limit: int = 60) -> str:
    """Shorten free text at a word boundary; a word up to ``limit`` (a policy version, an id) stays whole."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"


def _print_timeline(case: dict[str, Any]) -> None:
    timeline = Table(title="Timeline", title_justify="left")
    for h in ("#", "at", "event", "by"):
        timeline.add_column(h)
    timeline.add_column("detail", overflow="fold")  # a narrow terminal wraps it, never crops it
    for e in case["timeline"]:
        detail = ", ".join(f"{k}={clip(str(v))}" for k, v in e["detail"].items() if v not in (None, "", [], {}))
        timeline.add_row(str(e["seq"]), when(_parse_time(e["at"])), e["kind"], e["actor"], detail)
    out.print(timeline)

    sent = Table(title="Notifications sent", title_justify="left")
    for h in ("at", "kind", "to", "subject"):
        sent.add_column(h)
    for m in case["notifications"]:
        sent.add_row(when(_parse_time(m["at"])), m["kind"], f"{m['channel']}:{m['recipient']}", m["subject"])
    out.print(sent)
