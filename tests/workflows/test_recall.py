"""The recall of a defective product, through the real server (step 6.2).

Each test has a database of its own and a policy whose product catalogue holds a product of
this run's own, so the recall's workflow id (``recall-<product>``) and its remediations'
(``remediation-<product>-<n>-<customer>``) meet no other run's on the shared server, and the
shared database's complaints are untouched.

- a small recall: complaints about the product from two customers (one with two), loan-book
  ``contract`` records (one of a complainant, one of a customer who never complained, one on
  another product); each customer told once, each complaint linked with the root cause
  ``product_design``, one remediation each; a handler may not declare, nor a second recall of the
  product start while one is open; remediations done through the CLI (one, and a file), one
  falls overdue on the compressed clock (the owner told once), the revision recorded: closed.
- a big recall: 2,000 customers holding a contract on the product, the worker a process of its
  own SIGKILLed twice during the fan-out: every customer told exactly once, every remediation
  opened once, every run's history at most 10,000 events.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from complaints.intake import ActionRefused, ComplaintIntakeClient
from complaints.keys import set_up_demo_keys
from complaints.loan_book import LoanBookClient
from complaints.recall import declare_recall, recall_runs, terminate_remediations
from db import recall_queries
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.tables import LoanBookSignalRow, OutboxMessage, RecallCustomerRow, RecallRow, utc_now
from domain.policy import PolicyStore
from domain.recall import remediation_id
from models.complaint import Status
from models.loan_book import SignalKind
from models.policy import Policy
from models.recall import DeclareRecallRequest, RecallProgress, RemedyKind
from tests.conftest import STAFF_DIRECTORY, _postgres_database
from tests.factories import intake_payload
from tests.helpers import (
    eventually,
    own_worker,
    save_history,
    staff_cli,
    start_worker_process,
    status_once,
    worker_process_env,
)
from tests.workflows.test_policy_switches import variant
from workflows.complaint import ComplaintWorkflow
from workflows.step6_recall import RecallWorkflow

MAX_EVENTS = 10_000


def recall_policy(product: str, **recall: Any) -> Policy:
    """The compressed policy with ``product`` in its catalogue and ``recall`` settings merged in."""
    base = variant("recall-base")
    products = [p.model_dump(mode="json") for p in base.reporting.products]
    products.append({"code": product, "label": f"Defective loan {product}"})
    return variant(
        f"recall-{product}",
        reporting={"products": products},
        recall={"progress_every": {"amount": 1, "unit": "seconds"}, **recall},
    )


def write_policy(policy: Policy, tmp: Path) -> Path:
    """The policy as a file (JSON is YAML), for the CLI and a worker process to load."""
    path = tmp / f"{policy.version}.yaml"
    path.write_text(json.dumps(policy.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class World:
    engine: Engine
    url: str
    token: str
    policy: Policy
    policy_file: Path

    @property
    def product(self) -> str:
        return f"eqf_{self.token}"

    def customer(self, name: str) -> str:
        return f"C-{name}-{self.token}"


def _database(backend: str, tmp: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'{name}.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp, token = tmp_path_factory.mktemp("recall"), uuid.uuid4().hex[:6]
    policy = recall_policy(f"eqf_{token}", remediation_due={"amount": 45, "unit": "seconds"})
    for url in _database(request.param, tmp, "recall"):
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, STAFF_DIRECTORY)
        set_up_demo_keys(engine)  # the staff sign their actions (issue 16), with the suite's keys
        yield World(engine=engine, url=url, token=token, policy=policy, policy_file=write_policy(policy, tmp))
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def intake(client: Client, world: World) -> AsyncIterator[ComplaintIntakeClient]:
    async with own_worker(client, world.engine, PolicyStore(world.policy), prefix="recall") as intake:
        yield intake


async def cli(client: Client, world: World, task_queue: str, *args: str) -> tuple[int, str, str]:
    """``complaints recall …`` as a member of staff runs it, signing with the suite's keys."""
    return await staff_cli(client, world.engine, "recall", *args, task_queue=task_queue, policy=world.policy_file)


async def file_about(world: World, intake: ComplaintIntakeClient, customer_id: str) -> str:
    payload = intake_payload("fees_and_interest", product=world.product)
    payload["customer"] = {**payload["customer"], "customer_id": customer_id, "language": "en"}
    result = await intake.file(payload)
    assert result.complaint_id is not None, result.errors
    return result.complaint_id


def contract(customer_id: str, product: str, number: str, observed: str) -> dict[str, Any]:
    """A loan-book ``contract`` record, as a lending system sends it."""
    return {
        "source_system": "CORE-LOANS",
        "source_record_id": f"CT-{number}",
        "customer_id": customer_id,
        "observed_at": observed,
        "kind": "contract",
        "contract_number": number,
        "product": product,
    }


def recall_row(engine: Engine, recall_id: str) -> RecallRow | None:
    with Session(engine) as session:
        return session.get(RecallRow, recall_id)


async def progress_when(
    engine: Engine, recall_id: str, predicate: Callable[[RecallProgress], bool], what: str, timeout: float = 60
) -> RecallProgress:
    """The recall's progress (its customers' rows, counted) once ``predicate`` holds."""

    async def probe() -> RecallProgress | None:
        progress = recall_queries.progress(engine, recall_id)
        return progress if predicate(progress) else None

    return await eventually(probe, timeout=timeout, what=f"{recall_id}: {what}")


def recall_letters(engine: Engine, recall_id: str) -> list[OutboxMessage]:
    """Everything sent under the recall's keys (the customers' letters, the owner's notice)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.idempotency_key).startswith(f"recall:{recall_id}:"))
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def customer_messages(engine: Engine, complaint_ids: list[str]) -> list[OutboxMessage]:
    """What the customers were sent about these complaints (staff notices aside)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.complaint_id).in_(complaint_ids))
                .where(OutboxMessage.channel != "staff")
                .order_by(col(OutboxMessage.id))
            ).all()
        )


async def linked_to(intake: ComplaintIntakeClient, complaint_id: str, recall_id: str) -> Any:
    """The complaint's snapshot once it holds the recall's link."""

    async def probe() -> Any:
        snap = (await intake.handle(complaint_id).query(ComplaintWorkflow.status)).snapshot
        return snap if any(r.recall_id == recall_id for r in snap.recalls) else None

    return await eventually(probe, what=f"{complaint_id} linked to {recall_id}")


async def visible(client: Client, query: str, count: int, timeout: float = 60) -> int:
    """Wait until the visibility store lists ``count`` workflows for ``query``."""

    async def probe() -> int | None:
        found = (await client.count_workflows(query)).count
        return found if found >= count else None

    return await eventually(probe, timeout=timeout, what=f"{count} workflows for {query}")


# -- the small recall -------------------------------------------------------------------------


async def test_a_recall_tells_each_customer_once_links_their_complaints_and_closes_on_the_revision(
    request: pytest.FixtureRequest, client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    a, b, c, other = (world.customer(n) for n in ("A", "B", "C", "D"))
    a1, a2, b1 = [await file_about(world, intake, x) for x in (a, a, b)]
    for cid in (a1, a2, b1):
        await status_once(intake.handle(cid), {Status.IN_HANDLING}, timeout=60)
    observed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    book = LoanBookClient(world.engine, client, intake.task_queue, policy=world.policy)
    token, tq = world.token, intake.task_queue
    loaded = await book.submit(
        [
            contract(a, world.product, f"EQF-{token}-A", observed),
            contract(c, world.product, f"EQF-{token}-C", observed),
            contract(other, "equipment_finance", f"EQF-{token}-D", observed),
        ]
    )
    assert (loaded.outcome.value, loaded.stored, loaded.evaluated) == ("stored", 3, []), loaded
    letters_before = {m.id for m in customer_messages(world.engine, [a1, a2, b1])}
    recall_cli = functools.partial(cli, client, world, tq)
    declare = ["declare", world.product, "--reason", "The prepayment fee formula overcharges every early repayment"]
    declare += ["--scope", "Every equipment-finance contract signed on template EQF-2025", "--remedy", "refund"]

    # A handler may not declare a recall.
    code, out, err = await recall_cli(*declare, "--as", "S-HND-001")
    assert code == 1, (out, err)
    assert "refused" in err and "S-HND-001 is handler" in err and "senior_manager" in err
    # A senior manager does.
    code, out, err = await recall_cli(*declare, "--as", "S-SM-001")
    recall_id = f"{world.product}-1"
    assert code == 0, (out, err)
    assert f"recall {recall_id} of Defective loan {world.product} declared by S-SM-001: remedy refund" in out
    handle = client.get_workflow_handle_for(RecallWorkflow.run, f"recall-{world.product}")
    try:
        # A second recall of the product while this one is open is refused.
        with pytest.raises(ActionRefused, match="per product at a time"):
            await declare_recall(
                client,
                world.engine,
                world.policy,
                DeclareRecallRequest(
                    product=world.product,
                    actor="S-SM-001",
                    reason="The same defect again",
                    scope="Everyone",
                    remedy=RemedyKind.FEE_WAIVER,
                ),
                tq,
            )

        async def tracking() -> RecallRow | None:
            row = recall_row(world.engine, recall_id)
            return row if row is not None and row.status == "tracking" else None

        row = await eventually(tracking, timeout=60, what=f"{recall_id} tracking its remediations")
        assert (row.affected, row.told, row.opened, row.remediated) == (3, 3, 3, 0)
        assert (row.declared_by, row.remedy) == ("S-SM-001", "refund")

        # Each affected customer told exactly once; the customer on another product not at all.
        letters = [m for m in recall_letters(world.engine, recall_id) if m.kind == "recall_notice"]
        assert sorted(m.recipient for m in letters) == sorted([a, b, c])
        assert {m.idempotency_key for m in letters} == {f"recall:{recall_id}:{x}" for x in (a, b, c)}
        assert all(m.channel == "crm" for m in letters)
        assert {m.recipient: m.language for m in letters}[a] == "en", "a's language: their complaints' letters"
        # Each complaint linked, with the root cause product_design; no second letter for it.
        for cid in (a1, a2, b1):
            snap = await linked_to(intake, cid, recall_id)
            assert [r.recall_id for r in snap.recalls] == [recall_id]
            assert snap.root_cause is not None and snap.root_cause.code == "product_design"
            assert snap.recalls[0].declared_by == "S-SM-001"
        new = [m for m in customer_messages(world.engine, [a1, a2, b1]) if m.id not in letters_before]
        assert sorted(m.recipient for m in new if m.kind == "recall_notice") == sorted([a, b])
        assert not [m for m in new if "recall" in m.kind and m.kind != "recall_notice"]
        # One remediation per customer, each its own workflow.
        customers: dict[str, RecallCustomerRow] = {
            r.customer_id: r for r in recall_queries.customers(world.engine, recall_id)
        }
        assert sorted(customers) == sorted([a, b, c])
        assert customers[a].complaint_ids == [a1, a2] and customers[b].complaint_ids == [b1]
        assert customers[c].complaint_ids == [] and customers[c].contract_numbers == [f"EQF-{token}-C"]
        assert f"EQF-{token}-A" in customers[a].contract_numbers
        for x in (a, b, c):
            assert customers[x].workflow_id == remediation_id(recall_id, x)
            described = await client.get_workflow_handle(remediation_id(recall_id, x)).describe()
            assert described.workflow_type == "RemediationWorkflow" and described.status is not None
            assert described.status.name == "RUNNING"
        await visible(client, f"WorkflowType = 'RemediationWorkflow' AND RecallIds = '{recall_id}'", 3)

        # Remediations done: a handler may not record one; finance does (one, then a file).
        done = ["--note", "Refunded the overcharged prepayment fee"]
        code, out, err = await recall_cli("remediate", recall_id, a, "--as", "S-HND-001", *done)
        assert code == 1 and "S-HND-001 may not record the remediation" in err, (out, err)
        code, out, err = await recall_cli("remediate", recall_id, a, "--as", "S-FIN-001", *done, "--reference", "PAY-1")
        assert code == 0, (out, err)
        assert f"{a} in {recall_id}: remediated, recorded by S-FIN-001 (PAY-1)" in out
        confirmations = world.policy_file.parent / f"confirmations-{token}.csv"
        confirmations.write_text(
            f"customer_id,reference\n{c},PAY-3\n{world.customer('Z')},PAY-9\n{a},PAY-1\n", encoding="utf-8"
        )
        code, out, err = await recall_cli("remediated", recall_id, "--as", "S-FIN-001", "--file", str(confirmations))
        assert code == 1, (out, err)
        assert f"{confirmations.name}: 3 rows, 1 recorded now, 1 already done, 1 refused" in out
        assert f"refused: row 2: {world.customer('Z')}" in err and "is not affected" in err
        assert recall_queries.customer(world.engine, recall_id, c).reference == "PAY-3"

        # b's remediation falls overdue (45 s here: time for the CLI calls before it, even on a
        # loaded machine): `show` lists it, the declarer is told once.
        await progress_when(world.engine, recall_id, lambda p: p.overdue_open >= 1, "b overdue", timeout=60)
        code, out, err = await recall_cli("show", recall_id, "--overdue")
        assert code == 0, (out, err)
        assert "status:     tracking" in out and "2 remediated, 1 fell overdue (1 overdue now)" in out
        assert f"overdue:    {b}, due" in out and f"overdue:    {a}" not in out
        await asyncio.sleep(1)
        overdue = [m for m in recall_letters(world.engine, recall_id) if m.kind == "recall_overdue"]
        assert [(m.recipient, m.idempotency_key) for m in overdue] == [("S-SM-001", f"recall:{recall_id}:overdue")]

        # The revision: not by a manager who is no declarer; by the senior manager.
        revise = ["--revision", "Prepayment fee formula corrected in template EQF-2026", "--new-version", "EQF-2026"]
        code, out, err = await recall_cli("revise", recall_id, "--as", "S-MGR-001", *revise)
        assert code == 1 and "S-MGR-001 may not record the revision" in err, (out, err)
        code, out, err = await recall_cli("revise", recall_id, "--as", "S-SM-001", *revise)
        assert code == 0, (out, err)
        assert f"{recall_id}: revision EQF-2026 recorded by S-SM-001" in out
        assert (await handle.describe()).status.name == "RUNNING", "b's remediation is still open"

        # The last remediation done: the recall closes.
        code, out, err = await recall_cli("remediate", recall_id, b, "--as", "S-FIN-001", *done)
        assert code == 0 and "remediated, recorded by S-FIN-001" in out, (out, err)

        async def closed() -> RecallRow | None:
            row = recall_row(world.engine, recall_id)
            return row if row is not None and row.status == "closed" else None

        row = await eventually(closed, timeout=60, what=f"{recall_id} closed")
        assert (row.affected, row.told, row.remediated, row.overdue) == (3, 3, 3, 1)
        assert (row.new_version, row.revised_by) == ("EQF-2026", "S-SM-001") and row.closed_at is not None
        final = await asyncio.wait_for(handle.result(), timeout=60)
        assert final.status.value == "closed"
        code, out, err = await recall_cli("show", recall_id)
        assert code == 0 and "status:     closed" in out and "3 remediated" in out, (out, err)
        assert "revision:   EQF-2026 by S-SM-001" in out

        runs = await recall_runs(client, row)
        assert len(runs) >= 2 and runs[-1][1] == "completed"
        await save_history(request, client.get_workflow_handle(handle.id, run_id=runs[0][0]), "recall_fan_out")
        await save_history(
            request, client.get_workflow_handle(handle.id, run_id=runs[-1][0]), "recall_tracking_to_closed"
        )
        await save_history(
            request, client.get_workflow_handle(remediation_id(recall_id, b)), "recall_remediation_overdue"
        )
    finally:
        await terminate_remediations(client, recall_id)
        try:
            await handle.terminate("test done")
        except Exception:
            pass


# -- the big recall ---------------------------------------------------------------------------

BIG = 2000


def insert_contracts(engine: Engine, product: str, token: str, n: int) -> None:
    """``n`` loan-book ``contract`` records on ``product``, stored as a feed stores them."""
    observed, received = utc_now() - timedelta(days=1), utc_now()
    with Session(engine) as session:
        session.add_all(
            LoanBookSignalRow(
                source_system="CORE-LOANS",
                source_record_id=f"CT-{token}-{i}",
                customer_id=f"C-BULK-{i}-{token}",
                kind=SignalKind.CONTRACT.value,
                observed_at=observed,
                figures={"contract_number": f"BULK-{token}-{i}", "product": product, "status": "active"},
                received_at=received,
            )
            for i in range(n)
        )
        session.commit()


async def histories_within(client: Client, workflow_id: str, since: datetime) -> list[int]:
    """Every run's history length (events), checked against MAX_EVENTS."""
    lengths = []
    query = f'WorkflowId = "{workflow_id}" AND StartTime >= "{since.isoformat()}"'
    async for execution in client.list_workflows(query):
        history = await client.get_workflow_handle(workflow_id, run_id=execution.run_id).fetch_history()
        lengths.append(len(history.events))
    assert lengths and max(lengths) <= MAX_EVENTS, lengths
    return lengths


async def first_run_kept_its_window(client: Client, workflow_id: str, run_id: str, policy: Policy) -> None:
    """The first run had at most ``window`` children in hand at once, started ``per_run`` of them
    (fewer only if the server suggested continuing as new first), read in pages of ``page_size``."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    in_hand = most = started = pages = 0
    suggested = False  # the server suggested continuing as new (its history-size limit): the run stops early
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            suggested = suggested or event.workflow_task_started_event_attributes.suggest_continue_as_new
        elif event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            in_hand, started = in_hand + 1, started + 1
            most = max(most, in_hand)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            if event.workflow_execution_signaled_event_attributes.signal_name == "customer_done":
                in_hand -= 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == "recall_page":
                pages += 1
    rules = policy.recall
    assert 0 < most <= rules.window, most
    # ``per_run`` children, or fewer when the server suggested continuing as new before then.
    assert started == rules.per_run or (suggested and 0 < started < rules.per_run), (started, suggested)
    assert pages == math.ceil(started / rules.page_size), (pages, started)


async def test_a_recall_of_2000_customers_survives_two_worker_kills(client: Client, tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:6]
    product = f"bulk_{token}"
    policy = recall_policy(product, remediation_due={"amount": 2, "unit": "hours"})
    url = f"sqlite:///{tmp_path / 'big.db'}"
    migrate(url)
    engine = make_engine(url)
    seed_staff_directory(engine, STAFF_DIRECTORY)
    set_up_demo_keys(engine)
    insert_contracts(engine, product, token, BIG)
    task_queue = f"recall-kill-{token}"
    env = worker_process_env(client, url, task_queue, COMPLAINTS_POLICY=str(write_policy(policy, tmp_path)))

    def start_worker() -> subprocess.Popen[bytes]:
        return start_worker_process(env)

    recall_id = f"{product}-1"
    worker = start_worker()
    began = time.monotonic()
    try:
        declaration = await declare_recall(
            client,
            engine,
            policy,
            DeclareRecallRequest(
                product=product,
                actor="S-SM-001",
                reason="Rate reset clause applied twice",
                scope="Every contract on the product",
                remedy=RemedyKind.RATE_REDUCTION,
            ),
            task_queue,
        )
        for told in (300, 1200):  # killed in the first run's fan-out, then in the second's
            await progress_when(engine, recall_id, lambda p, told=told: p.told >= told, f"{told} told", timeout=240)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            killed_at = recall_queries.progress(engine, recall_id)
            assert killed_at.told < BIG, "killed during the fan-out"
            await asyncio.sleep(1)
            worker = start_worker()
        await progress_when(engine, recall_id, lambda p: p.opened == BIG, f"{BIG} opened", timeout=480)

        async def tracking() -> RecallRow | None:
            row = recall_row(engine, recall_id)
            return row if row is not None and row.status == "tracking" and row.opened == BIG else None

        row = await eventually(tracking, timeout=120, what="the recall tracking its remediations")
        fan_out_seconds = time.monotonic() - began
        assert (row.affected, row.told, row.opened, row.remediated) == (BIG, BIG, BIG, 0)

        # Every customer told exactly once: one outbox row per customer (the key is unique).
        with Session(engine) as session:
            keys = session.exec(
                select(OutboxMessage.recipient, func.count())
                .where(col(OutboxMessage.idempotency_key).startswith(f"recall:{recall_id}:"))
                .group_by(OutboxMessage.recipient)
            ).all()
        assert len(keys) == BIG and all(n == 1 for _, n in keys)
        # Every remediation opened once: one row each, one workflow each (never a second run).
        remediations = f"WorkflowType = 'RemediationWorkflow' AND RecallIds = '{recall_id}'"
        await visible(client, remediations, BIG, timeout=120)
        ids: set[str] = set()
        async for execution in client.list_workflows(remediations):
            assert execution.id not in ids, f"{execution.id} started twice"
            ids.add(execution.id)
        assert len(ids) == BIG
        lengths = await histories_within(client, f"recall-{product}", declaration.declared_at - timedelta(seconds=5))
        runs = await recall_runs(client, row)
        assert len(runs) == len(lengths) >= 3  # two fan-out runs of 1,000, then tracking
        await first_run_kept_its_window(client, f"recall-{product}", runs[0][0], policy)
        print(
            f"\nrecall of {BIG}: fan-out {fan_out_seconds:.0f} s with two kills, {len(lengths)} runs, "
            f"events per run {lengths}"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await terminate_remediations(client, recall_id)
        try:
            await client.get_workflow_handle(f"recall-{product}").terminate("test done")
        except Exception:
            pass
        engine.dispose()
