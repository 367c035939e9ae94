"""Contact details and free text encrypted at rest in the projection, with the payload key ring.

A sealed value is one string::

    sealed:v1:<key id>:<base64(12-byte nonce || AES-256-GCM ciphertext || 16-byte tag)>

sealed with the key ring's current key (``complaints/codec.py``; the same ring that encrypts
Temporal's payloads) and, as associated data, the place it belongs (``complaints.customer_name``,
``complaint_events.detail.reason``): a value copied into another column or member does not open
there. Reading picks the key by the value's key id, so rows written before a rotation still read;
a key id the ring lacks fails with ``MissingSealingKey`` (a ``MissingEncryptionKey``) naming it.
A value that is not in this form (written with no key ring configured, or before sealing existed)
reads as it is, so a table may hold clear and sealed rows side by side. With no key ring (``COMPLAINTS_CODEC_KEYS_FILE
=none``) nothing is sealed.

Three column types apply it at the SQLAlchemy boundary, so every ORM and Core read and write goes
through them (README, 'The projection: encrypted at rest'):

- ``SealedText``: a text column, sealed whole (``complaints.customer_name``, ``outbox.body`` ...);
- ``SealedJSON``: a JSON column sealed whole, stored as one JSON string (``complaints.snapshot``);
- ``SealedDetail``: an audit-log ``detail`` object whose free-text members
  (``domain.personal_data.SEALED_DETAIL_MEMBERS``) are sealed one by one, each member's JSON value
  as a sealed string, while its structural members (codes, ids, times) stay clear for SQL.

The ring is the process's: read once from the settings (``Settings()``: the worker's, the CLI's)
on first use. ``sealing_with`` sets another inside a block, for the process or for one engine
(a test's own database, while the session's shared one stays without).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, Column, Dialect, Engine, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from complaints.codec import (
    NONCE_BYTES,
    DecryptionFailed,
    KeyRing,
    KeyRingError,
    MissingEncryptionKey,
    load_key_ring,
)
from complaints.config import Settings
from domain.personal_data import SEALED_DETAIL_MEMBERS

PREFIX = "sealed:v1:"
TAG_BYTES = 16
_SEALED = re.compile(r"^sealed:v1:([A-Za-z0-9][A-Za-z0-9._-]{0,63}):([A-Za-z0-9+/]+={0,2})$")
_AAD = "complaints-sealed/v1|"


class MissingSealingKey(MissingEncryptionKey):
    """A value in the database was sealed with a key the key ring does not hold."""

    def __init__(self, key_id: str, source: str) -> None:
        self.key_id = key_id
        KeyRingError.__init__(
            self,
            f"a value in the database was sealed with key {key_id!r}, which the key ring ({source}) does not hold; "
            f"add key {key_id!r} to it (a rotation keeps the old keys: never drop one while rows need it)",
        )


class Sealer:
    """AES-256-GCM over one key ring: seals with its current key, opens with any of its keys."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    def seal(self, text: str, where: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.ring.current].encrypt(nonce, text.encode("utf-8"), (_AAD + where).encode())
        return f"{PREFIX}{self.ring.current}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, key_id: str, blob: bytes, where: str) -> str:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise MissingSealingKey(key_id, self.ring.source)
        try:
            plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], (_AAD + where).encode())
        except InvalidTag:
            raise DecryptionFailed(
                f"the value of {where} sealed with key {key_id!r} does not open with the key of that id in the key "
                f"ring ({self.ring.source}): the key was replaced, or the value altered or moved from another column"
            ) from None
        return plain.decode("utf-8")


_UNSET = object()
_lock = threading.Lock()
_default: Sealer | object | None = _UNSET  # the process's: the settings' key ring, read on first use
_by_engine: weakref.WeakKeyDictionary[Dialect, Sealer | None] = weakref.WeakKeyDictionary()


def _sealer_of(ring: KeyRing | None) -> Sealer | None:
    return Sealer(ring) if ring is not None else None


def sealer_for(dialect: Dialect | None = None) -> Sealer | None:
    """The sealer of the engine whose dialect this is, else the process's (read once from the settings)."""
    global _default
    if dialect is not None:
        bound = _by_engine.get(dialect, _UNSET)
        if bound is not _UNSET:
            return bound  # type: ignore[return-value]
    if _default is _UNSET:
        with _lock:
            if _default is _UNSET:
                _default = _sealer_of(load_key_ring(Settings()))
    return _default  # type: ignore[return-value]


@contextmanager
def sealing_with(ring: KeyRing | None, engine: Engine | None = None) -> Iterator[None]:
    """Seal with ``ring`` inside the block (on ``engine`` alone, or on every engine), then as before (tests)."""
    global _default
    with _lock:
        if engine is None:
            before, _default = _default, _sealer_of(ring)
        else:
            before = _by_engine.get(engine.dialect, _UNSET)
            _by_engine[engine.dialect] = _sealer_of(ring)
    try:
        yield
    finally:
        with _lock:
            if engine is None:
                _default = before
            elif before is _UNSET:
                _by_engine.pop(engine.dialect, None)
            else:
                _by_engine[engine.dialect] = before  # type: ignore[assignment]


def _parse(value: str) -> tuple[str, bytes] | None:
    """The key id and bytes of a sealed value; None for anything else (a clear value)."""
    if not value.startswith(PREFIX):
        return None
    match = _SEALED.match(value)
    if match is None:
        return None
    try:
        blob = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        return None
    return (match.group(1), blob) if len(blob) >= NONCE_BYTES + TAG_BYTES else None


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and _parse(value) is not None


def sealed_key_id(value: str) -> str | None:
    """The key id a sealed value names (None for a clear one): what a rotation still needs."""
    parsed = _parse(value)
    return parsed[0] if parsed else None


def seal_text(value: str, where: str, dialect: Dialect | None = None) -> str:
    """``value`` sealed for ``where`` (table.column[.member]); as it is when no ring is configured."""
    sealer = sealer_for(dialect)
    return sealer.seal(value, where) if sealer is not None and value else value


def unseal_text(value: str, where: str, dialect: Dialect | None = None) -> str:
    """The clear text of a sealed value; a clear value as it is."""
    parsed = _parse(value)
    if parsed is None:
        return value
    sealer = sealer_for(dialect)
    if sealer is None:
        raise MissingSealingKey(parsed[0], "none is configured: COMPLAINTS_CODEC_KEYS_FILE=none, or no file")
    return sealer.open(parsed[0], parsed[1], where)


def seal_json(value: Any, where: str, dialect: Dialect | None = None) -> Any:
    """Any JSON value sealed whole, as one sealed string (empty values and None stay as they are)."""
    if value in (None, "", [], {}) or sealer_for(dialect) is None:
        return value
    return seal_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")), where, dialect)


def unseal_json(value: Any, where: str, dialect: Dialect | None = None) -> Any:
    return json.loads(unseal_text(value, where, dialect)) if is_sealed(value) else value


def seal_detail(detail: Mapping[str, Any], table: str, dialect: Dialect | None = None) -> dict[str, Any]:
    """An event's detail with each free-text member's value sealed; the structural members clear."""
    return {
        key: seal_json(value, f"{table}.detail.{key}", dialect) if key in SEALED_DETAIL_MEMBERS else value
        for key, value in detail.items()
    }


def unseal_detail(detail: Mapping[str, Any], table: str, dialect: Dialect | None = None) -> dict[str, Any]:
    return {key: unseal_json(value, f"{table}.detail.{key}", dialect) for key, value in detail.items()}


class SealedText(TypeDecorator[str]):
    """A text column whose values are sealed at rest (TEXT: a sealed value is longer than its text)."""

    impl = Text
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else seal_text(value, self.where, dialect)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else unseal_text(value, self.where, dialect)


class SealedJSON(TypeDecorator[Any]):
    """A JSON column sealed whole: no SQL may read into it (the case file, an investigation's file)."""

    impl = JSON
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return seal_json(value, self.where, dialect)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return unseal_json(value, self.where, dialect)


class SealedDetail(TypeDecorator[Any]):
    """An audit log's ``detail``: free-text members sealed one by one, the rest clear for SQL."""

    impl = JSON
    cache_ok = True

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return seal_detail(value, self.table, dialect) if isinstance(value, Mapping) else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        # A whole detail is a dict; a member read in SQL (detail["escalated_to"]) is structural.
        return unseal_detail(value, self.table, dialect) if isinstance(value, dict) else value


def sealed_json(column_type: SealedJSON | SealedDetail, default: Callable[[], Any] = dict) -> Any:
    """A table model's non-null JSON field of a sealed type (``db/tables.py``)."""
    return Field(default_factory=default, sa_column=Column(column_type, nullable=False))
