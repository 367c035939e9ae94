#!/bin/sh
# The complaints namespace, once the frontend answers. Its retention of closed workflows is set
# by the worker at start from the policy (complaints/retention.py, ensure_namespace_retention);
# the value here is only the first one.
# Follows temporalio/samples-server compose/scripts/create-namespace.sh (commit b7bc4c5, Apr 2026).
set -eu

NAMESPACE="${DEFAULT_NAMESPACE:-default}"
RETENTION="${DEFAULT_NAMESPACE_RETENTION:-30d}"
ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
MAX_ATTEMPTS="${TEMPORAL_HEALTH_CHECK_MAX_ATTEMPTS:-60}"

attempt=1
until temporal operator cluster health --address "${ADDRESS}"; do
  if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
    echo "Temporal at ${ADDRESS} did not become healthy after ${MAX_ATTEMPTS} attempts"
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 5
done

if temporal operator namespace describe -n "${NAMESPACE}" --address "${ADDRESS}" >/dev/null 2>&1; then
  echo "namespace ${NAMESPACE} exists"
else
  temporal operator namespace create -n "${NAMESPACE}" --retention "${RETENTION}" --address "${ADDRESS}"
  echo "namespace ${NAMESPACE} created (retention ${RETENTION})"
fi
