#!/usr/bin/env bash
# make scale: one merchant's history grown to each size in SCALE_SIZES on a database of
# its own, and every read path measured through the HTTP API of the real binary at each
# size (bench/cmd/scale prints `scale NAME n=N p50_ms=.. p99_ms=..` lines).
#   SCALE_SIZES (10000,1000000,10000000)  SCALE_CALLS (30)  SCALE_PORT (18191)
#   SCALE_BINARY: measure another build (for a before/after table); this build by default
#   SCALE_KEEP=1 keeps the database (withdrawals_scale) afterwards, and a run that finds
#   one kept measures on its history (growing it to each size not yet reached)
# The ten million history takes about 30 GB of disk and most of an hour to write.
# Logs stay in bin/scale-logs/.
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${SCALE_PORT:-18191}
server=$(scripts/dev-db.sh)
db_name=withdrawals_scale
out=bin/scale-logs
mkdir -p "$out"
bin=${SCALE_BINARY:-bin/withdrawals}
[ -n "${SCALE_BINARY:-}" ] || go build -o bin/withdrawals ./cmd/withdrawals
(cd bench && go build -o ../bin/scale-bench ./cmd/scale)

[ "${SCALE_KEEP:-0}" = 1 ] || psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)"
export DATABASE_URL="$server/$db_name?sslmode=disable"
export HTTP_ADDR="127.0.0.1:$port" METRICS_ADDR="127.0.0.1:$((port + 1))"
# No periodic batching (the live withdrawals stay pending); limits raised; warnings only.
export PAYOUT_BATCH_INTERVAL=0s RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_WITHDRAWALS_PER_MINUTE=1000000000 LOG_LEVEL=warn
"$bin" migrate 2>"$out/migrate.log"
admin_key=$("$bin" admin create-key --name scale)
"$bin" serve 2>"$out/service.log" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[ "${SCALE_KEEP:-0}" = 1 ] || psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done
echo "scale: $bin (pid $pid) on $db_name"
bin/scale-bench -url "http://$HTTP_ADDR" -metrics-url "http://$METRICS_ADDR" -admin-key "$admin_key" -database-url "$DATABASE_URL" \
	-binary "$bin" -sizes "${SCALE_SIZES:-10000,1000000,10000000}" -calls "${SCALE_CALLS:-30}" | tee "$out/scale.log"
