"""Signed staff actions (issue 16) through the real server, on SQLite and PostgreSQL.

Each backend gets its own database and worker: these tests rotate and revoke keys, which must not
reach the shared staff directory of the other tests. Every member of staff has a key in the
suite's configuration directory (tests/conftest.py, ``set_up_demo_keys``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from temporalio.client import Client

from complaints.actions import ComplaintActions, InvestigationActions
from complaints.config import PROJECT_ROOT
from complaints.intake import ActionRefused, ComplaintIntakeClient
from complaints.keys import KeyFileSigner, load_signer, make_key, sign_request
from db.staff_keys import KEYS_WORKFLOW, REGISTER, REVOKE, register_key, revoke_key
from db.tables import ComplaintEventRow
from domain.policy import PolicyStore
from domain.signatures import sign, signed_payload
from models.actions import ContactNoteSignal, EscalateSignal, FindingsRequest, InformationReceived, InformationRequest
from models.complaint import Status
from models.investigation import InvestigationFindingRequest
from models.signature import RegisterKeyRequest, RevokeKeyRequest
from tests.conftest import COMPRESSED_POLICY
from tests.factories import intake_payload
from tests.helpers import (
    config_with,
    eventually,
    investigation_file,
    own_database,
    own_worker,
    projected,
    save_history,
    staff_cli,
    status_once,
)
from tests.workflows.test_policy_switches import variant
from workflows.complaint import ComplaintWorkflow

CLI = str(PROJECT_ROOT / ".venv" / "bin" / "complaints")


@dataclass
class World:
    client: Client
    engine: Engine
    intake: ComplaintIntakeClient

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def signed_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from own_database(request.param, tmp_path_factory.mktemp("signed"))


@pytest_asyncio.fixture(loop_scope="session")
async def world(client: Client, signed_engine: Engine) -> AsyncIterator[World]:
    policies = PolicyStore.from_file(COMPRESSED_POLICY)
    async with own_worker(client, signed_engine, policies, prefix="signed") as intake:
        yield World(client=client, engine=signed_engine, intake=intake)


async def _assigned(world: World) -> tuple[str, str]:
    result = await world.intake.file(intake_payload("fees_and_interest"))
    assert result.complaint_id is not None, result.errors
    state = await status_once(world.intake.handle(result.complaint_id), {Status.IN_HANDLING})
    assert state.snapshot.assignee is not None
    return result.complaint_id, state.snapshot.assignee


def _other(handler: str) -> str:
    return "S-HND-002" if handler != "S-HND-002" else "S-HND-003"


async def _cli(world: World, *args: str, config: Path | None = None) -> tuple[int, str, str]:
    return await staff_cli(world.client, world.engine, *args, config=config)


def _events(engine: Engine, complaint_id: str, kind: str) -> list[ComplaintEventRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(ComplaintEventRow)
                .where(ComplaintEventRow.complaint_id == complaint_id, ComplaintEventRow.kind == kind)
                .order_by(col(ComplaintEventRow.seq))
            ).all()
        )


def _signed(engine: Engine, complaint_id: str) -> list[ComplaintEventRow]:
    with Session(engine) as session:
        rows = session.exec(
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(col(ComplaintEventRow.seq))
        ).all()
    return [r for r in rows if "signed" in (r.detail or {})]


_config_with = config_with


async def test_a_forged_as_is_refused_and_the_real_actor_is_verified_from_the_audit_log(
    world: World, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cid, handler = await _assigned(world)
    intruder = _other(handler)

    # The intruder runs the CLI as the handler: they hold only their own key, so nothing is signed.
    code, _, err = await _cli(
        world, "findings", cid, "--as", handler, "--summary", "forged", config=_config_with(tmp_path, intruder)
    )
    assert code == 1, err
    assert f"signature refused: unsigned: record_findings by {handler} carries no signature" in err

    # Signing with their own key while naming the handler: the key is not the actor's.
    forged = FindingsRequest(actor=handler, summary="forged again")
    sig = sign(
        load_signer(intruder),
        f"complaint-{cid}",
        "record_findings",
        signed_payload(forged),
        datetime.now(UTC),
        "A" * 22,
    )
    actions = ComplaintActions(world.client)
    with pytest.raises(ActionRefused, match=f"is registered to {intruder}, not to {handler}"):
        await actions.record_findings(cid, forged.model_copy(update={"signature": sig}))

    # The handler's own CLI signs with their key: accepted, and the audit log keeps the signature.
    code, out, err = await _cli(world, "findings", cid, "--as", handler, "--summary", "Fee charged twice in May")
    assert code == 0, err
    state = await world.intake.handle(cid).query(ComplaintWorkflow.status)
    assert [f.summary for f in state.snapshot.findings] == ["Fee charged twice in May"]
    await projected(world.engine, cid, "findings_recorded")
    [signed] = _signed(world.engine, cid)  # the action's own event carries what was signed
    assert (signed.kind, signed.actor, signed.detail["signed"]["action"]) == (
        "findings_recorded",
        handler,
        "record_findings",
    )
    assert signed.detail["signed"]["payload"]["summary"] == "Fee charged twice in May"
    assert signed.detail["signed"]["key_id"] == signed.detail["signed"]["signature"]["key_id"]

    code, out, err = await _cli(world, "verify", cid)
    assert code == 0, err
    assert f"{cid}: all 1 verified" in out

    # A log row altered by hand no longer verifies.
    altered = {**signed.detail, "signed": {**signed.detail["signed"]}}
    altered["signed"]["payload"] = {**altered["signed"]["payload"], "summary": "No fee was charged"}
    with Session(world.engine) as session:
        session.execute(update(ComplaintEventRow).where(col(ComplaintEventRow.id) == signed.id).values(detail=altered))
        session.commit()
    code, out, err = await _cli(world, "verify", cid)
    assert code == 1
    assert "bad signature" in out and f"{cid}: 1 of 1 FAILED" in out
    await save_history(request, world.intake.handle(cid), "signed_actions_forged_refused")


async def test_a_replayed_or_stale_signed_request_is_refused(world: World) -> None:
    cid, handler = await _assigned(world)
    actions = ComplaintActions(world.client)
    wid = f"complaint-{cid}"
    asked = InformationRequest(actor=handler, requested="The May statement, please")
    once = asked.model_copy(update={"signature": sign_request(handler, wid, "request_customer_information", asked)})

    result = await actions.request_customer_information(cid, once)
    assert result.status == Status.AWAITING_CUSTOMER_INFO.value
    await actions.record_customer_information(cid, _received(handler))
    with pytest.raises(ActionRefused, match=r"replayed: nonce .* was already used"):
        await actions.request_customer_information(cid, once)

    stale = asked.model_copy(
        update={
            "signature": sign_request(
                handler, wid, "request_customer_information", asked, now=datetime.now(UTC) - timedelta(minutes=6)
            )
        }
    )
    with pytest.raises(ActionRefused, match=r"outside the ±5 min a signed request is good for"):
        await actions.request_customer_information(cid, stale)

    # Signed for another action: the same payload does not carry over.
    wrong = asked.model_copy(update={"signature": sign_request(handler, wid, "extend_deadline", asked)})
    with pytest.raises(ActionRefused, match="bad signature"):
        await actions.request_customer_information(cid, wrong)
    await projected(world.engine, cid, "information_received")
    assert [e.detail["signed"]["action"] for e in _signed(world.engine, cid)] == [
        "request_customer_information",
        "record_customer_information",
    ]


def _received(handler: str) -> InformationReceived:
    return InformationReceived(actor=handler, note="Statement received by e-mail")


async def test_a_rotated_key_is_accepted_and_a_revoked_one_refused(world: World, tmp_path: Path) -> None:
    cid, handler = await _assigned(world)
    handle = world.intake.handle(cid)
    mine = _config_with(tmp_path, handler)
    rotation = make_key(handler, mine, rotate=True)  # the old key is set aside, still usable
    old_key = rotation.replaces
    assert old_key is not None
    now = datetime.now(UTC)
    registration = RegisterKeyRequest(
        actor="S-SM-001", staff_id=handler, public_key=rotation.public_key, valid_from=now, replaces=old_key
    )
    registration = registration.model_copy(
        update={"signature": sign_request("S-SM-001", KEYS_WORKFLOW, REGISTER, registration, now=now)}
    )
    row = register_key(world.engine, registration, now)
    await handle.signal(ComplaintWorkflow.refresh_staff_keys)

    rotated = ComplaintActions(world.client, KeyFileSigner(mine))
    note = ContactNoteSignal(actor=handler, note="Called the customer about the statement")

    async def accepted() -> bool | None:
        try:
            await rotated.request_customer_information(cid, InformationRequest(actor=handler, requested="ID copy"))
        except ActionRefused as refused:
            assert "unknown key" in str(refused), refused  # until the complaint has read the new key
            return None
        return True

    await eventually(accepted, what="the rotated key accepted")

    # The old key ended where the new one began.
    old = ComplaintActions(world.client)  # the suite's configuration: the handler's old key
    with pytest.raises(ActionRefused, match=f"key {old_key} of {handler} had expired"):
        await old.record_customer_information(cid, _received(handler))

    # Revoked (by a senior manager, signed): refused from then on, and so is a signal.
    revocation = RevokeKeyRequest(actor="S-SM-001", key_id=row.key_id, reason="laptop stolen", effective_at=now)
    revocation = revocation.model_copy(
        update={"signature": sign_request("S-SM-001", KEYS_WORKFLOW, REVOKE, revocation, now=datetime.now(UTC))}
    )
    revoke_key(world.engine, revocation, datetime.now(UTC))
    await handle.signal(ComplaintWorkflow.refresh_staff_keys)

    async def refused() -> str | None:
        try:
            await rotated.record_customer_information(cid, _received(handler))
        except ActionRefused as refusal:
            return str(refusal)
        raise AssertionError("a revoked key was accepted")

    reason = await eventually(refused, what="the revoked key refused")
    assert f"key {row.key_id} of {handler} was revoked" in reason and "laptop stolen" in reason
    await rotated.note_customer_contact(cid, note)
    await rotated.escalate(cid, EscalateSignal(actor=handler, reason="customer insists"))
    [note_refused] = [e for e in await _until(world.engine, cid, "signal_refused")]
    assert note_refused.detail["signal"] == "note_customer_contact" and "revoked" in note_refused.detail["reason"]
    [escalation] = await _until(world.engine, cid, "escalation_refused")
    assert "signature refused" in escalation.detail["reason"] and "revoked" in escalation.detail["reason"]
    state = await handle.query(ComplaintWorkflow.status)
    assert state.snapshot.contact_notes == [] and state.snapshot.escalations == []


async def _until(engine: Engine, complaint_id: str, kind: str) -> list[ComplaintEventRow]:
    async def found() -> list[ComplaintEventRow] | None:
        return _events(engine, complaint_id, kind) or None

    return await eventually(found, what=f"{kind} of {complaint_id}")


async def test_the_investigation_checks_signatures_too_and_verify_reads_its_log(world: World, tmp_path: Path) -> None:
    payload = intake_payload("privacy", staff_misconduct_alleged=True)
    result = await world.intake.file(payload)
    cid = result.complaint_id
    assert cid is not None, result.errors
    file = await investigation_file(world.client, cid)
    lead = file.lead
    assert lead is not None

    # Someone holding only the senior manager's key records a finding as the lead: unsigned.
    stranger = InvestigationActions(world.client, KeyFileSigner(_config_with(tmp_path, "S-SM-001")))
    finding = InvestigationFindingRequest(actor=lead, summary="The collector's call log shows 14 calls a day")
    with pytest.raises(ActionRefused, match=f"signature refused: unsigned: record_finding by {lead}"):
        await stranger.record_finding(cid, finding)

    answer = await InvestigationActions(world.client).record_finding(cid, finding)
    assert answer.message == "finding 1 recorded"

    async def logged() -> bool | None:
        code, out, _ = await _cli(world, "verify", cid, "--json")
        report = json.loads(out) if code == 0 else None
        return report if report and any(a["log"] == "investigation" for a in report["signed_actions"]) else None

    report = await eventually(logged, what="the investigation's signed finding in the audit log")
    [signed] = [a for a in report["signed_actions"] if a["log"] == "investigation"]
    assert (signed["action"], signed["actor"], signed["ok"], signed["result"]) == (
        "record_finding",
        lead,
        True,
        "verified",
    )
    assert report["failed"] == 0


@pytest.mark.parametrize("mode", ["record", "off"])
async def test_record_accepts_an_unsigned_action_and_marks_it_and_off_checks_nothing(
    world: World, tmp_path: Path, mode: str
) -> None:
    policy = variant(f"signing-{mode}-{uuid.uuid4().hex[:6]}", signing={"mode": mode})
    async with own_worker(world.client, world.engine, PolicyStore(policy), prefix=f"signing-{mode}") as intake:
        result = await intake.file(intake_payload("fees_and_interest"))
        cid = result.complaint_id
        assert cid is not None, result.errors
        state = await status_once(intake.handle(cid), {Status.IN_HANDLING})
        handler = state.snapshot.assignee
        assert handler is not None
        keyless = ComplaintActions(world.client, KeyFileSigner(_config_with(tmp_path, _other(handler))))
        await keyless.record_findings(cid, FindingsRequest(actor=handler, summary="Unsigned, and accepted"))
        # A signature that is there must still hold, except where nothing is checked.
        forged = FindingsRequest(actor=handler, summary="Signed by someone else")
        sig = sign(
            load_signer(_other(handler)),
            f"complaint-{cid}",
            "record_findings",
            signed_payload(forged),
            datetime.now(UTC),
            "B" * 22,
        )
        if mode == "record":
            with pytest.raises(ActionRefused, match="is registered to"):
                await keyless.record_findings(cid, forged.model_copy(update={"signature": sig}))
        else:
            await keyless.record_findings(cid, forged.model_copy(update={"signature": sig}))
        await projected(world.engine, cid, "findings_recorded")
        code, out, err = await _cli(world, "verify", cid, "--json")
        assert code == 0, err
        report = json.loads(out)
        if mode == "record":
            [only] = report["signed_actions"]
            assert (only["action"], only["key_id"], only["result"]) == (
                "record_findings",
                None,
                "unsigned (accepted: signing was record)",
            )
        else:
            assert report["signed_actions"] == []
