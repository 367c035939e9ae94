"""The signed staff actions of the cross-complaint workflows (issue 16), kept for ``complaints verify``.

A complaint and its investigation keep what their staff signed in their own audit logs (the
``signed`` member of an event). The workflows that are not one complaint (the award, a training
assignment, an early warning, a clause review, an incident, a recall and its remediations) keep
theirs here, one row per accepted action, written by ``StaffActivities.record_signed_action``
once the workflow accepted it: what was signed exactly as sent (sealed at rest: a note may name a
customer), the signature, and the workflow's time. ``complaints verify <workflow id>`` checks the
rows again with today's keys.

A row is written once per action: its business key is the workflow id and the request's nonce (an
unsigned action, accepted where the policy says ``record``, by its action and time instead), so
an activity retried after a worker died writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from db.sealing import SealedJSON, sealed_json
from db.tables import UTCDateTime
from models.signature import Signature, SignedAction


class SignedActionRow(SQLModel, table=True):
    """One accepted staff action of a cross-complaint workflow, as it was signed."""

    __tablename__ = "signed_actions"
    __table_args__ = (UniqueConstraint("workflow_id", "record_key", name="uq_signed_actions_key"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=120, index=True)
    record_key: str = Field(max_length=120)  # the nonce, or "unsigned:<action>:<time>"
    action: str = Field(max_length=64)
    actor: str = Field(max_length=64, index=True)
    key_id: str | None = Field(default=None, max_length=16)
    payload: dict[str, Any] = sealed_json(SealedJSON("signed_actions.payload"))
    signature: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def record_key(action: SignedAction) -> str:
    if action.signature is not None:
        return action.signature.nonce
    return f"unsigned:{action.action}:{action.at.isoformat()}"


def record_signed_action(engine: Engine, action: SignedAction) -> bool:
    """Keep one accepted action (False: it was kept already, by an earlier attempt)."""
    key = record_key(action)
    with Session(engine) as session:
        found = session.exec(
            select(SignedActionRow.id).where(
                SignedActionRow.workflow_id == action.workflow_id, SignedActionRow.record_key == key
            )
        ).first()
        if found is not None:
            return False
        session.add(
            SignedActionRow(
                workflow_id=action.workflow_id,
                record_key=key,
                action=action.action,
                actor=action.actor,
                key_id=action.signature.key_id if action.signature else None,
                payload=action.payload,
                signature=action.signature.model_dump(mode="json") if action.signature else None,
                at=action.at,
            )
        )
        try:
            session.commit()
        except IntegrityError:  # a concurrent attempt kept it first
            session.rollback()
            return False
    return True


def kept_nonces(engine: Engine, workflow_id: str) -> dict[str, datetime]:
    """The nonces of the signed actions kept for this workflow id, with their issued-at."""
    with Session(engine) as session:
        rows = session.exec(
            select(SignedActionRow.signature).where(
                SignedActionRow.workflow_id == workflow_id, col(SignedActionRow.signature).is_not(None)
            )
        ).all()
    signatures = [Signature.model_validate(row) for row in rows if row]
    return {s.nonce: s.issued_at for s in signatures}


def workflow_signed_actions(engine: Engine, workflow_id: str) -> list[tuple[str, int, SignedAction]]:
    """A cross-complaint workflow's accepted actions, in order, as ``complaints verify`` reads them
    (``(log, seq, action)``; the log is the workflow id, the seq the row's number)."""
    with Session(engine) as session:
        rows = session.exec(
            select(SignedActionRow)
            .where(SignedActionRow.workflow_id == workflow_id)
            .order_by(col(SignedActionRow.at), col(SignedActionRow.id))
        ).all()
    return [
        (
            workflow_id,
            row.id or 0,
            SignedAction(
                workflow_id=row.workflow_id,
                action=row.action,
                actor=row.actor,
                payload=dict(row.payload),
                signature=Signature.model_validate(row.signature) if row.signature else None,
                at=row.at,
            ),
        )
        for row in rows
    ]
