#!/usr/bin/env bash
# make ceiling: what the balance-read target asks of this machine. Runs the pgbench read
# reference, then cmd/readceiling's bare Echo servers (nothing behind the handler, one
# read per request, batched reads) on a scratch copy of the reference's schema, at the
# same concurrency, and prints each as a ratio to the reference. Loopback only, about a
# minute.   BENCH_CONNS (16)  BENCH_SECONDS (8 per variant)
set -euo pipefail
cd "$(dirname "$0")/../.."

conns=${BENCH_CONNS:-16}
secs=${BENCH_SECONDS:-8}
reference=bench/reference
export PGOPTIONS="-c client_min_messages=warning"
server=$(scripts/dev-db.sh)
db="$server/read_ceiling?sslmode=disable"

(cd bench && go build -o ../bin/readceiling ./cmd/readceiling)
psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS read_ceiling WITH (FORCE)" -c "CREATE DATABASE read_ceiling"
trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS read_ceiling WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
psql -q -v ON_ERROR_STOP=1 "$db" -f "$reference/schema.sql" >/dev/null
psql -q -v ON_ERROR_STOP=1 -v history=100 "$db" -f "$reference/seed.sql" >/dev/null

tps=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -f "$reference/read_balance.sql" "$db" 2>&1 | awk '/^tps = /{print $3; exit}')
printf 'reference  read_balance %8.0f tps\n' "$tps"
bin/readceiling -db "$db" -conns "$conns" -duration "${secs}s" -reference "$tps"
