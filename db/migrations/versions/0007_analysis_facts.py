"""what the periodic analysis needs: product, clause references, resolution, remedy, each clock

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 22:00:00

- complaints.product (product_design's product code), clause_references (a contract dispute's),
  resolved_at, remedy_paid (the accepted proposal's remedy total, in the policy's currency);
- complaint_clocks: one row per complaint and clock name, with started, due, settled and
  breached times and the state;
- indexes on complaints.received_at and closed_at, which the analysis filters periods on.

Existing rows are filled from the audit log (or the whole case file of rows written before
events were lean) by ``db.analysis_facts.backfill``, which the projection shares: running it
again rebuilds the same rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from db.analysis_facts import backfill

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_clocks",
        sa.Column("complaint_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", "name"),
    )
    with op.batch_alter_table("complaint_clocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_clocks_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_clocks_state"), ["state"], unique=False)

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("clause_references", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("remedy_paid", sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.create_index(batch_op.f("ix_complaints_product"), ["product"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_closed_at"), ["closed_at"], unique=False)

    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_closed_at"))
        batch_op.drop_index(batch_op.f("ix_complaints_received_at"))
        batch_op.drop_index(batch_op.f("ix_complaints_product"))
        batch_op.drop_column("remedy_paid")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("clause_references")
        batch_op.drop_column("product")
    with op.batch_alter_table("complaint_clocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_clocks_state"))
        batch_op.drop_index(batch_op.f("ix_complaint_clocks_name"))
    op.drop_table("complaint_clocks")
