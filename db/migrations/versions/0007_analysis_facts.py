"""what the periodic analysis and the regulators' returns read

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:40:00

- complaints: product (the policy's product catalogue code, from the intake), resolved_at,
  remedy_paid (the accepted proposal's remedy total, in the policy's currency), escalations and
  extensions (how many), and facts_seq: the last audit-log seq these were derived from;
- complaint_clocks: one row per complaint and clock name, with its started, due, settled and
  breached times and its state;
- complaint_clauses: the contract clauses a complaint cites, one row each;
- analysis_reports: every report and return produced, by kind, period and version;
- indexes on complaints.received_at and closed_at, which the analysis filters periods on.

No data is moved here. Rows stand at facts_seq 0 below their last_seq, so the reporting
workflow's first activity (db/analysis_facts.py ``refresh``) derives them from each complaint's
audit log before the first analysis: that is the backfill, and it can be run again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", _s(64), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("remedy_paid", sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.add_column(sa.Column("escalations", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("extensions", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("facts_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_complaints_product"), ["product"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaints_closed_at"), ["closed_at"], unique=False)

    op.create_table(
        "complaint_clocks",
        sa.Column("complaint_id", _s(32), nullable=False),
        sa.Column("name", _s(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", _s(16), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", "name"),
    )
    op.create_index("ix_complaint_clocks_name_started", "complaint_clocks", ["name", "started_at"])

    op.create_table(
        "complaint_clauses",
        sa.Column("complaint_id", _s(32), nullable=False),
        sa.Column("clause", _s(200), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", "clause"),
    )
    op.create_index("ix_complaint_clauses_clause", "complaint_clauses", ["clause"])

    op.create_table(
        "analysis_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("period_label", _s(32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_key", _s(200), nullable=False),
        sa.Column("policy_version", _s(60), nullable=False),
        sa.Column("directory", _s(500), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "period_start", "period_end", "version", name="uq_analysis_report_version"),
        sa.UniqueConstraint("run_key", name="uq_analysis_report_run_key"),
    )


def downgrade() -> None:
    op.drop_table("analysis_reports")
    op.drop_index("ix_complaint_clauses_clause", table_name="complaint_clauses")
    op.drop_table("complaint_clauses")
    op.drop_index("ix_complaint_clocks_name_started", table_name="complaint_clocks")
    op.drop_table("complaint_clocks")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaints_closed_at"))
        batch_op.drop_index(batch_op.f("ix_complaints_received_at"))
        batch_op.drop_index(batch_op.f("ix_complaints_product"))
        for column in ("facts_seq", "extensions", "escalations", "remedy_paid", "resolved_at", "product"):
            batch_op.drop_column(column)
