"""investigations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 14:54:59
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "investigation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("investigation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("recorded_at", db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("investigation_id", "seq", name="uq_investigation_event_seq"),
    )
    with op.batch_alter_table("investigation_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_investigation_events_investigation_id"), ["investigation_id"], unique=False
        )

    op.create_table(
        "investigations",
        sa.Column("investigation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("complaint_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("lead", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("opened_at", db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("concluded_at", db.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accountability", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("suspected_illegal", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("file", sa.JSON(), nullable=False),
        sa.Column("updated_at", db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("investigation_id"),
    )
    with op.batch_alter_table("investigations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_investigations_complaint_id"), ["complaint_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_investigations_lead"), ["lead"], unique=False)
        batch_op.create_index(batch_op.f("ix_investigations_stage"), ["stage"], unique=False)

    with op.batch_alter_table("staff_service_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True))
        # Two investigations may hold the same person to account on the same day: the key is
        # the writer's business key now, not (staff, day, kind).
        batch_op.drop_constraint("uq_staff_service_event", type_="unique")
        batch_op.create_unique_constraint("uq_staff_service_source_key", ["source_key"])


def downgrade() -> None:
    with op.batch_alter_table("staff_service_history", schema=None) as batch_op:
        batch_op.drop_constraint("uq_staff_service_source_key", type_="unique")
        batch_op.create_unique_constraint("uq_staff_service_event", ["staff_id", "occurred_on", "kind"])
        batch_op.drop_column("source_key")

    with op.batch_alter_table("investigations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_investigations_stage"))
        batch_op.drop_index(batch_op.f("ix_investigations_lead"))
        batch_op.drop_index(batch_op.f("ix_investigations_complaint_id"))

    op.drop_table("investigations")
    with op.batch_alter_table("investigation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_investigation_events_investigation_id"))

    op.drop_table("investigation_events")
