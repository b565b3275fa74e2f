#!/usr/bin/env bash
# The pgbench reference: what this machine's PostgreSQL does for the smallest correct
# withdrawal (withdraw_spread.sql, withdraw_hot.sql) and balance read (read_balance.sql),
# each in one statement, so the service's figures can be read next to it, measured in
# the same run. It loads schema.sql and seed.sql into a scratch database it creates and
# drops, and prints one line per script:
#   reference <script> clients=N tps=X p99_ms=Y
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
for script in withdraw_spread withdraw_hot read_balance; do
	log=$(mktemp -d)
	out=$(cd "$log" && pgbench -n -M prepared -c "$clients" -j "$threads" -T "$seconds" -l -f "$here/$script.sql" "$url" 2>&1) || {
		echo "$out" >&2
		exit 1
	}
	tps=$(awk '/^tps = /{print $3; exit}' <<<"$out")
	# pgbench's per-transaction log: the third field is the latency in microseconds.
	p99=$(cat "$log"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", v[i]/1000}')
	rm -rf "$log"
	echo "reference $script clients=$clients tps=$tps p99_ms=$p99"
done
