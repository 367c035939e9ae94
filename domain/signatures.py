"""Signed staff actions (issue 16): the canonical form a staff member signs, signing, and the check.

Pure and deterministic, so a workflow's update validator may call ``verify``: no I/O, no clock (the
caller passes ``now``, in a workflow ``workflow.now()``), no randomness (the client draws the
nonce, ``complaints.keys``). Ed25519 signing and verifying are deterministic functions of their
inputs (RFC 8032). A workflow imports this module under ``workflow.unsafe.imports_passed_through()``
(as it does the other domain modules): cryptography's Rust extension cannot be imported afresh
inside the sandbox.

The canonical form (version ``complaints-staff-action/1``)
-----------------------------------------------------------
What is signed is the UTF-8 encoding of one JSON object with exactly these members::

    {"action":A,"issued_at":T,"nonce":N,"payload":P,"v":"complaints-staff-action/1","workflow_id":W}

- ``W`` the workflow id the action goes to (``complaint-CMP-…``), ``A`` the action's name (the
  update or signal, e.g. ``decide_resolution``): a signature is good for one action on one workflow.
- ``T`` the issued-at time, ``N`` the nonce (128 random bits, url-safe base64): both also in the
  ``Signature`` sent alongside.
- ``P`` the request: its ``model_dump(mode="json")`` without its ``signature`` field
  (``signed_payload``), which includes ``actor``, so the signature also says who claims to act.

Written as JSON with:

- object members sorted by key (Unicode code point order), keys strings only;
- no whitespace at all: ``,`` between items and ``:`` after keys;
- strings as themselves (non-ASCII characters as UTF-8, not ``\\u`` escapes; ``"``, ``\\`` and
  control characters escaped as Python's ``json`` does: ``\\n``, ``\\t``, ``\\u001f``); no Unicode
  normalisation: the same string gives the same bytes;
- ``true``, ``false``, ``null``; integers in decimal; floats as Python's shortest round-trip repr
  (both ends are this code), NaN and infinities refused;
- ``Decimal`` as a JSON string of ``str(d)`` (pydantic's JSON form: ``"2000000.00"``), never a number;
- an aware ``datetime`` as a string in UTC with microseconds and ``Z``: ``"2026-11-30T03:30:00.000000Z"``
  (a naive one is refused); a ``date`` as ``"2026-11-30"``; an enum as its value; a tuple as an array.

Anything else (bytes, sets, objects) is refused, so nothing is signed in a form the other end might
write differently. A payload from ``model_dump(mode="json")`` already holds only strings, numbers,
booleans, null, lists and dicts (its datetimes and Decimals are pydantic's strings), and a request
validated again in the workflow dumps to the same JSON, so the client and the workflow build the
same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Container, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel

from models.signature import Signature, SignedAction, StaffKey, VerifiedAction, key_id_of

VERSION = "complaints-staff-action/1"


class CanonicalError(ValueError):
    """A value the canonical form does not write (the request cannot be signed as it is)."""


def utc_text(moment: datetime) -> str:
    """An aware datetime in the canonical form: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CanonicalError(f"naive datetime {moment.isoformat()}: a signed time must carry its time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any, where: str) -> Any:
    """The value as JSON-ready Python (dict, list, str, int, float, bool, None), or CanonicalError."""
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, Enum)):
        return value
    if isinstance(value, Enum):
        return _plain(value.value, where)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalError(f"{where}: {value} has no JSON form")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalError(f"{where}: {value} has no JSON form")
        return str(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{where}: key {key!r} is not a string")
            out[key] = _plain(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise CanonicalError(f"{where}: a {type(value).__name__} has no canonical form")


def canonical(workflow_id: str, action: str, payload: Mapping[str, Any], issued_at: datetime, nonce: str) -> bytes:
    """The bytes a staff member signs for one action (the module's docstring defines them)."""
    document = {
        "action": action,
        "issued_at": utc_text(issued_at),
        "nonce": nonce,
        "payload": _plain(payload, "payload"),
        "v": VERSION,
        "workflow_id": workflow_id,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def signed_payload(request: BaseModel) -> dict[str, Any]:
    """The payload a request's signature covers: its JSON dump without its ``signature`` field."""
    return request.model_dump(mode="json", exclude={"signature"})


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key of a private key, in standard base64 (as the staff directory keeps it)."""
    return base64.b64encode(private_key.public_key().public_bytes_raw()).decode("ascii")


def sign(
    private_key: Ed25519PrivateKey,
    workflow_id: str,
    action: str,
    payload: Mapping[str, Any],
    issued_at: datetime,
    nonce: str,
) -> Signature:
    """Sign one action (the client draws ``nonce`` and reads ``issued_at`` from its clock)."""
    message = canonical(workflow_id, action, payload, issued_at, nonce)
    return Signature(
        key_id=key_id_of(private_key.public_key().public_bytes_raw()),
        issued_at=issued_at,
        nonce=nonce,
        signature=base64.b64encode(private_key.sign(message)).decode("ascii"),
    )


def signature_matches(public_key: str, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is the Ed25519 signature of ``message`` by ``public_key`` (base64 raw)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def when(moment: datetime) -> str:
    """A time in a refusal, to the second: ``2026-11-30 03:30:05 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(span: timedelta) -> str:
    """``5 min``, ``2 min 30 s``, ``1 h 5 min``, ``45 s``, ``3 days`` (whole seconds)."""
    seconds = int(abs(span).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs or not parts else []
    return " ".join(parts)


def key_refusal(key: StaffKey, at: datetime, now: datetime | None = None) -> str | None:
    """Why ``key`` does not vouch for what was issued at ``at`` (checked at ``now``), or None.

    Revoked: from ``revoked_at`` on, nothing it signs counts, whether the request was issued or
    is checked after that moment (a revocation may be dated back to when the key was lost).
    Outside its window: issued before ``valid_from`` or at or after ``valid_until``.
    """
    latest = at if now is None else max(at, now)
    if key.revoked_at is not None and key.revoked_at <= latest:
        why = f": {key.revoked_reason}" if key.revoked_reason else ""
        return f"key {key.key_id} of {key.staff_id} was revoked at {when(key.revoked_at)}{why}"
    if at < key.valid_from:
        return (
            f"key {key.key_id} of {key.staff_id} was not yet valid when the request was issued "
            f"({when(at)}; valid from {when(key.valid_from)})"
        )
    if key.valid_until is not None and at >= key.valid_until:
        return (
            f"key {key.key_id} of {key.staff_id} had expired when the request was issued "
            f"({when(at)}; valid until {when(key.valid_until)})"
        )
    return None


def verify(
    keys: Iterable[StaffKey],
    actor: str,
    workflow_id: str,
    action: str,
    payload: Mapping[str, Any],
    signature: Signature | None,
    now: datetime,
    window: timedelta,
    seen_nonces: Container[str],
) -> str | None:
    """Why the signed action must be refused, in plain words, or None when it stands.

    ``keys``: the registered keys (any staff; only ``actor``'s count). ``now``: the workflow's
    time. ``window``: how far issued-at may be from ``now`` either way. ``seen_nonces``: the
    nonces of actions already accepted (a set, or a dict nonce -> issued-at, ``prune_nonces``).

    The checks run in this order, and the first failure is the reason: unsigned; the key unknown,
    or not the actor's; revoked; the signature not matching (nothing signed is trusted before this:
    issued-at and the nonce are read only once the signature vouches for them); issued-at outside
    the key's validity; issued-at outside the window of ``now``; the nonce seen before.
    """
    if signature is None:
        return f"unsigned: {action} by {actor} carries no signature, so nothing proves {actor} sent it"
    known = [k for k in keys if k.key_id == signature.key_id]
    if not known:
        return f"unknown key {signature.key_id}: not a registered key of {actor}"
    mine = [k for k in known if k.staff_id == actor]
    if not mine:
        owner = known[0].staff_id
        return f"key {signature.key_id} is registered to {owner}, not to {actor}: the request claims another actor"
    key = mine[0]
    if key.revoked_at is not None and key.revoked_at <= now:
        return key_refusal(key, signature.issued_at, now)
    try:
        message = canonical(workflow_id, action, payload, signature.issued_at, signature.nonce)
    except CanonicalError as e:
        return f"bad signature: the request has no canonical form ({e})"
    if not signature_matches(key.public_key, message, signature.signature):
        return (
            f"bad signature: key {key.key_id} of {actor} did not sign this request "
            f"({action} on {workflow_id} with exactly this content): altered, or signed for something else"
        )
    refusal = key_refusal(key, signature.issued_at, now)
    if refusal:
        return refusal
    skew = signature.issued_at - now
    if abs(skew) > window:
        side = "before" if skew < timedelta(0) else "after"
        return (
            f"issued at {when(signature.issued_at)}, {duration(skew)} {side} the workflow's time "
            f"{when(now)}: outside the ±{duration(window)} a signed request is good for"
        )
    if signature.nonce in seen_nonces:
        return f"replayed: nonce {signature.nonce} was already used by an accepted action; sign the request afresh"
    return None


def prune_nonces(seen: Mapping[str, datetime], now: datetime, window: timedelta) -> dict[str, datetime]:
    """The nonces still worth remembering: those issued no more than ``window`` before ``now``.

    An older request fails the window check whatever its nonce, so its nonce may be forgotten:
    the set stays as small as the actions of one window.
    """
    return {nonce: issued for nonce, issued in seen.items() if issued >= now - window}


def recheck(actions: Iterable[SignedAction], keys: Iterable[StaffKey], window: timedelta) -> list[tuple[int, str]]:
    """Check every signed action of one audit log again, in order: ``(index, reason)`` of each that fails.

    Each is checked as its workflow checked it, at ``at``, with the keys as they are now (a
    revocation dated back before an action fails it), and against the nonces of the actions
    before it (a row copied by hand fails as a replay). An altered payload, actor, action or
    workflow id fails as a bad signature; a removed signature as unsigned.
    """
    known = list(keys)
    seen: set[str] = set()
    failures: list[tuple[int, str]] = []
    for index, item in enumerate(actions):
        reason = verify(
            known, item.actor, item.workflow_id, item.action, item.payload, item.signature, item.at, window, seen
        )
        if reason:
            failures.append((index, reason))
        if item.signature is not None:
            seen.add(item.signature.nonce)
    return failures


UNSIGNED_UNDER_RECORD = "unsigned (accepted: signing was record)"


def recheck_log(
    entries: Iterable[tuple[str, int, SignedAction]],
    keys: Iterable[StaffKey],
    window: timedelta,
    signatures_required: bool,
) -> list[VerifiedAction]:
    """``complaints verify``: each ``(log, seq, action)`` of a complaint's audit logs, checked again.

    Each log (the complaint's, its investigation's) is its own workflow, so its nonces are its
    own. An action the complaint accepted unsigned (its policy's signing was ``record``) is listed
    as such; where the complaint's policy requires signatures, an unsigned row fails: it was not
    written by the complaint as it stands.
    """
    known, listed = list(keys), list(entries)
    failures: dict[int, str] = {}
    for log in dict.fromkeys(where for where, _, _ in listed):
        mine = [(i, action) for i, (where, _, action) in enumerate(listed) if where == log]
        for j, reason in recheck([action for _, action in mine], known, window):
            index, action = mine[j]
            if action.signature is not None:
                failures[index] = reason
            elif signatures_required:
                failures[index] = f"unsigned, but its policy requires signatures ({reason})"
    return [
        VerifiedAction(
            log=log,
            seq=seq,
            at=action.at,
            action=action.action,
            actor=action.actor,
            key_id=action.signature.key_id if action.signature else None,
            ok=i not in failures,
            result=failures.get(i) or ("verified" if action.signature else UNSIGNED_UNDER_RECORD),
        )
        for i, (log, seq, action) in enumerate(listed)
    ]
