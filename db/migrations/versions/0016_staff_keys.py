"""issue 16: signed staff actions, the staff's public keys

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 04:00:00

- staff_keys: one row per Ed25519 public key of a member of staff (key id = first 16 hex digits of
  the SHA-256 of the raw key), its validity window, its revocation, who added and revoked it and
  their own signatures over that. Rows are never deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = True) -> "sa.Column[object]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "staff_keys",
        sa.Column("key_id", _s(16), nullable=False),
        sa.Column("staff_id", _s(64), nullable=False),
        sa.Column("public_key", _s(44), nullable=False),
        _ts("valid_from", False),
        _ts("valid_until"),
        _ts("revoked_at"),
        sa.Column("revoked_by", _s(64), nullable=True),
        sa.Column("revoked_reason", _s(500), nullable=True),
        sa.Column("revoked_signature", sa.JSON(), nullable=True),
        sa.Column("added_by", _s(64), nullable=False),
        _ts("added_at", False),
        sa.Column("added_signature", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_staff_keys_staff_id", "staff_keys", ["staff_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_keys_staff_id", table_name="staff_keys")
    op.drop_table("staff_keys")
