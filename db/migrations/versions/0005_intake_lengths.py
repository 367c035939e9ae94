"""columns as long as what intake accepts lands in them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 20:30:00

- outbox.recipient 254 -> 500: a letter's recipient is the customer's postal address, which
  intake accepts up to 500 characters; a longer one than 254 broke the acknowledgement on
  PostgreSQL, retried forever.
- complaint_events.actor 64 -> 80: the first event's actor is ``intake:<source_system>``,
  up to 71 characters.

Widening a VARCHAR changes no row; a write that was failing succeeds on its next try.
"""

from collections.abc import Sequence

from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = [("outbox", "recipient", 254, 500), ("complaint_events", "actor", 64, 80)]


def _resize(table: str, column: str, old: int, new: int) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(
            column, existing_type=AutoString(length=old), type_=AutoString(length=new), existing_nullable=False
        )


def upgrade() -> None:
    for table, column, old, new in WIDENED:
        _resize(table, column, old, new)


def downgrade() -> None:
    for table, column, old, new in WIDENED:
        _resize(table, column, new, old)
