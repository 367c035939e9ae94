"""team column: the projection keeps the complaint's team, not the whole case file

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

complaints = sa.table(
    "complaints",
    sa.column("complaint_id", sa.String),
    sa.column("snapshot", sa.JSON),
    sa.column("team", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.JSON(), nullable=True))
    # Rows projected before: their team is in the case file they kept.
    bind = op.get_bind()
    for complaint_id, snapshot in bind.execute(sa.select(complaints.c.complaint_id, complaints.c.snapshot)).all():
        team = (snapshot or {}).get("team") or []
        bind.execute(complaints.update().where(complaints.c.complaint_id == complaint_id).values(team=team))


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("team")
