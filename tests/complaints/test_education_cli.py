"""`complaints education` in a subprocess, against the database (no Temporal server needed).

The topics are those of tests/db/test_education_queries.py (2036); the action logged here is
held in 2026, before today, and removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from complaints.config import PROJECT_ROOT
from db.tables import EducationActionRow
from tests.db.test_education_queries import A, rows  # noqa: F401 (the fixture)
from tests.test_cli import CLI

STANDARD = PROJECT_ROOT / "policies" / "standard.yaml"
TITLE = "Overdraft interest, day by day (CLI test)"


def education(engine: Engine, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COMPLAINTS_POLICY": str(STANDARD),
    }
    proc = subprocess.run(
        [CLI, "education", *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def logged(engine: Engine) -> Iterator[Engine]:
    try:
        yield engine
    finally:
        with engine.begin() as conn:
            t = EducationActionRow.__table__  # type: ignore[attr-defined]
            conn.execute(sa.delete(t).where(t.c.title.like("%(CLI test)")))


LOG = ("log", "--product", "overdraft", "--topic", "fees_and_interest", "--kind", "page", "--title", TITLE,
       "--held-on", "2026-06-30", "--reach", "1200", "--as", "S-RM-007")  # fmt: skip


def test_an_action_is_logged_once_and_listed_with_the_months_around_it(logged: Engine) -> None:
    code, out, err = education(logged, *LOG)
    assert code == 0, err
    assert out.startswith("logged #") and f"page '{TITLE}' on overdraft / fees_and_interest, held 2026-06-30" in out
    assert "reach 1,200, by S-RM-007" in out
    code, out, err = education(logged, *LOG)
    assert code == 0 and out.startswith("already logged #"), err

    code, out, err = education(logged, "list", "--period", "2026-Q3", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["periods"] == ["2026-Q3", "2026-Q2", "2026-Q1", "2025-Q4"] and found["as_of"] == "2026-09-30"
    topic = next(t for t in found["topics"] if (t["product"], t["topic"]) == ("overdraft", "fees_and_interest"))
    (mine,) = [x for x in topic["actions"] if x["action"]["title"] == TITLE]
    # 30 June: the months before from 30 March; three whole months after by 30 September.
    assert mine["effect"]["months"] == 3 and len(mine["effect"]["before"]) == 3 and len(mine["effect"]["after"]) == 3

    code, out, err = education(logged, "list", "--period", "2026-Q3")
    assert code == 0, err
    assert "Education topics 2026-Q3 (2026-07-01 to 2026-09-30): complaints closed as customer misunderstanding" in out
    assert "Actions held by 2026-09-30" in out and TITLE in out and "S-RM-007" in out


def test_the_periods_topics_by_product_and_category(rows: Engine) -> None:  # noqa: F811
    code, out, err = education(rows, "list", "--period", "2036-Q2", "--json")
    assert code == 0, err
    counts = {(t["product"], t["topic"]): t["counts"] for t in json.loads(out)["topics"]}
    assert counts[A, "fees_and_interest"] == [3, 4, 1, 0]
    assert counts["unspecified", "repayment_collection"] == [1, 0, 0, 0]
    code, out, err = education(rows, "list", "--period", "2036-Q2", "--top", "1")
    assert code == 0, err
    assert "2036-Q2 (2036-04-01 to 2036-06-30; it runs to 2036-06-30, counted to" in out
    assert "edu_loan_a" in out and "topics with fewer complaints (--top, or --json for all)" in out


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"--as": "S-HND-001"}, 1, "refused: recorded_by: S-HND-001 is a handler; education actions are logged by"),
        ({"--as": "S-NOBODY"}, 3, "error: recorded_by: no staff member S-NOBODY in the staff directory"),
        ({"--product": "mortgage"}, 2, "error: product: 'mortgage' is not in the policy's catalogue"),
        ({"--topic": "weather"}, 2, "error: topic: Input should be 'contract_dispute'"),
        ({"--kind": "webinar"}, 2, "error: kind: Input should be 'meeting', 'leaflet' or 'page'"),
        ({"--held-on": "2026-15-01"}, 2, "error: held_on: Input should be a valid date"),
        ({"--held-on": "2999-01-01"}, 2, "error: held_on: 2999-01-01 lies in the future"),
        ({"--reach": "-5"}, 2, "error: reach: Input should be greater than or equal to 0"),
    ],
)
def test_a_refused_action_names_the_field_and_writes_nothing(
    logged: Engine, change: dict[str, str], code: int, message: str
) -> None:
    args = list(LOG)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    got, _, err = education(logged, *args)
    assert (got, message in err) == (code, True), err
    with logged.connect() as conn:
        t = EducationActionRow.__table__  # type: ignore[attr-defined]
        assert conn.scalar(sa.select(sa.func.count()).where(t.c.title == TITLE)) == 0


def test_a_bad_period_exits_2() -> None:
    proc = subprocess.run(
        [CLI, "education", "list", "--period", "2026-13"], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    assert proc.returncode == 2 and "--period '2026-13': write it as YYYY-MM (2026-10)" in proc.stderr
