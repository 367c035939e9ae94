"""Step 3.2's output people look at: one periodic ``Analysis`` as an HTML report, CSVs and JSON.

``render_report`` writes, into one directory:

- ``report.html``: self-contained (inline CSS, charts as inline SVG made by vega-altair and
  vl-convert-python, no script, font or link to load), for a complaints manager;
- every table as ``<table>.csv`` (header row first) and ``<table>.json`` (a list of rows);
- ``analysis.json``: the whole model.

Each file is written to a temporary name in the same directory and renamed over the final
one, so a crash leaves the previous file or the new one, never half of one. Plain functions: no
Temporal here; an activity calls ``render_report`` and records the paths it returns.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert as vlc
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel

from domain.times import fmt_utc
from models.analysis import (
    Analysis,
    ClauseRow,
    ClockRow,
    CountRow,
    DurationRow,
    EducationRow,
    Headline,
    RegulatorReportRow,
    RiskMeasure,
    RiskPoint,
    SatisfactionRow,
    TeamRow,
)
from models.policy import Policy

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "analysis_report.html.j2"
HTML = "report.html"
ANALYSIS_JSON = "analysis.json"

# Each table of the report, the model of its rows (its fields are the CSV's header, in order).
TABLES: dict[str, type[BaseModel]] = {
    "counts": CountRow,
    "durations": DurationRow,
    "clocks": ClockRow,
    "satisfaction": SatisfactionRow,
    "clauses": ClauseRow,
    "regulator_reports": RegulatorReportRow,
    "risk_points": RiskPoint,
    "team": TeamRow,
    "education": EducationRow,
}
DIMENSIONS = ("category", "tier", "channel", "product", "root_cause")
MEASURES = {"acknowledge": "To acknowledge", "first_response": "To first response", "resolution": "To resolution"}
THIS, BEFORE = "This period", "Previous period"
COLOURS = {THIS: "#1f5fa8", BEFORE: "#b7c6d9", "Met": "#3a8d5c", "Breached": "#c0392b"}
UNITS = {  # how a risk rule's figure reads, by what it measures
    RiskMeasure.ROOT_CAUSE_SHARE_CHANGE: " pts",
    RiskMeasure.CATEGORY_COUNT_CHANGE: "%",
    RiskMeasure.CLOCK_BREACH_RATE: "%",
    RiskMeasure.SATISFACTION_AVERAGE: " / 5",
    RiskMeasure.REOPEN_RATE: "%",
    RiskMeasure.REPEAT_COMPLAINANT_SHARE: "%",
    RiskMeasure.CLAUSE_CITATIONS: " complaints",
}

PANEL, WIDE = 500, 1040  # a chart's width in a half-width panel, and in a full-width one
Labels = Mapping[str, Mapping[str, str]]  # dimension (category, product, clock...) -> code -> label
Namer = Callable[[str, str], str]  # (dimension, code) -> what a reader sees


def render_report(analysis: Analysis, directory: Path, *, labels: Labels | None = None) -> dict[str, str]:
    """Write the report, its tables and the model into ``directory``; the file names written.

    Keys: ``html``, ``analysis`` and ``<table>_csv`` / ``<table>_json`` for each of ``TABLES``;
    values are file names relative to ``directory``. ``labels`` optionally names codes for
    people (e.g. a product's label from the policy); a code without one is shown as it is.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for name, model in TABLES.items():
        rows = [row.model_dump(mode="json") for row in getattr(analysis, name)]
        _write(directory / f"{name}.csv", _csv(list(model.model_fields), rows))
        _write(directory / f"{name}.json", json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        written[f"{name}_csv"], written[f"{name}_json"] = f"{name}.csv", f"{name}.json"
    _write(directory / ANALYSIS_JSON, analysis.model_dump_json(indent=2) + "\n")
    written["analysis"] = ANALYSIS_JSON
    _write(directory / HTML, render_html(analysis, labels or {}))
    written["html"] = HTML
    return written


def policy_labels(policy: Policy) -> dict[str, dict[str, str]]:
    """The policy's names for products and root causes, for ``render_report(labels=...)``."""
    clocks = {f"{tier.value}_first_response": spec.label for tier, spec in policy.tier_clocks.items()}
    pack = policy.regulatory_pack
    clocks |= {"acknowledgement": pack.acknowledgement.label, "regulatory_decision": pack.decision.label}
    return {
        "product": {p.code: p.label for p in policy.reporting.products},
        "root_cause": {r.code: r.label for r in policy.root_causes},
        "clock": clocks | {"follow_up": "Follow-up call"},
    }


def render_html(analysis: Analysis, labels: Labels) -> str:
    """The report as one self-contained HTML page."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    name = _namer(labels)
    counts = {
        dimension: [row for row in analysis.counts if row.dimension == dimension]
        for dimension in [*DIMENSIONS, *sorted({r.dimension for r in analysis.counts} - set(DIMENSIONS))]
    }
    context: dict[str, Any] = {
        "a": analysis,
        "generated": fmt_utc(analysis.generated_at),
        "headline": _headline(analysis.headline, analysis.previous_headline, analysis.currency),
        "risks": [_risk(point, name) for point in analysis.risk_points],
        "counts": {
            dimension: {"rows": rows, "chart": _count_chart(dimension, rows, name) if rows else None}
            for dimension, rows in counts.items()
        },
        "durations": analysis.durations,
        "durations_chart": _duration_chart(analysis.durations) if analysis.durations else None,
        "clocks": analysis.clocks,
        "clocks_chart": _clock_chart(analysis.clocks, name) if analysis.clocks else None,
        "satisfaction": analysis.satisfaction,
        "satisfaction_chart": (
            _satisfaction_chart(analysis.satisfaction)
            if any(r.count or r.previous for r in analysis.satisfaction)
            else None
        ),
        "clauses": analysis.clauses,
        "regulator_reports": analysis.regulator_reports,
        "team": analysis.team,
        "education": analysis.education,
        "measures": MEASURES,
        "name": name,
        "hours": _hours,
        "pct": _pct,
        "change": _change,
    }
    return env.get_template(TEMPLATE).render(**context)


# ---- figures as people read them ------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    previous: str
    change: str  # "+12 (+7.3%)", "−1.5 pts", "no change", "" when there is nothing to compare
    trend: str  # up, down, flat, ""


def _headline(now: Headline, before: Headline, currency: str) -> list[Figure]:
    def count(label: str, a: int, b: int) -> Figure:
        return Figure(label, f"{a:,}", f"{b:,}", *_delta(a, b, relative=True))

    def rate(label: str, a: float | None, b: float | None, unit: str, digits: int = 1) -> Figure:
        shown = (lambda v: "—" if v is None else f"{v:.{digits}f}{unit}")(a)
        return Figure(label, shown, "—" if b is None else f"{b:.{digits}f}{unit}", *_delta(a, b, unit=unit.strip()))

    return [
        count("Received", now.received, before.received),
        count("Closed", now.closed, before.closed),
        count("Open at period end", now.open_at_end, before.open_at_end),
        count("Escalations", now.escalations, before.escalations),
        count("Extensions", now.extensions, before.extensions),
        rate("Satisfaction (average, 1–5)", now.satisfaction_average, before.satisfaction_average, "", 2),
        rate("Reopen rate (of closed)", now.reopen_rate, before.reopen_rate, "%"),
        Figure(
            "Repeat complainants",
            f"{now.repeat_complainants:,}"
            + ("" if now.repeat_complainant_share is None else f" ({_pct(now.repeat_complainant_share)})"),
            f"{before.repeat_complainants:,}",
            *_delta(now.repeat_complainants, before.repeat_complainants, relative=True),
        ),
        Figure(
            f"Remedy paid ({currency})",
            f"{now.remedy_paid:,.2f}",
            f"{before.remedy_paid:,.2f}",
            *_delta(now.remedy_paid, before.remedy_paid, relative=True),
        ),
    ]


def _delta(
    a: float | Decimal | None, b: float | Decimal | None, *, relative: bool = False, unit: str = ""
) -> tuple[str, str]:
    """(the change in words, its direction) from ``b`` (before) to ``a`` (now); money is a Decimal."""
    if a is None or b is None:
        return "", ""
    diff: float | Decimal
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        diff = Decimal(a) - Decimal(b)
    else:
        diff = a - b
    if not diff:
        return "no change", "flat"
    sign = "+" if diff > 0 else "−"
    if isinstance(diff, Decimal):
        text = f"{sign}{abs(diff):,.2f}"
    elif isinstance(diff, int):
        text = f"{sign}{abs(diff):,}"
    else:
        text = f"{sign}{abs(diff):.2f}" if not unit else f"{sign}{abs(diff):.1f} {'pts' if unit == '%' else unit}"
    if relative and b:
        text += f" ({sign}{abs(float(diff)) / abs(float(b)) * 100:.0f}%)"
    return text, "up" if diff > 0 else "down"


def _change(now: int, before: int) -> str:
    return _delta(now, before)[0] if now != before else "—"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} h"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _risk(point: RiskPoint, name: Namer) -> dict[str, Any]:
    unit = UNITS.get(point.measure, "")
    digits = 2 if point.measure is RiskMeasure.SATISFACTION_AVERAGE else 1
    if point.measure is RiskMeasure.CLAUSE_CITATIONS:
        digits = 0
    return {
        "p": point,
        "subject": name(_SUBJECT_DIMENSION.get(point.measure, ""), point.subject),
        "measure": point.measure.value.replace("_", " "),
        "figure": f"{point.figure:.{digits}f}{unit}",
        "threshold": f"{point.threshold:.{digits}f}{unit}",
    }


_SUBJECT_DIMENSION = {
    RiskMeasure.ROOT_CAUSE_SHARE_CHANGE: "root_cause",
    RiskMeasure.CATEGORY_COUNT_CHANGE: "category",
    RiskMeasure.CLOCK_BREACH_RATE: "clock",
}


def _namer(labels: Labels) -> Namer:
    def name(dimension: str, code: str) -> str:
        """A code's label, else the code as words; a subject of no dimension (a clause) as it is."""
        if not dimension:
            return code
        return labels.get(dimension, {}).get(code) or code.replace("_", " ")

    return name


# ---- charts: a Vega-Lite spec each (altair), converted once to SVG (vl-convert) -------------

_CONFIG: dict[str, Any] = {
    "font": "DejaVu Sans, Noto Sans CJK SC, sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelLimit": 260, "gridColor": "#e8ecf1"},
    "legend": {"orient": "top", "labelFontSize": 12, "title": None},
    "header": {"labelFontSize": 13, "labelFontWeight": "bold"},
}


def _svg(chart: alt.TopLevelMixin, fit: int | None = None) -> Markup:
    """The chart as inline SVG; ``fit``: its whole width in pixels, axis labels included."""
    spec = chart.to_dict()
    spec["config"] = _CONFIG
    if fit:
        spec["width"], spec["autosize"] = fit, {"type": "fit-x", "contains": "padding"}
    return Markup(vlc.vegalite_to_svg(vl_spec=spec))


def _period_colour() -> alt.Color:
    return alt.Color("period:N", scale=alt.Scale(domain=[THIS, BEFORE], range=[COLOURS[THIS], COLOURS[BEFORE]]))


def _count_chart(dimension: str, rows: list[CountRow], name: Namer) -> Markup:
    values = [
        {"key": name(dimension, r.key), "period": period, "count": n, "order": -r.count}
        for r in rows
        for period, n in ((THIS, r.count), (BEFORE, r.previous))
    ]
    chart = (
        alt.Chart(alt.Data(values=values), height={"step": 12, "for": "offset"})
        .mark_bar()
        .encode(
            y=alt.Y("key:N", title=None, sort=alt.EncodingSortField("order", op="min")),
            yOffset=alt.YOffset("period:N", sort=[THIS, BEFORE]),
            x=alt.X("count:Q", title="Complaints", axis=alt.Axis(tickMinStep=1)),
            color=_period_colour(),
        )
    )
    labelled = chart + chart.mark_text(align="left", dx=3, fontSize=10, color="#333").encode(
        text="count:Q", color=alt.value("#333")
    )
    return _svg(labelled, fit=PANEL)


def _duration_chart(rows: list[DurationRow]) -> Markup:
    values = [
        {"measure": MEASURES.get(r.measure, r.measure), "tier": r.tier, "statistic": stat, "hours": hours}
        for r in rows
        for stat, hours in (("Median", r.median_hours), ("90th percentile", r.p90_hours))
        if hours is not None
    ]
    chart = (
        alt.Chart(alt.Data(values=values), width=290, height=200)
        .mark_bar()
        .encode(
            x=alt.X("tier:N", title=None, sort=["simple", "complex", "major"], axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("statistic:N", sort=["Median", "90th percentile"]),
            y=alt.Y("hours:Q", title="Hours"),
            color=alt.Color(
                "statistic:N",
                scale=alt.Scale(domain=["Median", "90th percentile"], range=[COLOURS[THIS], "#e39b3c"]),
            ),
        )
        .facet(column=alt.Column("measure:N", title=None, sort=list(MEASURES.values())))
        .resolve_scale(y="independent")
    )
    return _svg(chart)


def _clock_chart(rows: list[ClockRow], name: Namer) -> Markup:
    values = [
        {"clock": name("clock", r.clock), "outcome": outcome, "cases": n, "order": i}
        for r in rows
        for i, (outcome, n) in enumerate((("Met", r.met), ("Breached", r.breached)))
    ]
    order = [name("clock", r.clock) for r in rows]
    # Room right of the longest bar for its "x% breached" label.
    room = alt.Scale(domain=[0, max((r.met + r.breached for r in rows), default=1) * 1.18], nice=False)
    bars = (
        alt.Chart(alt.Data(values=values), height={"step": 26})
        .mark_bar()
        .encode(
            y=alt.Y("clock:N", title=None, sort=order),
            x=alt.X("cases:Q", title="Complaints", stack="zero", scale=room),
            color=alt.Color(
                "outcome:N", scale=alt.Scale(domain=["Met", "Breached"], range=[COLOURS["Met"], COLOURS["Breached"]])
            ),
            order=alt.Order("order:Q"),
        )
    )
    rates = [
        {"clock": name("clock", r.clock), "total": r.met + r.breached, "rate": f"{_pct(r.breach_rate)} breached"}
        for r in rows
    ]
    text = (
        alt.Chart(alt.Data(values=rates))
        .mark_text(align="left", dx=4, fontSize=11, color="#333")
        .encode(y=alt.Y("clock:N", sort=order), x="total:Q", text="rate:N")
    )
    return _svg(alt.layer(bars, text), fit=WIDE)


def _satisfaction_chart(rows: list[SatisfactionRow]) -> Markup:
    values = [
        {"score": str(r.score), "period": period, "count": n}
        for r in rows
        for period, n in ((THIS, r.count), (BEFORE, r.previous))
    ]
    chart = (
        alt.Chart(alt.Data(values=values), height=200)
        .mark_bar()
        .encode(
            x=alt.X("score:O", title="Score (1 = very dissatisfied, 5 = very satisfied)", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("period:N", sort=[THIS, BEFORE]),
            y=alt.Y("count:Q", title="Complaints", axis=alt.Axis(tickMinStep=1)),
            color=_period_colour(),
        )
    )
    return _svg(chart, fit=PANEL)


# ---- files ---------------------------------------------------------------------------------


def _csv(fields: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


def _write(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
