#!/bin/sh
# Temporal's schema in PostgreSQL, with temporal-sql-tool from the admin-tools image: the
# `temporal` (persistence) and `temporal_visibility` (visibility) databases, created if absent and
# brought to the newest schema version. Idempotent, so it runs on every `docker compose up`.
# Follows temporalio/samples-server compose/scripts/setup-postgres.sh (commit b7bc4c5, Apr 2026).
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${PORT}"
until nc -z -w 10 "${POSTGRES_SEEDS}" "${PORT}"; do sleep 1; done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "${POSTGRES_SEEDS}" -u "${POSTGRES_USER}" -p "${PORT}" "$@"
}

# `create` fails if the database exists; setup-schema -v 0.0 only creates the version table
# (harmless when present); update-schema applies what is missing.
sql_tool --db temporal create || true
sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "${SCHEMA_DIR}/temporal/versioned"

sql_tool --db temporal_visibility create || true
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "${SCHEMA_DIR}/visibility/versioned"

echo "PostgreSQL schema setup complete"
