"""The staff's public keys (issue 16): registering (signed, by a senior manager or compliance), rotating,
revoking, reading, seeding from the staff directory file.

A SQLite database of this module's own, migrated once and copied for each test (not the shared
``engine`` fixture, which also runs on PostgreSQL): no Temporal server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

import db.tables  # noqa: F401 (the metadata compared)
from complaints.config import PROJECT_ROOT
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory
from db.staff_keys import (
    KEYS_WORKFLOW,
    REGISTER,
    REVOKE,
    SEEDED_BY,
    KeyRegistryError,
    keys_for,
    keys_of,
    list_keys,
    register_key,
    revoke_key,
    seed_staff_keys,
)
from db.tables import StaffKeyTable
from domain.signatures import public_key_b64, sign, signed_payload, verify
from models.signature import RegisterKeyRequest, RevokeKeyRequest, key_id_of

R = TypeVar("R", RegisterKeyRequest, RevokeKeyRequest)
STAFF_DIRECTORY = PROJECT_ROOT / "db" / "staff_directory.yaml"
NOW = datetime(2026, 11, 30, 3, 30, tzinfo=UTC)
CMP, SM, HND, MGR = "S-CMP-001", "S-SM-001", "S-HND-001", "S-MGR-001"
KEYS = {who: Ed25519PrivateKey.generate() for who in (CMP, SM, HND, MGR)}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("staff-keys") / "template.db"
    migrate(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    seed_staff_directory(engine, STAFF_DIRECTORY)
    engine.dispose()
    return path


@pytest.fixture
def engine(template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "complaints.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def signed(request: R, by: Ed25519PrivateKey, action: str, at: datetime = NOW, nonce: str = "N" * 22) -> R:
    signature = sign(by, KEYS_WORKFLOW, action, signed_payload(request), at, nonce)
    return request.model_copy(update={"signature": signature})


def registration(
    actor: str, staff_id: str, key: Ed25519PrivateKey, valid_from: datetime = NOW, **more: object
) -> RegisterKeyRequest:
    return RegisterKeyRequest.model_validate(
        {"actor": actor, "staff_id": staff_id, "public_key": public_key_b64(key), "valid_from": valid_from} | more
    )


def bootstrapped(engine: Engine) -> None:
    """Compliance's own first key, unsigned (no registrar has one yet)."""
    register_key(engine, registration(CMP, CMP, KEYS[CMP], NOW - timedelta(days=1)), NOW, bootstrap=True)


def key_id(who: str) -> str:
    return key_id_of(public_key_b64(KEYS[who]))


def test_the_migration_builds_the_table_the_model_describes(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diff if "staff_keys" in repr(d)] == []
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0021"


def test_bootstrap_registers_a_registrars_own_first_key_only_once(engine: Engine) -> None:
    with pytest.raises(KeyRegistryError, match="only your own first key"):
        register_key(engine, registration(CMP, SM, KEYS[SM]), NOW, bootstrap=True)
    bootstrapped(engine)
    [row] = keys_of(engine, CMP)
    assert (row.key_id, row.added_by, row.revoked_at) == (key_id(CMP), CMP, None)
    with pytest.raises(KeyRegistryError, match="--bootstrap is closed"):
        register_key(engine, registration(SM, SM, KEYS[SM]), NOW, bootstrap=True)
    with pytest.raises(KeyRegistryError, match="may not register keys"):
        register_key(engine, registration(HND, HND, KEYS[HND]), NOW, bootstrap=True)


def test_compliance_registers_a_key_signed_with_its_own(engine: Engine) -> None:
    bootstrapped(engine)
    row = register_key(engine, signed(registration(CMP, SM, KEYS[SM]), KEYS[CMP], REGISTER), NOW)
    assert (row.staff_id, row.key_id, row.added_by, row.valid_until) == (SM, key_id(SM), CMP, None)
    with Session(engine) as session:
        stored = session.get(StaffKeyTable, key_id(SM))
        assert stored is not None and stored.added_signature is not None
        assert stored.added_signature["key_id"] == key_id(CMP)


def test_an_unsigned_registration_is_refused(engine: Engine) -> None:
    bootstrapped(engine)
    with pytest.raises(KeyRegistryError, match="unsigned: register_key by S-CMP-001"):
        register_key(engine, registration(CMP, SM, KEYS[SM]), NOW)
    assert keys_of(engine, SM) == []


def test_a_forged_as_cannot_register_a_key(engine: Engine) -> None:
    bootstrapped(engine)
    register_key(engine, signed(registration(CMP, HND, KEYS[HND]), KEYS[CMP], REGISTER), NOW)
    # The handler claims to be compliance and registers their own key as the senior manager's.
    forged = signed(registration(CMP, SM, Ed25519PrivateKey.generate()), KEYS[HND], REGISTER)
    with pytest.raises(KeyRegistryError, match="is registered to S-HND-001, not to S-CMP-001"):
        register_key(engine, forged, NOW)
    # And as themselves, signed, they are not a registrar.
    with pytest.raises(KeyRegistryError, match=r"S-HND-001 \(handler\) may not register keys"):
        register_key(engine, signed(registration(HND, SM, Ed25519PrivateKey.generate()), KEYS[HND], REGISTER), NOW)
    assert keys_of(engine, SM) == []


def test_a_registration_altered_after_signing_is_refused(engine: Engine) -> None:
    bootstrapped(engine)
    request = signed(registration(CMP, SM, KEYS[SM]), KEYS[CMP], REGISTER)
    altered = request.model_copy(update={"public_key": public_key_b64(KEYS[HND])})
    with pytest.raises(KeyRegistryError, match="bad signature"):
        register_key(engine, altered, NOW)


def test_a_key_is_registered_once_and_for_known_staff_only(engine: Engine) -> None:
    bootstrapped(engine)
    request = signed(registration(CMP, SM, KEYS[SM]), KEYS[CMP], REGISTER)
    register_key(engine, request, NOW)
    with pytest.raises(KeyRegistryError, match=f"key {key_id(SM)} is already registered \\(to S-SM-001\\)"):
        register_key(engine, request, NOW)
    with pytest.raises(KeyRegistryError, match="no staff member S-NOBODY"):
        register_key(engine, signed(registration(CMP, "S-NOBODY", KEYS[MGR]), KEYS[CMP], REGISTER), NOW)


def test_a_registered_rotation_ends_the_old_key_where_the_new_one_starts(engine: Engine) -> None:
    bootstrapped(engine)
    register_key(engine, signed(registration(CMP, SM, KEYS[SM], NOW - timedelta(days=30)), KEYS[CMP], REGISTER), NOW)
    new_key = Ed25519PrivateKey.generate()
    starts = NOW + timedelta(hours=1)
    rotation = registration(CMP, SM, new_key, starts, replaces=key_id(SM))
    register_key(engine, signed(rotation, KEYS[CMP], REGISTER, nonce="R" * 22), NOW)
    old, new = keys_for(engine, [SM])
    assert (old.key_id, old.valid_until) == (key_id(SM), starts)
    assert (new.key_id, new.valid_from, new.valid_until) == (key_id_of(public_key_b64(new_key)), starts, None)
    with pytest.raises(KeyRegistryError, match="--replaces 0000000000000000: no key of S-SM-001"):
        register_key(
            engine,
            signed(registration(CMP, SM, KEYS[MGR], replaces="0" * 16), KEYS[CMP], REGISTER),
            NOW,
        )


def test_a_key_is_revoked_by_its_owner_and_then_refused(engine: Engine) -> None:
    bootstrapped(engine)
    register_key(engine, signed(registration(CMP, SM, KEYS[SM], NOW - timedelta(days=1)), KEYS[CMP], REGISTER), NOW)
    revocation = RevokeKeyRequest(actor=SM, key_id=key_id(SM), reason="laptop stolen", effective_at=NOW)
    row = revoke_key(engine, signed(revocation, KEYS[SM], REVOKE), NOW)
    assert (row.revoked_at, row.revoked_by, row.revoked_reason) == (NOW, SM, "laptop stolen")
    [key] = keys_for(engine, [SM])
    payload = {"actor": SM, "approve": True, "reason": ""}
    signature = sign(KEYS[SM], "complaint-CMP-1", "decide_resolution", payload, NOW, "Z" * 22)
    later = NOW + timedelta(minutes=1)
    refusal = verify(
        [key], SM, "complaint-CMP-1", "decide_resolution", payload, signature, later, timedelta(minutes=5), set()
    )
    assert refusal == f"key {key.key_id} of S-SM-001 was revoked at 2026-11-30 03:30:00 UTC: laptop stolen"
    with pytest.raises(KeyRegistryError, match="already revoked at 2026-11-30 03:30:00 UTC by S-SM-001: laptop stolen"):
        revoke_key(engine, signed(revocation.model_copy(update={"actor": CMP}), KEYS[CMP], REVOKE), NOW)


def test_who_may_revoke_and_when_it_takes_effect(engine: Engine) -> None:
    bootstrapped(engine)
    for who in (SM, HND, MGR):
        register_key(
            engine, signed(registration(CMP, who, KEYS[who], NOW - timedelta(days=1)), KEYS[CMP], REGISTER), NOW
        )
    by_manager = RevokeKeyRequest(actor=MGR, key_id=key_id(HND), reason="left", effective_at=NOW)
    with pytest.raises(KeyRegistryError, match=r"S-MGR-001 \(manager\) may not revoke S-HND-001's key"):
        revoke_key(engine, signed(by_manager, KEYS[MGR], REVOKE), NOW)
    future = RevokeKeyRequest(actor=SM, key_id=key_id(HND), reason="left", effective_at=NOW + timedelta(days=1))
    with pytest.raises(KeyRegistryError, match="takes effect now or earlier"):
        revoke_key(engine, signed(future, KEYS[SM], REVOKE), NOW)
    unsigned = RevokeKeyRequest(actor=SM, key_id=key_id(HND), reason="left", effective_at=NOW)
    with pytest.raises(KeyRegistryError, match="unsigned: revoke_key by S-SM-001"):
        revoke_key(engine, unsigned, NOW)
    backdated = RevokeKeyRequest(
        actor=SM, key_id=key_id(HND), reason="compromised", effective_at=NOW - timedelta(hours=2)
    )
    row = revoke_key(engine, signed(backdated, KEYS[SM], REVOKE), NOW)
    assert row.revoked_at == NOW - timedelta(hours=2)
    with pytest.raises(KeyRegistryError, match="no key 0000000000000000 is registered"):
        revoke_key(engine, signed(backdated.model_copy(update={"key_id": "0" * 16}), KEYS[SM], REVOKE), NOW)


def test_keys_for_reads_only_the_people_asked_for(engine: Engine) -> None:
    bootstrapped(engine)
    register_key(engine, signed(registration(CMP, SM, KEYS[SM]), KEYS[CMP], REGISTER), NOW)
    assert [k.staff_id for k in keys_for(engine, [SM, HND, SM])] == [SM]
    assert keys_for(engine, []) == []
    assert [r.staff_id for r in list_keys(engine)] == [CMP, SM]


def test_seeding_keys_from_the_staff_directory_file(engine: Engine, tmp_path: Path) -> None:
    directory = tmp_path / "staff.yaml"
    public = public_key_b64(KEYS[SM])
    directory.write_text(
        "staff:\n"
        f"  - staff_id: {SM}\n    name: x\n    public_keys:\n"
        f"      - {{public_key: '{public}', valid_from: '2026-01-01T00:00:00Z'}}\n"
        f"  - staff_id: {HND}\n    name: y\n",
        encoding="utf-8",
    )
    assert seed_staff_keys(engine, directory, NOW) == 1
    [row] = keys_of(engine, SM)
    assert (row.key_id, row.added_by, row.valid_from) == (key_id(SM), SEEDED_BY, datetime(2026, 1, 1, tzinfo=UTC))
    # Again: nothing new, and a revocation made since stays.
    revoke_key(
        engine,
        signed(RevokeKeyRequest(actor=SM, key_id=key_id(SM), reason="lost", effective_at=NOW), KEYS[SM], REVOKE),
        NOW,
    )
    assert seed_staff_keys(engine, directory, NOW) == 0
    assert keys_of(engine, SM)[0].revoked_at == NOW
    # The same key listed for someone else is an error in the file.
    directory.write_text(directory.read_text().replace(SM, MGR), encoding="utf-8")
    with pytest.raises(ValueError, match="is registered to S-SM-001"):
        seed_staff_keys(engine, directory, NOW)


def test_the_staff_directory_file_lists_no_private_key() -> None:
    text = STAFF_DIRECTORY.read_text(encoding="utf-8")
    assert "PRIVATE KEY" not in text
