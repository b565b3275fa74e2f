#!/usr/bin/env bash
# make chaos: the real binary on a fresh database, under steady load, through four
# faults (kill -9, database connections cut, provider timeouts then outage, webhook
# receiver down), then every invariant checked; exits non-zero on a violation.
# Loopback only, a few minutes.  CHAOS_PHASE (8s)  CHAOS_MERCHANTS (40)  CHAOS_PORT (18282)
set -euo pipefail
cd "$(dirname "$0")/.."
server=$(scripts/dev-db.sh)
db_name=withdrawals_chaos
go build -o bin/withdrawals ./cmd/withdrawals
go build -o bin/chaos ./cmd/chaos
psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" 2>/dev/null
export DATABASE_URL="$server/$db_name?sslmode=disable"
bin/withdrawals migrate 2>/dev/null
trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
bin/chaos -bin bin/withdrawals -database-url "$DATABASE_URL" -port "${CHAOS_PORT:-18282}" \
	-phase "${CHAOS_PHASE:-8s}" ${CHAOS_SETTLE:+-settle "$CHAOS_SETTLE"} -merchants "${CHAOS_MERCHANTS:-40}"
