"""step 4: training assignments and the Service Quality Award

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 23:55:00

- training_assignments: each assignment as its workflow leaves it (assigned, overdue,
  completed), by staff member and course;
- awards: one row per quarter, the ranked nominees with their figures, and the winners a senior
  manager approved.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = True) -> "sa.Column[object]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "training_assignments",
        sa.Column("assignment_id", _s(120), nullable=False),
        sa.Column("staff_id", _s(64), nullable=False),
        sa.Column("course", _s(64), nullable=False),
        sa.Column("source", _s(16), nullable=False),
        sa.Column("reason", _s(500), nullable=False),
        sa.Column("assigned_by", _s(80), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        _ts("assigned_at", False),
        _ts("due_at", False),
        _ts("reminded_at"),
        _ts("overdue_at"),
        _ts("completed_at"),
        sa.Column("completed_by", _s(80), nullable=True),
        sa.Column("workflow_id", _s(160), nullable=False),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("assignment_id"),
    )
    for column in ("staff_id", "course", "status"):
        op.create_index(f"ix_training_assignments_{column}", "training_assignments", [column])
    op.create_table(
        "awards",
        sa.Column("quarter", _s(16), nullable=False),
        sa.Column("workflow_id", _s(160), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("nominees", sa.JSON(), nullable=False),
        sa.Column("winners", sa.JSON(), nullable=False),
        sa.Column("approved_by", _s(80), nullable=True),
        sa.Column("reason", _s(500), nullable=True),
        _ts("proposed_at", False),
        _ts("approved_at"),
        sa.PrimaryKeyConstraint("quarter"),
    )


def downgrade() -> None:
    op.drop_table("awards")
    for column in ("status", "course", "staff_id"):
        op.drop_index(f"ix_training_assignments_{column}", table_name="training_assignments")
    op.drop_table("training_assignments")
