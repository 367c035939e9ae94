"""step 5: customer education actions

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:45:00

- education_actions: each meeting, leaflet or page logged against an education topic (a product
  and a complaint category), when it was held, how many it reached, who logged it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "education_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product", _s(64), nullable=False),
        sa.Column("topic", _s(32), nullable=False),
        sa.Column("kind", _s(16), nullable=False),
        sa.Column("title", _s(200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("reach", sa.Integer(), nullable=True),
        sa.Column("recorded_by", _s(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", _s(500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product", "topic", "kind", "held_on", "title", name="uq_education_actions_action"),
    )
    op.create_index("ix_education_actions_topic", "education_actions", ["product", "topic", "held_on"])


def downgrade() -> None:
    op.drop_index("ix_education_actions_topic", table_name="education_actions")
    op.drop_table("education_actions")
