"""A staff member's own signing key (issue 16): made, kept and used on their machine, never in the repository.

    complaints keys init --as S-HND-001          # keys/S-HND-001.ed25519 in the configuration directory
    sign_request("S-HND-001", "complaint-CMP-…", "record_findings", request)  # -> Signature

The configuration directory is ``$COMPLAINTS_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/complaints``,
else ``~/.config/complaints``. Keys live in its ``keys/`` directory (mode 0700), one PEM file per
staff id (PKCS#8, mode 0600, created exclusively so nothing else's file is reused or followed).
``init --rotate`` sets the current key aside as ``keys/<staff_id>.<key_id>.ed25519``: it stays
usable (``choose_key`` signs with it) until the new key is registered, and valid until the
registered rotation ends it. A directory inside the project's tree is refused: a key must never be
committed by accident.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from complaints.config import PROJECT_ROOT
from db.staff_keys import install_keys, keys_for
from db.tables import Staff
from domain.signatures import key_refusal, public_key_b64, sign, signed_payload
from models.signature import STAFF_ID_PATTERN, KeyInitResult, Signature, StaffKey, key_id_of

SUFFIX = ".ed25519"
_Signable = TypeVar("_Signable", bound=BaseModel)
# (workflow id, action name, request) -> the request with its signature (or as it was: no key here).
Signer = Callable[[str, str, _Signable], _Signable]
DIR_MODE, FILE_MODE = 0o700, 0o600


class KeyFileError(Exception):
    """A key cannot be made, found or used (the message says why and what to do)."""


def config_dir() -> Path:
    """The person's configuration directory for the complaints CLI."""
    explicit = os.environ.get("COMPLAINTS_CONFIG_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        return Path(xdg).expanduser() / "complaints"
    return Path.home() / ".config" / "complaints"


def _staff(staff_id: str) -> str:
    if not re.fullmatch(STAFF_ID_PATTERN, staff_id):
        raise KeyFileError(f"{staff_id!r} is not a staff id (letters, digits, - and _ only)")
    return staff_id


def keys_dir(config: Path | None = None) -> Path:
    """``<config>/keys``, resolved; refused if it is inside the project's tree."""
    directory = ((config or config_dir()) / "keys").expanduser().resolve()
    root = PROJECT_ROOT.resolve()
    if directory == root or directory.is_relative_to(root):
        raise KeyFileError(
            f"{directory} is inside the project ({root}): a private key must never be where it could be committed; "
            "set COMPLAINTS_CONFIG_DIR to a directory of your own (default ~/.config/complaints)"
        )
    return directory


def key_path(staff_id: str, config: Path | None = None, key_id: str | None = None) -> Path:
    """The current key's file, or with ``key_id`` that of a key set aside by a rotation."""
    name = _staff(staff_id) if key_id is None else f"{_staff(staff_id)}.{key_id}"
    return keys_dir(config) / f"{name}{SUFFIX}"


def _private_directory(directory: Path) -> None:
    directory.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    directory.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(directory, DIR_MODE)  # also an existing one: only its owner may list or add keys


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)


def make_key(staff_id: str, config: Path | None = None, rotate: bool = False) -> KeyInitResult:
    """A new key pair for ``staff_id``: the private key written, the public key returned to register."""
    path = key_path(staff_id, config)
    replaces: str | None = None
    if path.exists() or path.is_symlink():
        if not rotate:
            raise KeyFileError(
                f"{staff_id} already has a key ({path}); "
                "to replace it use --rotate (the old key stays valid until the registered rotation ends it)"
            )
        replaces = key_id_of(load_signer(staff_id, config).public_key().public_bytes_raw())
    _private_directory(path.parent)
    key = Ed25519PrivateKey.generate()
    fresh = path.with_name(path.name + ".new")
    fresh.unlink(missing_ok=True)  # left by an interrupted init
    _write_private(fresh, key)
    if replaces is not None:
        os.replace(path, key_path(staff_id, config, replaces))
    os.replace(fresh, path)
    public = public_key_b64(key)
    return KeyInitResult(
        staff_id=staff_id, key_id=key_id_of(public), public_key=public, path=str(path), replaces=replaces
    )


def init_key(staff_id: str, config: Path | None = None, rotate: bool = False) -> tuple[str, str]:
    """``(key_id, public_key_b64)`` of a new key for ``staff_id`` (``make_key`` says where it went)."""
    made = make_key(staff_id, config, rotate)
    return made.key_id, made.public_key


def load_signer(staff_id: str, config: Path | None = None, key_id: str | None = None) -> Ed25519PrivateKey:
    """The private key of ``staff_id`` (the current one, or by id: current or set aside); PEM or raw 32 bytes."""
    if key_id is not None and not key_path(staff_id, config, key_id).exists():
        current = load_signer(staff_id, config)  # the current one, if it is that key
        if key_id_of(current.public_key().public_bytes_raw()) != key_id:
            raise KeyFileError(f"no key {key_id} of {staff_id} in {keys_dir(config)}")
        return current
    path = key_path(staff_id, config, key_id)
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except FileNotFoundError as e:
        which = f"key {key_id}" if key_id else "key"
        raise KeyFileError(f"no {which} for {staff_id} at {path}: run `complaints keys init --as {staff_id}`") from e
    if mode & 0o077:
        raise KeyFileError(f"{path} may be read by others (mode {mode:o}): `chmod 600 {path}`, or make a new key")
    try:
        if len(data) == 32:
            return Ed25519PrivateKey.from_private_bytes(data)
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not an Ed25519 private key ({e})") from e
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(loaded).__name__}, not an Ed25519 private key")
    return loaded


def keys_on_disk(staff_id: str, config: Path | None = None) -> list[str]:
    """Key ids of ``staff_id``'s keys here: the current one first, then those set aside by rotations."""
    directory = keys_dir(config)
    found: list[str] = []
    if key_path(staff_id, config).exists():
        found.append(key_id_of(load_signer(staff_id, config).public_key().public_bytes_raw()))
    pattern = re.compile(re.escape(_staff(staff_id)) + r"\.([0-9a-f]{16})" + re.escape(SUFFIX))
    if directory.is_dir():
        found += sorted(m.group(1) for p in directory.iterdir() if (m := pattern.fullmatch(p.name)))
    return found


def choose_key(staff_id: str, registered: Iterable[StaffKey], now: datetime, config: Path | None = None) -> str | None:
    """Which of the keys here to sign with: the newest the staff directory registers and holds good now.

    After ``init --rotate`` and before the new key is registered, that is the old one; None when
    none is registered and good (the workflow would refuse: unknown, revoked or expired key).
    """
    good = {k.key_id for k in registered if k.staff_id == staff_id and key_refusal(k, now, now) is None}
    return next((key_id for key_id in keys_on_disk(staff_id, config) if key_id in good), None)


def new_nonce() -> str:
    """128 random bits, url-safe base64 without padding (22 characters)."""
    return secrets.token_urlsafe(16)


def sign_request(
    staff_id: str,
    workflow_id: str,
    action: str,
    request: BaseModel,
    *,
    config: Path | None = None,
    key_id: str | None = None,
    now: datetime | None = None,
) -> Signature:
    """Sign ``request`` (without its ``signature`` field) for ``action`` on ``workflow_id`` as ``staff_id``."""
    actor = getattr(request, "actor", staff_id)
    if actor != staff_id:
        raise KeyFileError(f"the request names {actor} as its actor; {staff_id}'s key cannot sign for them")
    private = load_signer(staff_id, config, key_id)
    issued_at = now if now is not None else datetime.now(UTC)
    return sign(private, workflow_id, action, signed_payload(request), issued_at, new_nonce())


class KeyFileSigner:
    """Signs a staff action with its actor's key from the configuration directory, when there is one.

    ``ComplaintActions`` calls it for every update and signal. With ``registered`` (the staff
    directory's keys of a person, when the caller can read the database: the CLI) it signs with
    the newest key the directory holds good (``choose_key``: after ``init --rotate`` and before the
    new key is registered, the old one); else with the current key. No key file for the actor: the
    request goes unsigned, and a complaint whose policy requires signatures refuses it, saying so.
    """

    def __init__(
        self, config: Path | None = None, registered: Callable[[str], Iterable[StaffKey]] | None = None
    ) -> None:
        self._config = config
        self._registered = registered

    def __call__(self, workflow_id: str, action: str, request: _Signable) -> _Signable:
        actor = getattr(request, "actor", None)
        if not isinstance(actor, str) or "signature" not in type(request).model_fields:
            return request  # not a staff action (a customer's withdrawal comes through intake)
        return self.sign_as(actor, workflow_id, action, request)

    def sign_as(self, actor: str, workflow_id: str, action: str, request: _Signable) -> _Signable:
        """Sign a request whose actor is not called ``actor`` (an education action's ``recorded_by``)."""
        if getattr(request, "signature", None) is not None or not keys_on_disk(actor, self._config):
            return request
        now = datetime.now(UTC)
        key_id = choose_key(actor, self._registered(actor), now, self._config) if self._registered else None
        signature = sign_request(actor, workflow_id, action, request, config=self._config, key_id=key_id, now=now)
        return request.model_copy(update={"signature": signature})


DEMO_SETUP = "demo_setup"


def set_up_demo_keys(engine: Engine, config: Path | None = None, now: datetime | None = None) -> list[str]:
    """A key for every active member of staff, made here and registered at once: the demo's and the tests' staff.

    Only for a demo or test database, where one person plays every role: in production each person
    runs ``keys init`` on their own machine and a registrar registers the public key, signed.
    Returns the staff ids whose key was new to the directory.
    """
    moment = now or datetime.now(UTC)
    with Session(engine) as session:
        staff = list(session.exec(select(Staff.staff_id).where(col(Staff.active).is_(True))).all())
    keys: list[StaffKey] = []
    for staff_id in staff:
        if not key_path(staff_id, config).exists():
            make_key(staff_id, config)
        public = public_key_b64(load_signer(staff_id, config))
        since = moment - timedelta(days=1)
        keys.append(StaffKey(staff_id=staff_id, key_id=key_id_of(public), public_key=public, valid_from=since))
    registered = {k.key_id for k in keys_for(engine, staff)}
    install_keys(engine, keys, DEMO_SETUP, moment)
    return [k.staff_id for k in keys if k.key_id not in registered]
