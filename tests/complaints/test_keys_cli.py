"""`complaints keys` in a subprocess: init, register (bootstrap, signed, forged), rotate, revoke, list.

Against a SQLite database of its own and configuration directories in tmp_path: no Temporal server.
Runs the sub-app itself (``complaints.cli.keys.keys_app``), so it needs no registration in the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from complaints.config import PROJECT_ROOT
from db.engine import make_engine, migrate
from db.seed import seed_staff_directory

STAFF_DIRECTORY = PROJECT_ROOT / "db" / "staff_directory.yaml"
KEYS_APP = "from complaints.cli.keys import keys_app; keys_app(prog_name='complaints keys')"
CMP, SM, HND = "S-CMP-001", "S-SM-001", "S-HND-001"


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'complaints.db'}"
    migrate(url)
    engine = make_engine(url)
    seed_staff_directory(engine, STAFF_DIRECTORY)
    engine.dispose()
    return url


def keys(database: str, config: Path, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "COMPLAINTS_DATABASE_URL": database, "COMPLAINTS_CONFIG_DIR": str(config)}
    proc = subprocess.run(
        [sys.executable, "-c", KEYS_APP, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def keys_json(database: str, config: Path, *args: str) -> Any:
    code, out, err = keys(database, config, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_keys_from_bootstrap_to_revocation(database: str, tmp_path: Path) -> None:
    compliance_pc, manager_pc, handler_pc = tmp_path / "cmp", tmp_path / "sm", tmp_path / "hnd"

    # Compliance makes a key and registers it, the first registrar, unsigned.
    code, out, err = keys(database, compliance_pc, "init", "--as", CMP)
    assert code == 0, err
    public = out.split("public key:")[1].split()[0]
    assert f"complaints keys register --as <their id> --staff {CMP} --public-key {public}" in out
    assert (compliance_pc / "keys" / f"{CMP}.ed25519").stat().st_mode & 0o777 == 0o600
    code, out, err = keys(
        database, compliance_pc, "register", "--as", CMP, "--staff", CMP, "--public-key", public, "--bootstrap"
    )
    assert code == 0 and "registered by S-CMP-001: valid" in out, err

    # The senior manager makes one; a handler claiming to be compliance cannot register it:
    # on the handler's machine there is no key of compliance to sign with.
    made = keys_json(database, manager_pc, "init", "--as", SM)
    code, _, err = keys(
        database, handler_pc, "register", "--as", CMP, "--staff", SM, "--public-key", made["public_key"]
    )
    assert code == 1 and "no key of S-CMP-001 here is registered and valid" in err
    code, _, err = keys(
        database, compliance_pc, "register", "--as", CMP, "--staff", SM, "--public-key", made["public_key"]
    )
    assert code == 0, err

    # A second init refuses; --rotate sets the old key aside and the rotation is registered.
    code, _, err = keys(database, manager_pc, "init", "--as", SM)
    assert code == 2 and "use --rotate" in err
    rotated = keys_json(database, manager_pc, "init", "--as", SM, "--rotate")
    assert rotated["replaces"] == made["key_id"]
    code, _, err = keys(
        database, compliance_pc, "register", "--as", CMP, "--staff", SM,
        "--public-key", rotated["public_key"], "--replaces", made["key_id"],
    )  # fmt: skip
    assert code == 0, err
    listed = {k["key_id"]: k for k in keys_json(database, compliance_pc, "list", "--staff", SM)}
    assert listed[made["key_id"]]["valid_until"] == listed[rotated["key_id"]]["valid_from"]

    # The senior manager revokes the old key (signed with the new one); nobody else's revocation of it is needed.
    code, out, err = keys(database, manager_pc, "revoke", made["key_id"], "--as", SM, "--reason", "laptop replaced")
    assert code == 0 and "revoked from" in out, err
    code, out, err = keys(database, manager_pc, "list")
    assert code == 0, err
    assert "revoked" in out and "laptop replaced" in out and rotated["key_id"] in out
