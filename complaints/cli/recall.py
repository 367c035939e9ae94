"""`complaints recall`: the recall of a defective product (step 6.2).

``declare`` starts one (a senior manager: reason, scope, remedy); ``list`` and ``show`` read the
``recalls`` table (``show`` adds the live state and the workflow's runs); ``remediate`` records
one customer's remediation done, ``remediated --file`` a CSV of confirmations from another
system (``customer_id,reference``; one already done is counted, not refused); ``revise`` records
the product or process revision that ends the recall.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from complaints.cli.common import (
    EXIT_USAGE,
    As,
    CliError,
    Json,
    engine,
    err,
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
from complaints.recall import (
    complete_from_file,
    complete_remediation,
    declare_recall,
    read_confirmations,
    recall_runs,
    recall_state,
    record_revision,
)
from db import recall_queries
from models.recall import CompleteRemediationRequest, DeclareRecallRequest, RecordRevisionRequest, RemedyKind

RemedyChoice = StrEnum("RemedyChoice", {r.value: r.value for r in RemedyKind})  # type: ignore[misc]
RecallId = Annotated[str, typer.Argument(help="A recall, e.g. equipment_finance-1 (or a product: its latest).")]

recall_app = typer.Typer(
    help="Recalls of defective products: declare one, follow its progress, record remediations and the revision.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@recall_app.command("declare")
def recall_declare(
    product: Annotated[str, typer.Argument(help="A product code of the policy's catalogue (reporting.products).")],
    actor: As,
    reason: Annotated[str, typer.Option("--reason", help="The defect: what is wrong with the product.")],
    scope: Annotated[str, typer.Option("--scope", help="Who and what is affected.")],
    remedy: Annotated[RemedyChoice, typer.Option("--remedy", help="What each affected customer gets.")],
    as_json: Json = False,
) -> None:
    """Declare a defect in a product: every affected customer is told once and gets a remediation."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        request = DeclareRecallRequest(
            product=product, actor=actor, reason=reason, scope=scope, remedy=RemedyKind(remedy.value)
        )
        declaration = await declare_recall(
            await temporal_client(settings),
            engine(settings),
            policy_in_force(),
            request,
            settings.task_queue,
            signer(settings),
        )
        if as_json:
            print_json(declaration)
            return
        out.print(
            f"recall {declaration.recall_id} of {declaration.product_label} declared by {actor}: remedy "
            f"{declaration.remedy.value}; finding the affected customers "
            f"(complaints recall show {declaration.recall_id})"
        )

    run(body)


@recall_app.command("list")
def recall_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only recalls not closed yet.")] = False,
    as_json: Json = False,
) -> None:
    """Recalls, newest first, with their progress."""

    async def body(settings: Settings) -> None:
        rows = recall_queries.list_recalls(engine(settings), open_only)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no recalls" + (" open" if open_only else " yet"))
            return
        table = Table("recall", "product", "remedy", "declared", "by", "status", "affected", "told", "remediated")
        table.add_column("overdue")
        table.add_column("revision")
        for r in rows:
            table.add_row(
                r.recall_id,
                r.product,
                r.remedy,
                when(r.declared_at),
                r.declared_by,
                r.status,
                str(r.affected),
                str(r.told),
                str(r.remediated),
                str(r.overdue),
                r.new_version or "",
            )
        out.print(table)

    run(body)


@recall_app.command("show")
def recall_show(
    recall_id: RecallId,
    overdue: Annotated[bool, typer.Option("--overdue", help="List the customers overdue now.")] = False,
    as_json: Json = False,
) -> None:
    """One recall: the declaration, progress (affected, told, remediated, overdue), its runs."""

    async def body(settings: Settings) -> None:
        db = engine(settings)
        client = await temporal_client(settings)
        row, state = await recall_state(client, db, recall_id)
        progress = recall_queries.progress(db, row.recall_id)
        runs = await recall_runs(client, row)
        late = recall_queries.customers(db, row.recall_id, overdue_only=True) if overdue else []
        if as_json:
            print_json(
                {
                    "recall": row.model_dump(mode="json"),
                    "progress": progress.model_dump(mode="json"),
                    "runs": [{"run_id": r, "status": s, "events": n} for r, s, n in runs],
                    "state": state.model_dump(mode="json") if state else None,
                    "overdue": [c.customer_id for c in late],
                }
            )
            return
        out.print(f"Recall {row.recall_id}: product {row.product}, remedy {row.remedy}")
        out.print(f"  declared:   {when(row.declared_at)} by {row.declared_by}")
        out.print(f"  reason:     {escape(row.reason)}")
        out.print(f"  scope:      {escape(row.scope)}")
        out.print(f"  status:     {row.status}" + (f" {when(row.closed_at)}" if row.closed_at else ""))
        p = progress
        out.print(
            f"  progress:   {p.affected} affected, {p.told} told, {p.opened} remediations opened, "
            f"{p.remediated} remediated, {p.overdue} fell overdue ({p.overdue_open} overdue now)"
        )
        if state is not None and state.status.value == "fanning_out":
            out.print(f"  fan-out:    {state.started} started, {len(state.in_flight)} being told and opened now")
        if row.revised_at:
            revised = f"{row.new_version} by {row.revised_by} {when(row.revised_at)}"
            out.print(f"  revision:   {revised}: {escape(row.revision or '')}")
        elif row.status != "closed":
            out.print(f"  revision:   not yet: complaints recall revise {row.recall_id} --as ... --revision ...")
        finished = sum(1 for _, s, _ in runs if s == "continued_as_new")
        out.print(f"  runs:       {len(runs)} ({finished} continued as new); workflow {row.workflow_id}")
        for customer in late:
            out.print(f"  overdue:    {customer.customer_id}, due {when(customer.due_at)}")

    run(body)


@recall_app.command("remediate")
def recall_remediate(
    recall_id: RecallId,
    customer_id: Annotated[str, typer.Argument(help="The affected customer.")],
    actor: As,
    note: Annotated[str, typer.Option("--note", help="What was done for the customer.")],
    reference: Annotated[
        str | None, typer.Option("--reference", help="A payment or contract reference, if any.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Record one customer's remediation done (the policy's remediator roles)."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        request = CompleteRemediationRequest(
            recall_id=recall_id, customer_id=customer_id, actor=actor, note=note, reference=reference
        )
        result, _ = await complete_remediation(
            await temporal_client(settings), engine(settings), request, signer(settings)
        )
        if as_json:
            print_json(result)
        else:
            out.print(f"{result.customer_id} in {result.recall_id}: {result.message}")

    run(body)


@recall_app.command("remediated")
def recall_remediated(
    recall_id: RecallId,
    actor: As,
    file: Annotated[Path, typer.Option("--file", help="A CSV of confirmations: customer_id,reference.")],
    note: Annotated[
        str, typer.Option("--note", help="What was done (the same for every row).")
    ] = "confirmed by the paying system",
    as_json: Json = False,
) -> None:
    """Record remediations done from another system's confirmations (already done is not an error)."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        try:
            rows = read_confirmations(file)
        except ValueError as e:
            raise CliError(str(e), EXIT_USAGE) from e
        result = await complete_from_file(
            await temporal_client(settings), engine(settings), recall_id, actor, note, rows, signer=signer(settings)
        )
        if as_json:
            print_json({"done": result.done, "already": result.already, "refused": result.refused})
        else:
            out.print(
                f"{file.name}: {len(rows)} rows, {len(result.done)} recorded now, {len(result.already)} already done, "
                f"{len(result.refused)} refused"
            )
            for problem in result.refused:
                err.print(f"refused: {problem}")
        if result.refused:
            raise CliError(f"{len(result.refused)} confirmation(s) refused", 1)

    run(body)


@recall_app.command("revise")
def recall_revise(
    recall_id: RecallId,
    actor: As,
    revision: Annotated[str, typer.Option("--revision", help="The product or process revision that ends it.")],
    new_version: Annotated[
        str, typer.Option("--new-version", help="The product's, process's or template's new version.")
    ],
    as_json: Json = False,
) -> None:
    """Record the revision that ends the recall (a senior manager); it closes once every remediation is done."""

    async def body(settings: Settings) -> None:
        require_staff(settings, actor)
        request = RecordRevisionRequest(recall_id=recall_id, actor=actor, revision=revision, new_version=new_version)
        result = await record_revision(await temporal_client(settings), engine(settings), request, signer(settings))
        if as_json:
            print_json(result)
        else:
            out.print(f"{result.recall_id}: {result.message}")

    run(body)
