"""Signed staff actions on the workflows that are not one complaint (issue 16), through the real
server on SQLite and PostgreSQL: a forged ``--as`` refused, a request signed with one's own key but
naming another refused, a replayed request refused, the real actor's CLI accepted, what was signed
kept in ``signed_actions`` and ``complaints verify <workflow id>`` passing, then failing on a row
altered by hand.

One test per workflow; they share the suite's staff directory and keys (none is rotated here).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
from pydantic import BaseModel
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from temporalio.client import Client

from complaints.intake import ActionRefused
from complaints.keys import KeyFileSigner, load_signer
from complaints.loan_book import LoanBookClient
from complaints.risk import act_on_warning
from db.signed_actions import SignedActionRow
from domain.policy import PolicyStore
from domain.risk import workflow_id as warning_workflow_id
from domain.signatures import sign, signed_payload
from models.risk import WarningAction
from tests.helpers import config_with, eventually, own_worker, save_history, staff_cli
from tests.workflows.test_policy_switches import seconds, variant
from tests.workflows.test_risk import case_row, signal

POLICY = variant(f"xsigned-{uuid.uuid4().hex[:6]}", risk={"acknowledge": seconds(600), "act": seconds(1200)})


@dataclass
class World:
    client: Client
    engine: Engine
    task_queue: str


@pytest_asyncio.fixture(loop_scope="session")
async def world(client: Client, engine: Engine) -> AsyncIterator[World]:
    async with own_worker(client, engine, PolicyStore(POLICY), prefix="xsigned") as intake:
        yield World(client, engine, intake.task_queue)


def kept(engine: Engine, workflow_id: str) -> list[SignedActionRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(SignedActionRow)
                .where(SignedActionRow.workflow_id == workflow_id)
                .order_by(col(SignedActionRow.id))
            ).all()
        )


async def kept_once(engine: Engine, workflow_id: str, count: int) -> list[SignedActionRow]:
    async def probe() -> list[SignedActionRow] | None:
        rows = kept(engine, workflow_id)
        return rows if len(rows) >= count else None

    return await eventually(probe, timeout=30, what=f"{count} signed action(s) of {workflow_id} kept")


Signed = TypeVar("Signed", bound=BaseModel)


def forged_by(intruder: str, workflow_id: str, action: str, request: Signed) -> Signed:
    """``request`` (naming someone else) signed with the intruder's own key (any signed request model)."""
    sig = sign(load_signer(intruder), workflow_id, action, signed_payload(request), datetime.now(UTC), "B" * 22)
    return request.model_copy(update={"signature": sig})


async def alter_and_verify(world: World, workflow_id: str, row: SignedActionRow, member: str, value: str) -> str:
    """Alter one member of a kept row's payload by hand; ``verify`` must now fail (its output)."""
    payload = {**row.payload, member: value}
    with Session(world.engine) as session:
        session.execute(update(SignedActionRow).where(col(SignedActionRow.id) == row.id).values(payload=payload))
        session.commit()
    code, out, err = await staff_cli(world.client, world.engine, "verify", workflow_id)
    assert code == 1, out + err
    return out


async def test_early_warning_actions_are_signed_kept_and_verified(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    c = f"C-XS-{uuid.uuid4().hex[:8]}"
    book = LoanBookClient(world.engine, world.client, world.task_queue, POLICY)
    await book.submit([signal(c, "days_past_due", days=31, contract_number="PF-1"), signal(c, "covenant_breach")])
    await case_row(world.engine, c, points=55)
    wid = warning_workflow_id(c)

    # S-HND-001 runs the CLI as the relationship manager, holding only their own key: unsigned.
    code, _, err = await staff_cli(
        world.client, world.engine, "risk", "acknowledge", c, "--as", "S-RM-007",
        config=config_with(tmp_path, "S-HND-001"),
    )  # fmt: skip
    assert code == 1, err
    assert "signature refused: unsigned: acknowledge by S-RM-007 carries no signature" in err

    # Signed with their own key while naming S-RM-007: the key is not the actor's.
    forged = forged_by("S-HND-001", wid, "acknowledge", WarningAction(customer_id=c, actor="S-RM-007", note="x"))
    with pytest.raises(ActionRefused, match="is registered to S-HND-001, not to S-RM-007"):
        await act_on_warning(world.client, "acknowledge", forged)

    # The relationship manager's own CLI: accepted and kept.
    code, out, err = await staff_cli(
        world.client, world.engine, "risk", "acknowledge", c, "--as", "S-RM-007", "--note", "calling the CFO"
    )
    assert code == 0, err
    signed = KeyFileSigner()(wid, "act", WarningAction(customer_id=c, actor="S-CMP-001", note="limit frozen"))
    await act_on_warning(world.client, "act", signed)
    with pytest.raises(ActionRefused, match="replayed: nonce"):
        await act_on_warning(world.client, "act", signed)  # the same signed request again

    first, second = await kept_once(world.engine, wid, 2)
    assert (first.action, first.actor, first.payload["note"]) == ("acknowledge", "S-RM-007", "calling the CFO")
    assert (second.action, second.actor, second.key_id) == (
        "act",
        "S-CMP-001",
        signed.signature and signed.signature.key_id,
    )
    assert len(kept(world.engine, wid)) == 2, "the refused replay kept nothing"

    code, out, err = await staff_cli(world.client, world.engine, "verify", wid)
    assert code == 0, out + err
    assert f"{wid}: all 2 verified" in out
    out = await alter_and_verify(world, wid, second, "note", "nothing was done")
    assert "bad signature" in out and f"{wid}: 1 of 2 FAILED" in out
    if world.engine.dialect.name == "sqlite":
        await save_history(request, world.client.get_workflow_handle(wid), "early_warning_signed_actions")
