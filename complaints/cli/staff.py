"""`complaints staff`: each person's scorecard for a period (step 4).

``scorecard`` reads the database directly (no Temporal): a table of everyone active, or one
person's card with every line of the score; ``--json`` for scripts and ``--csv FILE`` for the
payroll system (one row per person: the score, each figure and the points each term earned).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from complaints.cli.common import EXIT_NOT_FOUND, EXIT_USAGE, CliError, Json, engine, out, print_json, run
from complaints.config import Settings
from complaints.intake import policy_in_force
from db.scorecards import scorecards
from domain.analysis import LABEL_FORMS, period_from_label
from models.analysis import Period
from models.performance import Scorecard

staff_app = typer.Typer(
    help="Staff performance: each person's scorecard and service quality score for a period.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# The card's single figures, in the order the CSV and the one-person view give them.
FIGURES = (
    "cases", "clocks_met", "clocks_breached", "clocks_met_rate", "satisfaction_average", "satisfaction_cases",
    "reopen_rate", "escalations_received", "accountability_entries", "training_completed", "training_overdue",
)  # fmt: skip


def _period(label: str) -> Period:
    try:
        return period_from_label(label)
    except ValueError as e:
        raise CliError(f"--period {label!r}: write it as {LABEL_FORMS}", EXIT_USAGE) from e


def _shown(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:g}{unit}" if isinstance(value, int) else f"{value:.2f}".rstrip("0").rstrip(".") + unit


@staff_app.command("scorecard")
def scorecard(
    period: Annotated[str, typer.Option("--period", help="2026-10, 2026-Q4 or 2026-H1 (the policy's time zone).")],
    staff_id: Annotated[
        str | None, typer.Argument(metavar="STAFF_ID", help="One staff member (default: everyone active).")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write one row per person to this file (for payroll).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Each person's figures and score for a period: complaints closed, times, clocks, satisfaction,
    reopening, escalations, accountability and training, with every line of the policy's formula."""

    async def body(settings: Settings) -> None:
        chosen = _period(period)
        policy = policy_in_force()
        with engine(settings).connect() as conn:
            try:
                cards = scorecards(conn, chosen, policy, staff_id)
            except LookupError as e:
                raise CliError(str(e), EXIT_NOT_FOUND) from e
        if csv_file is not None:
            csv_file.write_text(scorecard_csv(cards), encoding="utf-8", newline="")
        if as_json:
            print_json(cards[0] if staff_id else [c.model_dump(mode="json") for c in cards])
        elif staff_id:
            _print_card(cards[0])
        else:
            _print_cards(cards, chosen)
        if csv_file is not None and not as_json:
            out.print(f"wrote {len(cards)} rows to {csv_file}")

    run(body)


def _print_cards(cards: list[Scorecard], period: Period) -> None:
    out.print(f"Scorecards {period.label} ({period.start} to {period.end}); a score needs a complaint closed")
    table = Table(
        "staff", "name", "role", "cases", "1st response (median)", "clocks met", "satisfaction", "reopened",
        "escalations", "accountability", "training done/overdue", "score",
    )  # fmt: skip
    for c in cards:
        table.add_row(
            c.staff_id, c.name, c.role, str(c.cases), _shown(c.median_first_response_hours.get("all"), " h"),
            f"{c.clocks_met}/{c.clocks_met + c.clocks_breached} ({_shown(c.clocks_met_rate, '%')})",
            f"{_shown(c.satisfaction_average)} ({c.satisfaction_cases})", _shown(c.reopen_rate, "%"),
            str(c.escalations_received), str(c.accountability_entries),
            f"{c.training_completed}/{c.training_overdue}", _shown(c.score),
        )  # fmt: skip
    out.print(table)


def _print_card(c: Scorecard) -> None:
    out.print(
        f"Scorecard {c.staff_id} {c.name} ({c.role}, {c.team}), {c.period_label} ({c.period_start} to {c.period_end})"
    )
    figures = Table("figure", "value")
    for name in FIGURES:
        figures.add_row(name.replace("_", " "), _shown(getattr(c, name), "%" if name.endswith("_rate") else ""))
    for measure, medians in (
        ("first response", c.median_first_response_hours),
        ("resolution", c.median_resolution_hours),
    ):
        for tier, hours in medians.items():
            figures.add_row(f"median {measure}, {tier}", _shown(hours, " h"))
    out.print(figures)
    lines = Table("term of the score", "value", "weight", "points")
    for line in c.score_lines:
        lines.add_row(line.input.value.replace("_", " "), _shown(line.value), _shown(line.weight), _shown(line.points))
    out.print(lines)
    counted = sum(line.weight for line in c.score_lines if line.value is not None)
    if c.score is None:
        out.print("Score: — (no complaint closed in the period)")
    else:
        out.print(f"Score: {c.score:.1f} of 100 (points earned over the weight of the terms with a value, {counted:g})")


def scorecard_csv(cards: list[Scorecard]) -> str:
    """One row per person: who, the period, the score, each figure, the medians by tier, and the
    value and points of each term (``<input>_points``)."""
    tiers = list(dict.fromkeys(t for c in cards for t in [*c.median_first_response_hours, *c.median_resolution_hours]))
    terms = list(dict.fromkeys(line.input.value for c in cards for line in c.score_lines))
    header = [
        "staff_id", "name", "role", "team", "period", "period_start", "period_end", "score", *FIGURES,
        *(f"median_first_response_hours_{t}" for t in tiers), *(f"median_resolution_hours_{t}" for t in tiers),
        *(f"{t}_points" for t in terms),
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for c in cards:
        row: dict[str, Any] = {
            "staff_id": c.staff_id, "name": c.name, "role": c.role, "team": c.team, "period": c.period_label,
            "period_start": c.period_start, "period_end": c.period_end, "score": c.score,
            **{name: getattr(c, name) for name in FIGURES},
            **{f"median_first_response_hours_{t}": c.median_first_response_hours.get(t) for t in tiers},
            **{f"median_resolution_hours_{t}": c.median_resolution_hours.get(t) for t in tiers},
            **{f"{line.input.value}_points": line.points for line in c.score_lines},
        }  # fmt: skip
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
