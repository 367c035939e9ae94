"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:14:29.023192
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("complaint_id", "seq", name="uq_complaint_events_seq"),
    )
    with op.batch_alter_table("complaint_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_events_complaint_id"), ["complaint_id"], unique=False)

    op.create_table(
        "complaints",
        sa.Column("complaint_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source_system", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source_reference", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("tier_rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("customer_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("customer_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contract_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("staff_named", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id"),
        sa.UniqueConstraint("source_system", "source_reference", name="uq_complaints_source"),
    )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaints_assignee"), ["assignee"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_contract_number"), ["contract_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_next_deadline"), ["next_deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_sla_breached"), ["sla_breached"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_staff_named"), ["staff_named"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_tier"), ["tier"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("complaint_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_complaint_id"), ["complaint_id"], unique=False)

    op.create_table(
        "staff",
        sa.Column("staff_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("manager_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("service_quality_score", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("staff_id"),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_role"), ["role"], unique=False)

    op.create_table(
        "staff_service_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("staff_id", "occurred_on", "kind", name="uq_staff_service_event"),
    )
    with op.batch_alter_table("staff_service_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_service_history_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_service_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_service_history_staff_id"))

    op.drop_table("staff_service_history")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_role"))

    op.drop_table("staff")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_complaint_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_tier"))
        batch_op.drop_index(batch_op.f("ix_complaints_status"))
        batch_op.drop_index(batch_op.f("ix_complaints_staff_named"))
        batch_op.drop_index(batch_op.f("ix_complaints_sla_breached"))
        batch_op.drop_index(batch_op.f("ix_complaints_next_deadline"))
        batch_op.drop_index(batch_op.f("ix_complaints_customer_id"))
        batch_op.drop_index(batch_op.f("ix_complaints_contract_number"))
        batch_op.drop_index(batch_op.f("ix_complaints_channel"))
        batch_op.drop_index(batch_op.f("ix_complaints_category"))
        batch_op.drop_index(batch_op.f("ix_complaints_assignee"))

    op.drop_table("complaints")
    with op.batch_alter_table("complaint_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_events_complaint_id"))

    op.drop_table("complaint_events")
