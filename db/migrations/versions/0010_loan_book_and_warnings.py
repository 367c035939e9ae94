"""step 5: loan-book signals and risk early warnings

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:40:00

- loan_book_signals: one row per source record (source_system, source_record_id), as the
  lending systems sent it, never updated;
- risk_warnings: one row per early-warning case, as its workflow leaves it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = True) -> "sa.Column[object]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "loan_book_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_system", _s(64), nullable=False),
        sa.Column("source_record_id", _s(128), nullable=False),
        sa.Column("customer_id", _s(64), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        _ts("observed_at", False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("note", _s(500), nullable=True),
        _ts("received_at", False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "source_record_id", name="uq_loan_book_signals_source"),
    )
    op.create_index("ix_loan_book_signals_customer_observed", "loan_book_signals", ["customer_id", "observed_at"])
    op.create_table(
        "risk_warnings",
        sa.Column("workflow_run_id", _s(64), nullable=False),
        sa.Column("workflow_id", _s(160), nullable=False),
        sa.Column("customer_id", _s(64), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.Column("signals", sa.Integer(), nullable=False),
        _ts("opened_at", False),
        _ts("acknowledge_due"),
        _ts("act_due"),
        _ts("acknowledged_at"),
        sa.Column("acknowledged_by", _s(80), nullable=True),
        _ts("acted_at"),
        sa.Column("acted_by", _s(80), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        _ts("closed_at"),
        sa.Column("closed_by", _s(80), nullable=True),
        sa.Column("outcome", _s(24), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("workflow_run_id"),
    )
    for column in ("customer_id", "status", "closed_at"):
        op.create_index(f"ix_risk_warnings_{column}", "risk_warnings", [column])


def downgrade() -> None:
    for column in ("closed_at", "status", "customer_id"):
        op.drop_index(f"ix_risk_warnings_{column}", table_name="risk_warnings")
    op.drop_table("risk_warnings")
    op.drop_index("ix_loan_book_signals_customer_observed", table_name="loan_book_signals")
    op.drop_table("loan_book_signals")
