"""The database: SQLModel tables, engine, Alembic migrations, the staff directory seed."""
