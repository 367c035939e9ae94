"""The analysis line of `make bench`: one month's analysis over 1,000,000 complaints on PostgreSQL.

The complaints are generated (bench/generate.py) into their own database, ``complaints_bench``,
on the local PostgreSQL (created beside the ``test`` database if missing; nothing of ``test`` is
touched). A marker table, ``bench_generated``, records what was generated, so a second run
reuses the rows instead of generating them again.

Each figure comes from a child process of its own, so its peak memory (VmHWM) is the
computation's, with the same imports on both sides:

bare      ``SELECT count(*)`` of the month's complaints (received in the month): the floor.
analysis  ``db.analysis_queries.compute_analysis`` for the month against the month before.

Seconds are wall clock around the call only (not the process start or the imports).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.generate import GENERATOR_VERSION, STANDARD_POLICY, psycopg_url, write
from complaints.config import PROJECT_ROOT
from db.engine import make_engine, migrate
from domain.policy import load_policy
from models.analysis import Period

ADMIN_URL = os.environ.get("COMPLAINTS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE = "complaints_bench"
SEED, MONTHS, END = 1, 24, date(2026, 11, 1)
GOAL_SECONDS, GOAL_MB = 10.0, 300.0
QUERIES = "db.analysis_queries"  # compute_analysis(conn, period, previous, policy) -> Analysis


@dataclass(frozen=True)
class Figures:
    seconds: float
    peak_mb: float
    before_mb: float  # resident just before the measured call
    detail: str = ""


@dataclass(frozen=True)
class AnalysisLine:
    count: int
    period: Period
    previous: Period
    data: str  # "reused" or "generated in N s (...)"
    bare: Figures
    analysis: Figures | None
    missing: str = ""  # why the analysis did not run


def bench_url(admin_url: str = ADMIN_URL) -> str:
    return make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


def ensure_database(admin_url: str = ADMIN_URL) -> str:
    """Create ``complaints_bench`` beside the admin URL's database if it is missing; its URL."""
    with psycopg.connect(psycopg_url(admin_url), autocommit=True, connect_timeout=5) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
    return bench_url(admin_url)


def ensure_data(url: str, count: int) -> str:
    """Reuse the generated set if the marker and the rows say it is there; else generate it anew."""
    migrate(url)
    wanted = {"count": count, "seed": SEED, "months": MONTHS, "end_date": END, "version": GENERATOR_VERSION}
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS bench_generated (count integer NOT NULL, seed integer NOT NULL, "
                    "months integer NOT NULL, end_date date NOT NULL, version text NOT NULL, generated_at timestamptz)"
                )
            )
            marker = conn.execute(text("SELECT count, seed, months, end_date, version FROM bench_generated")).all()
            rows = conn.execute(text("SELECT count(*) FROM complaints")).scalar_one()
        if len(marker) == 1 and dict(marker[0]._mapping) == wanted and rows == count:
            return "reused"
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bench_generated"))
        print(f"  generating {count:,} complaints into {DATABASE} (once; later runs reuse them)", flush=True)
        w = write(url, load_policy(STANDARD_POLICY), count, replace=True, seed=SEED, months=MONTHS, end=END)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO bench_generated (count, seed, months, end_date, version, generated_at) "
                    "VALUES (:count, :seed, :months, :end_date, :version, :at)"
                ),
                {**wanted, "at": datetime.now(UTC)},
            )
        return (
            f"generated in {w.seconds:.0f} s: {w.complaints:,} complaints, {w.clocks:,} clocks, {w.clauses:,} clauses, "
            f"{w.rows / w.seconds:,.0f} rows/s"
        )
    finally:
        engine.dispose()


def month(of: date) -> Period:
    start = of.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return Period(label=f"{start:%Y-%m}", start=start, end=following - timedelta(days=1))


def periods(end: date = END) -> tuple[Period, Period]:
    """The last whole month before ``end``, and the month before it."""
    current = month(end - timedelta(days=1))
    return current, month(current.start - timedelta(days=1))


def measure(kind: str, url: str) -> Figures:
    """Run one side in a child process; its own account of seconds and peak memory."""
    child = subprocess.run(
        [sys.executable, "-m", "bench.analysis", "--child", kind, "--database-url", url],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{child.stderr[-3000:]}")
    return Figures(**json.loads(child.stdout.strip().splitlines()[-1]))


def run(count: int = 1_000_000, admin_url: str = ADMIN_URL) -> AnalysisLine:
    url = ensure_database(admin_url)
    data = ensure_data(url, count)
    current, previous = periods()
    bare = measure("bare", url)
    try:
        importlib.import_module(QUERIES)  # only whether it exists yet
    except ImportError as err:
        return AnalysisLine(count, current, previous, data, bare, None, missing=str(err))
    return AnalysisLine(count, current, previous, data, bare, measure("analysis", url))


def report(line: AnalysisLine) -> str:
    bare, analysis = line.bare, line.analysis
    rows = [("", "bare", "analysis", "ratio", "goal")]
    if analysis is None:
        rows.append(("seconds (wall clock)", f"{bare.seconds:.2f}", "-", "", f"<= {GOAL_SECONDS:.0f}"))
        rows.append(("peak memory, its process (MB)", f"{bare.peak_mb:.0f}", "-", "", f"<= {GOAL_MB:.0f}"))
    else:
        rows.append(
            (
                "seconds (wall clock)",
                f"{bare.seconds:.2f}",
                f"{analysis.seconds:.2f}",
                f"{analysis.seconds / bare.seconds:.0f}x" if bare.seconds else "",
                f"<= {GOAL_SECONDS:.0f}" + ("" if analysis.seconds <= GOAL_SECONDS else "  MISSED"),
            )
        )
        rows.append(
            (
                "peak memory, its process (MB)",
                f"{bare.peak_mb:.0f}",
                f"{analysis.peak_mb:.0f}",
                f"{analysis.peak_mb / bare.peak_mb:.2f}x",
                f"<= {GOAL_MB:.0f}" + ("" if analysis.peak_mb <= GOAL_MB else "  MISSED"),
            )
        )
        rows.append(("  of which before the call (MB)", f"{bare.before_mb:.0f}", f"{analysis.before_mb:.0f}", "", ""))
    width = max(len(r[0]) for r in rows)
    lines = [f"{a:<{width}}  {b:>8}  {c:>9}  {d:>7}  {e}".rstrip() for a, b, c, d, e in rows]
    lines.append(f"data: {line.data}")
    lines.append(f"bare: {bare.detail}")
    if analysis is None:
        lines.append(f"analysis: not measured, db.analysis_queries is not there yet ({line.missing})")
    elif analysis.detail:
        lines.append(f"analysis: {analysis.detail}")
    return "\n".join(lines)


def headline(line_count: int, note: str = "") -> str:
    current, previous = periods()
    return (
        f"analysis: one month ({current.label}, against {previous.label}) over {line_count:,} generated complaints "
        f"on the local PostgreSQL, database {DATABASE} (goal: <= {GOAL_SECONDS:.0f} s and <= {GOAL_MB:.0f} MB"
        f"{'; ' + note if note else ''})"
    )


# -- the child: one measured call ----------------------------------------------------------


def _memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak) of this process: unlike ru_maxrss, which on Linux keeps
    the parent's peak across fork and exec, VmHWM starts afresh with the program."""
    for row in open("/proc/self/status").read().splitlines():
        if row.startswith(f"{field}:"):
            return int(row.split()[1]) / 1024
    return float("nan")


def child(kind: str, url: str) -> dict[str, Any]:
    current, previous = periods()
    policy = load_policy(STANDARD_POLICY)
    queries: Any = None
    try:  # on both sides, so that both carry the same imports
        queries = importlib.import_module(QUERIES)
    except ImportError:
        if kind == "analysis":
            raise
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        before = _memory_mb("VmRSS")
        began = time.perf_counter()
        if kind == "bare":
            zone = ZoneInfo(policy.timezone)  # the month in the policy's time zone, as the analysis reads it
            start = datetime.combine(current.start, datetime.min.time(), zone)
            stop = datetime.combine(current.end + timedelta(days=1), datetime.min.time(), zone)
            found = conn.execute(
                text("SELECT count(*) FROM complaints WHERE received_at >= :a AND received_at < :b"),
                {"a": start, "b": stop},
            ).scalar_one()
            detail = f"SELECT count(*) of the {found:,} complaints received in {current.label} ({zone.key})"
        else:
            result = queries.compute_analysis(conn, current, previous, policy)
            h = result.headline
            detail = (
                f"{h.received:,} received, {h.closed:,} closed, {len(result.counts)} count rows, "
                f"{len(result.risk_points)} risk points"
            )
        seconds = time.perf_counter() - began
    engine.dispose()
    return {"seconds": seconds, "peak_mb": _memory_mb("VmHWM"), "before_mb": before, "detail": detail}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["bare", "analysis"], help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.database_url)), flush=True)
        return
    print(headline(args.count, f"load average {os.getloadavg()[0]:.1f}"), flush=True)
    print(report(run(args.count)), flush=True)


if __name__ == "__main__":
    main()
