#!/usr/bin/env bash
# make chaos: the real binary on a PostgreSQL cluster of the run's own (created in a
# temporary directory, on its own port, removed afterwards: the database fault restarts
# it, which must never touch the machine's shared server), under steady load, through
# its faults, then every invariant checked; exits non-zero on a violation.
# Loopback only, about five minutes.
#   CHAOS_PHASE (8s)  CHAOS_MERCHANTS (40)  CHAOS_PORT (18282, and the next)  CHAOS_PG_PORT (54331)
set -euo pipefail
cd "$(dirname "$0")/../.."

bindir=""
for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
	if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then bindir=$d; fi
done
if [ -z "$bindir" ]; then
	echo "make chaos needs PostgreSQL's server binaries (initdb, pg_ctl): apt-get install postgresql" >&2
	exit 1
fi
pg_port=${CHAOS_PG_PORT:-54331}
dir=$(mktemp -d /tmp/chaos-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
	# initdb refuses to run as root: the cluster belongs to the postgres user.
	chown postgres "$dir"
	as_pg=(runuser -u postgres --)
fi
pg_ctl() { "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"; }
cleanup() {
	pg_ctl -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
"${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
options="-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200"
pg_ctl -w -o "$options" start >/dev/null
restart=$(printf '%q ' "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -m fast -o "$options" restart)

go build -o bin/withdrawals ./cmd/withdrawals
(cd bench && go build -o ../bin/chaos ./cmd/chaos)
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/withdrawals_chaos?sslmode=disable"
bin/withdrawals migrate 2>/dev/null
bin/chaos -bin bin/withdrawals -database-url "$DATABASE_URL" -pg-restart "$restart >/dev/null" -port "${CHAOS_PORT:-18282}" \
	-phase "${CHAOS_PHASE:-8s}" ${CHAOS_SETTLE:+-settle "$CHAOS_SETTLE"} -merchants "${CHAOS_MERCHANTS:-40}"
