"""`complaints report`: the periodic analysis and the regulators' returns (step 3.2).

``run`` starts the reporting workflow for a period and waits; ``list``, ``show`` and ``open``
read what was produced (the ``analysis_reports`` table and the files it names).
"""

from __future__ import annotations

import json
import webbrowser
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from complaints.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    Json,
    engine,
    out,
    print_json,
    run,
    temporal_client,
)
from complaints.config import Settings
from complaints.intake import policy_in_force
from complaints.reports import default_kinds, find_report, list_reports, run_report
from domain.analysis import custom_period
from models.analysis import ANALYSIS, ReturnKind, report_kind

report_app = typer.Typer(
    help="The periodic complaint analysis (charts, risk points) and the regulators' returns.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

KindOption = Annotated[
    str, typer.Option("--kind", help=f"{ANALYSIS} (default) or a return: {', '.join(k.value for k in ReturnKind)}.")
]
Period = Annotated[str, typer.Argument(help="The period's label, e.g. 2026-10, 2026-Q3, 2026-H1 (see `report list`).")]


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise CliError(f"{option} {value!r}: write a date as YYYY-MM-DD", EXIT_USAGE) from e


@report_app.command("run")
def report_run(
    from_: Annotated[str, typer.Option("--from", help="First day of the period (YYYY-MM-DD, policy time zone).")],
    to: Annotated[str, typer.Option("--to", help="Last day of the period, included.")],
    kinds: Annotated[
        list[str] | None,
        typer.Option(
            "--kind", help="What to produce (repeatable); default: the analysis and the returns due for such a period."
        ),
    ] = None,
    as_: Annotated[str, typer.Option("--as", help="Who asks for it (shown in the Web UI).")] = "cli",
    as_json: Json = False,
) -> None:
    """Run the analysis (and returns) for a period now, and wait for it: a new version each time."""

    async def body(settings: Settings) -> None:
        try:
            period = custom_period(_day(from_, "--from"), _day(to, "--to"))
            chosen = [report_kind(k) for k in kinds] if kinds else None
        except ValueError as e:
            raise CliError(str(e), EXIT_USAGE) from e
        policy = policy_in_force()
        chosen = chosen or default_kinds(policy, period)
        outcome = await run_report(await temporal_client(settings), settings.task_queue, policy, period, chosen, as_)
        if as_json:
            print_json(outcome)
        else:
            out.print(f"{period.label} ({period.start} to {period.end}), compared with {outcome.previous.label}:")
            for o in outcome.outputs:
                if o.error:
                    out.print(f"  {o.kind}: REFUSED, nothing written: {o.error}")
                else:
                    out.print(f"  {o.kind} v{o.version}: {o.directory}  {_summary(o.summary)}")
        if any(o.error for o in outcome.outputs):
            raise CliError("a return failed its schema (above)", EXIT_REFUSED)

    run(body)


def _summary(summary: dict[str, object]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.items() if v is not None)


@report_app.command("list")
def report_list(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    period: Annotated[str | None, typer.Option("--period", help="Only this period label.")] = None,
    as_json: Json = False,
) -> None:
    """Every report and return produced, newest period first (the latest version marked)."""

    async def body(settings: Settings) -> None:
        rows = list_reports(engine(settings), kind, period)
        if as_json:
            print_json([r.model_dump(mode="json") for r in rows])
            return
        if not rows:
            out.print("no reports yet: `complaints report run --from … --to …`, or wait for the schedule")
            return
        table = Table("period", "kind", "version", "made (UTC)", "policy", "summary", "directory")
        latest: set[tuple[str, str]] = set()
        for r in rows:
            mark = "" if (r.period_label, r.kind) in latest else " (latest)"
            latest.add((r.period_label, r.kind))
            table.add_row(
                r.period_label, r.kind, f"v{r.version}{mark}", f"{r.created_at:%Y-%m-%d %H:%M}", r.policy_version,
                _summary(r.summary), r.directory,
            )  # fmt: skip
        out.print(table)

    run(body)


def _report(settings: Settings, period: str, kind: str, version: int | None) -> tuple[Path, dict[str, str]]:
    row = find_report(engine(settings), period, kind, version)
    if row is None:
        which = f"v{version} of " if version else ""
        raise CliError(f"no {which}{kind} report for {period} (see `complaints report list`)", EXIT_NOT_FOUND)
    return Path(row.directory), row.files


@report_app.command("show")
def report_show(
    period: Period,
    kind: KindOption = ANALYSIS,
    version: Annotated[int | None, typer.Option(help="A version (default: the latest).")] = None,
    as_json: Json = False,
) -> None:
    """A report's headline figures and risk points, or a return's file names and row count."""

    async def body(settings: Settings) -> None:
        directory, files = _report(settings, period, kind, version)
        if kind != ANALYSIS:
            data = {"directory": str(directory), "files": files}
            print_json(data) if as_json else out.print("\n".join(f"{k}: {directory / v}" for k, v in files.items()))
            return
        analysis = json.loads((directory / files["analysis"]).read_text(encoding="utf-8"))
        if as_json:
            print_json(analysis)
            return
        _print_analysis(analysis, directory / files["html"])

    run(body)


def _print_analysis(a: dict[str, object], html: Path) -> None:
    h, p = a["headline"], a["previous_headline"]
    assert isinstance(h, dict) and isinstance(p, dict)
    period, previous = a["period"], a["previous"]
    assert isinstance(period, dict) and isinstance(previous, dict)
    generated = datetime.fromisoformat(str(a["generated_at"]))
    out.print(f"Complaint analysis {period['label']} against {previous['label']} (policy {a['policy_version']}, "
              f"made {generated:%Y-%m-%d %H:%M} UTC)")  # fmt: skip
    table = Table("figure", period["label"], previous["label"])
    for key in ("received", "closed", "open_at_end", "escalations", "extensions", "satisfaction_average",
                "reopen_rate", "repeat_complainants", "remedy_paid"):  # fmt: skip
        table.add_row(
            key.replace("_", " "),
            str(h.get(key) if h.get(key) is not None else "—"),
            str(p.get(key) if p.get(key) is not None else "—"),
        )
    out.print(table)
    points = a["risk_points"]
    assert isinstance(points, list)
    if not points:
        out.print("Risk points: none crossed a threshold.")
    for rp in points:
        out.print(f"RISK {rp['rule']}: {rp['subject']} {rp['figure']} {rp['direction']} {rp['threshold']} "
                  f"({rp['cases']} cases) — owner {rp['owner']}: {rp['detail']}"
                  + (f". Proposed: {rp['proposal']}" if rp.get("proposal") else ""))  # fmt: skip
    out.print(f"Report: {html}")


@report_app.command("open")
def report_open(
    period: Period,
    kind: KindOption = ANALYSIS,
    version: Annotated[int | None, typer.Option(help="A version (default: the latest).")] = None,
) -> None:
    """Open the report in the browser (or print where it is, where there is none)."""

    async def body(settings: Settings) -> None:
        directory, files = _report(settings, period, kind, version)
        path = (directory / files.get("html", files.get("csv", ""))).resolve()
        opened = webbrowser.open(path.as_uri())
        out.print(f"{'opened' if opened else 'open this file'}: {path}")

    run(body)
