"""Signed staff actions on the incident and the recall (step 6.2, issue 16), through the real
server on SQLite and PostgreSQL.

- the incident: ``assign_lead``, ``record_review`` and ``close`` signed. A forged ``--as`` (the CLI
  run with someone else's configuration, holding only their own key) refused as unsigned; a
  request signed with one's own key but naming another refused; a replayed signed request
  refused; the real actors' CLI and requests accepted, kept in ``signed_actions``, and ``complaints
  verify <workflow id>`` passing, then failing on a row altered by hand.
- the recall: its declaration is a staff action that STARTS the workflow. A forged declaration
  (unsigned, or signed by someone else, or signed by a handler naming themselves: the role the
  CLI checks is checked again by the workflow) is refused by the workflow and reported to the
  client, with nothing recorded (no recall row, no customer, no letter, no signed action), and
  does not block the real declaration that follows. ``record_revision`` and each ``complete`` (one,
  and a file of them) signed and kept per workflow; a replayed declaration and a replayed
  revision refused; ``verify`` on the recall's and a remediation's workflow ids.

The suite's staff directory and keys (none is rotated here); a worker and a policy of the test's
own (a product of its own in the catalogue, a channel of its own for the incident).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio.client import Client

from complaints.incident import assign_lead, record_review
from complaints.intake import ActionRefused
from complaints.keys import KeyFileSigner
from complaints.recall import record_revision, start_recall, terminate_remediations
from db import recall_queries
from db.tables import IncidentRow, OutboxMessage, RecallCustomerRow, RecallRow
from domain import recall as recall_rules
from domain import surge
from domain.policy import PolicyStore
from models.incident import AssignLeadRequest, IncidentReviewRequest, IncidentStart, SurgeDimension
from models.policy import Policy
from models.recall import RecallDeclaration, RecallStatus, RecordRevisionRequest, RemedyKind
from models.signature import Signature
from tests.helpers import config_with, eventually, own_worker, save_history, staff_cli
from tests.workflows.test_recall import insert_contracts, recall_policy, write_policy
from tests.workflows.test_signed_cross_actions import World as CrossWorld
from tests.workflows.test_signed_cross_actions import alter_and_verify, forged_by, kept, kept_once
from workflows.step6_incident import IncidentWorkflow
from workflows.step6_recall import RecallWorkflow


@dataclass
class World(CrossWorld):
    token: str
    policy: Policy
    policy_file: Path

    @property
    def product(self) -> str:
        return f"sgr_{self.token}"


@pytest_asyncio.fixture(loop_scope="session")
async def world(client: Client, engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    token = uuid.uuid4().hex[:6]
    # Remediations due in hours: none falls overdue while the test runs.
    policy = recall_policy(f"sgr_{token}", remediation_due={"amount": 2, "unit": "hours"})
    policy_file = write_policy(policy, tmp_path_factory.mktemp("signed-step6"))
    async with own_worker(client, engine, PolicyStore(policy), prefix="s6signed") as intake:
        yield World(client, engine, intake.task_queue, token, policy, policy_file)


async def cli(world: World, *args: str, config: Path | None = None) -> tuple[int, str, str]:
    """``complaints …`` as a member of staff runs it, against the test's worker and policy."""
    return await staff_cli(
        world.client, world.engine, *args, config=config, task_queue=world.task_queue, policy=world.policy_file
    )


# -- the incident ---------------------------------------------------------------------------------


async def test_incident_actions_are_signed_kept_and_verified(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    channel = f"sg-{world.token}"
    figures = surge.assess(SurgeDimension.CHANNEL, channel, 4, [], world.policy.surge, datetime.now(UTC))
    wid, iid = surge.workflow_id(SurgeDimension.CHANNEL, channel), f"incident-channel-{channel}-1"
    handle = await world.client.start_workflow(
        IncidentWorkflow.run,
        IncidentStart(incident_id=iid, dimension=SurgeDimension.CHANNEL, value=channel, figures=figures),
        id=wid,
        task_queue=world.task_queue,
    )
    try:

        async def planned() -> IncidentRow | None:
            with Session(world.engine) as session:
                return session.get(IncidentRow, iid)

        row = await eventually(planned, what=f"{iid} planned and recorded")
        assert row.lead == "S-SM-001"
        await handle.signal(IncidentWorkflow.refresh_staff_keys)  # the keys read again: nothing else changes
        intruder = config_with(tmp_path, "S-HND-001")

        # S-HND-001 runs the CLI as the senior manager, holding only their own key: unsigned.
        lead = ["incident", "lead", iid, "--as", "S-SM-001", "--lead", "S-MGR-001"]
        code, out, err = await cli(world, *lead, config=intruder)
        assert code == 1, (out, err)
        assert "signature refused: unsigned: assign_lead by S-SM-001 carries no signature" in err
        # Signed with their own key while naming S-SM-001: the key is not the actor's.
        forged = forged_by(
            "S-HND-001", wid, "assign_lead", AssignLeadRequest(incident_id=iid, actor="S-SM-001", lead="S-MGR-001")
        )
        with pytest.raises(ActionRefused, match="is registered to S-HND-001, not to S-SM-001"):
            await assign_lead(world.client, world.engine, forged)
        # The workflow's own refusal comes first: a handler may not name the lead, signed or not.
        code, out, err = await cli(world, "incident", "lead", iid, "--as", "S-HND-001", "--lead", "S-MGR-001")
        assert code == 1 and "S-HND-001 may not name the lead" in err, (out, err)

        # The senior manager's own CLI: accepted.
        code, out, err = await cli(world, *lead)
        assert code == 0 and f"{iid}: S-MGR-001 leads, named by S-SM-001" in out, (out, err)

        # The new lead's review, signed once and sent twice: the second is a replay.
        review = IncidentReviewRequest(
            incident_id=iid, actor="S-MGR-001", review="A fee notice went out late", root_cause="process_delay"
        )
        signed = KeyFileSigner()(wid, "record_review", review)
        assert signed.signature is not None
        await record_review(world.client, world.engine, signed)
        with pytest.raises(ActionRefused, match="replayed: nonce"):
            await record_review(world.client, world.engine, signed)

        # Closing: forged, then by the lead.
        code, out, err = await cli(world, "incident", "close", iid, "--as", "S-MGR-001", config=intruder)
        assert code == 1 and "signature refused: unsigned: close by S-MGR-001" in err, (out, err)
        code, out, err = await cli(world, "incident", "close", iid, "--as", "S-MGR-001", "--note", "Quiet again")
        assert code == 0 and "closed by S-MGR-001 (status closed)" in out, (out, err)
        final = await asyncio.wait_for(handle.result(), timeout=60)
        assert (final.status, final.lead, final.closed_by) == ("closed", "S-MGR-001", "S-MGR-001")

        first, second, third = await kept_once(world.engine, wid, 3)
        assert [(r.action, r.actor) for r in (first, second, third)] == [
            ("assign_lead", "S-SM-001"),
            ("record_review", "S-MGR-001"),
            ("close", "S-MGR-001"),
        ]
        assert first.payload == {"incident_id": iid, "actor": "S-SM-001", "lead": "S-MGR-001"}
        assert second.key_id == signed.signature.key_id and second.record_key == signed.signature.nonce
        assert third.payload["note"] == "Quiet again"
        assert len(kept(world.engine, wid)) == 3, "the refused actions kept nothing"

        code, out, err = await staff_cli(world.client, world.engine, "verify", wid)
        assert code == 0, out + err
        assert f"{wid}: all 3 verified" in out
        out = await alter_and_verify(world, wid, second, "root_cause", "other")
        assert "bad signature" in out and f"{wid}: 1 of 3 FAILED" in out
        if world.engine.dialect.name == "sqlite":
            await save_history(request, handle, "incident_signed_actions")
    finally:
        try:
            await handle.terminate("test done")
        except Exception:
            pass


# -- the recall -----------------------------------------------------------------------------------


def declaration(world: World, actor: str, number: int = 1) -> RecallDeclaration:
    """A declaration as ``complaints recall declare`` builds it (before signing)."""
    return RecallDeclaration(
        recall_id=recall_rules.recall_id(world.product, number),
        product=world.product,
        product_label=f"Defective loan {world.product}",
        reason="The prepayment fee formula overcharges every early repayment",
        scope="Every contract on the product",
        remedy=RemedyKind.REFUND,
        declared_by=actor,
        declared_at=datetime.now(UTC),
    )


def recorded(world: World) -> tuple[int, int, int, int]:
    """What a recall of the product has recorded: recall rows, customers, letters, signed actions."""
    wid = recall_rules.workflow_id(world.product)
    with Session(world.engine) as session:
        recalls = session.exec(select(func.count()).where(RecallRow.product == world.product)).one()
        customers = session.exec(
            select(func.count()).where(col(RecallCustomerRow.recall_id).startswith(f"{world.product}-"))
        ).one()
        letters = session.exec(
            select(func.count()).where(col(OutboxMessage.idempotency_key).startswith(f"recall:{world.product}-"))
        ).one()
    return recalls, customers, letters, len(kept(world.engine, wid))


async def test_recall_declaration_and_actions_are_signed_checked_and_kept(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    wid, recall_id = recall_rules.workflow_id(world.product), f"{world.product}-1"
    insert_contracts(world.engine, world.product, world.token, 2)
    a, b = (f"C-BULK-{i}-{world.token}" for i in range(2))
    intruder = config_with(tmp_path, "S-HND-001")
    declare = ["recall", "declare", world.product, "--reason", "The prepayment fee formula overcharges"]
    declare += ["--scope", "Every contract on the product", "--remedy", "refund"]
    handle = world.client.get_workflow_handle_for(RecallWorkflow.run, wid)
    try:
        # S-HND-001 runs the CLI as the senior manager: the CLI's own checks pass (S-SM-001 may
        # declare), the workflow refuses the unsigned declaration and the CLI says so.
        code, out, err = await cli(world, *declare, "--as", "S-SM-001", config=intruder)
        assert code == 1, (out, err)
        assert f"declaring a recall of {world.product}: signature refused: unsigned: declare_recall by S-SM-001" in err
        refused = await asyncio.wait_for(handle.result(), timeout=30)
        assert refused.status == RecallStatus.REFUSED and refused.plan is None
        assert recorded(world) == (0, 0, 0, 0), "a refused declaration records nothing"
        if world.engine.dialect.name == "sqlite":
            await save_history(request, handle, "recall_refused_declaration")

        # Bypassing the CLI: signed with their own key while naming the senior manager ...
        forged = forged_by("S-HND-001", wid, recall_rules.DECLARE_ACTION, declaration(world, "S-SM-001"))
        with pytest.raises(ActionRefused, match="is registered to S-HND-001, not to S-SM-001"):
            await start_recall(world.client, forged, world.task_queue)
        # ... or naming themselves, properly signed: the workflow checks the declarer's role itself.
        own = KeyFileSigner()(wid, recall_rules.DECLARE_ACTION, declaration(world, "S-HND-001"))
        with pytest.raises(ActionRefused, match="S-HND-001 may not declare a recall"):
            await start_recall(world.client, own, world.task_queue)
        assert recorded(world) == (0, 0, 0, 0)

        # The senior manager's own CLI: admitted (the refused runs ended and took no number).
        code, out, err = await cli(world, *declare, "--as", "S-SM-001")
        assert code == 0, (out, err)
        assert f"recall {recall_id} of Defective loan {world.product} declared by S-SM-001" in out
        await handle.signal(RecallWorkflow.refresh_staff_keys)

        async def tracking() -> RecallRow | None:
            row = recall_queries.find(world.engine, recall_id)
            return row if row is not None and row.status == "tracking" and row.opened == 2 else None

        row = await eventually(tracking, timeout=60, what=f"{recall_id} tracking its remediations")
        assert (row.affected, row.told, row.declared_by) == (2, 2, "S-SM-001")

        # Remediations: forged (one, and a file), then by finance (one, and a file: each signed).
        done = ["--note", "Refunded the overcharged fee"]
        code, out, err = await cli(
            world, "recall", "remediate", recall_id, a, "--as", "S-FIN-001", *done, config=intruder
        )
        assert code == 1 and "signature refused: unsigned: complete by S-FIN-001" in err, (out, err)
        confirmations = tmp_path / "confirmations.csv"
        confirmations.write_text(f"customer_id,reference\n{a},PAY-1\n{b},PAY-2\n", encoding="utf-8")
        remediated = ["recall", "remediated", recall_id, "--as", "S-FIN-001", "--file", str(confirmations)]
        code, out, err = await cli(world, *remediated, config=intruder)
        assert code == 1 and "2 rows, 0 recorded now, 0 already done, 2 refused" in out, (out, err)
        assert err.count("signature refused: unsigned: complete by S-FIN-001") == 2, err
        code, out, err = await cli(world, "recall", "remediate", recall_id, a, "--as", "S-FIN-001", *done)
        assert code == 0 and "remediated, recorded by S-FIN-001" in out, (out, err)

        # The revision (while b's remediation is open): forged, then signed by the senior manager;
        # the same request again refused (a revision is recorded once: the recall's own refusal).
        revise = ["--revision", "Fee formula corrected in the template", "--new-version", "EQF-2027"]
        code, out, err = await cli(world, "recall", "revise", recall_id, "--as", "S-SM-001", *revise, config=intruder)
        assert code == 1 and "signature refused: unsigned: record_revision by S-SM-001" in err, (out, err)
        revision = KeyFileSigner()(
            wid,
            "record_revision",
            RecordRevisionRequest(
                recall_id=recall_id, actor="S-SM-001", revision="Fee formula corrected", new_version="EQF-2027"
            ),
        )
        await record_revision(world.client, world.engine, revision)
        with pytest.raises(ActionRefused, match="the revision was recorded by S-SM-001"):
            await record_revision(world.client, world.engine, revision)  # one-shot: refused before the nonce
        # The file: a is done already, b now; the recall closes.
        code, out, err = await cli(world, *remediated)
        assert code == 0 and "2 rows, 1 recorded now, 1 already done, 0 refused" in out, (out, err)

        async def closed() -> RecallRow | None:
            row = recall_queries.find(world.engine, recall_id)
            return row if row is not None and row.status == "closed" else None

        await eventually(closed, timeout=60, what=f"{recall_id} closed")
        final = await asyncio.wait_for(handle.result(), timeout=60)
        assert final.status == RecallStatus.CLOSED and final.refused is None
        tracked = (await handle.describe()).run_id  # the run that closed it

        # What was kept: the declaration and the revision on the recall, one completion per remediation.
        declared, revised = await kept_once(world.engine, wid, 2)
        assert [(r.action, r.actor) for r in (declared, revised)] == [
            ("declare_recall", "S-SM-001"),
            ("record_revision", "S-SM-001"),
        ]
        assert declared.payload["recall_id"] == recall_id and revised.record_key == (
            revision.signature and revision.signature.nonce
        )
        for customer in (a, b):
            rwid = recall_rules.remediation_id(recall_id, customer)
            (completed,) = await kept_once(world.engine, rwid, 1)
            assert (completed.action, completed.actor, completed.payload["customer_id"]) == (
                "complete",
                "S-FIN-001",
                customer,
            )

        # The accepted declaration replayed (read back from what was kept) into a new run: refused.
        before = recorded(world)
        assert before == (1, 2, 2, 2)
        replayed = RecallDeclaration.model_validate(
            {**declared.payload, "signature": Signature.model_validate(declared.signature)}
        )
        with pytest.raises(ActionRefused, match="replayed: nonce"):
            await start_recall(world.client, replayed, world.task_queue)
        assert recorded(world) == before, "the replay recorded nothing"

        code, out, err = await staff_cli(world.client, world.engine, "verify", wid)
        assert code == 0 and f"{wid}: all 2 verified" in out, out + err
        rwid = recall_rules.remediation_id(recall_id, b)
        code, out, err = await staff_cli(world.client, world.engine, "verify", rwid)
        assert code == 0 and f"{rwid}: all 1 verified" in out, out + err
        out = await alter_and_verify(world, wid, declared, "remedy", "fee_waiver")
        assert "bad signature" in out and f"{wid}: 1 of 2 FAILED" in out

        if world.engine.dialect.name == "sqlite":
            runs = [r async for r in world.client.list_workflows(f'WorkflowId = "{wid}"')]
            admitted = sorted(
                (r for r in runs if r.status and r.status.name != "COMPLETED"), key=lambda r: r.start_time
            )
            assert admitted, runs
            await save_history(
                request, world.client.get_workflow_handle(wid, run_id=admitted[0].run_id), "recall_signed_declaration"
            )
            await save_history(request, world.client.get_workflow_handle(wid, run_id=tracked), "recall_signed_revision")
            await save_history(request, world.client.get_workflow_handle(rwid), "remediation_signed_complete")
    finally:
        await terminate_remediations(world.client, recall_id)
        try:
            await handle.terminate("test done")
        except Exception:
            pass
