"""`complaints`: the staff CLI. Reading through Temporal visibility and the database; acting
through the workflow's updates, whose validators decide what each staff member may do.

Exit codes: 0 done, 1 refused by the complaint (reason printed), 2 bad arguments,
3 unknown complaint or staff member, 4 no Temporal server (or database) reachable.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, or_, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from complaints.actions import ComplaintActions, InvestigationActions
from complaints.config import Settings
from complaints.intake import (
    ActionRefused,
    ComplaintIntakeClient,
    ComplaintNotFound,
    describe_validation_error,
)
from complaints.temporal import TemporalUnreachable, connect, exit_process
from db.engine import make_engine
from db.tables import Complaint, ComplaintEventRow, OutboxMessage, Staff
from domain.policy import PolicyError, load_policy
from models import search_attributes as sa
from models.actions import (
    AdjustLookBackRequest,
    ApprovalDecision,
    AssignRequest,
    ContactNoteSignal,
    CustomerAnswer,
    EscalateSignal,
    ExtensionRequest,
    FeedbackRequest,
    FindingsRequest,
    FollowUpCallRequest,
    InformationReceived,
    InformationRequest,
    InvestigationOutcomeRequest,
    LegalEvaluationRequest,
    LookBackRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    MarkLookBackRequest,
    OpenInvestigationRequest,
    ProposalRequest,
    ReapplyPolicyRequest,
    RootCauseRequest,
)
from models.complaint import ComplaintSnapshot, Status
from models.intake import Category, EvidenceRef, Money, workflow_id_for
from models.investigation import (
    AccountabilityRequest,
    AssignInvestigatorRequest,
    CompleteReviewRequest,
    ConcludeInvestigationRequest,
    EvidenceRequest,
    FlagOpenComplaintsRequest,
    InvestigationFindingRequest,
    ResponsibleRequest,
)
from models.policy import Accountability, Tier

EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNREACHABLE = 1, 2, 3, 4

app = typer.Typer(
    help="Work on customer complaints: list, show, and act on them as a member of staff.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
# Piped output (scripts, logs) gets wide lines instead of 80-column wrapping.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

StatusChoice = StrEnum("StatusChoice", {s.value: s.value for s in Status})  # type: ignore[misc]
TierChoice = StrEnum("TierChoice", {t.value: t.value for t in Tier})  # type: ignore[misc]
CategoryChoice = StrEnum("CategoryChoice", {c.value: c.value for c in Category})  # type: ignore[misc]

As = Annotated[str, typer.Option("--as", help="Your staff id; your role comes from the staff directory.")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
ComplaintId = Annotated[str, typer.Argument(help="Complaint id, e.g. CMP-29B545EDD8B4.")]


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# -- plumbing ----------------------------------------------------------------------------


def _run(body: Callable[[Settings], Awaitable[None]]) -> None:
    """Run a command body; turn every expected failure into a sentence and an exit code."""
    settings = Settings()
    code = 0
    try:
        asyncio.run(body(settings))
    except ActionRefused as e:
        err.print(f"refused: {e}")
        code = EXIT_REFUSED
    except ComplaintNotFound as e:
        err.print(f"error: {e}")
        code = EXIT_NOT_FOUND
    except ValidationError as e:
        err.print("error: " + "; ".join(describe_validation_error(e)))
        code = EXIT_USAGE
    except TemporalUnreachable as e:
        err.print(f"error: {e}")
        code = EXIT_UNREACHABLE
    except OperationalError as e:
        err.print(f"error: the database at {settings.database_url} cannot be read: {e.orig}")
        code = EXIT_UNREACHABLE
    except CliError as e:
        err.print(f"error: {e}")
        code = e.code
    exit_process(code)


def _tz(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(load_policy(settings.policy_file).timezone)
    except PolicyError:
        return ZoneInfo("Asia/Shanghai")


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def _print_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    out.print_json(json.dumps(data, ensure_ascii=False, default=_json_value))


def _json_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@functools.cache
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def _engine(settings: Settings) -> Engine:
    """One engine per command run, however many reads it makes."""
    return _engine_for(settings.database_url)


async def _client(settings: Settings) -> Client:
    return await connect(settings)


# -- reading -----------------------------------------------------------------------------


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
    far = datetime.max.replace(tzinfo=timezone.utc)
    rows.sort(key=lambda r: (r["next_deadline"] or far, r["complaint_id"]))
    return rows


def _customer_names(settings: Settings, complaint_ids: list[str]) -> dict[str, str]:
    if not complaint_ids:
        return {}
    try:
        with Session(_engine(settings)) as session:
            found = session.exec(
                select(Complaint.complaint_id, Complaint.customer_name).where(col(Complaint.complaint_id).in_(complaint_ids))
            ).all()
    except OperationalError:
        return {}  # names are a courtesy; the list itself comes from Temporal
    return dict(found)


def _print_rows(rows: list[dict[str, Any]], settings: Settings, title: str) -> None:
    if not rows:
        out.print(f"{title}: none")
        return
    tz = _tz(settings)
    table = Table(title=f"{title} ({len(rows)})", title_justify="left")
    for header in ("complaint", "status", "tier", "category", "held by", f"next deadline ({tz.key})", "breached", "customer"):
        table.add_column(header)
    for r in rows:
        table.add_row(
            r["complaint_id"], r["status"] or "", r["tier"] or "", r["category"] or "", r["assignee"] or "—",
            _when(r["next_deadline"], tz), "BREACHED" if r["sla_breached"] else "",
            r["customer_name"] or r["customer_id"] or "",
        )
    out.print(table)


@app.command("list")
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
            (sa.STATUS, status, "--status"), (sa.TIER, tier, "--tier"),
            (sa.CATEGORY, category, "--category"), (sa.ASSIGNEE, assignee, "--assignee"),
        ):
            if value:
                clauses.append(f"{key.name}={_quote(str(value), option)}")
        if breached:
            clauses.append(f"{sa.SLA_BREACHED.name}=true")
        if overdue_within is not None:
            horizon = datetime.now(timezone.utc) + timedelta(hours=overdue_within)
            clauses.append(f'{sa.NEXT_DEADLINE.name} <= "{horizon.isoformat()}"')
        if search:
            ids = _search_database(settings, search)
            if not ids:
                rows: list[dict[str, Any]] = []
                _print_json(rows) if as_json else _print_rows(rows, settings, "Complaints")
                return
            clauses.append("WorkflowId IN (" + ", ".join(f'"{workflow_id_for(i)}"' for i in ids) + ")")
        client = await _client(settings)
        rows = await _list_rows(client, " AND ".join(clauses), settings)
        if as_json:
            _print_json(rows)
        else:
            _print_rows(rows, settings, "Complaints")

    _run(body)


def _search_database(settings: Settings, text: str) -> list[str]:
    pattern = f"%{text.strip()}%"
    with Session(_engine(settings)) as session:
        return list(
            session.exec(
                select(Complaint.complaint_id).where(
                    or_(
                        col(Complaint.customer_id).ilike(pattern),
                        col(Complaint.customer_name).ilike(pattern),
                        col(Complaint.contract_number).ilike(pattern),
                    )
                ).limit(500)
            ).all()
        )


@app.command()
def mine(as_: As, as_json: Json = False) -> None:
    """What is on your desk: complaints you hold and investigations you lead, soonest deadline first."""

    async def body(settings: Settings) -> None:
        with Session(_engine(settings)) as session:
            if session.get(Staff, as_) is None:
                raise CliError(f"no staff member {as_} in the staff directory", EXIT_NOT_FOUND)
        client = await _client(settings)
        query = ('WorkflowType IN ("ComplaintWorkflow", "InvestigationWorkflow") AND ExecutionStatus="Running" '
                 f'AND {sa.ASSIGNEE.name}={_quote(as_, "--as")}')
        rows = await _list_rows(client, query, settings)
        if as_json:
            _print_json(rows)
        else:
            _print_rows(rows, settings, f"On the desk of {as_}")

    _run(body)


async def _case_file(settings: Settings, complaint_id: str) -> dict[str, Any]:
    client = await _client(settings)
    intake = ComplaintIntakeClient(client, task_queue=settings.task_queue)
    source = "workflow"
    try:
        snapshot = (await intake.status(complaint_id)).snapshot
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ComplaintNotFound(f"no complaint {complaint_id}") from e
        snapshot, source = None, "database"
    with Session(_engine(settings)) as session:
        row = session.get(Complaint, complaint_id)
        events = session.exec(
            select(ComplaintEventRow).where(ComplaintEventRow.complaint_id == complaint_id).order_by(ComplaintEventRow.seq)
        ).all()
        messages = session.exec(
            select(OutboxMessage).where(OutboxMessage.complaint_id == complaint_id).order_by(OutboxMessage.id)
        ).all()
    if snapshot is None:
        if row is None:
            raise ComplaintNotFound(f"no complaint {complaint_id}")
        snapshot = ComplaintSnapshot.model_validate(row.snapshot)  # no worker answered: the projection
    return {
        "source": source,
        "complaint": snapshot.model_dump(mode="json"),
        "timeline": [
            {"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail} for e in events
        ],
        "notifications": [
            {"at": m.created_at.isoformat(), "kind": m.kind, "channel": m.channel, "recipient": m.recipient,
             "subject": m.subject, "key": m.idempotency_key}
            for m in messages
        ],
    }


@app.command()
def show(complaint_id: ComplaintId, as_json: Json = False) -> None:
    """The case file: parties, classification, clocks, timeline, evaluations, proposals, notifications."""

    async def body(settings: Settings) -> None:
        case = await _case_file(settings, complaint_id)
        if as_json:
            _print_json(case)
            return
        _print_case(case, _tz(settings))

    _run(body)


def _print_case(case: dict[str, Any], tz: ZoneInfo) -> None:
    snap = ComplaintSnapshot.model_validate(case["complaint"])
    intake, c = snap.intake, snap.classification
    parse = lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v  # noqa: E731
    out.rule(f"{snap.complaint_id}  ·  {snap.status.value}")
    who = intake.customer
    out.print(f"Customer     {who.name} ({who.customer_id}){', ' + who.company if who.company else ''}; "
              f"{who.email or who.phone or who.postal_address}; language {who.language}")
    out.print(f"Received     {_when(intake.received_at, tz)} via {intake.channel.value} "
              f"({intake.source_system} / {intake.source_reference})")
    out.print(f"Complaint    {intake.summary}")
    if intake.contract_number:
        out.print(f"Contract     {intake.contract_number}")
    if intake.regulators:
        out.print(f"Regulators   {', '.join(intake.regulators)}")
    if c:
        out.print(f"Category     {c.category.value}; tier {c.tier.value} by rule {c.rule_id} ({c.matched}); "
                  f"policy {c.policy_version}")
    team = f" with {', '.join(snap.team)}" if snap.team else ""
    out.print(f"Held by      {snap.assignee or 'unassigned'}{team}"
              + (f"; escalated to {snap.escalated_to} (level {snap.escalation_level})" if snap.escalated_to else ""))
    if snap.staff_record:
        s = snap.staff_record
        out.print(f"Staff named  {s.staff_id}: " + (
            f"{s.name}, {s.role}, service-quality score {s.service_quality_score}, "
            f"{s.open_complaints_naming_them} other open complaint(s)" if s.found else "not in the staff directory"))
    if case["source"] == "database":
        out.print("(no worker answered; this is the database projection)")

    clocks = Table(title="Clocks", title_justify="left")
    for h in ("clock", "limit", "state", f"due ({tz.key})", "note"):
        clocks.add_column(h)
    for k in snap.clocks:
        note = ", ".join(filter(None, [k.extended, f"met by {k.met_by}" if k.met_by else "",
                                        f"paused {k.paused_seconds:.0f}s" if k.paused_seconds else "",
                                        "calendar estimated" if k.calendar_estimated else ""]))
        clocks.add_row(k.label, k.limit, k.state.value.upper() if k.state.value == "breached" else k.state.value,
                       _when(k.due_at, tz), note)
    out.print(clocks)

    for label, ev in (("Legal evaluation", snap.legal_evaluation), ("Manager evaluation", snap.manager_evaluation)):
        if ev:
            out.print(f"{label}: {ev.opinion} — {ev.by}, {_when(ev.at, tz)}"
                      + (f"; proposes revision: {ev.clause_revision}" if ev.clause_revision else ""))
    if snap.loss_calculation:
        lc = snap.loss_calculation
        loss = f"{lc.actual_loss.amount} {lc.actual_loss.currency}" if lc.actual_loss else "none"
        out.print(f"Loss calculation: {loss} ({lc.method}) — {lc.by}")
    if snap.investigation:
        inv = snap.investigation
        outcome = (f"concluded: {inv.outcome.findings}; accountability {inv.outcome.accountability}"
                   f"{'; responsible ' + ', '.join(inv.outcome.responsible) if inv.outcome.responsible else ''}"
                   if inv.outcome else "in progress")
        out.print(f"Investigation: opened by {inv.opened_by} {_when(inv.opened_at, tz)} ({inv.scope}); {outcome}")
        if inv.workflow_id:
            out.print(f"               {inv.workflow_id}, lead {inv.lead or '—'}; recused: {', '.join(inv.implicated) or 'nobody'}"
                      f" (details: complaints investigation show {snap.complaint_id})")
    for flag in snap.review_flags:
        state = (f"reviewed by {flag.reviewed_by} {_when(flag.reviewed_at, tz)}: {flag.review_note}" if flag.reviewed_at
                 else "OPEN: a manager reviews, then `complaints review-done`")
        out.print(f"Review flag  {flag.staff_id} ({flag.relation}) implicated in {flag.investigation_id}; {state}")
    if snap.follow_up:
        fu = snap.follow_up
        calls = "; ".join(
            f"{_when(c.at, tz)} {c.by}: " + (f"satisfaction {c.satisfaction}, remedy {'delivered' if c.remedy_delivered else 'NOT delivered'}"
                                             if c.reached else "not reached") for c in fu.calls) or "none yet"
        out.print(f"Follow-up    caller {fu.caller}; calls: {calls}" + (f"; outcome {fu.outcome}" if fu.outcome else ""))
    if snap.look_back:
        lb = snap.look_back
        done = "; ".join(f"#{r.number} {_when(r.at, tz)} {r.situation} ({'kept' if r.commitments_kept else 'BROKEN'})"
                         for r in lb.revisits) or "none yet"
        out.print(f"Look-back    {len(lb.revisits)} of {lb.planned} revisits: {done}" + (f"; {lb.ended}" if lb.ended else ""))
    if snap.reopened_count:
        out.print(f"Reopened     {snap.reopened_count} time(s)")
    if snap.root_cause:
        out.print(f"Root cause   {snap.root_cause.code}: {snap.root_cause.text} — {snap.root_cause.by}")
    if snap.closure:
        c = snap.closure
        out.print(f"Closed       {_when(c.closed_at, tz)}: {c.outcome}, satisfaction {c.satisfaction or '—'}, "
                  f"{c.total_seconds / 86400:.1f} days from receipt")
    for f in snap.findings:
        out.print(f"Finding: {f.summary} — {f.recorded_by}"
                  + (f"; evidence {', '.join(e.uri for e in f.evidence)}" if f.evidence else ""))
    if snap.proposals:
        proposals = Table(title="Proposals", title_justify="left")
        for h in ("#", "by", "explanation", "remedies", "state", "decided by"):
            proposals.add_column(h)
        for p in snap.proposals:
            remedies = "; ".join(filter(None, [
                f"refund {p.fee_refund.amount} {p.fee_refund.currency}" if p.fee_refund else "",
                f"compensation {p.compensation.amount} {p.compensation.currency}" if p.compensation else "",
                f"contract revision: {p.contract_revision}" if p.contract_revision else ""])) or "explanation only"
            proposals.add_row(str(p.number), p.proposed_by, p.explanation, remedies, p.state, p.decided_by or "")
        out.print(proposals)

    timeline = Table(title="Timeline", title_justify="left")
    for h in ("#", f"at ({tz.key})", "event", "by", "detail"):
        timeline.add_column(h)
    for e in case["timeline"]:
        detail = ", ".join(f"{k}={v}" for k, v in e["detail"].items() if v not in (None, "", [], {}))
        timeline.add_row(str(e["seq"]), _when(parse(e["at"]), tz), e["kind"], e["actor"], detail[:90])
    out.print(timeline)

    sent = Table(title="Notifications sent", title_justify="left")
    for h in (f"at ({tz.key})", "kind", "to", "subject"):
        sent.add_column(h)
    for m in case["notifications"]:
        sent.add_row(_when(parse(m["at"]), tz), m["kind"], f"{m['channel']}:{m['recipient']}", m["subject"])
    out.print(sent)


# -- acting ------------------------------------------------------------------------------


def _act(complaint_id: str, method: str, build: Callable[[], BaseModel], as_json: bool) -> None:
    async def body(settings: Settings) -> None:
        request = build()  # a ValidationError here names the bad argument
        result = await getattr(ComplaintActions(await _client(settings)), method)(complaint_id, request)
        if as_json:
            _print_json(result)
        else:
            out.print(f"{complaint_id}: {result.message} (status {result.status})")

    _run(body)


def _money(amount: Decimal | None, currency: str, option: str) -> Money | None:
    if amount is None:
        return None
    try:
        return Money(amount=amount, currency=currency)
    except ValidationError as e:
        raise CliError(f"{option} {amount} {currency}: " + "; ".join(describe_validation_error(e)), EXIT_USAGE) from e


def _evidence(items: list[str]) -> list[EvidenceRef]:
    refs = []
    for item in items:
        uri, _, digest = item.rpartition("#sha256=")
        if not uri:
            raise CliError(f"--evidence {item!r}: write it as URI#sha256=<64 hex digits>", EXIT_USAGE)
        refs.append(EvidenceRef(uri=uri, sha256=digest))
    return refs


Currency = Annotated[str, typer.Option(help="ISO currency of the amounts.")]


@app.command()
def assign(
    complaint_id: ComplaintId, as_: As,
    handler: Annotated[str, typer.Option(help="Staff id of the handler.")],
    team: Annotated[list[str] | None, typer.Option(help="A team member's staff id (repeat for more).")] = None,
    reason: Annotated[str, typer.Option(help="Why (shown in the timeline).")] = "",
    as_json: Json = False,
) -> None:
    """Assign or reassign the complaint (managers)."""
    _act(complaint_id, "assign", lambda: AssignRequest(actor=as_, handler_id=handler, team=team or [], reason=reason), as_json)


@app.command()
def findings(
    complaint_id: ComplaintId, as_: As,
    summary: Annotated[str, typer.Option(help="What the investigation found.")],
    occurred_at: Annotated[datetime | None, typer.Option(help="When it happened (ISO 8601 with time zone).",
                                                          formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"])] = None,
    place: Annotated[str | None, typer.Option(help="Where it happened.")] = None,
    amount: Annotated[list[Decimal] | None, typer.Option(help="An amount involved (repeat for more).")] = None,
    currency: Currency = "CNY",
    evidence: Annotated[list[str] | None, typer.Option(help="URI#sha256=<hex> of a document (repeat for more).")] = None,
    as_json: Json = False,
) -> None:
    """Record investigation findings: time, place, amounts, evidence."""
    _act(complaint_id, "record_findings", lambda: FindingsRequest(
        actor=as_, summary=summary, occurred_at=occurred_at, place=place,
        amounts=[_money(a, currency, "--amount") for a in amount or []], evidence=_evidence(evidence or [])), as_json)


@app.command("legal-evaluation")
def legal_evaluation(
    complaint_id: ComplaintId, as_: As,
    opinion: Annotated[str, typer.Option(help="Legal's opinion.")],
    clause_revision: Annotated[str | None, typer.Option(help="Proposed wording; implies a revision is recommended.")] = None,
    as_json: Json = False,
) -> None:
    """Record legal's evaluation (legal)."""
    _act(complaint_id, "record_legal_evaluation", lambda: LegalEvaluationRequest(
        actor=as_, opinion=opinion, recommends_contract_revision=clause_revision is not None,
        clause_revision=clause_revision), as_json)


@app.command("manager-evaluation")
def manager_evaluation(
    complaint_id: ComplaintId, as_: As, opinion: Annotated[str, typer.Option(help="The manager's opinion.")],
    as_json: Json = False,
) -> None:
    """Record management's evaluation (managers)."""
    _act(complaint_id, "record_manager_evaluation", lambda: ManagerEvaluationRequest(actor=as_, opinion=opinion), as_json)


@app.command()
def loss(
    complaint_id: ComplaintId, as_: As,
    amount: Annotated[Decimal, typer.Option(help="The customer's actual loss (0 for none).")],
    method: Annotated[str, typer.Option(help="How it was computed.")],
    currency: Currency = "CNY",
    as_json: Json = False,
) -> None:
    """Record finance's calculation of the customer's actual loss (finance)."""
    _act(complaint_id, "record_loss_calculation", lambda: LossCalculationRequest(
        actor=as_, actual_loss=amount, currency=currency, method=method), as_json)


@app.command("request-info")
def request_info(
    complaint_id: ComplaintId, as_: As, what: Annotated[str, typer.Option(help="What the customer must provide.")],
    as_json: Json = False,
) -> None:
    """Ask the customer for information; the clocks pause where the rule pack allows."""
    _act(complaint_id, "request_customer_information", lambda: InformationRequest(actor=as_, requested=what), as_json)


@app.command("info-received")
def info_received(
    complaint_id: ComplaintId, as_: As, note: Annotated[str, typer.Option(help="What arrived.")], as_json: Json = False,
) -> None:
    """Record the customer's information; paused clocks resume."""
    _act(complaint_id, "record_customer_information", lambda: InformationReceived(actor=as_, note=note), as_json)


@app.command("open-investigation")
def open_investigation(
    complaint_id: ComplaintId, as_: As, scope: Annotated[str, typer.Option(help="What the investigation covers.")],
    as_json: Json = False,
) -> None:
    """Open the investigation of a complaint that became major before investigations ran as their
    own workflow (compliance). Newer complaints: `complaints investigation ...`."""
    _act(complaint_id, "open_investigation", lambda: OpenInvestigationRequest(actor=as_, scope=scope), as_json)




@app.command("investigation-outcome")
def investigation_outcome(
    complaint_id: ComplaintId, as_: As,
    findings_: Annotated[str, typer.Option("--findings", help="What the investigation established.")],
    accountability: Annotated[Accountability, typer.Option(help="The accountability decision.")],
    responsible: Annotated[list[str] | None, typer.Option(help="Staff id held responsible (repeat for more).")] = None,
    suspected_illegal: Annotated[bool, typer.Option("--suspected-illegal", help="Conduct may be illegal.")] = False,
    as_json: Json = False,
) -> None:
    """Record the investigation outcome of a complaint that became major before investigations ran
    as their own workflow (compliance). Newer complaints: `complaints investigation conclude`."""
    _act(complaint_id, "record_investigation_outcome", lambda: InvestigationOutcomeRequest(
        actor=as_, findings=findings_, accountability=accountability.value, responsible=responsible or [],
        suspected_illegal=suspected_illegal), as_json)


@app.command()
def feedback(
    complaint_id: ComplaintId, as_: As, message: Annotated[str, typer.Option(help="What to tell the customer.")],
    as_json: Json = False,
) -> None:
    """Send the customer feedback on progress (meets the complex tier's first-feedback clock)."""
    _act(complaint_id, "send_feedback", lambda: FeedbackRequest(actor=as_, message=message), as_json)


@app.command()
def propose(
    complaint_id: ComplaintId, as_: As,
    explanation: Annotated[str, typer.Option(help="The decision and why.")],
    fee_refund: Annotated[Decimal | None, typer.Option(help="Fees to refund.")] = None,
    compensation: Annotated[Decimal | None, typer.Option(help="Compensation to pay.")] = None,
    contract_revision: Annotated[str | None, typer.Option(help="The contract change offered.")] = None,
    currency: Currency = "CNY",
    as_json: Json = False,
) -> None:
    """Propose a resolution; it goes to the approver the approval matrix names."""
    _act(complaint_id, "propose_resolution", lambda: ProposalRequest(
        actor=as_, explanation=explanation, fee_refund=_money(fee_refund, currency, "--fee-refund"),
        compensation=_money(compensation, currency, "--compensation"), contract_revision=contract_revision), as_json)


@app.command()
def approve(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Note for the file.")] = "",
    as_json: Json = False,
) -> None:
    """Approve the proposed resolution; it is sent to the customer."""
    _act(complaint_id, "decide_resolution", lambda: ApprovalDecision(actor=as_, approve=True, reason=reason), as_json)


@app.command()
def reject(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Why; the handler is told.")],
    as_json: Json = False,
) -> None:
    """Reject the proposed resolution; the complaint goes back to its handler."""
    _act(complaint_id, "decide_resolution", lambda: ApprovalDecision(actor=as_, approve=False, reason=reason), as_json)


@app.command("customer-answer")
def customer_answer(
    complaint_id: ComplaintId, as_: As,
    accepted: Annotated[bool, typer.Option("--accepted/--rejected", help="The customer's answer.")],
    comments: Annotated[str, typer.Option(help="What the customer said.")] = "",
    as_json: Json = False,
) -> None:
    """Record whether the customer accepts the resolution (accepted: final response sent)."""
    _act(complaint_id, "record_customer_answer", lambda: CustomerAnswer(actor=as_, accepted=accepted, comments=comments),
         as_json)


@app.command()
def extend(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Why more time is needed.")],
    as_json: Json = False,
) -> None:
    """Extend the regulatory decision deadline (approver per the rule pack); the customer is told."""
    _act(complaint_id, "extend_deadline", lambda: ExtensionRequest(actor=as_, reason=reason), as_json)


@app.command()
def escalate(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Why.")],
    to_tier: Annotated[TierChoice | None, typer.Option(help="Raise straight to this tier.")] = None,
    as_json: Json = False,
) -> None:
    """Escalate (a signal: fire and forget; a refused escalation shows in the timeline)."""

    _signal(complaint_id, "escalate",
            lambda: EscalateSignal(actor=as_, reason=reason, to_tier=Tier(to_tier.value) if to_tier else None),
            as_json, f"escalation sent; `complaints show {complaint_id}` shows the outcome")


def _signal(complaint_id: str, method: str, build: Callable[[], BaseModel], as_json: bool, done: str) -> None:
    """Fire-and-forget actions: the complaint records what it made of them in its timeline."""

    async def body(settings: Settings) -> None:
        request = build()
        client = await _client(settings)
        try:
            await getattr(ComplaintActions(client), method)(complaint_id, request)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise ComplaintNotFound(f"no complaint {complaint_id} (or it is closed)") from e
            raise
        if as_json:
            _print_json({"complaint_id": complaint_id, "signalled": method})
        else:
            out.print(f"{complaint_id}: {done}")

    _run(body)


@app.command("follow-up-call")
def follow_up_call(
    complaint_id: ComplaintId, as_: As,
    reached: Annotated[bool, typer.Option("--reached/--not-reached", help="Whether the customer was reached.")],
    satisfaction: Annotated[int | None, typer.Option(help="1-5, when reached.", min=1, max=5)] = None,
    remedy_delivered: Annotated[
        bool | None, typer.Option("--remedy-delivered/--remedy-not-delivered", help="When reached.")
    ] = None,
    comments: Annotated[str, typer.Option(help="What the customer said.")] = "",
    as_json: Json = False,
) -> None:
    """Record the follow-up call; dissatisfied or remedy not delivered reopens the complaint."""
    _act(complaint_id, "record_follow_up_call", lambda: FollowUpCallRequest(
        actor=as_, reached=reached, satisfaction=satisfaction, remedy_delivered=remedy_delivered, comments=comments),
        as_json)


@app.command("look-back")
def look_back(
    complaint_id: ComplaintId, as_: As,
    situation: Annotated[str, typer.Option(help="How the customer's situation has developed.")],
    kept: Annotated[bool, typer.Option("--commitments-kept/--commitment-broken",
                                       help="Whether every commitment (revision signed, compensation paid) was kept.")],
    notes: Annotated[str, typer.Option(help="Anything else.")] = "",
    as_json: Json = False,
) -> None:
    """Record a look-back revisit (回头看); a broken commitment reopens the complaint."""
    _act(complaint_id, "record_look_back", lambda: LookBackRequest(
        actor=as_, situation=situation, commitments_kept=kept, notes=notes), as_json)


@app.command("adjust-look-back")
def adjust_look_back(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Why.")],
    revisits: Annotated[int | None, typer.Option(help="New total number of revisits.", min=1)] = None,
    end: Annotated[bool, typer.Option("--end", help="End the look-back now.")] = False,
    as_json: Json = False,
) -> None:
    """Extend, shorten or end the look-back loop (managers)."""
    _act(complaint_id, "adjust_look_back", lambda: AdjustLookBackRequest(
        actor=as_, reason=reason, revisits=revisits, end=end), as_json)


@app.command("mark-look-back")
def mark_look_back(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Why.")], as_json: Json = False,
) -> None:
    """Mark a complaint that is not major for look-back revisits (managers)."""
    _act(complaint_id, "mark_for_look_back", lambda: MarkLookBackRequest(actor=as_, reason=reason), as_json)


@app.command("root-cause")
def root_cause(
    complaint_id: ComplaintId, as_: As,
    code: Annotated[str, typer.Option(help="A code from the policy's root_causes list.")],
    text: Annotated[str, typer.Option(help="The cause in words.")],
    as_json: Json = False,
) -> None:
    """Record the root cause (溯源整改); a complaint closes only once it has one."""
    _act(complaint_id, "record_root_cause", lambda: RootCauseRequest(actor=as_, code=code, text=text), as_json)


@app.command("reapply-policy")
def reapply_policy(
    complaint_id: ComplaintId, as_: As, reason: Annotated[str, typer.Option(help="Why.")], as_json: Json = False,
) -> None:
    """Move the complaint onto the policy now in force; its deadlines are recomputed (managers)."""
    _act(complaint_id, "reapply_policy", lambda: ReapplyPolicyRequest(actor=as_, reason=reason), as_json)


@app.command("contact-note")
def contact_note(
    complaint_id: ComplaintId, as_: As, note: Annotated[str, typer.Option(help="What was said.")],
    as_json: Json = False,
) -> None:
    """Note a contact with the customer (a signal: fire and forget)."""
    _signal(complaint_id, "note_customer_contact", lambda: ContactNoteSignal(actor=as_, note=note), as_json,
            "contact noted")


@app.command()
def withdraw(
    complaint_id: ComplaintId,
    reason: Annotated[str, typer.Option(help="The customer's reason.")],
    relayed_by: Annotated[str, typer.Option(help="Who relays it (intake system or staff id).")],
    as_json: Json = False,
) -> None:
    """Withdraw the complaint on the customer's behalf."""

    async def body(settings: Settings) -> None:
        client = await _client(settings)
        result = await ComplaintIntakeClient(client).withdraw(complaint_id, reason, relayed_by)
        if as_json:
            _print_json(result)
        else:
            out.print(f"{complaint_id}: withdrawn (status {result.status.value})")

    _run(body)


@app.command("review-done")
def review_done(
    complaint_id: ComplaintId, as_: As,
    staff_id: Annotated[str, typer.Option("--staff", help="The implicated staff member whose part you reviewed.")],
    note: Annotated[str, typer.Option(help="What the review found.")],
    as_json: Json = False,
) -> None:
    """Complete the review of a complaint flagged by another complaint's investigation (manager)."""
    _act(complaint_id, "complete_review", lambda: CompleteReviewRequest(actor=as_, staff_id=staff_id, note=note), as_json)


# -- the investigation of a major complaint (its own workflow, owned by compliance) ----------

investigation_app = typer.Typer(
    help="The internal investigation of a major complaint: findings, evidence, people responsible, "
    "accountability, conclusion (compliance; accountability by the role the policy names).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(investigation_app, name="investigation")


def _investigate(complaint_id: str, method: str, build: Callable[[], BaseModel], as_json: bool) -> None:
    async def body(settings: Settings) -> None:
        request = build()  # a ValidationError here names the bad argument
        result = await getattr(InvestigationActions(await _client(settings)), method)(complaint_id, request)
        if as_json:
            _print_json(result)
        else:
            out.print(f"{result.investigation_id}: {result.message} (stage {result.stage})")
            for f in result.flagged:
                out.print(f"  flagged {f.complaint_id}: {f.staff_id} ({f.relation})"
                          + ("" if f.delivered else " — it has closed since; not flagged"))

    _run(body)


@investigation_app.command("show")
def investigation_show(complaint_id: ComplaintId, as_json: Json = False) -> None:
    """The investigation file: lead, clock, findings, evidence, people responsible, decision."""

    async def body(settings: Settings) -> None:
        investigations = InvestigationActions(await _client(settings))
        try:
            answer = await investigations.status(complaint_id)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise ComplaintNotFound(f"no investigation of {complaint_id} (is it a major complaint?)") from e
            raise
        file = answer.file
        if as_json:
            _print_json(answer)
            return
        tz = _tz(settings)
        out.print(f"{file.investigation_id}  {file.stage.value}  complaint {file.complaint_id}")
        out.print(f"Why          {file.reason}")
        out.print(f"Lead         {file.lead or '— (compliance must assign one)'}")
        out.print(f"Recused      {', '.join(file.implicated) or 'nobody'}")
        if file.clock:
            c = file.clock
            out.print(f"Clock        {c.label} ({c.limit}): {c.state.value.upper() if c.state.value == 'breached' else c.state.value}, "
                      f"due {_when(c.due_at, tz)}")
        for f in file.findings:
            out.print(f"Finding      {f.summary} — {f.by}, {_when(f.at, tz)}")
        for e in file.evidence:
            out.print(f"Evidence     {e.evidence.uri} sha256 {e.evidence.sha256[:12]}… — {e.by}")
        for r in file.responsible:
            out.print(f"Responsible  {', '.join(r.staff_ids)}: {r.reason} — {r.by}")
        for d in file.accountability:
            out.print(f"Decision     {d.decision}: {d.reason} — {d.by}, {_when(d.at, tz)}")
        for f in file.flagged:
            out.print(f"Flagged      {f.complaint_id} ({f.staff_id}, {f.relation})")
        if file.concluded_at:
            out.print(f"Concluded    {_when(file.concluded_at, tz)} by {file.concluded_by}: {file.conclusion}"
                      + ("; suspected illegal conduct" if file.suspected_illegal else ""))

    _run(body)


@investigation_app.command("assign")
def investigation_assign(
    complaint_id: ComplaintId, as_: As, lead: Annotated[str, typer.Option(help="Compliance officer to lead it.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "", as_json: Json = False,
) -> None:
    """Give the investigation a (new) lead (compliance or senior manager)."""
    _investigate(complaint_id, "assign_investigator",
                 lambda: AssignInvestigatorRequest(actor=as_, lead=lead, reason=reason), as_json)


@investigation_app.command("finding")
def investigation_finding(
    complaint_id: ComplaintId, as_: As, summary: Annotated[str, typer.Option(help="What was established.")],
    as_json: Json = False,
) -> None:
    """Record a finding (compliance)."""
    _investigate(complaint_id, "record_finding", lambda: InvestigationFindingRequest(actor=as_, summary=summary), as_json)


@investigation_app.command("evidence")
def investigation_evidence(
    complaint_id: ComplaintId, as_: As,
    ref: Annotated[str | None, typer.Option("--ref", help="URI#sha256=<64 hex digits> of a document held elsewhere.")] = None,
    file: Annotated[str | None, typer.Option("--file", help="A local document: its path and SHA-256 are recorded.")] = None,
    description: Annotated[str | None, typer.Option(help="What it is.")] = None,
    as_json: Json = False,
) -> None:
    """Add an evidence reference (compliance). Give --ref or --file."""

    def build() -> EvidenceRequest:
        if (ref is None) == (file is None):
            raise CliError("give exactly one of --ref and --file", EXIT_USAGE)
        if file is not None:
            import hashlib
            from pathlib import Path

            path = Path(file).resolve()
            if not path.is_file():
                raise CliError(f"--file {file}: no such file", EXIT_USAGE)
            evidence = EvidenceRef(uri=path.as_uri(), sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                                   description=description)
        else:
            [evidence] = _evidence([ref or ""])
            evidence = evidence.model_copy(update={"description": description})
        return EvidenceRequest(actor=as_, evidence=evidence)

    _investigate(complaint_id, "add_evidence", build, as_json)


@investigation_app.command("responsible")
def investigation_responsible(
    complaint_id: ComplaintId, as_: As,
    staff: Annotated[list[str], typer.Option("--staff", help="Staff id held responsible (repeat for more).")],
    reason: Annotated[str, typer.Option(help="Why.")], as_json: Json = False,
) -> None:
    """Name the people responsible (compliance); they are recused from this complaint at once."""
    _investigate(complaint_id, "name_responsible", lambda: ResponsibleRequest(actor=as_, staff_ids=staff, reason=reason),
                 as_json)


@investigation_app.command("accountability")
def investigation_accountability(
    complaint_id: ComplaintId, as_: As,
    decision: Annotated[Accountability, typer.Option(help="none, training, warning or disciplinary.")],
    reason: Annotated[str, typer.Option(help="Why.")], as_json: Json = False,
) -> None:
    """Decide accountability (the role the policy names for that decision)."""
    _investigate(complaint_id, "decide_accountability",
                 lambda: AccountabilityRequest(actor=as_, decision=decision.value, reason=reason), as_json)


@investigation_app.command("conclude")
def investigation_conclude(
    complaint_id: ComplaintId, as_: As, summary: Annotated[str, typer.Option(help="The conclusion.")],
    suspected_illegal: Annotated[bool, typer.Option("--suspected-illegal", help="Report to the regulator.")] = False,
    as_json: Json = False,
) -> None:
    """Conclude the investigation (compliance); the outcome flows back into the complaint."""
    _investigate(complaint_id, "conclude",
                 lambda: ConcludeInvestigationRequest(actor=as_, summary=summary, suspected_illegal=suspected_illegal),
                 as_json)


@investigation_app.command("flag")
def investigation_flag(
    complaint_id: ComplaintId, as_: As,
    staff: Annotated[list[str] | None, typer.Option("--staff", help="Implicated staff id (default: all of them).")] = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "", as_json: Json = False,
) -> None:
    """Flag the other open complaints of implicated staff for their managers to review."""
    _investigate(complaint_id, "flag_open_complaints",
                 lambda: FlagOpenComplaintsRequest(actor=as_, staff_ids=staff or [], reason=reason), as_json)
