"""`complaints education` in a subprocess, against the database; `log` through a worker.

Logging an action is a signed staff action: the worker's ``EducationLogWorkflow`` checks the
recorder's signature and role (issue 16), so `log` runs against this module's own worker; `list`
reads the database alone. The topics are those of tests/db/test_education_queries.py (2036); the
action logged here is held in 2026, before today, and removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from complaints.config import PROJECT_ROOT
from complaints.education import LOG_WORKFLOW
from db.signed_actions import SignedActionRow
from db.tables import EducationActionRow
from domain.policy import PolicyStore
from models.education import EducationActionRequest, EducationLogResult
from tests.db.test_education_queries import A, rows  # noqa: F401 (the fixture)
from tests.helpers import config_with, own_worker, save_history, staff_cli
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


@dataclass
class Logged:
    client: Client
    engine: Engine
    task_queue: str

    async def log(self, *args: str, config: Path | None = None) -> tuple[int, str, str]:
        return await staff_cli(
            self.client, self.engine, "education", *args, config=config, task_queue=self.task_queue, policy=STANDARD
        )


@pytest_asyncio.fixture(loop_scope="session")
async def logged(client: Client, engine: Engine) -> AsyncIterator[Logged]:
    try:
        async with own_worker(client, engine, PolicyStore.from_file(STANDARD), prefix="education") as intake:
            yield Logged(client, engine, intake.task_queue)
    finally:
        with engine.begin() as conn:
            t = EducationActionRow.__table__  # type: ignore[attr-defined]
            conn.execute(sa.delete(t).where(t.c.title.like("%(CLI test)")))


LOG = ("log", "--product", "overdraft", "--topic", "fees_and_interest", "--kind", "page", "--title", TITLE,
       "--held-on", "2026-06-30", "--reach", "1200", "--as", "S-RM-007")  # fmt: skip


async def test_an_action_is_logged_once_signed_and_listed_with_the_months_around_it(
    logged: Logged, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Someone holding only their own key logs as the relationship manager: refused, nothing written.
    code, _, err = await logged.log(*LOG, config=config_with(tmp_path, "S-HND-001"))
    assert code == 1 and "signature refused: unsigned: log_education by S-RM-007 carries no signature" in err, err
    assert _count(logged.engine) == 0

    code, out, err = await logged.log(*LOG)
    assert code == 0, err
    assert out.startswith("logged #") and f"page '{TITLE}' on overdraft / fees_and_interest, held 2026-06-30" in out
    assert "reach 1,200, by S-RM-007" in out
    code, out, err = await logged.log(*LOG)
    assert code == 0 and out.startswith("already logged #"), err

    # What the relationship manager signed is kept with the workflow that logged it, and verifies.
    with Session(logged.engine) as session:
        kept = session.exec(
            select(SignedActionRow)
            .where(SignedActionRow.actor == "S-RM-007", SignedActionRow.action == "log_education")
            .order_by(col(SignedActionRow.id).desc())
        ).first()
    assert kept is not None and kept.payload["title"] == TITLE and kept.signature is not None
    code, out, err = await staff_cli(logged.client, logged.engine, "verify", kept.workflow_id)
    assert code == 0 and f"{kept.workflow_id}: all 1 verified" in out, out + err
    if logged.engine.dialect.name == "sqlite":
        await save_history(request, logged.client.get_workflow_handle(kept.workflow_id), "education_log_signed")

    # The same signed request sent again under its workflow id: a new run, refused as a replay.
    again = EducationActionRequest.model_validate({**kept.payload, "signature": kept.signature})
    replayed = await logged.client.execute_workflow(
        LOG_WORKFLOW, again, id=kept.workflow_id, task_queue=logged.task_queue, result_type=EducationLogResult
    )
    assert replayed.refused is not None and "signature refused: replayed: nonce" in replayed.refused

    engine = logged.engine
    code, out, err = education(engine, "list", "--period", "2026-Q3", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["periods"] == ["2026-Q3", "2026-Q2", "2026-Q1", "2025-Q4"] and found["as_of"] == "2026-09-30"
    topic = next(t for t in found["topics"] if (t["product"], t["topic"]) == ("overdraft", "fees_and_interest"))
    (mine,) = [x for x in topic["actions"] if x["action"]["title"] == TITLE]
    # 30 June: the months before from 30 March; three whole months after by 30 September.
    assert mine["effect"]["months"] == 3 and len(mine["effect"]["before"]) == 3 and len(mine["effect"]["after"]) == 3

    code, out, err = education(engine, "list", "--period", "2026-Q3")
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
        ({"--as": "S-NOBODY"}, 3, "error: no staff member S-NOBODY in the staff directory"),
        ({"--product": "mortgage"}, 2, "error: product: 'mortgage' is not in the policy's catalogue"),
        ({"--topic": "weather"}, 2, "error: topic: Input should be 'contract_dispute'"),
        ({"--kind": "webinar"}, 2, "error: kind: Input should be 'meeting', 'leaflet' or 'page'"),
        ({"--held-on": "2026-15-01"}, 2, "error: held_on: Input should be a valid date"),
        ({"--held-on": "2999-01-01"}, 2, "error: held_on: 2999-01-01 lies in the future"),
        ({"--reach": "-5"}, 2, "error: reach: Input should be greater than or equal to 0"),
    ],
)
async def test_a_refused_action_names_the_field_and_writes_nothing(
    logged: Logged, change: dict[str, str], code: int, message: str
) -> None:
    args = list(LOG)
    for option, value in change.items():
        args[args.index(option) + 1] = value
    got, _, err = await logged.log(*args)
    assert (got, message in err) == (code, True), err
    assert _count(logged.engine) == 0


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        t = EducationActionRow.__table__  # type: ignore[attr-defined]
        return int(conn.scalar(sa.select(sa.func.count()).where(t.c.title == TITLE)) or 0)


def test_a_bad_period_exits_2() -> None:
    proc = subprocess.run(
        [CLI, "education", "list", "--period", "2026-13"], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    assert proc.returncode == 2 and "--period '2026-13': write it as YYYY-MM (2026-10)" in proc.stderr
