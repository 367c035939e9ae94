"""step 5: the clause a root cause blames, among the clauses a complaint cites

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 06:35:00

- complaint_clauses.source: ``intake`` (a contract dispute's clause references, every row before
  it) or ``root_cause`` (the clause the recorded root cause blames, e.g. contract_wording on 7.3);
- complaint_clauses.template: the contract template the root cause named, when the complaint's
  contract number does not say it (None: the template comes from the contract number).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaint_clauses") as batch:
        batch.add_column(
            sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="intake")
        )
        batch.add_column(sa.Column("template", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaint_clauses") as batch:
        batch.drop_column("template")
        batch.drop_column("source")
