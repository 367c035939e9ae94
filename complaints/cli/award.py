"""`complaints award`: the quarterly Service Quality Award (服务质量奖, step 4).

``run`` starts the quarter's award (the schedule does it each quarter); ``show`` lists the
ranked nominees with the figures behind each and why the others are not eligible; ``approve``
is a senior manager's decision (the proposed list, or their own); ``list`` every quarter's.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from activities.award import award_rows
from complaints.award import award_row, decide, proposal, start_award
from complaints.cli.common import (
    EXIT_USAGE,
    As,
    CliError,
    Json,
    engine,
    out,
    print_json,
    run,
    signer,
    temporal_client,
)
from complaints.config import Settings
from complaints.intake import policy_in_force
from domain.analysis import period_from_label
from models.award import AwardDecision, AwardProposal
from models.performance import ScoreInput

award_app = typer.Typer(
    help="The quarterly Service Quality Award: ranked nominees, a senior manager's approval, the winners.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Quarter = Annotated[str, typer.Argument(help="The quarter, e.g. 2026-Q4.")]


def _quarter(label: str) -> str:
    try:
        period = period_from_label(label)
    except ValueError as e:
        raise CliError(str(e), EXIT_USAGE) from e
    if not period.label.split("-")[1].startswith("Q"):
        raise CliError(f"{label!r}: the award is per quarter (e.g. 2026-Q4)", EXIT_USAGE)
    return period.label


@award_app.command("run")
def award_run(
    quarter: Annotated[str, typer.Option("--quarter", help="The quarter to award, e.g. 2026-Q4.")],
    as_: Annotated[str, typer.Option("--as", help="Who asks for it (shown in the Web UI).")] = "cli",
) -> None:
    """Rank the quarter's nominees now (once per quarter; the schedule does it each quarter)."""

    async def body(settings: Settings) -> None:
        period = period_from_label(_quarter(quarter))
        handle = await start_award(
            await temporal_client(settings), settings.task_queue, period, policy_in_force().timezone, as_
        )
        out.print(f"award {period.label}: {handle.id} ranks the nominees; `complaints award show {period.label}`")

    run(body)


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _print_proposal(p: AwardProposal, status: str, winners: list[str]) -> None:
    out.print(f"Service Quality Award {p.quarter}: {status}" + (f", winners {', '.join(winners)}" if winners else ""))
    table = Table("rank", "staff", "team", "score", "cases", "clocks met %", "satisfaction", "reopen %", "not eligible")
    for n in p.nominees:
        reopen = next((line.value for line in n.score_lines if line.input == ScoreInput.REOPEN_RATE), None)
        table.add_row(
            str(n.rank or "—"), f"{n.staff_id} {n.name}", n.team, _num(n.score), str(n.cases),
            _num(n.clocks_met_rate), _num(n.satisfaction_average, 2), _num(reopen), "; ".join(n.reasons),
        )  # fmt: skip
    out.print(table)
    if status == "proposed":
        out.print(f"Proposed: {', '.join(p.proposed) or 'nobody eligible'} (at most {p.winners_allowed}); approvers: "
                  f"{', '.join(r.value for r in p.approver_roles)}")  # fmt: skip


@award_app.command("show")
def award_show(quarter: Quarter, as_json: Json = False) -> None:
    """The ranked nominees, the figures behind each, and the winners once approved."""

    async def body(settings: Settings) -> None:
        label = _quarter(quarter)
        found = await proposal(await temporal_client(settings), engine(settings), label)
        row = award_row(engine(settings), label)
        status, winners = (row.status, row.winners) if row else ("proposed", [])
        if as_json:
            print_json({"status": status, "winners": winners, "proposal": found.model_dump(mode="json")})
        else:
            _print_proposal(found, status, winners)

    run(body)


@award_app.command("approve")
def award_approve(
    quarter: Quarter,
    as_: As,
    reason: Annotated[str, typer.Option(help="Why (kept with the award).")],
    winners: Annotated[
        list[str] | None, typer.Option("--winner", help="Award these instead of the proposed list (repeatable).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Approve the proposed winners, or name your own (senior manager; never yourself)."""

    async def body(settings: Settings) -> None:
        decision = AwardDecision(actor=as_, winners=winners or [], reason=reason)
        client, db = await temporal_client(settings), engine(settings)
        outcome = await decide(client, db, _quarter(quarter), decision, signer(settings))
        if as_json:
            print_json(outcome)
        else:
            out.print(f"award {outcome.quarter}: approved by {outcome.approved_by}: {', '.join(outcome.winners)}")

    run(body)


@award_app.command("list")
def award_list(as_json: Json = False) -> None:
    """Every quarter's award: status, winners, who approved."""

    async def body(settings: Settings) -> None:
        rows = award_rows(engine(settings))
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        table = Table("quarter", "status", "winners", "approved by", "reason")
        for r in rows:
            table.add_row(r.quarter, r.status, ", ".join(r.winners) or "—", r.approved_by or "—", r.reason or "")
        out.print(table)

    run(body)
