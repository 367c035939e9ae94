"""Signed staff actions (issue 16): the canonical form, signing, and every reason a signed action is refused."""

from __future__ import annotations

import asyncio
import base64
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import pytest
import temporalio.workflow
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from domain.signatures import (
    UNSIGNED_UNDER_RECORD,
    CanonicalError,
    canonical,
    duration,
    prune_nonces,
    public_key_b64,
    recheck,
    recheck_log,
    sign,
    signed_payload,
    verify,
)
from models.actions import ApprovalDecision, FindingsRequest, LossCalculationRequest
from models.signature import Signature, SignedAction, StaffKey, key_id_of

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
WF = "complaint-CMP-29B545EDD8B4"
ACTION = "decide_resolution"
SM, HANDLER = "S-SM-001", "S-HND-001"
NONCE = "AAAAAAAAAAAAAAAAAAAAAA"


def staff_key(
    staff_id: str,
    private: Ed25519PrivateKey,
    valid_from: datetime = NOW - timedelta(days=30),
    valid_until: datetime | None = None,
    revoked_at: datetime | None = None,
    revoked_reason: str | None = None,
) -> StaffKey:
    public = public_key_b64(private)
    return StaffKey(
        staff_id=staff_id,
        key_id=key_id_of(public),
        public_key=public,
        valid_from=valid_from,
        valid_until=valid_until,
        revoked_at=revoked_at,
        revoked_reason=revoked_reason,
    )


@pytest.fixture(scope="module")
def sm_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def handler_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def approval(actor: str = SM) -> dict[str, object]:
    return signed_payload(ApprovalDecision(actor=actor, approve=True, reason="2,000,000 CNY remedy approved"))


def signed(
    private: Ed25519PrivateKey,
    payload: dict[str, object] | None = None,
    issued_at: datetime = NOW,
    nonce: str = NONCE,
    workflow_id: str = WF,
    action: str = ACTION,
) -> Signature:
    return sign(private, workflow_id, action, payload if payload is not None else approval(), issued_at, nonce)


def check(
    keys: list[StaffKey],
    signature: Signature | None,
    payload: dict[str, object] | None = None,
    actor: str = SM,
    now: datetime = NOW,
    seen: set[str] | None = None,
    workflow_id: str = WF,
    action: str = ACTION,
) -> str | None:
    body = payload if payload is not None else approval(actor)
    return verify(keys, actor, workflow_id, action, body, signature, now, WINDOW, seen or set())


# -- the canonical form ------------------------------------------------------------------------


def test_the_canonical_form_is_these_exact_bytes() -> None:
    payload = {
        "amount": Decimal("2000000.00"),
        "note": "同意",
        "actor": SM,
        "when": datetime(2026, 1, 2, 8, tzinfo=SHANGHAI),
    }
    assert (
        canonical(WF, ACTION, payload, datetime(2026, 11, 30, 11, 30, 5, tzinfo=SHANGHAI), NONCE)
        == (
            '{"action":"decide_resolution","issued_at":"2026-11-30T03:30:05.000000Z","nonce":"AAAAAAAAAAAAAAAAAAAAAA",'
            '"payload":{"actor":"S-SM-001","amount":"2000000.00","note":"同意","when":"2026-01-02T00:00:00.000000Z"},'
            '"v":"complaints-staff-action/1","workflow_id":"complaint-CMP-29B545EDD8B4"}'
        ).encode()
    )


def test_the_canonical_form_does_not_depend_on_key_order_or_the_issued_at_offset() -> None:
    one = {"b": [1, {"y": True, "x": None}], "a": "x"}
    other = {"a": "x", "b": [1, {"x": None, "y": True}]}
    assert canonical(WF, ACTION, one, NOW, NONCE) == canonical(WF, ACTION, other, NOW.astimezone(SHANGHAI), NONCE)
    assert canonical(WF, ACTION, one, NOW, NONCE) != canonical(
        WF, ACTION, {"a": "x", "b": [{"x": None}, 1]}, NOW, NONCE
    )


def test_the_canonical_form_writes_enums_dates_tuples_and_floats() -> None:
    class Colour(StrEnum):
        RED = "red"

    text = canonical(WF, ACTION, {"c": Colour.RED, "d": NOW.date(), "t": (1, 2), "f": 0.1}, NOW, NONCE)
    assert b'"payload":{"c":"red","d":"2026-11-30","f":0.1,"t":[1,2]}' in text


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (datetime(2026, 1, 1), "naive datetime"),
        ({1, 2}, "set has no canonical form"),
        (b"raw", "bytes has no canonical form"),
        (float("nan"), "no JSON form"),
        (Decimal("Infinity"), "no JSON form"),
        ({1: "x"}, "is not a string"),
    ],
)
def test_what_has_no_single_written_form_is_refused(value: object, says: str) -> None:
    with pytest.raises(CanonicalError, match=says):
        canonical(WF, ACTION, {"v": value}, NOW, NONCE)


def test_a_request_validated_again_in_the_workflow_gives_the_same_payload() -> None:
    findings = FindingsRequest(
        actor=HANDLER,
        summary="  利率计算有误 ",
        occurred_at=datetime(2026, 11, 1, 9, 15, 0, 4500, tzinfo=SHANGHAI),
        amounts=[{"amount": Decimal("12.50"), "currency": "CNY"}],  # type: ignore[list-item]
    )
    loss = LossCalculationRequest(actor="S-FIN-001", actual_loss=Decimal("2000000"), method="refund of fees")
    for request in (findings, loss):
        # As the pydantic data converter carries it: JSON out, validated in, dumped again.
        again = type(request).model_validate_json(request.model_dump_json())
        assert canonical(WF, ACTION, signed_payload(again), NOW, NONCE) == canonical(
            WF, ACTION, signed_payload(request), NOW, NONCE
        )


def test_signing_is_deterministic_and_the_key_id_is_the_hash_of_the_public_key(sm_key: Ed25519PrivateKey) -> None:
    assert signed(sm_key) == signed(sm_key)
    raw = sm_key.public_key().public_bytes_raw()
    assert signed(sm_key).key_id == key_id_of(raw) == key_id_of(base64.b64encode(raw).decode())
    assert len(key_id_of(raw)) == 16


# -- accepted -------------------------------------------------------------------------------------


def test_a_valid_signature_is_accepted(sm_key: Ed25519PrivateKey, handler_key: Ed25519PrivateKey) -> None:
    keys = [staff_key(HANDLER, handler_key), staff_key(SM, sm_key)]
    assert check(keys, signed(sm_key)) is None
    assert check(keys, signed(sm_key, issued_at=NOW.astimezone(SHANGHAI))) is None


# -- refused --------------------------------------------------------------------------------------


def test_unsigned_is_refused(sm_key: Ed25519PrivateKey) -> None:
    assert check([staff_key(SM, sm_key)], None) == (
        "unsigned: decide_resolution by S-SM-001 carries no signature, so nothing proves S-SM-001 sent it"
    )


def test_a_forged_as_signed_with_the_forgers_own_key_is_refused(
    sm_key: Ed25519PrivateKey, handler_key: Ed25519PrivateKey
) -> None:
    keys = [staff_key(HANDLER, handler_key), staff_key(SM, sm_key)]
    forged = signed(handler_key)  # the handler signs an approval naming the senior manager
    reason = check(keys, forged)
    assert reason is not None and reason.startswith(f"key {forged.key_id} is registered to S-HND-001, not to S-SM-001")


def test_a_key_nobody_registered_is_refused(sm_key: Ed25519PrivateKey) -> None:
    stranger = Ed25519PrivateKey.generate()
    forged = signed(stranger)
    assert check([staff_key(SM, sm_key)], forged) == (f"unknown key {forged.key_id}: not a registered key of S-SM-001")


def test_a_signature_claiming_the_senior_managers_key_id_is_refused(sm_key: Ed25519PrivateKey) -> None:
    forged = signed(Ed25519PrivateKey.generate()).model_copy(update={"key_id": staff_key(SM, sm_key).key_id})
    reason = check([staff_key(SM, sm_key)], forged)
    assert reason is not None and reason.startswith("bad signature: key")


@pytest.mark.parametrize(
    "change",
    [
        {"payload": {"actor": SM, "approve": True, "reason": "20,000,000 CNY remedy approved"}},
        {"payload": {"actor": SM, "approve": False, "reason": "2,000,000 CNY remedy approved"}},
        {"workflow_id": "complaint-CMP-OTHER000001"},
        {"action": "propose_resolution"},
    ],
    ids=["comment", "decision", "other complaint", "other action"],
)
def test_a_request_changed_after_signing_is_refused(sm_key: Ed25519PrivateKey, change: dict[str, object]) -> None:
    payload = change.get("payload")
    reason = check(
        [staff_key(SM, sm_key)],
        signed(sm_key),
        payload=signed_payload(ApprovalDecision.model_validate(payload)) if payload else None,
        workflow_id=str(change.get("workflow_id", WF)),
        action=str(change.get("action", ACTION)),
    )
    assert reason is not None and reason.startswith(f"bad signature: key {staff_key(SM, sm_key).key_id} of S-SM-001")


def test_a_replayed_nonce_is_refused(sm_key: Ed25519PrivateKey) -> None:
    reason = check([staff_key(SM, sm_key)], signed(sm_key), seen={NONCE})
    assert reason == f"replayed: nonce {NONCE} was already used by an accepted action; sign the request afresh"


def test_a_revoked_key_is_refused_with_when_and_why(sm_key: Ed25519PrivateKey) -> None:
    revoked = staff_key(SM, sm_key, revoked_at=NOW - timedelta(hours=1), revoked_reason="laptop stolen")
    assert check([revoked], signed(sm_key)) == (
        f"key {revoked.key_id} of S-SM-001 was revoked at 2026-11-30 02:30:00 UTC: laptop stolen"
    )


def test_a_revocation_dated_back_refuses_even_a_request_checked_later(sm_key: Ed25519PrivateKey) -> None:
    # Revoked effective a minute before the request: `complaints verify` re-checks at the action's time.
    revoked = staff_key(SM, sm_key, revoked_at=NOW - timedelta(minutes=1), revoked_reason="compromised")
    assert "was revoked at" in (check([revoked], signed(sm_key)) or "")


def test_a_key_revoked_after_the_action_still_proves_it(sm_key: Ed25519PrivateKey) -> None:
    later = staff_key(SM, sm_key, revoked_at=NOW + timedelta(days=3), revoked_reason="left the company")
    assert check([later], signed(sm_key)) is None


def test_a_key_before_or_after_its_validity_is_refused(sm_key: Ed25519PrivateKey) -> None:
    early = staff_key(SM, sm_key, valid_from=NOW + timedelta(minutes=1))
    assert check([early], signed(sm_key)) == (
        f"key {early.key_id} of S-SM-001 was not yet valid when the request was issued "
        "(2026-11-30 03:30:00 UTC; valid from 2026-11-30 03:31:00 UTC)"
    )
    ended = staff_key(SM, sm_key, valid_until=NOW)
    assert check([ended], signed(sm_key)) == (
        f"key {ended.key_id} of S-SM-001 had expired when the request was issued "
        "(2026-11-30 03:30:00 UTC; valid until 2026-11-30 03:30:00 UTC)"
    )


def test_a_rotated_key_old_until_its_end_and_new_from_its_start(sm_key: Ed25519PrivateKey) -> None:
    new_key = Ed25519PrivateKey.generate()
    keys = [staff_key(SM, sm_key, valid_until=NOW), staff_key(SM, new_key, valid_from=NOW)]
    before, after = NOW - timedelta(minutes=1), NOW + timedelta(minutes=1)
    assert check(keys, signed(sm_key, issued_at=before), now=before) is None
    assert check(keys, signed(new_key, issued_at=after), now=after) is None
    assert check(keys, signed(new_key, issued_at=NOW), now=NOW) is None
    assert "had expired" in (check(keys, signed(sm_key, issued_at=after), now=after) or "")
    assert "not yet valid" in (check(keys, signed(new_key, issued_at=before), now=before) or "")


def test_both_keys_valid_during_an_overlap(sm_key: Ed25519PrivateKey) -> None:
    new_key = Ed25519PrivateKey.generate()
    keys = [staff_key(SM, sm_key, valid_until=NOW + timedelta(days=7)), staff_key(SM, new_key, valid_from=NOW)]
    assert check(keys, signed(sm_key)) is None
    assert check(keys, signed(new_key)) is None


@pytest.mark.parametrize(
    ("skew", "says"),
    [
        (-timedelta(minutes=6), "6 min before"),
        (timedelta(minutes=5, seconds=1), "5 min 1 s after"),
    ],
)
def test_issued_at_outside_the_window_of_the_workflows_time_is_refused(
    sm_key: Ed25519PrivateKey, skew: timedelta, says: str
) -> None:
    reason = check([staff_key(SM, sm_key)], signed(sm_key, issued_at=NOW + skew))
    assert reason is not None and says in reason and "outside the ±5 min a signed request is good for" in reason


@pytest.mark.parametrize("skew", [-WINDOW, WINDOW, timedelta(0)])
def test_issued_at_at_the_edges_of_the_window_is_accepted(sm_key: Ed25519PrivateKey, skew: timedelta) -> None:
    assert check([staff_key(SM, sm_key)], signed(sm_key, issued_at=NOW + skew)) is None


def test_a_bad_signature_is_reported_before_what_the_signature_would_vouch_for(sm_key: Ed25519PrivateKey) -> None:
    # An altered request that also replays a nonce and is out of the window: the signature is what failed.
    reason = check(
        [staff_key(SM, sm_key)],
        signed(sm_key, issued_at=NOW - timedelta(hours=1)),
        payload=approval(),
        now=NOW + timedelta(seconds=1),
        seen={NONCE},
        action="withdraw",
    )
    assert reason is not None and reason.startswith("bad signature")


def test_a_replay_after_the_window_is_refused_by_the_window_so_old_nonces_may_be_forgotten(
    sm_key: Ed25519PrivateKey,
) -> None:
    seen = {NONCE: NOW, "B" * 22: NOW - timedelta(minutes=10)}
    kept = prune_nonces(seen, NOW + timedelta(minutes=4), WINDOW)
    assert kept == {NONCE: NOW}
    later = NOW + timedelta(minutes=6)
    assert prune_nonces(seen, later, WINDOW) == {}
    assert "outside the ±5 min" in (check([staff_key(SM, sm_key)], signed(sm_key), now=later) or "")


# -- `complaints verify`: the audit log checked again --------------------------------------------


def test_a_log_checked_again_passes_and_then_fails_on_each_kind_of_hand_edit(sm_key: Ed25519PrivateKey) -> None:
    keys = [staff_key(SM, sm_key)]
    log = [
        SignedAction(
            workflow_id=WF,
            action=ACTION,
            actor=SM,
            payload=approval(),
            signature=signed(sm_key, issued_at=NOW + timedelta(minutes=i), nonce=f"{i}" * 22),
            at=NOW + timedelta(minutes=i, seconds=2),
        )
        for i in range(3)
    ]
    assert recheck(log, keys, WINDOW) == []
    altered = log[1].model_copy(update={"payload": approval() | {"approve": False}})
    unsigned = log[2].model_copy(update={"signature": None})
    copied = log[0].model_copy(update={"at": NOW + timedelta(minutes=1)})
    failures = recheck([log[0], altered, unsigned, copied], keys, WINDOW)
    assert [(i, reason.split(":")[0]) for i, reason in failures] == [
        (1, "bad signature"),
        (2, "unsigned"),
        (3, "replayed"),
    ]
    # A revocation dated back before the second action fails it and what followed, not what came before.
    revoked = [staff_key(SM, sm_key, revoked_at=NOW + timedelta(seconds=30), revoked_reason="compromised")]
    assert [i for i, _ in recheck(log, revoked, WINDOW)] == [1, 2]


# -- the models -----------------------------------------------------------------------------------


def test_a_signature_must_have_a_128_bit_nonce_and_a_64_byte_signature(sm_key: Ed25519PrivateKey) -> None:
    good = signed(sm_key).model_dump()
    with pytest.raises(ValidationError, match="String should match pattern"):
        Signature.model_validate(good | {"nonce": "short"})
    with pytest.raises(ValidationError, match="signature"):
        Signature.model_validate(good | {"signature": base64.b64encode(b"x" * 63).decode() + "="})
    with pytest.raises(ValidationError, match="timezone"):
        Signature.model_validate(good | {"issued_at": datetime(2026, 1, 1)})


def test_a_staff_key_whose_id_is_not_its_keys_is_refused(sm_key: Ed25519PrivateKey) -> None:
    key = staff_key(SM, sm_key).model_dump()
    with pytest.raises(ValidationError, match="is not the id of this public key"):
        StaffKey.model_validate(key | {"key_id": "0" * 16})
    with pytest.raises(ValidationError, match="valid_until must be after valid_from"):
        StaffKey.model_validate(key | {"valid_until": key["valid_from"]})


def test_durations_read_plainly() -> None:
    assert [duration(timedelta(seconds=s)) for s in (0, 45, 300, 330, 3900, 86400 * 3)] == [
        "0 s",
        "45 s",
        "5 min",
        "5 min 30 s",
        "1 h 5 min",
        "3 days",
    ]


# -- in a workflow --------------------------------------------------------------------------------

SANDBOXED = """
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import domain.signatures as signatures


@workflow.defn
class SignedWorkflow:
    @workflow.run
    async def run(self) -> str | None:
        return signatures.verify([], "S", "w", "a", {}, None, workflow.now(), timedelta(minutes=5), set())
"""


def test_a_workflow_imports_the_check_passed_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cryptography's Rust extension cannot be imported afresh inside the sandbox (a SystemError):
    a workflow imports ``domain.signatures`` under ``imports_passed_through``, as it does the other domain modules."""
    (tmp_path / "signed_workflow_module.py").write_text(SANDBOXED, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import signed_workflow_module  # type: ignore[import-not-found]

    async def prepare() -> None:
        defn = temporalio.workflow._Definition.must_from_class(signed_workflow_module.SignedWorkflow)
        SandboxedWorkflowRunner().prepare_workflow(defn)

    try:
        asyncio.run(prepare())
    finally:
        sys.modules.pop("signed_workflow_module", None)


def test_verify_lists_each_log_and_fails_an_unsigned_row_only_where_signatures_were_required(
    sm_key: Ed25519PrivateKey,
) -> None:
    keys = [staff_key(SM, sm_key)]
    complaint = SignedAction(
        workflow_id=WF, action=ACTION, actor=SM, payload=approval(), signature=signed(sm_key), at=NOW
    )
    # The investigation is another workflow: the same nonce there is no replay of the complaint's.
    investigation = complaint.model_copy(
        update={
            "workflow_id": f"investigation-{WF.removeprefix('complaint-')}",
            "signature": sign(sm_key, f"investigation-{WF.removeprefix('complaint-')}", ACTION, approval(), NOW, NONCE),
        }
    )
    unsigned = complaint.model_copy(update={"signature": None, "at": NOW + timedelta(seconds=5)})
    entries = [("complaint", 3, complaint), ("complaint", 7, unsigned), ("investigation", 2, investigation)]

    lenient = recheck_log(entries, keys, WINDOW, signatures_required=False)
    assert [(r.log, r.seq, r.ok, r.result) for r in lenient] == [
        ("complaint", 3, True, "verified"),
        ("complaint", 7, True, UNSIGNED_UNDER_RECORD),
        ("investigation", 2, True, "verified"),
    ]
    strict = recheck_log(entries, keys, WINDOW, signatures_required=True)
    assert [r.ok for r in strict] == [True, False, True]
    assert strict[1].result.startswith("unsigned, but its policy requires signatures")
    assert strict[1].key_id is None and strict[0].key_id == keys[0].key_id
