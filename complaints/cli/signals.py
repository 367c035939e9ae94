"""`complaints signals`: loan-book signals from the lending systems (step 5).

``load`` takes a JSON Lines or CSV feed (by extension), validates every row before writing any
(exit 2 naming each refused row and field; nothing written), stores the batch, then scores each
customer it touched: over the threshold, their early warning opens or is joined. ``list`` shows
what is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from complaints.cli.common import EXIT_USAGE, CliError, Json, engine, err, out, print_json, run, temporal_client, when
from complaints.config import Settings
from complaints.loan_book import FeedError, LoanBookClient, SubmitOutcome, read_feed
from db.risk_queries import stored_signals

signals_app = typer.Typer(
    help="Loan-book signals: load a feed from the lending systems, list what is stored.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@signals_app.command("load")
def signals_load(
    path: Annotated[Path, typer.Argument(help="A feed: .jsonl (one JSON object a line) or .csv (a header row).")],
    as_json: Json = False,
) -> None:
    """Validate and store a feed; every customer it touches is scored (and warned over the threshold)."""

    async def body(settings: Settings) -> None:
        try:
            rows = read_feed(path)
        except FeedError as e:
            raise CliError(str(e), EXIT_USAGE) from e
        if not rows:
            raise CliError(f"{path}: no rows", EXIT_USAGE)
        book = LoanBookClient(engine(settings), await temporal_client(settings), settings.task_queue)
        result = await book.submit(rows)
        if as_json:
            print_json(result)
        if result.outcome == SubmitOutcome.REFUSED:
            if not as_json:
                for problem in result.errors:
                    err.print(f"refused: {problem}")
            raise CliError(f"{path}: {len(result.errors)} problem(s); nothing was stored", EXIT_USAGE)
        if as_json:
            return
        out.print(
            f"{path.name}: {result.received} rows, {result.stored} stored, {result.unchanged} already stored unchanged"
        )
        for c in result.evaluated:
            warning = {"opened_or_joined": "early warning opened or joined", "joined": "open early warning told"}
            tail = warning.get(c.warning, "no warning")
            out.print(f"  {c.customer_id}: {c.points} points (threshold {c.threshold}): {tail}")

    run(body)


@signals_app.command("list")
def signals_list(
    customer: Annotated[str | None, typer.Option("--customer", help="Only this customer's signals.")] = None,
    as_json: Json = False,
) -> None:
    """Stored loan-book signals, newest observation first."""

    async def body(settings: Settings) -> None:
        rows = stored_signals(engine(settings), customer)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no loan-book signals" + (f" for {customer}" if customer else " yet"))
            return
        table = Table("observed", "customer", "kind", "figures", "record", "received", "note")
        for r in rows:
            figures = escape(", ".join(f"{k} {v}" for k, v in r.figures.items()))
            record = f"{r.source_system}/{r.source_record_id}"
            table.add_row(
                when(r.observed_at), r.customer_id, r.kind, figures, record, when(r.received_at), escape(r.note or "")
            )
        out.print(table)

    run(body)
