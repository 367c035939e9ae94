"""The investigation of a major complaint: the `complaints investigation ...` sub-app (its own
workflow, owned by compliance), the legacy `open-investigation` / `investigation-outcome` of
complaints that became major before investigations ran as their own workflow, and
`review-done` for complaints flagged by another complaint's investigation."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from temporalio.service import RPCError, RPCStatusCode

from complaints.actions import ComplaintActions, InvestigationActions
from complaints.cli.common import (
    EXIT_USAGE,
    As,
    CliError,
    ComplaintId,
    Json,
    Request,
    act,
    evidence_refs,
    out,
    print_json,
    run,
    signer,
    temporal_client,
    when,
)
from complaints.config import Settings
from complaints.intake import ComplaintNotFound
from models.actions import InvestigationOutcomeRequest, OpenInvestigationRequest
from models.intake import EvidenceRef
from models.investigation import (
    AccountabilityRequest,
    AssignInvestigatorRequest,
    CompleteReviewRequest,
    ConcludeInvestigationRequest,
    EvidenceRequest,
    FlagOpenComplaintsRequest,
    InvestigationActionResult,
    InvestigationFindingRequest,
    ResponsibleRequest,
)
from models.policy import Accountability

# An update on the investigation, named by its method: `InvestigationActions.conclude`.
InvestigationAction = Callable[[InvestigationActions, str, Request], Awaitable[InvestigationActionResult]]


# -- the legacy investigation, recorded on the complaint itself ------------------------------


def open_investigation(
    complaint_id: ComplaintId,
    as_: As,
    scope: Annotated[str, typer.Option(help="What the investigation covers.")],
    as_json: Json = False,
) -> None:
    """Open the investigation of a complaint that became major before investigations ran as their
    own workflow (compliance). Newer complaints: `complaints investigation ...`."""
    act(
        complaint_id,
        ComplaintActions.open_investigation,
        lambda: OpenInvestigationRequest(actor=as_, scope=scope),
        as_json,
    )


def investigation_outcome(
    complaint_id: ComplaintId,
    as_: As,
    findings_: Annotated[str, typer.Option("--findings", help="What the investigation established.")],
    accountability: Annotated[Accountability, typer.Option(help="The accountability decision.")],
    responsible: Annotated[list[str] | None, typer.Option(help="Staff id held responsible (repeat for more).")] = None,
    suspected_illegal: Annotated[bool, typer.Option("--suspected-illegal", help="Conduct may be illegal.")] = False,
    as_json: Json = False,
) -> None:
    """Record the investigation outcome of a complaint that became major before investigations ran
    as their own workflow (compliance). Newer complaints: `complaints investigation conclude`."""
    act(
        complaint_id,
        ComplaintActions.record_investigation_outcome,
        lambda: InvestigationOutcomeRequest(
            actor=as_,
            findings=findings_,
            accountability=accountability,
            responsible=responsible or [],
            suspected_illegal=suspected_illegal,
        ),
        as_json,
    )


def review_done(
    complaint_id: ComplaintId,
    as_: As,
    staff_id: Annotated[str, typer.Option("--staff", help="The implicated staff member whose part you reviewed.")],
    note: Annotated[str, typer.Option(help="What the review found.")],
    as_json: Json = False,
) -> None:
    """Complete the review of a complaint flagged by another complaint's investigation (manager)."""
    act(
        complaint_id,
        ComplaintActions.complete_review,
        lambda: CompleteReviewRequest(actor=as_, staff_id=staff_id, note=note),
        as_json,
    )


# -- the investigation of a major complaint (its own workflow, owned by compliance) ----------

investigation_app = typer.Typer(
    help="The internal investigation of a major complaint: findings, evidence, people responsible, "
    "accountability, conclusion (compliance; accountability by the role the policy names).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _investigate(
    complaint_id: str, action: InvestigationAction[Request], build: Callable[[], Request], as_json: bool
) -> None:
    async def body(settings: Settings) -> None:
        request = build()  # a ValidationError here names the bad argument
        investigations = InvestigationActions(await temporal_client(settings), signer(settings))
        result = await action(investigations, complaint_id, request)
        if as_json:
            print_json(result)
        else:
            out.print(f"{result.investigation_id}: {result.message} (stage {result.stage})")
            for f in result.flagged:
                out.print(
                    f"  flagged {f.complaint_id}: {f.staff_id} ({f.relation})"
                    + ("" if f.delivered else " — it has closed since; not flagged")
                )

    run(body)


@investigation_app.command("show")
def investigation_show(complaint_id: ComplaintId, as_json: Json = False) -> None:
    """The investigation file: lead, clock, findings, evidence, people responsible, decision."""

    async def body(settings: Settings) -> None:
        investigations = InvestigationActions(await temporal_client(settings))
        try:
            answer = await investigations.status(complaint_id)
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise ComplaintNotFound(f"no investigation of {complaint_id} (is it a major complaint?)") from e
            raise
        file = answer.file
        if as_json:
            print_json(answer)
            return
        out.print(f"{file.investigation_id}  {file.stage.value}  complaint {file.complaint_id}")
        out.print(f"Why          {file.reason}")
        out.print(f"Lead         {file.lead or '— (compliance must assign one)'}")
        out.print(f"Recused      {', '.join(file.implicated) or 'nobody'}")
        if file.clock:
            c = file.clock
            state = c.state.value.upper() if c.state.value == "breached" else c.state.value
            out.print(f"Clock        {c.label} ({c.limit}): {state}, due {when(c.due_at)}")
        for f in file.findings:
            out.print(f"Finding      {f.summary} — {f.by}, {when(f.at)}")
        for ev in file.evidence:
            out.print(f"Evidence     {ev.evidence.uri} sha256 {ev.evidence.sha256[:12]}… — {ev.by}")
        for r in file.responsible:
            out.print(f"Responsible  {', '.join(r.staff_ids)}: {r.reason} — {r.by}")
        for d in file.accountability:
            out.print(f"Decision     {d.decision}: {d.reason} — {d.by}, {when(d.at)}")
        for flag in file.flagged:
            out.print(f"Flagged      {flag.complaint_id} ({flag.staff_id}, {flag.relation})")
        if file.concluded_at:
            out.print(
                f"Concluded    {when(file.concluded_at)} by {file.concluded_by}: {file.conclusion}"
                + ("; suspected illegal conduct" if file.suspected_illegal else "")
            )

    run(body)


@investigation_app.command("assign")
def investigation_assign(
    complaint_id: ComplaintId,
    as_: As,
    lead: Annotated[str, typer.Option(help="Compliance officer to lead it.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: Json = False,
) -> None:
    """Give the investigation a (new) lead (compliance or senior manager)."""
    _investigate(
        complaint_id,
        InvestigationActions.assign_investigator,
        lambda: AssignInvestigatorRequest(actor=as_, lead=lead, reason=reason),
        as_json,
    )


@investigation_app.command("finding")
def investigation_finding(
    complaint_id: ComplaintId,
    as_: As,
    summary: Annotated[str, typer.Option(help="What was established.")],
    as_json: Json = False,
) -> None:
    """Record a finding (compliance)."""
    _investigate(
        complaint_id,
        InvestigationActions.record_finding,
        lambda: InvestigationFindingRequest(actor=as_, summary=summary),
        as_json,
    )


@investigation_app.command("evidence")
def investigation_evidence(
    complaint_id: ComplaintId,
    as_: As,
    ref: Annotated[
        str | None, typer.Option("--ref", help="URI#sha256=<64 hex digits> of a document held elsewhere.")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="A local document: its path and SHA-256 are recorded.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is.")] = None,
    as_json: Json = False,
) -> None:
    """Add an evidence reference (compliance). Give --ref or --file."""

    def build() -> EvidenceRequest:
        if (ref is None) == (file is None):
            raise CliError("give exactly one of --ref and --file", EXIT_USAGE)
        if file is not None:
            path = Path(file).resolve()
            if not path.is_file():
                raise CliError(f"--file {file}: no such file", EXIT_USAGE)
            evidence = EvidenceRef(
                uri=path.as_uri(), sha256=hashlib.sha256(path.read_bytes()).hexdigest(), description=description
            )
        else:
            [evidence] = evidence_refs([ref or ""])
            evidence = evidence.model_copy(update={"description": description})
        return EvidenceRequest(actor=as_, evidence=evidence)

    _investigate(complaint_id, InvestigationActions.add_evidence, build, as_json)


@investigation_app.command("responsible")
def investigation_responsible(
    complaint_id: ComplaintId,
    as_: As,
    staff: Annotated[list[str], typer.Option("--staff", help="Staff id held responsible (repeat for more).")],
    reason: Annotated[str, typer.Option(help="Why.")],
    as_json: Json = False,
) -> None:
    """Name the people responsible (compliance); they are recused from this complaint at once."""
    _investigate(
        complaint_id,
        InvestigationActions.name_responsible,
        lambda: ResponsibleRequest(actor=as_, staff_ids=staff, reason=reason),
        as_json,
    )


@investigation_app.command("accountability")
def investigation_accountability(
    complaint_id: ComplaintId,
    as_: As,
    decision: Annotated[Accountability, typer.Option(help="none, training, warning or disciplinary.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    as_json: Json = False,
) -> None:
    """Decide accountability (the role the policy names for that decision)."""
    _investigate(
        complaint_id,
        InvestigationActions.decide_accountability,
        lambda: AccountabilityRequest(actor=as_, decision=decision, reason=reason),
        as_json,
    )


@investigation_app.command("conclude")
def investigation_conclude(
    complaint_id: ComplaintId,
    as_: As,
    summary: Annotated[str, typer.Option(help="The conclusion.")],
    suspected_illegal: Annotated[bool, typer.Option("--suspected-illegal", help="Report to the regulator.")] = False,
    as_json: Json = False,
) -> None:
    """Conclude the investigation (compliance); the outcome flows back into the complaint."""
    _investigate(
        complaint_id,
        InvestigationActions.conclude,
        lambda: ConcludeInvestigationRequest(actor=as_, summary=summary, suspected_illegal=suspected_illegal),
        as_json,
    )


@investigation_app.command("flag")
def investigation_flag(
    complaint_id: ComplaintId,
    as_: As,
    staff: Annotated[
        list[str] | None, typer.Option("--staff", help="Implicated staff id (default: all of them).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: Json = False,
) -> None:
    """Flag the other open complaints of implicated staff for their managers to review."""
    _investigate(
        complaint_id,
        InvestigationActions.flag_open_complaints,
        lambda: FlagOpenComplaintsRequest(actor=as_, staff_ids=staff or [], reason=reason),
        as_json,
    )
