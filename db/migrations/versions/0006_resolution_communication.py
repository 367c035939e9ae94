"""resolution_communication column: what the customer was sent on accepting a resolution

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:50:00

final_response, or summary_resolution under a pack with one (FCA DISP 1.5: resolved by close
of business on the third business day after receipt), so the complaints return can count
them. Rows resolved before keep NULL: the audit log's 'resolved' events are the record.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resolution_communication", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_complaints_resolution_communication"), ["resolution_communication"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_resolution_communication"))
        batch_op.drop_column("resolution_communication")
