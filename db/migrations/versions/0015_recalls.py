"""step 6.2: product recalls

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 03:00:00

- recalls: one row per recall of a defective product (``<product>-<n>``): the declaration, its
  progress counts (affected, told, opened, remediated, overdue), the revision that ended it;
- recall_customers: one row per affected customer of a recall, found once from the projection and
  the loan book's ``contract`` records, then told, opened, remediated (or overdue);
- loan_book_signals.kind indexed: a recall reads the ``contract`` records of a product.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = True) -> "sa.Column[object]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recalls",
        sa.Column("recall_id", _s(60), nullable=False),
        sa.Column("workflow_id", _s(80), nullable=False),
        sa.Column("product", _s(64), nullable=False),
        sa.Column("reason", _s(2000), nullable=False),
        sa.Column("scope", _s(2000), nullable=False),
        sa.Column("remedy", _s(32), nullable=False),
        sa.Column("declared_by", _s(64), nullable=False),
        _ts("declared_at", False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("affected", sa.Integer(), nullable=False),
        sa.Column("told", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("remediated", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("revision", _s(2000), nullable=True),
        sa.Column("new_version", _s(80), nullable=True),
        sa.Column("revised_by", _s(64), nullable=True),
        _ts("revised_at"),
        _ts("closed_at"),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("recall_id"),
    )
    op.create_index("ix_recalls_product", "recalls", ["product"])
    op.create_index("ix_recalls_status", "recalls", ["status"])
    op.create_table(
        "recall_customers",
        sa.Column("recall_id", _s(60), nullable=False),
        sa.Column("customer_id", _s(64), nullable=False),
        sa.Column("complaint_ids", sa.JSON(), nullable=False),
        sa.Column("contract_numbers", sa.JSON(), nullable=False),
        sa.Column("workflow_id", _s(160), nullable=False),
        sa.Column("language", _s(8), nullable=True),
        _ts("told_at"),
        _ts("opened_at"),
        _ts("due_at"),
        _ts("overdue_at"),
        _ts("remediated_at"),
        sa.Column("remediated_by", _s(64), nullable=True),
        sa.Column("reference", _s(128), nullable=True),
        sa.Column("note", _s(2000), nullable=True),
        sa.PrimaryKeyConstraint("recall_id", "customer_id"),
    )
    op.create_index("ix_recall_customers_recall_remediated", "recall_customers", ["recall_id", "remediated_at"])
    op.create_index("ix_loan_book_signals_kind", "loan_book_signals", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_loan_book_signals_kind", table_name="loan_book_signals")
    op.drop_index("ix_recall_customers_recall_remediated", table_name="recall_customers")
    op.drop_table("recall_customers")
    op.drop_index("ix_recalls_status", table_name="recalls")
    op.drop_index("ix_recalls_product", table_name="recalls")
    op.drop_table("recalls")
