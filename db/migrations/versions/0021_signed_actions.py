"""issue 16: the signed staff actions of the cross-complaint workflows

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 09:30:00

One row per accepted staff action of a workflow that is not one complaint (award, training,
early warning, clause review, incident, recall, remediation): what was signed (sealed JSON, as
``complaints.snapshot``), the signature and the workflow's time; ``complaints verify`` reads them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "signed_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", _s(120), nullable=False),
        sa.Column("record_key", _s(120), nullable=False),
        sa.Column("action", _s(64), nullable=False),
        sa.Column("actor", _s(64), nullable=False),
        sa.Column("key_id", _s(16), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "record_key", name="uq_signed_actions_key"),
    )
    op.create_index("ix_signed_actions_workflow_id", "signed_actions", ["workflow_id"])
    op.create_index("ix_signed_actions_actor", "signed_actions", ["actor"])


def downgrade() -> None:
    op.drop_index("ix_signed_actions_actor", table_name="signed_actions")
    op.drop_index("ix_signed_actions_workflow_id", table_name="signed_actions")
    op.drop_table("signed_actions")
