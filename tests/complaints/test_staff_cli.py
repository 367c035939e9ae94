"""`complaints staff scorecard` in a subprocess, against the database (no Temporal server needed).

The figures are those of tests/db/test_scorecards.py's first quarter of 2034; the command
counts overdue training at the quarter's end or now, whichever is sooner, so none is overdue
yet and SC-H1 earns the training term in full (34.8, not the 32.3 of the end of the quarter).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

from sqlalchemy import Engine

from complaints.config import PROJECT_ROOT
from tests.db.test_scorecards import quarter  # noqa: F401 (the fixture)
from tests.test_cli import CLI

STANDARD = PROJECT_ROOT / "policies" / "standard.yaml"


def staff(engine: Engine, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(STANDARD),
    }
    proc = subprocess.run(
        [CLI, "staff", *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_everyones_scorecard_as_a_table_json_and_csv_for_payroll(quarter: Engine, tmp_path: Path) -> None:  # noqa: F811
    code, out, err = staff(quarter, "scorecard", "--period", "2034-Q1")
    assert code == 0, err
    assert "Scorecards 2034-Q1 (2034-01-01 to 2034-03-31)" in out
    h1 = next(line for line in out.splitlines() if "SC-H1" in line)
    assert "4/6 (66.7%)" in h1 and "4 (3)" in h1 and "25%" in h1 and "34.8" in h1
    assert "SC-M1" in out and "SC-OLD" not in out

    code, out, err = staff(quarter, "scorecard", "--period", "2034-q1", "--json")
    assert code == 0, err
    cards = {c["staff_id"]: c for c in json.loads(out)}
    assert (cards["SC-H1"]["cases"], cards["SC-H1"]["score"], cards["SC-H2"]["score"]) == (4, 34.8, 55.0)
    assert cards["SC-M1"]["score"] is None and cards["SC-M1"]["escalations_received"] == 2

    payroll = tmp_path / "payroll.csv"
    code, out, err = staff(quarter, "scorecard", "--period", "2034-Q1", "--csv", str(payroll))
    assert code == 0, err
    assert f"rows to {payroll}" in out
    rows = {r["staff_id"]: r for r in csv.DictReader(io.StringIO(payroll.read_text(encoding="utf-8")))}
    assert set(cards) == set(rows)
    row = rows["SC-H1"]
    assert (row["period"], row["score"], row["cases"], row["clocks_met_rate"], row["satisfaction_average"]) == (
        "2034-Q1", "34.8", "4", "66.7", "4.0"
    )  # fmt: skip
    assert (row["median_first_response_hours_all"], row["median_resolution_hours_complex"]) == ("12.0", "96.0")
    assert (row["satisfaction_average_points"], row["training_overdue_points"]) == ("15.0", "5.0")
    assert rows["SC-M1"]["score"] == "" and rows["SC-M1"]["median_first_response_hours_simple"] == ""


def test_one_persons_card_shows_every_line_of_the_score(quarter: Engine) -> None:  # noqa: F811
    code, out, err = staff(quarter, "scorecard", "SC-H1", "--period", "2034-Q1")
    assert code == 0, err
    assert "Scorecard SC-H1 Test SC-H1 (handler, customer-service), 2034-Q1" in out
    for text in ("median first response, complex", "48 h", "clocks met rate", "66.7%", "accountability entries"):
        assert text in out, text
    for term in ("clocks met rate", "satisfaction average", "reopen rate", "median first response hours",
                 "accountability entries", "training overdue"):  # fmt: skip
        assert any(line.lstrip("│ ").startswith(term) for line in out.splitlines()), term
    assert "12.27" in out and "Score: 34.8 of 100" in out

    code, out, err = staff(quarter, "scorecard", "SC-M1", "--period", "2034-Q1", "--json")
    assert code == 0, err
    card = json.loads(out)
    assert (card["staff_id"], card["score"], len(card["score_lines"])) == ("SC-M1", None, 6)


def test_a_bad_period_exits_2_and_an_unknown_person_3(quarter: Engine) -> None:  # noqa: F811
    code, _, err = staff(quarter, "scorecard", "--period", "2034-Q5")
    assert code == 2 and "--period '2034-Q5': write it as YYYY-MM (2026-10), YYYY-Qn (2026-Q4)" in err
    code, _, err = staff(quarter, "scorecard", "SC-NOBODY", "--period", "2034-Q1")
    assert code == 3 and "no staff member SC-NOBODY in the staff directory" in err
