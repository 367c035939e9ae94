"""`complaints risk`: customers' risk early warnings (step 5).

``list`` and ``show`` read the ``risk_warnings`` table (``show`` also scores the customer now,
every rule that fired with its figures); ``acknowledge``, ``act`` and ``close`` are updates on the
customer's ``EarlyWarningWorkflow``, whose validators say who may (the case's workers, the
staff of the policy's ``risk.roles``, or their managers).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from complaints.cli.common import (
    EXIT_NOT_FOUND,
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
from complaints.intake import policy_in_force
from complaints.risk import WarningNotFound, act_on_warning, evaluate
from db.risk_queries import latest_warning, warnings
from domain.risk import explain
from models.risk import WarningAction, WarningOutcome

OutcomeChoice = StrEnum("OutcomeChoice", {o.value: o.value for o in WarningOutcome})  # type: ignore[misc]
Customer = Annotated[str, typer.Argument(help="The customer id, as intake and the loan book give it.")]
Note = Annotated[str, typer.Option("--note", help="What was done or found (kept in the case's history).")]

risk_app = typer.Typer(
    help="Customer risk early warnings: open cases, a customer's score and case, acting and closing.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@risk_app.command("list")
def risk_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only cases not closed.")] = False,
    as_json: Json = False,
) -> None:
    """Early-warning cases, newest first."""

    async def body(settings: Settings) -> None:
        rows = warnings(engine(settings), open_only=open_only)
        if as_json:
            print_json([r.model_dump(mode="json", exclude={"history"}) for r in rows])
            return
        if not rows:
            out.print("no early warnings" + (" open" if open_only else " yet"))
            return
        table = Table(
            "customer", "status", "points", "signals", "opened", "acknowledge by", "act by", "breached", "outcome"
        )
        for r in rows:
            table.add_row(
                r.customer_id,
                r.status,
                f"{r.points}/{r.threshold}",
                str(r.signals),
                when(r.opened_at),
                when(r.acknowledged_at) if r.acknowledged_at else f"due {when(r.acknowledge_due)}",
                when(r.acted_at) if r.acted_at else f"due {when(r.act_due)}",
                "yes" if r.breached else "",
                r.outcome or "",
            )
        out.print(table)

    run(body)


@risk_app.command("show")
def risk_show(customer: Customer, as_json: Json = False) -> None:
    """A customer's score now (every rule that fired, with its figures) and their case."""

    async def body(settings: Settings) -> None:
        db = engine(settings)
        score = evaluate(db, customer, policy_in_force())
        case = latest_warning(db, customer)
        if as_json:
            print_json(
                {"score": score.model_dump(mode="json"), "warning": case.model_dump(mode="json") if case else None}
            )
            return
        out.print(f"customer {customer}: score now {score.points} (threshold {score.threshold})")
        for line in explain(score):
            out.print(f"  {escape(line)}")
        if case is None:
            out.print("no early warning")
            return
        out.print(f"early warning ({case.workflow_id}): {case.status}, opened {when(case.opened_at)}")
        out.print(f"  score on the case: {case.points} (threshold {case.threshold}), {case.signals} signal(s)")
        ack = (
            f"acknowledged {when(case.acknowledged_at)} by {case.acknowledged_by}"
            if case.acknowledged_at
            else f"acknowledge by {when(case.acknowledge_due)}"
        )
        acted = f"acted {when(case.acted_at)} by {case.acted_by}" if case.acted_at else f"act by {when(case.act_due)}"
        out.print(f"  clocks: {ack}; {acted}" + ("; BREACHED" if case.breached else ""))
        if case.closed_at:
            out.print(f"  closed {when(case.closed_at)} by {case.closed_by}: {case.outcome}")
        out.print("  history:")
        for entry in case.history:
            at = when(datetime.fromisoformat(entry["at"])) if entry.get("at") else ""
            out.print(f"    {at}  {entry.get('kind')}  {entry.get('by')}: {escape(str(entry.get('text')))}")

    run(body)


def _action(action: str, customer: str, actor: str, note: str, outcome: WarningOutcome | None, as_json: bool) -> None:
    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        request = WarningAction(customer_id=customer, actor=actor, note=note, outcome=outcome)
        try:
            result = await act_on_warning(await temporal_client(settings), action, request, signer(settings))
        except WarningNotFound as e:
            raise CliError(str(e), EXIT_NOT_FOUND) from e
        if as_json:
            print_json(result)
        else:
            out.print(f"{result.message} (status {result.status.value})")

    run(body)


@risk_app.command("acknowledge")
def risk_acknowledge(customer: Customer, actor: As, note: Note = "acknowledged", as_json: Json = False) -> None:
    """Acknowledge the customer's open early warning (settles its acknowledge clock)."""
    _action("acknowledge", customer, actor, note, None, as_json)


@risk_app.command("act")
def risk_act(customer: Customer, actor: As, note: Note, as_json: Json = False) -> None:
    """Record what was done about the customer's open early warning (settles its act clock)."""
    _action("act", customer, actor, note, None, as_json)


@risk_app.command("close")
def risk_close(
    customer: Customer,
    actor: As,
    outcome: Annotated[OutcomeChoice, typer.Option("--outcome", help="How the case ends.")],
    note: Note,
    as_json: Json = False,
) -> None:
    """Close the customer's open early warning with an outcome; the next crossing opens a new one."""
    _action("close", customer, actor, note, WarningOutcome(outcome.value), as_json)
