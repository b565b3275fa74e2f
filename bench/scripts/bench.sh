#!/usr/bin/env bash
# make bench: builds the real binary, runs it on a fresh database with the sandbox
# provider and drives it with cmd/loadgen, which runs the pgbench reference of this
# machine's PostgreSQL in the same run. Loopback only, bounded in time (a few minutes).
#   BENCH_CONNS (16)  BENCH_SECONDS (10 per phase)  BENCH_PORT (18181)  BENCH_MERCHANTS (1000)
#   BENCH_PHASES (all; a list runs the pgbench reference only where it names "reference")
#   BENCH_REFERENCE=0 skips pgbench  PPROF_ADDR exposes the service's pprof
# The service's log of the last run is kept in bin/bench-service.log.
set -euo pipefail
cd "$(dirname "$0")/../.."

conns=${BENCH_CONNS:-16}
secs=${BENCH_SECONDS:-10}
port=${BENCH_PORT:-18181}
merchants=${BENCH_MERCHANTS:-1000}
server=$(scripts/dev-db.sh)
db_name=withdrawals_bench
work=$(mktemp -d)

go build -o bin/withdrawals ./cmd/withdrawals
(cd bench && go build -o ../bin/loadgen ./cmd/loadgen)

# The loadgen runs the reference in its "reference" phases, before the create phases and
# after the reads, and compares each figure with the mean of the two (cmd/loadgen/reference.go).
reference=../shared/bench/reference/run.sh
reference_cmd=
if [ "${BENCH_REFERENCE:-1}" != 0 ] && [ -f "$reference" ]; then
	reference_cmd=$(printf 'bash %q %q %q %q' "$reference" "$server/postgres?sslmode=disable" "$conns" "$secs")
else
	echo "no pgbench reference (BENCH_REFERENCE=0, or no $reference): figures are printed without ratios"
fi

psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)"
export DATABASE_URL="$server/$db_name?sslmode=disable"
export HTTP_ADDR="127.0.0.1:$port" METRICS_ADDR="127.0.0.1:$((port + 1))"
# No periodic batching: only the settlement phase's on-demand run batches;
# rate limits are raised for the run; the sandbox confirms at once; info logs are off.
export PAYOUT_BATCH_INTERVAL=0s SANDBOX_CONFIRM_DELAY=0s PAYOUT_POLL_INTERVAL=1s
export RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_WITHDRAWALS_PER_MINUTE=1000000000
export WEBHOOK_ALLOW_PRIVATE_URLS=true WHITELIST_COOLDOWN=0s LOG_LEVEL=warn DB_MAX_CONNS=${BENCH_DB_CONNS:-32}
bin/withdrawals migrate 2>"$work/migrate.log"
admin_key=$(bin/withdrawals admin create-key --name bench)

bin/withdrawals serve 2>"$work/service.log" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	cp "$work/service.log" bin/bench-service.log 2>/dev/null || true
	psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done

echo "service pid $pid on $HTTP_ADDR"
bin/loadgen -url "http://127.0.0.1:$port" -metrics-url "http://$METRICS_ADDR" -admin-key "$admin_key" -conns "$conns" -duration "${secs}s" \
	-merchants "$merchants" -reference-cmd "$reference_cmd" -pid "$pid" ${BENCH_PHASES:+-phases "$BENCH_PHASES"}
if grep -q '"level":"ERROR"' "$work/service.log"; then
	echo "service logged errors:"
	grep '"level":"ERROR"' "$work/service.log" | head -5
fi
