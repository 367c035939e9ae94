"""step 6.2: the customer's region on the complaints row, for surge detection

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 03:10:00

- complaints.region: the ISO 3166 code the intake gave (none for rows filed before it).
  Surges are counted by product, category, channel and region over complaints received in the
  window and its baseline (complaints.received_at is indexed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("region")
