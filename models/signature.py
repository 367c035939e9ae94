"""Signed staff actions (issue 16): a request's signature, a staff member's public key, and the keys CLI's models.

A staff action names its actor (``--as``); the signature proves the actor sent it. Each member of
staff holds an Ed25519 key pair: the private key in their own configuration directory
(``complaints.keys``), the public key in the ``staff_keys`` table, where a senior manager or
compliance registers it. ``domain.signatures`` signs and verifies.

The key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key
(``key_id_of``): derived from the key itself, so every client, the workflow and ``complaints
verify`` compute the same id without asking anyone, no id can be claimed for another key
(registration recomputes it), a rotated key gets a new id, and 16 characters are short enough to
type in ``keys revoke``. 64 bits make an accidental collision among a lender's few thousand keys
negligible (about 2^32 keys for an even chance), and it is the table's primary key, so even one
would be refused at registration, never confused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.base import PolicyModel

STAFF_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"  # also a safe file name (keys/<staff_id>.ed25519)
KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
NONCE_PATTERN = r"^[A-Za-z0-9_-]{22}$"  # 128 random bits, url-safe base64 without padding

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def _base64_of(length: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"{what}: not standard base64 ({e})") from e
        if len(raw) != length:
            raise ValueError(f"{what}: {len(raw)} bytes, an Ed25519 {what} has {length}")
        return value

    return AfterValidator(check)


PublicKeyB64 = Annotated[str, Field(min_length=44, max_length=44), _base64_of(PUBLIC_KEY_BYTES, "public key")]
SignatureB64 = Annotated[str, Field(min_length=88, max_length=88), _base64_of(SIGNATURE_BYTES, "signature")]
KeyId = Annotated[str, Field(pattern=KEY_ID_PATTERN)]
StaffId = Annotated[str, Field(pattern=STAFF_ID_PATTERN)]


def key_id_of(public_key: bytes | str) -> str:
    """The key id of a raw 32-byte public key (or its base64): first 16 hex digits of its SHA-256."""
    raw = base64.b64decode(public_key, validate=True) if isinstance(public_key, str) else public_key
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key has {PUBLIC_KEY_BYTES} bytes, not {len(raw)}")
    return hashlib.sha256(raw).hexdigest()[:16]


class SigningMode(StrEnum):
    """What a complaint does with staff actions' signatures (the policy's ``signing.mode``, pinned per complaint).

    - ``off``: not checked (complaints opened before signing; a policy that has no ``signing``).
    - ``record``: a signature that is there must hold (else the action is refused); an unsigned
      action is accepted and the audit log says it was unsigned. For moving a team over.
    - ``require``: every staff action must be signed by a registered, valid key of its actor.
    """

    OFF = "off"
    RECORD = "record"
    REQUIRE = "require"


class SigningPolicy(PolicyModel):
    """The policy's ``signing`` section."""

    mode: SigningMode = Field(
        default=SigningMode.OFF, description="off, record (unsigned accepted and marked) or require."
    )
    window_seconds: int = Field(
        default=300,
        ge=10,
        le=3600,
        description="How far a signed request's issued-at may be from the workflow's time, either way "
        "(real clock skew and transit: not compressed with the policy's clocks).",
    )


class Signature(BaseModel):
    """What a client attaches to a staff action: which key signed, when, a one-time nonce, the signature.

    ``signature`` is the Ed25519 signature over ``domain.signatures.canonical(workflow_id, action,
    payload, issued_at, nonce)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: KeyId
    issued_at: AwareDatetime
    nonce: Annotated[str, Field(pattern=NONCE_PATTERN)]
    signature: SignatureB64


class StaffKey(BaseModel):
    """A registered public key of a staff member, with its validity window and any revocation.

    A key is good for a request issued at ``t`` when ``valid_from <= t`` and (no ``valid_until`` or
    ``t < valid_until``) and it was not revoked by then. Rotation registers a new key and ends the
    old one with ``valid_until``; several keys of one person may be valid at once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    staff_id: StaffId
    key_id: KeyId
    public_key: PublicKeyB64
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    revoked_at: AwareDatetime | None = None
    revoked_reason: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StaffKey:
        if key_id_of(self.public_key) != self.key_id:
            raise ValueError(f"key id {self.key_id} is not the id of this public key ({key_id_of(self.public_key)})")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class SignedAction(BaseModel):
    """A signed action as the audit log keeps it, for ``complaints verify`` to check again.

    ``payload`` is exactly what was signed (the request's JSON without its signature), kept as
    sent: re-checking does not depend on the request models of the day. ``at`` is the workflow's
    time when it accepted the action (the ``now`` its validator checked against).
    """

    model_config = ConfigDict(extra="forbid")

    workflow_id: str
    action: str
    actor: str
    payload: dict[str, Any]
    signature: Signature | None
    at: AwareDatetime


# -- the keys CLI ---------------------------------------------------------------------------


class KeyInitResult(BaseModel):
    """``complaints keys init``: the new key, where its private half is, and any key it replaces."""

    staff_id: str
    key_id: str
    public_key: str
    path: str
    replaces: str | None = None  # the key id of the key --rotate set aside (kept on disk, still usable)


class RegisterKeyRequest(BaseModel):
    """``complaints keys register``: a senior manager or compliance adds a staff member's public key."""

    model_config = ConfigDict(extra="forbid")

    actor: StaffId
    staff_id: StaffId
    public_key: PublicKeyB64
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    replaces: KeyId | None = None  # ended at this key's valid_from: the rotation is registered
    signature: Signature | None = None  # the registrar's own signature over the rest

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)


class RevokeKeyRequest(BaseModel):
    """``complaints keys revoke``: the owner, a senior manager or compliance withdraws a key."""

    model_config = ConfigDict(extra="forbid")

    actor: StaffId
    key_id: KeyId
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    # From when nothing it signs counts: now, or earlier (when the key is thought compromised).
    effective_at: AwareDatetime
    signature: Signature | None = None


class StaffKeyRow(BaseModel):
    """A row of ``keys list``: the key and who added or revoked it."""

    staff_id: str
    key_id: str
    public_key: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoked_reason: str | None
    added_by: str
    added_at: datetime

    def as_key(self) -> StaffKey:
        return StaffKey.model_validate(self.model_dump(include=set(StaffKey.model_fields)))


class VerifiedAction(BaseModel):
    """A line of ``complaints verify``: one signed action of the audit log, checked again."""

    log: str  # "complaint" or "investigation": whose audit log
    seq: int
    at: datetime
    action: str
    actor: str
    key_id: str | None
    ok: bool
    result: str  # "verified", "unsigned (…)" or the reason it fails


# -- the cross-complaint workflows' staff actions ---------------------------------------------


class SigningRequest(BaseModel):
    """What a cross-complaint workflow asks for when it loads its signing set-up."""

    workflow_id: str


class SigningSetup(BaseModel):
    """A cross-complaint workflow's signing: the policy's mode and window when it started, and the
    registered keys of active staff (re-read on ``refresh_staff_keys``)."""

    mode: SigningMode
    window_seconds: int
    keys: list[StaffKey] = Field(default_factory=list)
    # The nonces this workflow id already accepted (its kept actions), with their issued-at: a run
    # started again under the same id (a refused or terminated one's) refuses their replay too.
    nonces: dict[str, datetime] = Field(default_factory=dict)


class SigningCarried(BaseModel):
    """What a cross-complaint workflow carries across continue-as-new (None mode: not loaded yet)."""

    mode: SigningMode | None = None
    window_seconds: int = 300
    keys: list[StaffKey] = Field(default_factory=list)
    nonces: dict[str, datetime] = Field(default_factory=dict)
