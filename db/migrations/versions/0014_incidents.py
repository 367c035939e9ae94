"""step 6.2: incidents opened by a surge of complaints

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 03:40:00

- incidents: one row per incident (``incident-<dimension>-<value>-<n>``): the surge's figures,
  the crisis team and the lead, the situation reports sent (the latest kept), the post-incident
  review with its root cause, and the closure.
- incident_complaints: the complaints each incident linked, once each (the watch links a new
  matching complaint to the open incident; the situation report counts them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED = ("workflow_id", "dimension", "value", "status")


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = True) -> "sa.Column[object]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("incident_id", _s(200), nullable=False),
        sa.Column("workflow_id", _s(200), nullable=False),
        sa.Column("dimension", _s(16), nullable=False),
        sa.Column("value", _s(64), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        _ts("opened_at", False),
        _ts("window_start", False),
        sa.Column("lead", _s(64), nullable=True),
        sa.Column("crisis_team", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("linked_count", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("last_report", sa.JSON(), nullable=True),
        sa.Column("review", _s(4000), nullable=True),
        sa.Column("root_cause", _s(40), nullable=True),
        sa.Column("reviewed_by", _s(64), nullable=True),
        _ts("reviewed_at"),
        _ts("closed_at"),
        sa.Column("closed_by", _s(64), nullable=True),
        sa.Column("closing_note", _s(2000), nullable=True),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    for column in INDEXED:
        op.create_index(f"ix_incidents_{column}", "incidents", [column])
    op.create_table(
        "incident_complaints",
        sa.Column("incident_id", _s(200), nullable=False),
        sa.Column("complaint_id", _s(32), nullable=False),
        _ts("linked_at", False),
        sa.PrimaryKeyConstraint("incident_id", "complaint_id"),
    )
    op.create_index("ix_incident_complaints_complaint_id", "incident_complaints", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_complaints_complaint_id", table_name="incident_complaints")
    op.drop_table("incident_complaints")
    for column in reversed(INDEXED):
        op.drop_index(f"ix_incidents_{column}", table_name="incidents")
    op.drop_table("incidents")
