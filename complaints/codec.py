"""Encrypted payloads: an AES-GCM payload codec on every client and worker, and its key ring.

Every payload the SDK sends to Temporal (workflow and activity inputs and results, signals,
updates, queries' answers, memos, failures' details, and the Web UI's summary and details,
which are payloads too) is serialized, encrypted with the key ring's current key, and sent as

    metadata: {encoding: binary/encrypted, encryption-key-id: <key id>}
    data:     12-byte nonce || AES-256-GCM(serialized payload)

the layout of Temporal's own sample (samples-python/encryption), so its tools read ours.
Decoding picks the key by the payload's key id, so after a rotation old payloads still decode;
a payload without that encoding (written before encryption was on) passes through unchanged.
Search attributes and workflow ids are not payloads the codec sees: they stay in clear
(README, 'Encryption').

The key ring comes from the environment (``COMPLAINTS_CODEC_KEYS=k2:<base64>,k1:<base64>``,
the first current) or a file (``COMPLAINTS_CODEC_KEYS_FILE``; unset, ``.data/codec-keys.json``
when it exists, which `make run` creates), never the repository:

    {"current": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "..."}, "login_secret": "<base64>"}

``login_secret`` keys the codec server's staff sign-in tokens (complaints/codec_server.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from complaints.config import DEFAULT_DATA_DIR, Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
DEFAULT_KEYS_FILE = DEFAULT_DATA_DIR / "codec-keys.json"
DISABLED = ("none", "off", "false")
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyRingError(ValueError):
    """The key ring is missing, unreadable or malformed (the message says which and where)."""


class MissingEncryptionKey(KeyRingError):
    """A payload was encrypted with a key the key ring does not hold."""

    def __init__(self, key_id: str, source: str) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload encrypted with key {key_id!r}, which the key ring ({source}) does not hold; "
            f"add key {key_id!r} to it (a rotation keeps the old keys: never drop one while histories need it)"
        )


class DecryptionFailed(KeyRingError):
    """The key id is known but the payload does not decrypt with it (wrong key or tampered)."""


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: Mapping[str, bytes]
    source: str  # where it came from, for error messages: never the keys themselves
    login_secret: bytes = b""

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError(f"the key ring ({self.source}) holds no keys")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                raise KeyRingError(f"key ring ({self.source}): key id {key_id!r} is not [A-Za-z0-9._-], 1-64 chars")
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"key ring ({self.source}): key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
        if self.current not in self.keys:
            raise KeyRingError(f"key ring ({self.source}): the current key {self.current!r} is not among its keys")

    def __repr__(self) -> str:  # never print the keys
        return f"KeyRing(current={self.current!r}, key_ids={sorted(self.keys)!r}, source={self.source!r})"


def _b64(value: Any, what: str, source: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyRingError(f"key ring ({source}): {what} is not base64: {err}") from None


def parse_inline_keys(text: str, *, source: str = "COMPLAINTS_CODEC_KEYS", login_secret: bytes = b"") -> KeyRing:
    """``k2:<base64>,k1:<base64>``: the first is the current key."""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key_id, sep, value = item.partition(":")
        if not sep:
            raise KeyRingError(f"key ring ({source}): {item[:8]!r}… is not <key id>:<base64 key>")
        key_id = key_id.strip()
        if key_id in keys:
            raise KeyRingError(f"key ring ({source}): key id {key_id!r} appears twice")
        keys[key_id] = _b64(value.strip(), f"key {key_id!r}", source)
        order.append(key_id)
    if not order:
        raise KeyRingError(f"the key ring ({source}) holds no keys")
    return KeyRing(current=order[0], keys=keys, source=source, login_secret=login_secret)


def read_key_file(path: Path) -> KeyRing:
    source = f"COMPLAINTS_CODEC_KEYS_FILE={path}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
    except FileNotFoundError:
        raise KeyRingError(f"key ring file {path} does not exist (`complaints codec init --file {path}`)") from None
    except (OSError, yaml.YAMLError) as err:
        raise KeyRingError(f"key ring file {path} cannot be read: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), dict) or not raw.get("current"):
        raise KeyRingError(f"key ring file {path} must hold {{current: <key id>, keys: {{<key id>: <base64>}}}}")
    keys = {str(k): _b64(v, f"key {k!r}", source) for k, v in raw["keys"].items()}
    secret = _b64(raw["login_secret"], "login_secret", source) if raw.get("login_secret") else b""
    return KeyRing(current=str(raw["current"]), keys=keys, source=source, login_secret=secret)


def key_ring_file(settings: Settings) -> Path | None:
    """The file the settings name: explicit, else the default one if it exists; None if disabled."""
    value = settings.codec_keys_file
    if value.lower() in DISABLED:
        return None
    if value:
        return Path(value)
    return DEFAULT_KEYS_FILE if DEFAULT_KEYS_FILE.exists() else None


def load_key_ring(settings: Settings | None = None) -> KeyRing | None:
    """The configured key ring, or None when encryption is off (no keys anywhere)."""
    settings = settings or Settings()
    path = key_ring_file(settings)
    ring = read_key_file(path) if path is not None and not settings.codec_keys else None
    if settings.codec_keys:
        ring = parse_inline_keys(settings.codec_keys)
    if ring is not None and settings.codec_login_secret:
        ring = dataclasses.replace(ring, login_secret=settings.codec_login_secret.encode())
    return ring


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with a 12-byte random nonce; the key id travels in the payload's metadata."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.ring.current].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self.ring.current.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # never encrypted (written before encryption was on)
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise MissingEncryptionKey(key_id, self.ring.source)
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise DecryptionFailed(
                f"payload encrypted with key {key_id!r} does not decrypt with the key of that id in the key ring "
                f"({self.ring.source}): the key was replaced, or the payload altered"
            ) from None
        return Payload.FromString(plain)


def data_converter(settings: Settings | None = None) -> DataConverter:
    """The project's converter: pydantic, with the encryption codec when a key ring is configured."""
    ring = load_key_ring(settings)
    if ring is None:
        return pydantic_data_converter
    # Failures' messages and stack traces are text outside any payload (an SMTP refusal names
    # the recipient's address): with encoded attributes they move into an encrypted payload too.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# --- the key ring file: create and rotate (`complaints codec init|rotate`) ---------------------


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _write_private(path: Path, document: Mapping[str, Any]) -> None:
    """Write atomically, readable by the owner only (0600) from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_key_ring(path: Path, *, if_missing: bool = False) -> KeyRing:
    """A new key ring file with one random key (k1) and a sign-in secret; refuses to overwrite one."""
    if path.exists():
        if if_missing:
            return read_key_file(path)
        raise KeyRingError(f"{path} exists; `complaints codec rotate --file {path}` adds a key to it")
    _write_private(path, {"current": "k1", "keys": {"k1": _new_key()}, "login_secret": _new_key()})
    return read_key_file(path)


def rotate_key_ring(path: Path) -> KeyRing:
    """Add a random key and make it current; the old keys stay, so old payloads still decode."""
    ring = read_key_file(path)
    numbers = [int(m.group(1)) for k in ring.keys if (m := re.fullmatch(r"k(\d+)", k))]
    new_id = f"k{max(numbers, default=0) + 1}"
    while new_id in ring.keys:  # pragma: no cover - only with hand-named keys
        new_id = f"{new_id}-{secrets.token_hex(2)}"
    keys = {k: base64.b64encode(v).decode() for k, v in ring.keys.items()}
    keys[new_id] = _new_key()
    document: dict[str, Any] = {"current": new_id, "keys": keys}
    document["login_secret"] = base64.b64encode(ring.login_secret).decode() if ring.login_secret else _new_key()
    _write_private(path, document)
    return read_key_file(path)
