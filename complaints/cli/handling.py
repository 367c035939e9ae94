"""Handling a complaint up to the customer's answer: assignment, findings, evaluations, the
loss calculation, information requests, feedback, the resolution and its approval, extension,
escalation, policy re-application and withdrawal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import typer

from complaints.actions import ComplaintActions
from complaints.cli.common import (
    As,
    ComplaintId,
    Json,
    TierChoice,
    act,
    evidence_refs,
    money,
    out,
    print_json,
    run,
    signal,
    temporal_client,
)
from complaints.config import Settings
from complaints.intake import ComplaintIntakeClient
from models.actions import (
    ApprovalDecision,
    AssignRequest,
    CustomerAnswer,
    EscalateSignal,
    ExtensionRequest,
    FeedbackRequest,
    FindingsRequest,
    InformationReceived,
    InformationRequest,
    LegalEvaluationRequest,
    LossCalculationRequest,
    ManagerEvaluationRequest,
    ProposalRequest,
    ReapplyPolicyRequest,
)
from models.policy import Tier

Currency = Annotated[str, typer.Option(help="ISO currency of the amounts.")]


def assign(
    complaint_id: ComplaintId,
    as_: As,
    handler: Annotated[str, typer.Option(help="Staff id of the handler.")],
    team: Annotated[list[str] | None, typer.Option(help="A team member's staff id (repeat for more).")] = None,
    reason: Annotated[str, typer.Option(help="Why (shown in the timeline).")] = "",
    as_json: Json = False,
) -> None:
    """Assign or reassign the complaint (managers)."""
    act(
        complaint_id,
        ComplaintActions.assign,
        lambda: AssignRequest(actor=as_, handler_id=handler, team=team or [], reason=reason),
        as_json,
    )


def findings(
    complaint_id: ComplaintId,
    as_: As,
    summary: Annotated[str, typer.Option(help="What the investigation found.")],
    occurred_at: Annotated[
        datetime | None,
        typer.Option(
            help="When it happened (ISO 8601 with time zone).", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]
        ),
    ] = None,
    place: Annotated[str | None, typer.Option(help="Where it happened.")] = None,
    amount: Annotated[list[Decimal] | None, typer.Option(help="An amount involved (repeat for more).")] = None,
    currency: Currency = "CNY",
    evidence: Annotated[
        list[str] | None, typer.Option(help="URI#sha256=<hex> of a document (repeat for more).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Record investigation findings: time, place, amounts, evidence."""
    act(
        complaint_id,
        ComplaintActions.record_findings,
        lambda: FindingsRequest(
            actor=as_,
            summary=summary,
            occurred_at=occurred_at,
            place=place,
            amounts=[money(a, currency, "--amount") for a in amount or []],
            evidence=evidence_refs(evidence or []),
        ),
        as_json,
    )


def legal_evaluation(
    complaint_id: ComplaintId,
    as_: As,
    opinion: Annotated[str, typer.Option(help="Legal's opinion.")],
    clause_revision: Annotated[
        str | None, typer.Option(help="Proposed wording; implies a revision is recommended.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Record legal's evaluation (legal)."""
    act(
        complaint_id,
        ComplaintActions.record_legal_evaluation,
        lambda: LegalEvaluationRequest(
            actor=as_,
            opinion=opinion,
            recommends_contract_revision=clause_revision is not None,
            clause_revision=clause_revision,
        ),
        as_json,
    )


def manager_evaluation(
    complaint_id: ComplaintId,
    as_: As,
    opinion: Annotated[str, typer.Option(help="The manager's opinion.")],
    as_json: Json = False,
) -> None:
    """Record management's evaluation (managers)."""
    act(
        complaint_id,
        ComplaintActions.record_manager_evaluation,
        lambda: ManagerEvaluationRequest(actor=as_, opinion=opinion),
        as_json,
    )


def loss(
    complaint_id: ComplaintId,
    as_: As,
    amount: Annotated[Decimal, typer.Option(help="The customer's actual loss (0 for none).")],
    method: Annotated[str, typer.Option(help="How it was computed.")],
    currency: Currency = "CNY",
    as_json: Json = False,
) -> None:
    """Record finance's calculation of the customer's actual loss (finance)."""
    act(
        complaint_id,
        ComplaintActions.record_loss_calculation,
        lambda: LossCalculationRequest(actor=as_, actual_loss=amount, currency=currency, method=method),
        as_json,
    )


def request_info(
    complaint_id: ComplaintId,
    as_: As,
    what: Annotated[str, typer.Option(help="What the customer must provide.")],
    as_json: Json = False,
) -> None:
    """Ask the customer for information; the clocks pause where the rule pack allows."""
    act(
        complaint_id,
        ComplaintActions.request_customer_information,
        lambda: InformationRequest(actor=as_, requested=what),
        as_json,
    )


def info_received(
    complaint_id: ComplaintId,
    as_: As,
    note: Annotated[str, typer.Option(help="What arrived.")],
    as_json: Json = False,
) -> None:
    """Record the customer's information; paused clocks resume."""
    act(
        complaint_id,
        ComplaintActions.record_customer_information,
        lambda: InformationReceived(actor=as_, note=note),
        as_json,
    )


def feedback(
    complaint_id: ComplaintId,
    as_: As,
    message: Annotated[str, typer.Option(help="What to tell the customer.")],
    as_json: Json = False,
) -> None:
    """Send the customer feedback on progress (meets the complex tier's first-feedback clock)."""
    act(complaint_id, ComplaintActions.send_feedback, lambda: FeedbackRequest(actor=as_, message=message), as_json)


def propose(
    complaint_id: ComplaintId,
    as_: As,
    explanation: Annotated[str, typer.Option(help="The decision and why.")],
    fee_refund: Annotated[Decimal | None, typer.Option(help="Fees to refund.")] = None,
    compensation: Annotated[Decimal | None, typer.Option(help="Compensation to pay.")] = None,
    contract_revision: Annotated[str | None, typer.Option(help="The contract change offered.")] = None,
    currency: Currency = "CNY",
    as_json: Json = False,
) -> None:
    """Propose a resolution; it goes to the approver the approval matrix names."""
    act(
        complaint_id,
        ComplaintActions.propose_resolution,
        lambda: ProposalRequest(
            actor=as_,
            explanation=explanation,
            fee_refund=money(fee_refund, currency, "--fee-refund"),
            compensation=money(compensation, currency, "--compensation"),
            contract_revision=contract_revision,
        ),
        as_json,
    )


def approve(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Note for the file.")] = "",
    as_json: Json = False,
) -> None:
    """Approve the proposed resolution; it is sent to the customer."""
    act(
        complaint_id,
        ComplaintActions.decide_resolution,
        lambda: ApprovalDecision(actor=as_, approve=True, reason=reason),
        as_json,
    )


def reject(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why; the handler is told.")],
    as_json: Json = False,
) -> None:
    """Reject the proposed resolution; the complaint goes back to its handler."""
    act(
        complaint_id,
        ComplaintActions.decide_resolution,
        lambda: ApprovalDecision(actor=as_, approve=False, reason=reason),
        as_json,
    )


def customer_answer(
    complaint_id: ComplaintId,
    as_: As,
    accepted: Annotated[bool, typer.Option("--accepted/--rejected", help="The customer's answer.")],
    comments: Annotated[str, typer.Option(help="What the customer said.")] = "",
    as_json: Json = False,
) -> None:
    """Record whether the customer accepts the resolution (accepted: final response sent)."""
    act(
        complaint_id,
        ComplaintActions.record_customer_answer,
        lambda: CustomerAnswer(actor=as_, accepted=accepted, comments=comments),
        as_json,
    )


def extend(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why more time is needed.")],
    as_json: Json = False,
) -> None:
    """Extend the regulatory decision deadline (approver per the rule pack); the customer is told."""
    act(complaint_id, ComplaintActions.extend_deadline, lambda: ExtensionRequest(actor=as_, reason=reason), as_json)


def escalate(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why.")],
    to_tier: Annotated[TierChoice | None, typer.Option(help="Raise straight to this tier.")] = None,
    as_json: Json = False,
) -> None:
    """Escalate (a signal: fire and forget; a refused escalation shows in the timeline)."""

    signal(
        complaint_id,
        ComplaintActions.escalate,
        lambda: EscalateSignal(actor=as_, reason=reason, to_tier=Tier(to_tier.value) if to_tier else None),
        as_json,
        f"escalation sent; `complaints show {complaint_id}` shows the outcome",
    )


def reapply_policy(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why.")],
    as_json: Json = False,
) -> None:
    """Move the complaint onto the policy now in force; its deadlines are recomputed (managers)."""
    act(complaint_id, ComplaintActions.reapply_policy, lambda: ReapplyPolicyRequest(actor=as_, reason=reason), as_json)


def withdraw(
    complaint_id: ComplaintId,
    reason: Annotated[str, typer.Option(help="The customer's reason.")],
    relayed_by: Annotated[str, typer.Option(help="Who relays it (intake system or staff id).")],
    as_json: Json = False,
) -> None:
    """Withdraw the complaint on the customer's behalf."""

    async def body(settings: Settings) -> None:
        client = await temporal_client(settings)
        result = await ComplaintIntakeClient(client).withdraw(complaint_id, reason, relayed_by)
        if as_json:
            print_json(result)
        else:
            out.print(f"{complaint_id}: withdrawn (status {result.status.value})")

    run(body)
