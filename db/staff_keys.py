"""The staff's public keys (issue 16): registering, revoking, reading them; seeding from the staff directory.

Who may register a key: a senior manager or compliance (``REGISTRARS``). Registering a key is
granting the power to act as that person, so it sits with the top of the approval chain and with
the second line of defence that audits it, not with handlers or team managers, whose own
approvals the keys guard. And a registration is itself signed: by a registered key of the
registrar (action ``register_key`` on ``staff-keys``), checked here before anything is written,
kept in ``added_signature``. Else ``--as S-CMP-001`` would register the forger's key for the
senior manager and the hole would only have moved.

The first registrar's key comes from the staff directory file (``seed_staff_keys``): the file that
already says who is a senior manager or compliance, reviewed like any change to the repository.
A development database without one may ``bootstrap``: a senior manager or compliance registers
their own key, unsigned, only while no senior manager's or compliance key was ever registered.

Revoking a key: its owner (a lost laptop), a senior manager or compliance, signed likewise
(``revoke_key``). A revocation may be dated back to when the key is thought compromised; from then
on nothing it signs counts. Rows are never deleted: old actions stay verifiable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.tables import Complaint, ComplaintEventRow, InvestigationEventRow, Staff, StaffKeyTable
from domain.signatures import signed_payload, verify, when
from models.investigation import investigation_workflow_id
from models.roles import Role
from models.signature import (
    RegisterKeyRequest,
    RevokeKeyRequest,
    Signature,
    SignedAction,
    StaffKey,
    StaffKeyRow,
    key_id_of,
)

REGISTRARS = (Role.SENIOR_MANAGER, Role.COMPLIANCE)
KEYS_WORKFLOW = "staff-keys"  # what a registration or revocation is signed for (in place of a workflow id)
REGISTER, REVOKE = "register_key", "revoke_key"
WINDOW = timedelta(minutes=5)  # how old (or early) a signed registration or revocation may be
SEEDED_BY = "staff_directory"


class KeyRegistryError(Exception):
    """A registration or revocation refused (``refused``), or naming what does not exist (``not_found``)."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


def _row(row: StaffKeyTable) -> StaffKeyRow:
    return StaffKeyRow.model_validate(row.model_dump(exclude={"added_signature", "revoked_signature"}))


def list_keys(engine: Engine, staff_id: str | None = None) -> list[StaffKeyRow]:
    """Every key (or one person's), by person, then oldest first."""
    query = select(StaffKeyTable).order_by(col(StaffKeyTable.staff_id), col(StaffKeyTable.valid_from))
    if staff_id is not None:
        query = query.where(StaffKeyTable.staff_id == staff_id)
    with Session(engine) as session:
        return [_row(r) for r in session.exec(query).all()]


def keys_of(engine: Engine, staff_id: str) -> list[StaffKeyRow]:
    """One person's keys, oldest first, revoked and ended ones included."""
    return list_keys(engine, staff_id)


def keys_for(engine: Engine, staff_ids: Iterable[str]) -> list[StaffKey]:
    """The keys of these people as the signature check takes them (``domain.signatures.verify``)."""
    wanted = sorted(set(staff_ids))
    if not wanted:
        return []
    query = (
        select(StaffKeyTable)
        .where(col(StaffKeyTable.staff_id).in_(wanted))
        .order_by(col(StaffKeyTable.staff_id), col(StaffKeyTable.valid_from), col(StaffKeyTable.key_id))
    )
    with Session(engine) as session:
        return [_row(r).as_key() for r in session.exec(query).all()]


def _member(session: Session, staff_id: str) -> Staff:
    member = session.get(Staff, staff_id)
    if member is None or not member.active:
        raise KeyRegistryError(f"no staff member {staff_id} in the staff directory", "not_found")
    return member


def _check_signed(engine: Engine, actor: str, action: str, request: BaseModel, now: datetime) -> None:
    signature = getattr(request, "signature", None)
    keys = [k.as_key() for k in keys_of(engine, actor)]
    if signature is not None and signature.key_id not in {k.key_id for k in keys}:
        with Session(engine) as session:  # whose key it is, for the refusal to say
            other = session.get(StaffKeyTable, signature.key_id)
        keys += [_row(other).as_key()] if other is not None else []
    refusal = verify(keys, actor, KEYS_WORKFLOW, action, signed_payload(request), signature, now, WINDOW, set())
    if refusal:
        raise KeyRegistryError(refusal)


def _registrar_key_ever(session: Session) -> bool:
    registrars = select(Staff.staff_id).where(col(Staff.role).in_([r.value for r in REGISTRARS]))
    return session.exec(select(StaffKeyTable).where(col(StaffKeyTable.staff_id).in_(registrars))).first() is not None


def register_key(engine: Engine, request: RegisterKeyRequest, now: datetime, bootstrap: bool = False) -> StaffKeyRow:
    """Register ``request.public_key`` for ``request.staff_id``; with ``replaces``, end that key at this one's start."""
    key_id = request.key_id
    try:  # the window and the key id, as the signature check will read them
        StaffKey(
            staff_id=request.staff_id,
            key_id=key_id,
            public_key=request.public_key,
            valid_from=request.valid_from,
            valid_until=request.valid_until,
        )
    except ValidationError as e:
        raise KeyRegistryError("; ".join(err["msg"] for err in e.errors())) from e
    with Session(engine) as session:
        registrar = _member(session, request.actor)
        if registrar.role not in REGISTRARS:
            role = registrar.role.replace("_", " ")
            raise KeyRegistryError(
                f"{request.actor} ({role}) may not register keys: only a senior manager or compliance may"
            )
        _member(session, request.staff_id)
        if bootstrap:
            if request.staff_id != request.actor:
                raise KeyRegistryError("--bootstrap registers only your own first key")
            if _registrar_key_ever(session):
                raise KeyRegistryError(
                    "--bootstrap is closed: a senior manager's or compliance key is registered; "
                    "ask one of them to register yours, signed"
                )
    if not bootstrap:  # who sent it is proven before anything about the keys is said
        _check_signed(engine, request.actor, REGISTER, request, now)
    with Session(engine) as session:
        existing = session.get(StaffKeyTable, key_id)
        if existing is not None:
            raise KeyRegistryError(f"key {key_id} is already registered (to {existing.staff_id})")
        old = session.get(StaffKeyTable, request.replaces) if request.replaces else None
        if request.replaces and (old is None or old.staff_id != request.staff_id):
            raise KeyRegistryError(f"--replaces {request.replaces}: no key of {request.staff_id} with that id")
        if old is not None:
            if old.valid_until is None or old.valid_until > request.valid_from:
                old.valid_until = request.valid_from
                session.add(old)
        row = StaffKeyTable(
            key_id=key_id,
            staff_id=request.staff_id,
            public_key=request.public_key,
            valid_from=request.valid_from,
            valid_until=request.valid_until,
            added_by=request.actor,
            added_at=now,
            added_signature=request.signature.model_dump(mode="json") if request.signature else None,
        )
        session.add(row)
        session.commit()
        session.refresh(row)
        return _row(row)


def revoke_key(engine: Engine, request: RevokeKeyRequest, now: datetime) -> StaffKeyRow:
    """Revoke a key from ``request.effective_at`` (now, or earlier): its owner, a senior manager or compliance."""
    if request.effective_at > now + WINDOW:
        raise KeyRegistryError(
            f"a revocation takes effect now or earlier, not at {when(request.effective_at)}; "
            "to end a key later, register its successor with --replaces"
        )
    with Session(engine) as session:
        revoker = _member(session, request.actor)
        row = session.get(StaffKeyTable, request.key_id)
        if row is None:
            raise KeyRegistryError(f"no key {request.key_id} is registered", "not_found")
        if row.staff_id != request.actor and revoker.role not in REGISTRARS:
            role = revoker.role.replace("_", " ")
            raise KeyRegistryError(
                f"{request.actor} ({role}) may not revoke {row.staff_id}'s key: "
                "only its owner, a senior manager or compliance may"
            )
    _check_signed(engine, request.actor, REVOKE, request, now)
    with Session(engine) as session:
        row = session.get(StaffKeyTable, request.key_id)
        assert row is not None
        if row.revoked_at is not None:
            by = f" by {row.revoked_by}" if row.revoked_by else ""
            raise KeyRegistryError(
                f"key {row.key_id} was already revoked at {when(row.revoked_at)}{by}: {row.revoked_reason}"
            )
        row.revoked_at = request.effective_at
        row.revoked_by = request.actor
        row.revoked_reason = request.reason
        row.revoked_signature = request.signature.model_dump(mode="json") if request.signature else None
        session.add(row)
        session.commit()
        session.refresh(row)
        return _row(row)


# -- seeding from db/staff_directory.yaml -------------------------------------------------------


class _SeededKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None


class _MemberKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")
    staff_id: str
    public_keys: list[_SeededKey] = []


class _DirectoryKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")
    staff: list[_MemberKeys]


def seed_staff_keys(engine: Engine, path: Path, now: datetime | None = None) -> int:
    """Insert the public keys the staff directory file lists (``public_keys`` of a member); return how many were new.

    Insert only: a key already registered is left as the table has it (revoked, ended); the
    file never un-revokes. A key the file gives to another person than the table is an error.
    """
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    directory = _DirectoryKeys.model_validate(data)
    keys = [
        StaffKey(
            staff_id=member.staff_id,
            key_id=key_id_of(entry.public_key),
            public_key=entry.public_key,
            valid_from=entry.valid_from,
            valid_until=entry.valid_until,
        )
        for member in directory.staff
        for entry in member.public_keys
    ]
    return install_keys(engine, keys, SEEDED_BY, now, source=str(path))


def install_keys(
    engine: Engine, keys: Iterable[StaffKey], added_by: str, now: datetime | None = None, source: str = ""
) -> int:
    """Insert keys set up outside the CLI (the directory file, the demo's keys); return how many were new.

    Insert only, as ``seed_staff_keys`` says; a key registered to another person is an error.
    """
    added = 0
    moment = now or datetime.now(UTC)
    with Session(engine) as session:
        for key in keys:
            existing = session.get(StaffKeyTable, key.key_id)
            if existing is not None:
                if existing.staff_id != key.staff_id:
                    raise ValueError(
                        f"{source or added_by}: key {key.key_id} listed for {key.staff_id} "
                        f"is registered to {existing.staff_id}"
                    )
                continue
            session.add(StaffKeyTable(**key.model_dump(), added_by=added_by, added_at=moment))
            added += 1
        session.commit()
    return added


# -- re-checking a complaint's signed actions (``complaints verify``) --------------------------


def signed_actions(engine: Engine, complaint_id: str) -> list[tuple[str, int, SignedAction]] | None:
    """A complaint's signed actions from its audit logs, as ``(log, seq, action)``; None: no such complaint.

    The complaint's log first, then its investigation's (``log`` says which), each in order.
    Every event whose detail has a ``signed`` member: the first event of each staff action under
    a signing policy. Read as the rows are now: the actor from the row, the rest from the member,
    the workflow id from the complaint: an altered row makes its check fail.
    """
    with Session(engine) as session:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            return None
        own = session.exec(
            select(ComplaintEventRow)
            .where(ComplaintEventRow.complaint_id == complaint_id)
            .order_by(col(ComplaintEventRow.seq))
        ).all()
        investigation = investigation_workflow_id(complaint_id)
        its = session.exec(
            select(InvestigationEventRow)
            .where(InvestigationEventRow.investigation_id == investigation)
            .order_by(col(InvestigationEventRow.seq))
        ).all()
        logs: list[tuple[str, str, Sequence[ComplaintEventRow | InvestigationEventRow]]] = [
            ("complaint", complaint.workflow_id, own),
            ("investigation", investigation, its),
        ]
        found: list[tuple[str, int, SignedAction]] = []
        for log, workflow_id, rows in logs:
            for row in rows:
                signed = (row.detail or {}).get("signed")
                if not isinstance(signed, dict):
                    continue
                signature = signed.get("signature")
                action = SignedAction(
                    workflow_id=workflow_id,
                    action=str(signed.get("action", "")),
                    actor=row.actor,
                    payload=dict(signed.get("payload") or {}),
                    signature=Signature.model_validate(signature) if signature else None,
                    at=row.at,
                )
                found.append((log, row.seq, action))
    return found


def anonymised_at(engine: Engine, complaint_id: str) -> datetime | None:
    """When retention erased the complaint's personal data (and so what its signatures covered), if it did."""
    with Session(engine) as session:
        complaint = session.get(Complaint, complaint_id)
    return complaint.anonymised_at if complaint is not None else None


def pinned_policy(engine: Engine, complaint_id: str) -> str | None:
    """The policy version the complaint was pinned to (its signing mode says what its log must hold)."""
    with Session(engine) as session:
        complaint = session.get(Complaint, complaint_id)
    return complaint.policy_version if complaint is not None else None


def all_keys(engine: Engine) -> list[StaffKey]:
    """Every registered key, revoked and ended ones included (a re-check judges each action by them)."""
    return [r.as_key() for r in list_keys(engine)]
