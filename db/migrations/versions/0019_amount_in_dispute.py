"""step 5: the amounts in dispute on the complaints row, for the risk early warning

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 06:30:00

- complaints.amount_in_dispute NUMERIC(20, 2), complaints.amount_currency VARCHAR(3): the intake's
  amounts in dispute totalled in their currency (a contract dispute's amounts, a fee complaint's
  amount disputed); none for complaints that dispute no amount, and for rows filed before it (the
  risk rule then falls back on the classification's tier rule, as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("amount_in_dispute", sa.Numeric(20, 2), nullable=True))
        batch.add_column(sa.Column("amount_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("amount_currency")
        batch.drop_column("amount_in_dispute")
