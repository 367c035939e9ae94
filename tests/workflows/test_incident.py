"""Surges and incidents through the real server (step 6.2).

Each backend gets a database of this module's own (a surge counted over the shared test database
would link every other test's complaints), a worker on a task queue of its own, and a policy with
a product and a region of this run's own (``tf-<token>``, ``ZZ-<TOKEN>``) and only those two
dimensions watched, so the incidents' workflow ids (``incident-product-tf-<token>``) meet no other
run's on the server. The watch is run on demand, as ``complaints incident watch`` does; its
schedule is checked on its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

from complaints.incident import close_incident, ensure_surge_watch_schedule, record_review, run_watch
from complaints.intake import ComplaintIntakeClient
from complaints.keys import set_up_demo_keys
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.tables import IncidentRow, OutboxMessage
from domain import surge
from domain.clocks import INTERNAL
from domain.policy import PolicyStore, load_policy
from models import search_attributes as sa
from models.complaint import Status
from models.incident import (
    CloseIncidentRequest,
    IncidentComplaints,
    IncidentReviewRequest,
    IncidentStart,
    SurgeDimension,
    SurgeWatchResult,
)
from models.policy import Policy
from tests.conftest import COMPRESSED_POLICY, STAFF_DIRECTORY, _postgres_database
from tests.factories import intake_payload
from tests.helpers import complaint_row, eventually, own_worker, save_history, staff_cli, status_once
from tests.workflows.test_policy_switches import variant
from workflows.complaint import ComplaintWorkflow
from workflows.step6_incident import IncidentWorkflow

CRISIS_TEAM = ["S-CMP-001", "S-CMP-002", "S-LEG-001", "S-SM-001"]


@dataclass
class World:
    engine: Engine
    token: str
    policy: Policy

    @property
    def product(self) -> str:
        return f"tf-{self.token}"

    @property
    def region(self) -> str:
        return f"ZZ-{self.token[:3].upper()}"


def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'incidents.db'}"
    else:
        yield from _postgres_database()


def _policy(token: str) -> Policy:
    products = [p.model_dump(mode="json") for p in load_policy(COMPRESSED_POLICY).reporting.products]
    mine = dict(products[0], code=f"tf-{token}", label=f"Trade finance, test {token}")
    return variant(
        f"incidents-{token}",
        surge={"dimensions": ["product", "region"]},
        reporting={"products": [*products, mine]},
        # Long enough that the internal clock still runs when the incident links the complaint.
        tier_clocks={"simple": {"limit": {"amount": 600, "unit": "seconds"}}},
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp, token = tmp_path_factory.mktemp("incidents"), uuid.uuid4().hex[:6]
    policy = _policy(token)
    for url in _database(request.param, tmp):
        migrate(url)
        engine = make_engine(url)
        seed_staff_directory(engine, STAFF_DIRECTORY)
        set_up_demo_keys(engine)  # the staff sign their actions (issue 16), with the suite's keys
        yield World(engine=engine, token=token, policy=policy)
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def intake(client: Client, world: World) -> AsyncIterator[ComplaintIntakeClient]:
    async with own_worker(client, world.engine, PolicyStore(world.policy), prefix="incidents") as intake:
        yield intake


async def file(world: World, intake: ComplaintIntakeClient, customer: str, channel: str = "phone") -> str:
    """A complaint about the run's product in its region, once a handler holds it and its row has both."""
    payload = intake_payload("fees_and_interest", product=world.product, region=world.region, channel=channel)
    payload["customer"]["customer_id"] = customer
    result = await intake.file(payload)
    cid = result.complaint_id
    assert cid is not None, result.errors
    await status_once(intake.handle(cid), {Status.IN_HANDLING})

    async def projected() -> bool:
        row = complaint_row(world.engine, cid)
        return row is not None and row.region == world.region and row.product == world.product

    await eventually(projected, what=f"the row of {cid}")
    return cid


def incident(world: World, incident_id: str) -> IncidentRow | None:
    with Session(world.engine) as session:
        return session.get(IncidentRow, incident_id)


async def incident_when(world: World, incident_id: str, test: Any, what: str, timeout: float = 30) -> IncidentRow:
    async def probe() -> IncidentRow | None:
        found = incident(world, incident_id)
        return found if found is not None and test(found) else None

    return await eventually(probe, timeout=timeout, what=f"{incident_id}: {what}")


def outbox(world: World, *, key_prefix: str | None = None, kind: str | None = None) -> list[OutboxMessage]:
    with Session(world.engine) as session:
        query = select(OutboxMessage)
        if key_prefix:
            query = query.where(col(OutboxMessage.idempotency_key).startswith(key_prefix))
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


async def cli(client: Client, world: World, task_queue: str, *args: str) -> tuple[int, str, str]:
    """``complaints incident …`` as a member of staff runs it, signing with the suite's keys."""
    return await staff_cli(client, world.engine, "incident", *args, task_queue=task_queue)


async def clocks_of(intake: ComplaintIntakeClient, complaint_id: str) -> dict[str, datetime]:
    state = await intake.handle(complaint_id).query(ComplaintWorkflow.status)
    return {c.name: c.due_at for c in state.snapshot.clocks}


async def count_workflows(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def test_a_burst_opens_one_incident_per_key_and_links_the_complaints_after_it(
    request: pytest.FixtureRequest, client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    tq, token = intake.task_queue, world.token
    a, b, c = (f"C-{who}-{token}" for who in "ABC")
    quiet = await run_watch(client, tq, "test")
    assert quiet.surging == [] and quiet.actions == []
    burst = [await file(world, intake, a), await file(world, intake, b, "email")]
    below = await run_watch(client, tq, "test")
    assert below.surging == [] and below.opened == [], "two complaints: below the minimum of 4"
    burst += [await file(world, intake, a, "app"), await file(world, intake, c, "letter")]
    before = {cid: await clocks_of(intake, cid) for cid in burst}

    # Two watches at once: each key opens exactly one incident.
    first, second = await asyncio.gather(run_watch(client, tq, "test-1"), run_watch(client, tq, "test-2"))
    product_id, region_id = f"incident-product-{world.product}-1", f"incident-region-{world.region}-1"
    assert sorted([*first.opened, *second.opened]) == sorted([product_id, region_id])
    assert {f.key for f in first.surging} == {f"product={world.product}", f"region={world.region}"}
    (figures,) = [f for f in first.surging if f.dimension == "product"]
    assert (figures.count, figures.median, figures.needed) == (4, 0, 4)
    for incident_id in (product_id, region_id):
        row = await incident_when(world, incident_id, lambda r: r.linked_count == 4, "the burst linked")
        assert row.status == "open" and row.lead == "S-SM-001" and row.crisis_team == CRISIS_TEAM
        workflow_id = incident_id.rsplit("-", 1)[0]
        assert await count_workflows(client, f"WorkflowId = '{workflow_id}'") == 1
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.typed_search_attributes.get(sa.INCIDENT_STATUS) == "open"
        assert "surge of complaints" in (await described.static_summary() or "")
        # The crisis team is told once (the lead is one of them).
        told = outbox(world, key_prefix=f"incident:{incident_id}:opened:")
        assert sorted(m.recipient for m in told) == CRISIS_TEAM and told[0].kind == "incident_opened"

    # Each customer gets one holding reply, however many of their complaints and incidents: a
    # complaint's first incident sends it, keyed on the customer and that incident.
    async def replies() -> list[OutboxMessage] | None:
        sent = outbox(world, kind="incident_holding_reply")
        return sent if {m.idempotency_key.split(":")[1] for m in sent} >= {a, b, c} else None

    await eventually(replies, what="the holding replies")
    await asyncio.sleep(1)
    sent = outbox(world, kind="incident_holding_reply")
    keys = [m.idempotency_key for m in sent]
    per_customer = {who: [k for k in keys if k.startswith(f"customer:{who}:")] for who in (a, b, c)}
    assert all(
        k in {f"customer:{who}:incident:{i}:holding_reply" for i in (product_id, region_id)}
        for who, ks in per_customer.items()
        for k in ks
    )
    # b and c filed one complaint each: one reply; a filed two, whose first incidents may differ.
    assert (len(per_customer[b]), len(per_customer[c])) == (1, 1) and 1 <= len(per_customer[a]) <= 2
    for cid in burst:
        # Its handler is told, once per incident; its internal clock shortened, the others not.
        holder = (await intake.handle(cid).query(ComplaintWorkflow.status)).snapshot.assignee
        handlers = await eventually(partial(_told, world, cid, "incident", 2), what=f"the handler of {cid} told")
        assert sorted(m.idempotency_key for m in handlers) == sorted(
            f"{cid}:incident:{i}:{holder}" for i in (product_id, region_id)
        )
        after = await eventually(partial(_linked_clocks, intake, cid), what=f"{cid} linked twice")
        moved = {name for name in after if after[name] != before[cid][name]}
        assert moved and moved <= INTERNAL, (before[cid], after)
        for name in moved:
            assert after[name] < before[cid][name]
    # The Web UI lists an incident's complaints by ComplaintIncidents.
    listed = await eventually(
        lambda: _count_at_least(client, f"ComplaintIncidents = '{product_id}'", 4), what="the complaints listed"
    )
    assert listed == 4

    # A complaint filed after the incident opened is linked at the next count.
    late = await file(world, intake, f"C-D-{token}", "web_platform")
    joined = await run_watch(client, tq, "test")
    assert joined.opened == [] and joined.linked == {product_id: 1, region_id: 1}
    await incident_when(world, product_id, lambda r: r.linked_count == 5, "the late complaint linked")
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, f"incident-product-{world.product}")
    state = await handle.query(IncidentWorkflow.status)
    assert state.linked == [*burst, late] or sorted(state.linked) == sorted([*burst, late])
    again = await run_watch(client, tq, "test")
    assert again.opened == [] and again.linked == {}, "nothing new to link"

    # Situation reports every 20 seconds to the crisis team.
    report = await eventually(
        partial(_sent, world, f"incident:{product_id}:report:1:", 4), timeout=60, what="the first situation report"
    )
    assert sorted(m.recipient for m in report) == CRISIS_TEAM
    assert report[0].kind == "incident_situation_report" and "Complaints linked: 5" in report[0].body

    # Staff act through the CLI: who may, and what closing needs.
    code, _, err = await cli(client, world, tq, "lead", product_id, "--as", "S-HND-001", "--lead", "S-MGR-001")
    assert code == 1 and "S-HND-001 may not name the lead" in err, err
    code, out, err = await cli(
        client, world, tq, "lead", f"incident-product-{world.product}", "--as", "S-SM-001", "--lead", "S-MGR-001"
    )
    assert code == 0 and f"{product_id}: S-MGR-001 leads, named by S-SM-001" in out, (out, err)
    code, _, err = await cli(client, world, tq, "close", product_id, "--as", "S-MGR-001")
    assert code == 1 and "needs its post-incident review and root cause first" in err, err
    review = "A fee change on trade finance was not announced; the notice now goes out a month ahead"
    code, _, err = await cli(
        client, world, tq, "report", product_id, "--as", "S-MGR-001", "--root-cause", "gremlins", "--review", review
    )
    assert code == 1 and "not one of the policy's" in err, err
    code, out, err = await cli(
        client,
        world,
        tq,
        "report",
        product_id,
        "--as",
        "S-MGR-001",
        "--root-cause",
        "process_delay",
        "--review",
        review,
    )
    assert code == 0 and "post-incident review recorded by S-MGR-001" in out, (out, err)
    code, _, err = await cli(client, world, tq, "close", product_id, "--as", "S-HND-001")
    assert code == 1 and "S-HND-001 may not close" in err, err
    code, out, err = await cli(client, world, tq, "close", product_id, "--as", "S-MGR-001", "--note", "Quiet again")
    assert code == 0 and "closed by S-MGR-001 (status closed)" in out, (out, err)
    code, _, err = await cli(client, world, tq, "close", product_id, "--as", "S-SM-001")
    assert code == 1 and "already closed" in err, err

    final = await handle.result()
    if world.engine.dialect.name == "sqlite":
        await save_history(request, handle, "incident_linked_reported_closed")
    assert final.status == "closed" and final.root_cause == "process_delay" and final.lead == "S-MGR-001"
    row = await incident_when(world, product_id, lambda r: r.status == "closed", "closed")
    assert (row.closed_by, row.root_cause, row.lead, row.linked_count) == ("S-MGR-001", "process_delay", "S-MGR-001", 5)
    assert (await handle.describe()).typed_search_attributes.get(sa.INCIDENT_STATUS) == "closed"
    told = outbox(world, key_prefix=f"incident:{product_id}:lead:1:")
    assert sorted(m.recipient for m in told) == ["S-MGR-001", "S-SM-001"]

    code, out, _ = await cli(client, world, tq, "show", product_id)
    assert code == 0 and "status:      closed" in out and late in out and "process_delay" in out, out
    code, out, _ = await cli(client, world, tq, "list")
    assert code == 0 and product_id in out and region_id in out, out

    # What the closed incident took opens no new one; the open one has nothing new.
    after_close = await run_watch(client, tq, "test")
    assert after_close.opened == [] and after_close.linked == {}
    assert f"product={world.product}" in {f.key for f in after_close.surging}, "still a surge in the window"

    # The region's incident: the crisis team closes it (a closer role), after its review.
    await record_review(
        client,
        world.engine,
        IncidentReviewRequest(incident_id=region_id, actor="S-CMP-001", review=review, root_cause="process_delay"),
    )
    closed = await close_incident(client, world.engine, CloseIncidentRequest(incident_id=region_id, actor="S-SM-001"))
    assert closed.status == "closed"


async def test_the_surge_watch_runs_on_its_schedule(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    schedule_id = f"test-surge-watch-{uuid.uuid4().hex[:6]}"
    await ensure_surge_watch_schedule(client, world.policy, intake.task_queue, schedule_id)
    schedule = client.get_schedule_handle(schedule_id)
    try:
        spec = (await schedule.describe()).schedule.spec
        assert [i.every for i in spec.intervals] == [timedelta(seconds=5)]  # compressed: check_every 5 s
        await ensure_surge_watch_schedule(client, world.policy, intake.task_queue, schedule_id)  # idempotent
        await schedule.trigger()

        async def started() -> str | None:
            actions = (await schedule.describe()).info.recent_actions
            action = actions[-1].action if actions else None
            return action.workflow_id if isinstance(action, ScheduleActionExecutionStartWorkflow) else None

        watch_id = await eventually(started, what="the schedule's watch")
        result = await client.get_workflow_handle(watch_id, result_type=SurgeWatchResult).result()
        assert result.opened == []
    finally:
        await schedule.delete()


async def test_a_long_incident_continues_as_new_and_carries_on(
    client: Client, world: World, intake: ComplaintIntakeClient
) -> None:
    """Started as the watch starts it, with a history limit small enough to reach in a few reports;
    one of its complaints is not running (it is skipped, not retried)."""
    channel = f"ch-{world.token}"
    cid = await file(world, intake, f"C-E-{world.token}")
    figures = surge.assess(SurgeDimension.CHANNEL, channel, 4, [], world.policy.surge, datetime.now(UTC))
    workflow_id, incident_id = surge.workflow_id(SurgeDimension.CHANNEL, channel), f"incident-channel-{channel}-1"
    handle = await client.start_workflow(
        IncidentWorkflow.run,
        IncidentStart(
            incident_id=incident_id, dimension=SurgeDimension.CHANNEL, value=channel, figures=figures, history_limit=60
        ),
        id=workflow_id,
        task_queue=intake.task_queue,
        start_signal="add_complaints",
        start_signal_args=[IncidentComplaints(complaint_ids=[cid, "CMP-NOSUCHTHING"])],
    )
    try:

        async def continued() -> Any:
            state = await handle.query(IncidentWorkflow.status)
            return state if state.runs >= 2 and state.reports >= 1 else None

        state = await eventually(continued, timeout=90, what="a second run")
        assert state.incident_id == incident_id and state.linked == [cid] and state.lead == "S-SM-001"
        first_run = await client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id).describe()
        assert first_run.status is not None and first_run.status.name == "CONTINUED_AS_NEW"
        number = state.reports + 1
        await eventually(partial(_sent, world, f"incident:{incident_id}:report:{number}:", 4), timeout=40, what="next")
        await record_review(
            client,
            world.engine,
            IncidentReviewRequest(incident_id=workflow_id, actor="S-SM-001", review="Test", root_cause="other"),
        )
        closing = CloseIncidentRequest(incident_id=incident_id, actor="S-SM-001")
        closed = await close_incident(client, world.engine, closing)
        assert closed.status == "closed"
        final = await client.get_workflow_handle_for(IncidentWorkflow.run, workflow_id).result()
        assert final.runs >= 2 and final.reports >= number and final.linked == [cid]
        assert len(outbox(world, key_prefix=f"incident:{incident_id}:opened:")) == 4, "opened once, not per run"
        row = incident(world, incident_id)
        assert row is not None and row.linked_count == 1 and row.status == "closed"
    finally:
        try:
            await handle.terminate("test over")
        except Exception:
            pass


async def _told(world: World, complaint_id: str, kind: str, count: int) -> list[OutboxMessage] | None:
    found = [m for m in outbox(world, kind=kind) if m.complaint_id == complaint_id]
    return found if len(found) >= count else None


async def _sent(world: World, key_prefix: str, count: int) -> list[OutboxMessage] | None:
    found = outbox(world, key_prefix=key_prefix)
    return found if len(found) >= count else None


async def _linked_clocks(intake: ComplaintIntakeClient, complaint_id: str) -> dict[str, datetime] | None:
    state = await intake.handle(complaint_id).query(ComplaintWorkflow.status)
    if len(state.snapshot.incidents) < 2:
        return None
    return {c.name: c.due_at for c in state.snapshot.clocks}


async def _count_at_least(client: Client, query: str, count: int) -> int | None:
    found = await count_workflows(client, query)
    return found if found >= count else None
