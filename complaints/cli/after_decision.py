"""After the decision: the follow-up call, the look-back revisits (回头看), the root cause
(溯源整改) and notes of contacts with the customer."""

from __future__ import annotations

from typing import Annotated

import typer

from complaints.actions import ComplaintActions
from complaints.cli.common import As, ComplaintId, Json, act, signal
from models.actions import (
    AdjustLookBackRequest,
    ContactNoteSignal,
    FollowUpCallRequest,
    LookBackRequest,
    MarkLookBackRequest,
    RootCauseRequest,
)


def follow_up_call(
    complaint_id: ComplaintId,
    as_: As,
    reached: Annotated[bool, typer.Option("--reached/--not-reached", help="Whether the customer was reached.")],
    satisfaction: Annotated[int | None, typer.Option(help="1-5, when reached.", min=1, max=5)] = None,
    remedy_delivered: Annotated[
        bool | None, typer.Option("--remedy-delivered/--remedy-not-delivered", help="When reached.")
    ] = None,
    comments: Annotated[str, typer.Option(help="What the customer said.")] = "",
    as_json: Json = False,
) -> None:
    """Record the follow-up call; dissatisfied or remedy not delivered reopens the complaint."""
    act(
        complaint_id,
        ComplaintActions.record_follow_up_call,
        lambda: FollowUpCallRequest(
            actor=as_, reached=reached, satisfaction=satisfaction, remedy_delivered=remedy_delivered, comments=comments
        ),
        as_json,
    )


def look_back(
    complaint_id: ComplaintId,
    as_: As,
    situation: Annotated[str, typer.Option(help="How the customer's situation has developed.")],
    kept: Annotated[
        bool,
        typer.Option(
            "--commitments-kept/--commitment-broken",
            help="Whether every commitment (revision signed, compensation paid) was kept.",
        ),
    ],
    notes: Annotated[str, typer.Option(help="Anything else.")] = "",
    as_json: Json = False,
) -> None:
    """Record a look-back revisit (回头看); a broken commitment reopens the complaint."""
    act(
        complaint_id,
        ComplaintActions.record_look_back,
        lambda: LookBackRequest(actor=as_, situation=situation, commitments_kept=kept, notes=notes),
        as_json,
    )


def adjust_look_back(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why.")],
    revisits: Annotated[int | None, typer.Option(help="New total number of revisits.", min=1)] = None,
    end: Annotated[bool, typer.Option("--end", help="End the look-back now.")] = False,
    as_json: Json = False,
) -> None:
    """Extend, shorten or end the look-back loop (managers)."""
    act(
        complaint_id,
        ComplaintActions.adjust_look_back,
        lambda: AdjustLookBackRequest(actor=as_, reason=reason, revisits=revisits, end=end),
        as_json,
    )


def mark_look_back(
    complaint_id: ComplaintId,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why.")],
    as_json: Json = False,
) -> None:
    """Mark a complaint that is not major for look-back revisits (managers)."""
    act(
        complaint_id,
        ComplaintActions.mark_for_look_back,
        lambda: MarkLookBackRequest(actor=as_, reason=reason),
        as_json,
    )


def root_cause(
    complaint_id: ComplaintId,
    as_: As,
    code: Annotated[str, typer.Option(help="A code from the policy's root_causes list.")],
    text: Annotated[str, typer.Option(help="The cause in words.")],
    clause: Annotated[
        str | None,
        typer.Option(help="The contract clause the cause blames (e.g. 7.3): counted for legal review."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="The clause's contract template, when the complaint's contract number does not say it."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Record the root cause (溯源整改); a complaint closes only once it has one."""
    act(
        complaint_id,
        ComplaintActions.record_root_cause,
        lambda: RootCauseRequest(actor=as_, code=code, text=text, clause=clause, template=template),
        as_json,
    )


def contact_note(
    complaint_id: ComplaintId,
    as_: As,
    note: Annotated[str, typer.Option(help="What was said.")],
    as_json: Json = False,
) -> None:
    """Note a contact with the customer (a signal: fire and forget)."""
    signal(
        complaint_id,
        ComplaintActions.note_customer_contact,
        lambda: ContactNoteSignal(actor=as_, note=note),
        as_json,
        "contact noted",
    )
