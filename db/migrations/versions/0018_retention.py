"""issue 16: retention, when a complaint's personal data was erased

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 05:40:00

- complaints.anonymised_at (indexed): set by the retention run (db/retention.py) in the same
  transaction that erases the complaint's personal data and appends its ``anonymised`` audit
  event; None while the data is kept. The run finds complaints past the period over the
  existing index on complaints.closed_at.

Chained after 0017 (the sealed projection, another change of issue 16).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.tables import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("anonymised_at", UTCDateTime(), nullable=True))
        batch.create_index(batch.f("ix_complaints_anonymised_at"), ["anonymised_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.drop_index(batch.f("ix_complaints_anonymised_at"))
        batch.drop_column("anonymised_at")
