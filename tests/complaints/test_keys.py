"""A staff member's own signing key (issue 16): where it lives, its file modes, rotation, and sign -> verify.

Pure file-system tests in tmp_path: no Temporal server, no database.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from complaints.config import PROJECT_ROOT
from complaints.keys import (
    KeyFileError,
    choose_key,
    config_dir,
    init_key,
    key_path,
    keys_on_disk,
    load_signer,
    make_key,
    new_nonce,
    sign_request,
)
from domain.signatures import public_key_b64, signed_payload, verify
from models.actions import ApprovalDecision
from models.signature import StaffKey, key_id_of

SM = "S-SM-001"
WF = "complaint-CMP-29B545EDD8B4"
NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".config" / "complaints"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: the modes must come from the code, not from the person's shell."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def registered(staff_id: str, public_key: str, **window: datetime) -> StaffKey:
    return StaffKey(
        staff_id=staff_id,
        key_id=key_id_of(public_key),
        public_key=public_key,
        valid_from=window.get("valid_from", NOW - timedelta(days=1)),
        valid_until=window.get("valid_until"),
    )


def test_the_configuration_directory_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COMPLAINTS_CONFIG_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "mine"
    monkeypatch.delenv("COMPLAINTS_CONFIG_DIR")
    assert config_dir() == tmp_path / "xdg" / "complaints"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir() == tmp_path / "home" / ".config" / "complaints"


def test_init_writes_a_0600_key_in_a_0700_directory(config: Path, open_umask: None) -> None:
    key_id, public = init_key(SM, config)
    path = config / "keys" / f"{SM}.ed25519"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((config / "keys").stat().st_mode) == 0o700
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert key_id == key_id_of(public) and public == public_key_b64(load_signer(SM, config))
    assert list((config / "keys").iterdir()) == [path]  # no temporary file left


def test_an_existing_loose_keys_directory_is_tightened(config: Path) -> None:
    (config / "keys").mkdir(parents=True, mode=0o755)
    os.chmod(config / "keys", 0o755)
    init_key(SM, config)
    assert stat.S_IMODE((config / "keys").stat().st_mode) == 0o700


def test_a_directory_inside_the_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="inside the project"):
        init_key(SM, PROJECT_ROOT / ".data" / "config")
    assert not (PROJECT_ROOT / ".data" / "config" / "keys").exists()
    # Nor by a link that leads there.
    link = tmp_path / "link"
    link.symlink_to(PROJECT_ROOT)
    with pytest.raises(KeyFileError, match="inside the project"):
        init_key(SM, link / "config")


def test_init_refuses_to_overwrite_a_key_without_rotate(config: Path) -> None:
    init_key(SM, config)
    before = key_path(SM, config).read_bytes()
    with pytest.raises(KeyFileError, match=r"already has a key .*use --rotate"):
        init_key(SM, config)
    assert key_path(SM, config).read_bytes() == before


def test_rotate_sets_the_old_key_aside_usable(config: Path, open_umask: None) -> None:
    old_id, old_public = init_key(SM, config)
    made = make_key(SM, config, rotate=True)
    assert made.replaces == old_id and made.key_id != old_id
    assert keys_on_disk(SM, config) == [made.key_id, old_id]
    aside = key_path(SM, config, old_id)
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert public_key_b64(load_signer(SM, config, old_id)) == old_public
    assert public_key_b64(load_signer(SM, config, made.key_id)) == made.public_key  # the current one, by id
    with pytest.raises(KeyFileError, match=f"no key 0000000000000000 of {SM}"):
        load_signer(SM, config, "0" * 16)

    # Until the new key is registered the old one signs; then the new one; neither: none.
    assert choose_key(SM, [registered(SM, old_public)], NOW, config) == old_id
    both = [registered(SM, old_public, valid_until=NOW), registered(SM, made.public_key, valid_from=NOW)]
    assert choose_key(SM, both, NOW, config) == made.key_id
    assert choose_key(SM, [registered("S-HND-001", made.public_key)], NOW, config) is None


def test_a_key_others_may_read_is_not_used(config: Path) -> None:
    init_key(SM, config)
    os.chmod(key_path(SM, config), 0o644)
    with pytest.raises(KeyFileError, match="may be read by others"):
        load_signer(SM, config)


def test_no_key_says_how_to_make_one(config: Path) -> None:
    with pytest.raises(KeyFileError, match=f"run `complaints keys init --as {SM}`"):
        load_signer(SM, config)


def test_a_raw_32_byte_key_file_is_read(config: Path) -> None:
    key = Ed25519PrivateKey.generate()
    (config / "keys").mkdir(parents=True)
    path = key_path(SM, config)
    path.write_bytes(key.private_bytes_raw())
    path.chmod(0o600)
    assert public_key_b64(load_signer(SM, config)) == public_key_b64(key)


def test_a_staff_id_is_never_a_path(config: Path) -> None:
    with pytest.raises(KeyFileError, match="is not a staff id"):
        init_key("../../etc/S-SM-001", config)


def test_sign_request_then_verify(config: Path) -> None:
    _, public = init_key(SM, config)
    request = ApprovalDecision(actor=SM, approve=True, reason="remedy of 2,000,000 CNY approved")
    signature = sign_request(SM, WF, "decide_resolution", request, config=config, now=NOW)
    assert signature.issued_at == NOW and len(signature.nonce) == 22
    payload = signed_payload(request.model_copy())
    keys = [registered(SM, public)]
    assert verify(keys, SM, WF, "decide_resolution", payload, signature, NOW, timedelta(minutes=5), set()) is None
    # The same request, signed again, carries a fresh nonce.
    again = sign_request(SM, WF, "decide_resolution", request, config=config, now=NOW)
    assert again.nonce != signature.nonce
    refusal = verify(keys, SM, WF, "decide_resolution", payload, again, NOW, timedelta(minutes=5), {signature.nonce})
    assert refusal is None


def test_sign_request_will_not_sign_for_another_actor(config: Path) -> None:
    init_key("S-HND-001", config)
    request = ApprovalDecision(actor=SM, approve=True)
    with pytest.raises(KeyFileError, match="names S-SM-001 as its actor"):
        sign_request("S-HND-001", WF, "decide_resolution", request, config=config)


def test_nonces_are_128_random_bits() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100 and all(len(n) == 22 for n in nonces)
