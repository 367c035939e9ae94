"""step 5: contract clauses sent to legal review

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 00:45:00

- clause_reviews: one row per legal review of a contract clause (``<template>-<clause>-<n>``):
  its owner and due date, the complaints it took, and its outcome (reword with the new template
  version, keep, withdraw the product).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED = ("template", "clause", "status", "owner")


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = True) -> "sa.Column[object]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "clause_reviews",
        sa.Column("review_id", _s(140), nullable=False),
        sa.Column("workflow_id", _s(160), nullable=False),
        sa.Column("template", _s(40), nullable=False),
        sa.Column("clause", _s(80), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("owner", _s(64), nullable=False),
        _ts("opened_at", False),
        _ts("due_at", False),
        _ts("warned_at"),
        _ts("overdue_at"),
        sa.Column("linked", sa.JSON(), nullable=False),
        sa.Column("outcome", _s(24), nullable=True),
        sa.Column("reasons", _s(2000), nullable=True),
        sa.Column("new_template_version", _s(80), nullable=True),
        sa.Column("closed_by", _s(64), nullable=True),
        _ts("closed_at"),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("review_id"),
    )
    for column in INDEXED:
        op.create_index(f"ix_clause_reviews_{column}", "clause_reviews", [column])


def downgrade() -> None:
    for column in reversed(INDEXED):
        op.drop_index(f"ix_clause_reviews_{column}", table_name="clause_reviews")
    op.drop_table("clause_reviews")
