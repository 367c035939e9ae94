"""`complaints clauses`: contract clauses sent to legal review (step 5).

``list`` and ``show`` read the ``clause_reviews`` table (``show`` adds the open review's live
state from its workflow); ``watch`` counts now (the schedule does it every few minutes);
``close`` runs the review's ``close`` update, whose validator says who may (legal or a senior
manager) and what the outcome needs.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from complaints.clauses import close_review, review_state, run_watch
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
from db import clause_queries
from models.clause_review import CloseReviewRequest, ReviewOutcome

OutcomeChoice = StrEnum("OutcomeChoice", {o.value: o.value for o in ReviewOutcome})  # type: ignore[misc]
ReviewId = Annotated[
    str, typer.Argument(help="A review, e.g. project-finance-7.3-1 (or project-finance-7.3: its latest).")
]

clauses_app = typer.Typer(
    help="Contract clauses sent to legal review: open reviews, the complaints citing them, closing one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@clauses_app.command("list")
def clauses_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only reviews not closed yet.")] = False,
    as_json: Json = False,
) -> None:
    """Clause reviews, newest first."""

    async def body(settings: Settings) -> None:
        rows = clause_queries.list_reviews(engine(settings), open_only)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no clause reviews" + (" open" if open_only else " yet"))
            return
        table = Table("review", "template", "clause", "complaints", "owner", "status", "due", "outcome")
        for r in rows:
            outcome = (r.outcome or "") + (f" → {r.new_template_version}" if r.new_template_version else "")
            table.add_row(
                r.review_id, r.template, r.clause, str(len(r.linked)), r.owner, r.status, when(r.due_at), outcome
            )
        out.print(table)

    run(body)


@clauses_app.command("show")
def clauses_show(review_id: ReviewId, as_json: Json = False) -> None:
    """One review: the clause, the complaints citing it, owner, due date, outcome."""

    async def body(settings: Settings) -> None:
        db = engine(settings)
        row, state = await review_state(await temporal_client(settings), db, review_id)
        if as_json:
            print_json(
                {"review": row.model_dump(mode="json"), "state": state.model_dump(mode="json") if state else None}
            )
            return
        out.print(f"Review {row.review_id}: clause {row.clause} of contract template {row.template}")
        out.print(f"  cited as:   {'; '.join(row.references)}")
        out.print(f"  complaints: {len(row.linked)}: {', '.join(row.linked)}")
        out.print(f"  owner:      {row.owner}; opened {when(row.opened_at)}; due {when(row.due_at)}")
        out.print(
            f"  status:     {row.status}" + (f" (overdue since {when(row.overdue_at)})" if row.overdue_at else "")
        )
        if row.closed_at:
            version = f", new template version {row.new_template_version}" if row.new_template_version else ""
            out.print(f"  outcome:    {row.outcome}{version}, by {row.closed_by} {when(row.closed_at)}")
            out.print(f"  reasons:    {row.reasons}")
        out.print(f"  workflow:   {row.workflow_id}")

    run(body)


@clauses_app.command("watch")
def clauses_watch(as_json: Json = False) -> None:
    """Count the clauses cited now: open a review at the threshold, link new complaints to one open."""

    async def body(settings: Settings) -> None:
        result = await run_watch(await temporal_client(settings), settings.task_queue)
        if as_json:
            print_json(result)
            return
        if not result.counted:
            out.print("no clause at the threshold and no review open")
        for c in result.counted:
            review = c.open_review_id or c.next_review_id
            action = "opened" if review in result.opened else "linked"
            out.print(
                f"{c.template} clause {c.clause}: {c.count} complaints "
                f"({', '.join(c.complaint_ids)}): {action} {review}"
            )

    run(body)


@clauses_app.command("close")
def clauses_close(
    review_id: ReviewId,
    actor: As,
    outcome: Annotated[OutcomeChoice, typer.Option("--outcome", help="reword, keep or withdraw_product.")],
    reasons: Annotated[str, typer.Option("--reasons", help="Why (required, whatever the outcome).")],
    new_version: Annotated[
        str | None, typer.Option("--new-version", help="The contract template's new version (required for reword).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Close a review with its outcome (legal or a senior manager)."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        if not reasons.strip():
            raise CliError("--reasons: say why", EXIT_USAGE)
        request = CloseReviewRequest(
            review_id=review_id,
            actor=actor,
            outcome=ReviewOutcome(outcome.value),
            reasons=reasons,
            new_template_version=new_version,
        )
        result = await close_review(await temporal_client(settings), engine(settings), request, signer(settings))
        if as_json:
            print_json(result)
        else:
            out.print(f"{result.review_id}: {result.message} (status {result.status.value})")

    run(body)
