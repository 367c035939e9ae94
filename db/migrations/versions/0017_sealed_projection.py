"""issue 16: contact details and free text encrypted at rest, in TEXT columns

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 06:00:00

With a key ring configured, these columns hold sealed values (``db/sealing.py``:
``sealed:v1:<key id>:<base64>``), about 4/3 of the text plus some 50 characters, so a name of
200 characters no longer fits VARCHAR(200) (PostgreSQL refuses the write; SQLite does not check).
The input limits stay in the models (pydantic): only the columns become TEXT.

- complaints.customer_name VARCHAR(200)
- outbox.recipient VARCHAR(500), outbox.subject VARCHAR(300), outbox.body VARCHAR
- loan_book_signals.note VARCHAR(500), recall_customers.note VARCHAR(2000)

The JSON columns that are sealed (complaints.snapshot, investigations.file, risk_warnings.history
whole; the free-text members of complaint_events.detail and investigation_events.detail) stay
JSON: a sealed value is a JSON string. No row changes: rows written before stay clear and read as
they are. A downgrade narrows the columns again, which PostgreSQL refuses while a longer (sealed)
value is in one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, column, length before (None: VARCHAR without a length), nullable
TO_TEXT: list[tuple[str, str, int | None, bool]] = [
    ("complaints", "customer_name", 200, False),
    ("outbox", "recipient", 500, False),
    ("outbox", "subject", 300, False),
    ("outbox", "body", None, False),
    ("loan_book_signals", "note", 500, True),
    ("recall_customers", "note", 2000, True),
]


def _alter(table: str, column: str, old: sa.types.TypeEngine[str], new: sa.types.TypeEngine[str], null: bool) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(column, existing_type=old, type_=new, existing_nullable=null)


def upgrade() -> None:
    for table, column, length, nullable in TO_TEXT:
        _alter(table, column, AutoString(length=length), sa.Text(), nullable)


def downgrade() -> None:
    for table, column, length, nullable in TO_TEXT:
        _alter(table, column, sa.Text(), AutoString(length=length), nullable)
