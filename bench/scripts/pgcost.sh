#!/usr/bin/env bash
# make pgcost: PostgreSQL's own cost of one withdrawal, the service's against the
# reference's. One pgbench client, no concurrency and no fsync wait
# (synchronous_commit=off for these sessions only), so the figure is PostgreSQL's time
# per withdrawal and, on a quiet machine, moves little between runs: the create benchmark (make bench) mixes
# in the HTTP service, the load generator and the machine's day, and cannot show a
# change of a few percent in SQL. Use it to compare schema and SQL changes.
#   reference: ../shared/bench/reference's single-statement spread transaction;
#   service:   record_withdrawals (migrations) for groups of 1 and of 8 items, the
#              service's group writer's call, on a migrated scratch database.
# Both are counted beyond what is not theirs: the round trip of a statement (a bare
# SELECT 1, measured alike) for both, and for the service the building of its items' JSON
# in SQL (the same statement without the call), which the service does in Go. Loopback
# only, about a minute.   BENCH_SECONDS (8 per script)
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${BENCH_SECONDS:-8}
source bench/scripts/reference.sh
ref_db="$server/pgcost_reference?sslmode=disable"
svc_db="$server/pgcost_service?sslmode=disable"
drop() { psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS pgcost_reference WITH (FORCE)" -c "DROP DATABASE IF EXISTS pgcost_service WITH (FORCE)"; }
drop
scripts=$(mktemp -d)
trap 'drop >/dev/null 2>&1 || true; rm -rf "$scripts"' EXIT
psql -q "$server/postgres" -c "CREATE DATABASE pgcost_reference" -c "CREATE DATABASE pgcost_service"

# pgbench scripts (prepared once per session; a SQL function's body would be parsed and
# planned on every call) for groups of N, with N written out: as a pgbench variable it
# would be a parameter, and the statement building the items would be planned on every
# call. The River job's kind, queue and attempts (WEBHOOK_MAX_ATTEMPTS's default) are
# passed as the service passes them, though no merchant here has a webhook endpoint.
items=$(grep -v '^--' bench/scripts/pgcost_items.sql)
for n in 1 8 1000; do
	printf "SELECT count(*) FROM record_withdrawals(%s,\n    'webhook_deliver', 'webhooks', 12);\n" "${items//:n/$n}" >"$scripts/group$n.sql"
done
for n in 1 8; do
	printf 'SELECT length(%s::text);\n' "${items//:n/$n}" >"$scripts/items$n.sql"
done
echo 'SELECT 1;' >"$scripts/trip.sql"

go build -o bin/withdrawals ./cmd/withdrawals
DATABASE_URL="$svc_db" bin/withdrawals migrate 2>/dev/null
psql -q -v ON_ERROR_STOP=1 "$svc_db" -f bench/scripts/pgcost_seed.sql >/dev/null
# History like the reference's (100,000 withdrawals, 100 per merchant on average, with
# their journals, entries and events), written by the function itself in groups of
# 1,000, then analysed: PostgreSQL plans each foreign-key check once per session, and a
# plan made while a table was nearly empty scans the whole table on every check until
# the next ANALYZE (the first runs of this tool measured that, not the SQL).
for i in $(seq 1 100); do
	echo "\\i $scripts/group1000.sql"
	case $i in 1 | 10 | 100) echo 'ANALYZE;' ;; esac
done | psql -q -v ON_ERROR_STOP=1 "$svc_db" >/dev/null
load_reference "$ref_db"

# latency_ms FILE DB: pgbench's average latency of one transaction, in
# milliseconds; a failed run stops the script with pgbench's output.
latency_ms() {
	local out ms
	out=$(PGOPTIONS="$PGOPTIONS -c synchronous_commit=off" pgbench -n -M prepared -c 1 -j 1 -T "$secs" -f "$1" "$2" 2>&1) || true
	ms=$(awk '/^latency average = /{print $4; exit}' <<<"$out")
	if [ -z "$ms" ] || grep -q 'aborted\|error' <<<"$out"; then
		printf '%s\n' "$out" >&2
		exit 1
	fi
	echo "$ms"
}
us() { awk -v ms="$(latency_ms "$@")" 'BEGIN{printf "%.0f", ms*1000}'; }
trip_us=$(us "$scripts/trip.sql" "$ref_db")
ref_us=$(($(us "$reference/withdraw_spread.sql" "$ref_db") - trip_us))
printf 'pgcost reference_spread us_per_withdrawal=%s round_trip_us=%s\n' "$ref_us" "$trip_us"
for n in 1 8; do
	group_us=$(us "$scripts/group$n.sql" "$svc_db")
	items_us=$(us "$scripts/items$n.sql" "$svc_db")
	awk -v g="$group_us" -v i="$items_us" -v t="$trip_us" -v n="$n" -v ref="$ref_us" 'BEGIN{
		us = (g - i) / n; json = (i - t) / n
		printf "pgcost record_withdrawals_group%d us_per_withdrawal=%.0f ratio=%.2f items_json_us=%.0f\n", n, us, us/ref, json }'
done
# The calls measured must have written withdrawals, each with its lock journal.
read -r withdrawals journals < <(psql -At -F ' ' "$svc_db" -c \
	"SELECT (SELECT count(*) FROM withdrawals WHERE status = 'pending'), (SELECT count(*) FROM ledger_journals WHERE kind = 'withdrawal_lock')")
if [ "$withdrawals" -eq 0 ] || [ "$withdrawals" -ne "$journals" ]; then
	echo "pgcost: $withdrawals withdrawals and $journals lock journals written: the measured calls did not create withdrawals" >&2
	exit 1
fi
