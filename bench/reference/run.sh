#!/usr/bin/env bash
# The pgbench reference: what this machine's PostgreSQL does for the smallest correct
# withdrawal (withdraw_spread.sql, withdraw_hot.sql) and balance read (read_balance.sql),
# each in one statement, so the service's figures can be read next to it, measured in
# the same run. It loads schema.sql and seed.sql into a scratch database it creates and
# drops, and prints one line per script:
#   reference <script> clients=N tps=X p99_ms=Y
# With OWNREF (bench/cmd/ownref, built) and WITHDRAWALS_BIN (the service's binary) set,
# it also measures the database doing the service's own work: on a scratch database the
# service's migrations make, ownref seeds merchants and writes own_spread.sql and
# own_hot.sql (one withdrawal per transaction, recorded with the service's statements).
# Usage: run.sh SERVER_URL [CLIENTS=16] [SECONDS=20]   (SERVER_URL without a database name)
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
server=${1:?usage: run.sh SERVER_URL [CLIENTS] [SECONDS]}
clients=${2:-16}
seconds=${3:-20}
here=$(cd "$(dirname "$0")" && pwd)
db=withdrawals_reference
url="$server/$db"
psql -q -v ON_ERROR_STOP=1 "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
psql -q -v ON_ERROR_STOP=1 "$url" -f "$here/schema.sql" >/dev/null
psql -q -v ON_ERROR_STOP=1 -v history="${REFERENCE_HISTORY:-100}" "$url" -f "$here/seed.sql" >/dev/null
threads=$((clients < 2 ? 1 : 2))
# measure NAME SCRIPT URL: one pgbench run and its reference line.
measure() {
	local log out tps p99
	log=$(mktemp -d)
	out=$(cd "$log" && pgbench -n -M prepared -c "$clients" -j "$threads" -T "$seconds" -l -f "$2" "$3" 2>&1) || {
		echo "$out" >&2
		exit 1
	}
	tps=$(awk '/^tps = /{print $3; exit}' <<<"$out")
	# pgbench's per-transaction log: the third field is the latency in microseconds.
	p99=$(cat "$log"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", v[i]/1000}')
	rm -rf "$log"
	echo "reference $1 clients=$clients tps=$tps p99_ms=$p99"
}
for script in withdraw_spread withdraw_hot read_balance; do
	measure "$script" "$here/$script.sql" "$url"
done
if [ -n "${OWNREF:-}" ]; then
	own=withdrawals_ownref
	scripts=$(mktemp -d)
	psql -q -v ON_ERROR_STOP=1 "$server/postgres" -c "DROP DATABASE IF EXISTS $own WITH (FORCE)" >/dev/null
	trap 'psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $own WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$scripts"' EXIT
	DATABASE_URL="$server/$own?sslmode=disable" "${WITHDRAWALS_BIN:?WITHDRAWALS_BIN is the service binary}" migrate 2>/dev/null
	"$OWNREF" -database-url "$server/$own?sslmode=disable" -out "$scripts" -merchants "${OWNREF_MERCHANTS:-1000}"
	for script in own_spread own_hot; do
		measure "$script" "$scripts/$script.sql" "$server/$own"
	done
fi
