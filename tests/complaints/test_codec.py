"""The payload codec and its key ring, without a server (issue 16, part 2)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from complaints.codec import (
    ENCODING,
    KEY_ID_METADATA,
    DecryptionFailed,
    EncryptionCodec,
    KeyRing,
    KeyRingError,
    MissingEncryptionKey,
    data_converter,
    load_key_ring,
    parse_inline_keys,
    read_key_file,
    rotate_key_ring,
    write_key_ring,
)
from complaints.config import Settings
from complaints.devserver import dev_server_command

CLI = str(Path(sys.executable).parent / "complaints")

NAME, EMAIL, PHONE = "Zhang Wei-Codec", "zhang.codec@example.test", "+86 21 5555 0777"


def key(n: int) -> bytes:
    return bytes([n]) * 32


def ring(current: str, *ids: str) -> KeyRing:
    return KeyRing(current=current, keys={i: key(int(i[1:])) for i in ids}, source="test")


def plain(text: str) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([text])[0]


async def test_a_payload_round_trips_and_its_bytes_hold_no_personal_data() -> None:
    codec = EncryptionCodec(ring("k1", "k1"))
    original = plain(f"{NAME} <{EMAIL}> {PHONE}")
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == b"k1"
    raw = sealed.SerializeToString()
    for secret in (NAME, EMAIL, PHONE, "json/plain"):
        assert secret.encode() not in raw
    assert await codec.decode([sealed]) == [original]
    # A fresh nonce each time: the same payload never encrypts to the same bytes.
    [again] = await codec.encode([original])
    assert again.data != sealed.data


async def test_after_a_rotation_new_payloads_use_the_new_key_and_old_ones_still_decode() -> None:
    old = EncryptionCodec(ring("k1", "k1"))
    [sealed_old] = await old.encode([plain("before")])
    rotated = EncryptionCodec(ring("k2", "k1", "k2"))
    [sealed_new] = await rotated.encode([plain("after")])
    assert sealed_new.metadata[KEY_ID_METADATA] == b"k2"
    assert await rotated.decode([sealed_old, sealed_new]) == [plain("before"), plain("after")]


async def test_a_payload_of_a_key_the_ring_lacks_fails_naming_the_key_id() -> None:
    [sealed] = await EncryptionCodec(ring("k0", "k0")).encode([plain("x")])
    codec = EncryptionCodec(KeyRing(current="k1", keys={"k1": key(1)}, source="COMPLAINTS_CODEC_KEYS_FILE=/x.json"))
    with pytest.raises(MissingEncryptionKey) as err:
        await codec.decode([sealed])
    assert err.value.key_id == "k0"
    assert "'k0'" in str(err.value) and "COMPLAINTS_CODEC_KEYS_FILE=/x.json" in str(err.value)


async def test_a_replaced_key_or_an_altered_payload_is_refused() -> None:
    [sealed] = await EncryptionCodec(ring("k1", "k1")).encode([plain("x")])
    replaced = EncryptionCodec(KeyRing(current="k1", keys={"k1": key(9)}, source="test"))
    with pytest.raises(DecryptionFailed, match="'k1'"):
        await replaced.decode([sealed])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        await EncryptionCodec(ring("k1", "k1")).decode([tampered])


async def test_unencrypted_payloads_pass_through() -> None:
    codec = EncryptionCodec(ring("k1", "k1"))
    old = plain("written before encryption was on")
    assert await codec.decode([old]) == [old]


def test_the_inline_ring_puts_the_first_key_current() -> None:
    text = f"k2:{base64.b64encode(key(2)).decode()}, k1:{base64.b64encode(key(1)).decode()}"
    parsed = parse_inline_keys(text)
    assert parsed.current == "k2" and set(parsed.keys) == {"k1", "k2"}
    assert "AgIC" not in repr(parsed)  # the keys never print
    with pytest.raises(KeyRingError, match="32"):
        parse_inline_keys("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(KeyRingError, match="not base64"):
        parse_inline_keys("k1:???")


def test_init_writes_an_owner_only_file_and_rotate_keeps_the_old_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "codec-keys.json"
    first = write_key_ring(path)
    assert first.current == "k1" and len(first.login_secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(KeyRingError, match="exists"):
        write_key_ring(path)
    assert write_key_ring(path, if_missing=True).keys == first.keys  # `make run` again: unchanged
    second = rotate_key_ring(path)
    assert second.current == "k2"
    assert second.keys["k1"] == first.keys["k1"] and second.keys["k2"] != first.keys["k1"]
    assert second.login_secret == first.login_secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["current"] == "k2"
    assert [p.name for p in path.parent.iterdir()] == ["codec-keys.json"]  # no temporary file left


async def test_the_settings_choose_the_ring_and_none_means_plain(tmp_path: Path) -> None:
    path = tmp_path / "codec-keys.json"
    write_key_ring(path)
    assert data_converter(Settings(codec_keys_file="none")) is pydantic_data_converter
    converter = data_converter(Settings(codec_keys_file=str(path)))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    # Failure messages and stack traces are encrypted too.
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    [sealed] = await converter.encode([{"name": NAME}])
    assert sealed.metadata[KEY_ID_METADATA] == b"k1" and NAME.encode() not in sealed.data
    inline = f"k7:{base64.b64encode(key(7)).decode()}"
    loaded = load_key_ring(Settings(codec_keys_file=str(path), codec_keys=inline))
    assert loaded is not None and loaded.current == "k7"  # the environment's list wins
    with pytest.raises(KeyRingError, match="does not exist"):
        load_key_ring(Settings(codec_keys_file=str(tmp_path / "missing.json")))


def test_a_malformed_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("current: k1\nkeys: {k2: " + base64.b64encode(key(2)).decode() + "}\n")
    with pytest.raises(KeyRingError, match="current key 'k1'"):
        read_key_file(path)
    path.write_text("[]")
    with pytest.raises(KeyRingError, match=str(path)):
        read_key_file(path)


def test_the_dev_server_gets_the_codec_endpoint_for_its_web_ui_only() -> None:
    with_ui = dev_server_command(None, codec_endpoint="http://localhost:8234")
    assert with_ui[with_ui.index("--ui-codec-endpoint") + 1] == "http://localhost:8234"
    assert "--ui-codec-endpoint" not in dev_server_command(None)
    assert "--ui-codec-endpoint" not in dev_server_command(None, headless=True, codec_endpoint="http://x")


def test_the_cli_makes_and_rotates_the_key_ring(tmp_path: Path) -> None:
    path = tmp_path / "codec-keys.json"
    env = {**os.environ, "COMPLAINTS_CODEC_KEYS_FILE": str(path)}

    def codec(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, "codec", *args], capture_output=True, text=True, env=env, timeout=60, check=False)

    made = codec("init", "--if-missing")
    assert made.returncode == 0 and f"created {path}" in made.stdout
    assert codec("init", "--if-missing").stdout.startswith("kept")
    again = codec("init")
    assert again.returncode == 2 and "exists" in again.stderr
    rotated = codec("rotate")
    assert rotated.returncode == 0 and "current key k2; keys k1, k2" in rotated.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    off = subprocess.run(
        [CLI, "codec", "init"],
        capture_output=True,
        text=True,
        env={**env, "COMPLAINTS_CODEC_KEYS_FILE": "none"},
        timeout=60,
        check=False,
    )
    assert off.returncode == 0 and "nothing to do" in off.stdout
