"""The generator of realistic complaints (bench/generate.py) and the analysis line (bench/analysis.py).

The database test writes into the session's shared database, received in 2032 (nothing else
there is), and removes its GEN- rows afterwards.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text

from bench.analysis import AnalysisLine, Figures, periods, report
from bench.generate import (
    CLAUSE_COLUMNS,
    CLOCK_COLUMNS,
    COMPLAINT_COLUMNS,
    STANDARD_POLICY,
    delete_generated,
    generate,
    write,
)
from bench.run import lines_arg
from db.engine import make_engine, migrate
from db.tables import Complaint, ComplaintClause, ComplaintClock
from domain.policy import load_policy
from models.analysis import Period

POLICY = load_policy(STANDARD_POLICY)
END, MONTHS = date(2033, 1, 1), 12  # received in 2032
COUNT, SEED = 2000, 5


def columns(table: type) -> set[str]:
    return {c.name for c in table.__table__.columns}  # type: ignore[attr-defined]


def test_the_generated_tuples_name_every_column() -> None:
    assert len(COMPLAINT_COLUMNS) == len(set(COMPLAINT_COLUMNS)) and set(COMPLAINT_COLUMNS) == columns(Complaint)
    assert set(CLOCK_COLUMNS) == columns(ComplaintClock) and set(CLAUSE_COLUMNS) == columns(ComplaintClause)
    complaint, clocks, _ = next(generate(POLICY, 1))
    assert len(complaint) == len(COMPLAINT_COLUMNS) and all(len(c) == len(CLOCK_COLUMNS) for c in clocks)


def test_the_same_seed_gives_the_same_complaints() -> None:
    def rows(seed: int) -> list[object]:
        return list(generate(POLICY, 300, seed=seed, months=MONTHS, end=END))

    assert rows(SEED) == rows(SEED)
    assert rows(SEED) != rows(SEED + 1)


def test_generated_complaints_look_like_real_ones(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    written = write(url, POLICY, COUNT, chunk=700, seed=SEED, months=MONTHS, end=END)
    try:
        assert written.complaints == COUNT and written.clocks >= 3 * COUNT
        with engine.connect() as conn:

            def rows(model: type) -> list[dict[str, Any]]:
                table = model.__table__  # type: ignore[attr-defined]
                return [dict(r._mapping) for r in conn.execute(select(table).where(table.c.complaint_id.like("GEN-%")))]

            complaints, clocks, clauses = rows(Complaint), rows(ComplaintClock), rows(ComplaintClause)
    finally:
        with engine.begin() as conn:
            delete_generated(conn, truncate=False)  # no table lock: the session's other tests share them
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM complaints WHERE complaint_id LIKE 'GEN-%'")).scalar() == 0

    assert len(complaints) == COUNT and len(clauses) == written.clauses
    received = [c["received_at"] for c in complaints]
    assert all(isinstance(r, datetime) and datetime(2031, 12, 31, tzinfo=UTC) < r < datetime(2033, 1, 1, tzinfo=UTC)
               for r in received)  # fmt: skip
    weekdays = Counter(r.astimezone(ZoneInfo(POLICY.timezone)).weekday() for r in received)
    assert weekdays[2] > 2 * weekdays[6]  # a weekly rhythm: fewer on Sundays

    # The tier mix as asked, within sampling error.
    tiers = Counter(c["tier"] for c in complaints)
    assert abs(tiers["simple"] / COUNT - 0.70) < 0.04 and abs(tiers["complex"] / COUNT - 0.25) < 0.04
    assert 0.02 < tiers["major"] / COUNT < 0.08

    # Every complaint has its clocks, named by its tier; majors one report clock more.
    by_complaint: dict[str, set[str]] = {}
    for clock in clocks:
        by_complaint.setdefault(clock["complaint_id"], set()).add(clock["name"])
    assert set(by_complaint) == {c["complaint_id"] for c in complaints}
    for c in complaints:
        assert {"acknowledgement", f"{c['tier']}_first_response", "regulatory_decision"} <= by_complaint[
            c["complaint_id"]
        ]
    assert any("regulator_report_NFRA" in names for names in by_complaint.values())
    states = Counter(c["state"] for c in clocks)
    assert 0.01 < states["breached"] / len(clocks) < 0.12 and states["met"] / len(clocks) > 0.8

    # Most closed with what closure records; some still open.
    closed = [c for c in complaints if c["status"] in ("closed", "resolved")]
    open_ = [c for c in complaints if c["closed_at"] is None]
    assert len(closed) > 0.85 * COUNT and open_
    causes = {rc.code for rc in POLICY.root_causes}
    assert all(c["closed_at"] and c["resolved_at"] and c["root_cause"] in causes for c in closed)
    scores = Counter(c["satisfaction"] for c in closed if c["satisfaction"] is not None)
    assert scores.most_common(1)[0][0] == 4 and set(scores) <= {1, 2, 3, 4, 5}
    assert any(c["remedy_paid"] for c in closed) and any(c["reopened_count"] for c in closed)
    assert Counter(c["reopened_count"] for c in complaints).most_common(1)[0][0] == 0

    # Products from the catalogue, some none; clauses for contract disputes, one of them hot.
    products = Counter(c["product"] for c in complaints)
    assert set(products) - {None} <= {p.code for p in POLICY.reporting.products} and products[None] > 0
    categories = {c["complaint_id"]: c["category"] for c in complaints}
    assert {categories[c["complaint_id"]] for c in clauses} <= {"contract_dispute", "product_design"}
    assert Counter(c["clause"] for c in clauses).most_common(1)[0][0] == "7.3"

    # Some customers complain again and again, most once.
    per_customer = Counter(c["customer_id"] for c in complaints)
    repeaters = [n for n in per_customer.values() if n >= 2]
    assert 20 < len(repeaters) < 0.5 * len(per_customer) and max(per_customer.values()) >= 3

    assert all(c["facts_seq"] == c["last_seq"] > 0 and c["source_system"] == "bench" for c in complaints)
    assert len({c["source_reference"] for c in complaints}) == COUNT


def test_replace_deletes_the_earlier_generated_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'generated.db'}"
    migrate(url)
    first = write(url, POLICY, 200, seed=1, months=MONTHS, end=END)
    with pytest.raises(ValueError, match="--replace"):
        write(url, POLICY, 200, seed=1, months=MONTHS, end=END)
    again = write(url, POLICY, 150, replace=True, seed=2, months=MONTHS, end=END)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM complaints")).scalar() == 150
        assert conn.execute(text("SELECT count(*) FROM complaint_clocks")).scalar() == again.clocks != first.clocks
    engine.dispose()


def test_the_analysis_line_reads_the_month_before_the_end() -> None:
    current, previous = periods(date(2026, 11, 1))
    assert (current.label, current.start, current.end) == ("2026-10", date(2026, 10, 1), date(2026, 10, 31))
    assert (previous.label, previous.end) == ("2026-09", date(2026, 9, 30))
    assert lines_arg("analysis") == ["analysis"]


def test_the_analysis_report_shows_both_sides_and_the_goal() -> None:
    month = Period(label="2026-10", start=date(2026, 10, 1), end=date(2026, 10, 31))
    bare = Figures(seconds=0.02, peak_mb=90, before_mb=90, detail="count")
    fast = AnalysisLine(10, month, month, "reused", bare, Figures(3.0, 120, 90, "done"))
    text_ = report(fast)
    assert "150x" in text_ and "<= 10" in text_ and "1.33x" in text_ and "MISSED" not in text_
    slow = AnalysisLine(10, month, month, "reused", bare, Figures(12.0, 400, 90))
    assert report(slow).count("MISSED") == 2
    missing = AnalysisLine(10, month, month, "reused", bare, None, missing="No module named x")
    assert "not measured" in report(missing)


@pytest.mark.parametrize("count", [0, 1])
def test_tiny_counts(count: int) -> None:
    assert len(list(generate(POLICY, count, months=MONTHS, end=END))) == count
