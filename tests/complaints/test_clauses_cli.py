"""`complaints clauses watch|list|show|close` in a subprocess, against the real dev server, a worker
and a database of this module's own (step 5).

A watch counts every complaint in its database, so the shared one (where other tests file
disputes citing clause 7.3 too) is not used: the database, the worker and the policy (its "PF-"
template is this run's own) are ``tests/workflows/test_clause_review.py``'s fixtures, made again
for this module. The sub-app is run directly, as ``tests/complaints/test_signals_cli.py`` does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import yaml
from temporalio.client import Client

from complaints.config import PROJECT_ROOT
from complaints.intake import ComplaintIntakeClient
from tests.helpers import eventually
from tests.workflows.test_clause_review import World, file_acknowledged, file_dispute, intake, review_row, world

__all__ = ["intake", "world"]  # the fixtures, made again for this module

APP = "from complaints.cli.clauses import clauses_app; clauses_app(prog_name='complaints clauses')"
MAIN = "from complaints.cli import app; app(prog_name='complaints')"  # for root-cause


async def clauses(
    client: Client, world: World, intake: ComplaintIntakeClient, policy_file: Path, *args: str, app: str = APP
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        app,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **os.environ,
            "COMPLAINTS_TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "COMPLAINTS_DATABASE_URL": world.engine.url.render_as_string(hide_password=False),
            "COMPLAINTS_POLICY": str(policy_file),
            "COMPLAINTS_TASK_QUEUE": intake.task_queue,
            "COLUMNS": "250",  # the tables unwrapped
        },
        cwd=PROJECT_ROOT,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_clause_is_watched_listed_shown_and_closed_by_legal_from_the_cli(
    client: Client, world: World, intake: ComplaintIntakeClient, tmp_path: Path
) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(world.policy.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")

    async def run(*args: str) -> tuple[int, str, str]:
        return await clauses(client, world, intake, policy_file, *args)

    code, out, err = await run("watch")
    assert (code, out.strip()) == (0, "no clause at the threshold and no review open"), err
    cited = [
        await file_dispute(world, intake, ref) for ref in ("7.3 prepayment fee", "第7.3条 提前还款费用", "Clause 7.3")
    ]
    review_id = f"{world.template}-7.3-1"

    code, out, err = await run("watch")
    assert code == 0, err
    assert out.strip() == f"{world.template} clause 7.3: 3 complaints ({', '.join(sorted(cited))}): opened {review_id}"
    await eventually(lambda: _linked(world, review_id, 3), what=f"{review_id} recorded with three complaints")

    code, out, err = await run("list", "--open")
    assert code == 0, err
    (line,) = [row for row in out.splitlines() if review_id in row]
    assert [cell.strip() for cell in line.strip("│ ").split("│")][:6] == [
        review_id,
        world.template,
        "7.3",
        "3",
        "S-LEG-001",
        "open",
    ]
    code, out, err = await run("show", f"{world.template}-7.3")  # the clause's latest review
    assert code == 0, err
    assert f"Review {review_id}: clause 7.3 of contract template {world.template}" in out
    assert "cited as:   7.3 prepayment fee; 第7.3条 提前还款费用; Clause 7.3" in out
    assert f"complaints: 3: {', '.join(sorted(cited))}" in out

    # A fee complaint on a PF- contract cites no clause, until its root cause blames 7.3: linked at once.
    fees = await file_acknowledged(world, intake, "fees_and_interest", contract_number="PF-2024-0562")
    code, out, err = await clauses(
        client,
        world,
        intake,
        policy_file,
        *("root-cause", fees, "--as", "S-MGR-001", "--code", "contract_wording"),
        *("--text", "Clause 7.3 does not say which principal the fee is computed on", "--clause", "7.3"),
        app=MAIN,
    )
    assert code == 0 and out.startswith(f"{fees}: root cause contract_wording recorded (status "), err
    await eventually(lambda: _linked(world, review_id, 4), what=f"{fees} linked as its root cause was recorded")
    code, out, err = await run("show", review_id)
    assert code == 0 and f"complaints: 4: {', '.join(sorted(cited))}, {fees}" in out, err

    code, out, err = await run(
        "close", review_id, "--as", "S-HND-001", "--outcome", "reword", "--reasons", "x", "--new-version", "PF-2026.1"
    )
    assert code == 1 and "S-HND-001 may not close review" in out + err
    code, out, err = await run("close", review_id, "--as", "S-LEG-001", "--outcome", "reword", "--reasons", "x")
    assert code == 1 and "needs the new template version (--new-version)" in out + err
    code, out, err = await run(
        "close",
        review_id,
        "--as",
        "S-LEG-001",
        "--outcome",
        "reword",
        "--reasons",
        "Clause 7.3 does not say how the fee is computed",
        "--new-version",
        "PF-2026.1",
    )
    assert code == 0, err
    assert out.strip() == f"{review_id}: closed by S-LEG-001: reword, new template version PF-2026.1 (status closed)"

    code, out, err = await run("show", review_id, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["review"]["status"], shown["review"]["outcome"], shown["review"]["new_template_version"]) == (
        "closed",
        "reword",
        "PF-2026.1",
    )
    code, out, err = await run("list", "--open")
    assert code == 0 and review_id not in out


async def _linked(world: World, review_id: str, count: int) -> bool:
    row = review_row(world, review_id)
    return row is not None and len(row.linked) == count
