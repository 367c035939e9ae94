"""`complaints retention`: personal data erased after the policy's retention period (issue 16).

``run`` erases now what is past the period (the schedule ``complaints-retention`` does it every
``retention.check_every``) and waits for the run's counts; ``status`` counts from the database
how many complaints were anonymised and how many are past the period and still to do.
"""

from __future__ import annotations

import typer

from complaints.cli.common import Json, engine, out, print_json, run, temporal_client, when
from complaints.config import Settings
from complaints.retention import retention_status, run_retention
from domain.policy import load_policy

retention_app = typer.Typer(
    help="Personal data of complaints closed longer ago than the policy's retention period: erase it, count it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@retention_app.command("run")
def retention_run(as_json: Json = False) -> None:
    """Erase now the personal data of complaints past the retention period; print what was done."""

    async def body(settings: Settings) -> None:
        state = await run_retention(await temporal_client(settings), settings.task_queue, requested_by="complaints CLI")
        if as_json:
            print_json(state)
            return
        plan = state.plan
        if plan is not None and state.cutoff is not None:
            out.print(
                f"retention under policy {plan.policy_version}: complaints closed more than {plan.period} ago "
                f"(before {when(state.cutoff)})"
            )
        out.print(f"anonymised {state.anonymised}; already anonymised {state.already}; skipped {state.skipped}")
        for line in state.skipped_recent:
            out.print(f"  skipped {line}")

    run(body)


@retention_app.command("status")
def retention_show(as_json: Json = False) -> None:
    """How many complaints were anonymised, and how many are past the period and not yet."""

    async def body(settings: Settings) -> None:
        status = retention_status(engine(settings), load_policy(settings.policy_file))
        if as_json:
            print_json(status)
            return
        out.print(f"policy {status.policy_version}: personal data kept {status.period} after closure")
        out.print(f"anonymised:  {status.anonymised} (latest {when(status.last_anonymised_at)})")
        out.print(f"due now:     {status.due} closed before {when(status.cutoff)} and not anonymised yet")

    run(body)
