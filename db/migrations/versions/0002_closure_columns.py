"""closure columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:23:03.059661
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reopened_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("root_cause", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_complaints_root_cause"), ["root_cause"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_root_cause"))
        batch_op.drop_column("outcome")
        batch_op.drop_column("root_cause")
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("reopened_count")
