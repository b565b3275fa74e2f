#!/usr/bin/env bash
# make bench: the previous release's binary (the baseline) and this build, each run on a
# fresh database with the sandbox rail and driven by bench/cmd/loadgen over loopback,
# alternated round after round (baseline, new; then new, baseline; ...), with the
# pgbench reference (bench/reference) measured before and after. bench/cmd/benchcmp then
# prints every figure for both: the median of each one's runs and the change.
#   BENCH_BASELINE (bench/BASELINE: the previous release's commit; "none" runs this build only)
#   BENCH_ROUNDS (2)  BENCH_CONNS (16)  BENCH_SECONDS (10 per phase)  BENCH_PORT (18181)
#   BENCH_MERCHANTS (1000)  BENCH_PHASES (loadgen's)  BENCH_REFERENCE=0 skips pgbench
# Logs of the last run stay in bin/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."

conns=${BENCH_CONNS:-16}
secs=${BENCH_SECONDS:-10}
port=${BENCH_PORT:-18181}
merchants=${BENCH_MERCHANTS:-1000}
rounds=${BENCH_ROUNDS:-2}
baseline=${BENCH_BASELINE:-$(cat bench/BASELINE)}
server=$(scripts/dev-db.sh)
db_name=withdrawals_bench
out=bin/bench
rm -rf "$out" && mkdir -p "$out"

go build -o bin/withdrawals ./cmd/withdrawals
(cd bench && go build -o ../bin/loadgen ./cmd/loadgen && go build -o ../bin/benchcmp ./cmd/benchcmp && go build -o ../bin/ownref ./cmd/ownref)
binaries=(new)
if [ "$baseline" != none ]; then
	if ! git cat-file -e "$baseline^{commit}" 2>/dev/null; then
		echo "the baseline commit $baseline is not in this clone (fetch it, or BENCH_BASELINE=none)" >&2
		exit 1
	fi
	tree=$(mktemp -d)
	git archive "$baseline" | tar -x -C "$tree"
	(cd "$tree" && go build -o "$OLDPWD/bin/withdrawals-baseline" ./cmd/withdrawals)
	rm -rf "$tree"
	binaries=(baseline new)
	echo "baseline: $baseline"
fi

reference() {
	if [ "${BENCH_REFERENCE:-1}" != 0 ]; then
		echo "reference ($1): pgbench on this machine's PostgreSQL..."
		OWNREF=bin/ownref WITHDRAWALS_BIN=bin/withdrawals OWNREF_MERCHANTS=$merchants \
			bench/reference/run.sh "$server" "$conns" "$secs" | tee -a "$out/reference.log"
	fi
}

# run LABEL ROUND: one binary on a fresh database, measured by loadgen.
run() {
	local label=$1 round=$2 bin=bin/withdrawals
	[ "$label" = baseline ] && bin=bin/withdrawals-baseline
	psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)"
	(
		export DATABASE_URL="$server/$db_name?sslmode=disable"
		export HTTP_ADDR="127.0.0.1:$port" METRICS_ADDR="127.0.0.1:$((port + 1))"
		# No periodic batching: only the settlement phase's on-demand run batches; rate
		# limits are raised for the run; the sandbox confirms at once; info logs are off.
		export PAYOUT_BATCH_INTERVAL=0s SANDBOX_CONFIRM_DELAY=0s PAYOUT_POLL_INTERVAL=1s
		export RATE_LIMIT_PER_MINUTE=1000000000 RATE_LIMIT_WITHDRAWALS_PER_MINUTE=1000000000
		export WEBHOOK_ALLOW_PRIVATE_URLS=true WHITELIST_COOLDOWN=0s LOG_LEVEL=warn DB_MAX_CONNS=${BENCH_DB_CONNS:-32}
		"$bin" migrate 2>"$out/$label-$round-migrate.log"
		admin_key=$("$bin" admin create-key --name bench)
		"$bin" serve 2>"$out/$label-$round-service.log" &
		pid=$!
		trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
		for _ in $(seq 1 100); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
			sleep 0.1
		done
		# The baseline release served /metrics on the API's own address.
		metrics="http://$METRICS_ADDR"
		[ "$label" = baseline ] && metrics="http://$HTTP_ADDR"
		echo "== round $round: $label ($bin, pid $pid)"
		bin/loadgen -url "http://$HTTP_ADDR" -metrics-url "$metrics" -admin-key "$admin_key" -conns "$conns" \
			-duration "${secs}s" -merchants "$merchants" -pid "$pid" \
			-phases "${BENCH_PHASES:-settle,webhooks,create_spread,create_hot,reads,mass_payout}" | tee "$out/$label-$round.log"
		if grep -q '"level":"ERROR"' "$out/$label-$round-service.log"; then
			echo "the service logged errors:"
			grep '"level":"ERROR"' "$out/$label-$round-service.log" | head -5
		fi
	)
}

trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
reference before
logs=()
for round in $(seq 1 "$rounds"); do
	order=("${binaries[@]}")
	if [ $((round % 2)) = 0 ] && [ ${#binaries[@]} = 2 ]; then order=(new baseline); fi
	for label in "${order[@]}"; do
		run "$label" "$round"
		logs+=("$label=$out/$label-$round.log")
	done
done
reference after
ref=()
[ -f "$out/reference.log" ] && ref=("reference=$out/reference.log")
bin/benchcmp "${ref[@]}" "${logs[@]}" | tee "$out/compare.log"
