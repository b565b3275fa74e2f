#!/usr/bin/env bash
# Prints the base URL of a PostgreSQL server for local runs and tests, without a
# database name (postgres://postgres@127.0.0.1:5432). It picks, in order:
#   1. the server at PG_HOST:PG_PORT (default 127.0.0.1:5432) when it answers;
#   2. a project-local cluster under .local/pg (git-ignored) on LOCAL_PG_PORT (default
#      54329), created and started here, when PostgreSQL's server binaries are installed;
#   3. otherwise it exits 1 and says what to install.
# Everything but the URL goes to stderr, so callers can use $(scripts/dev-db.sh).
set -euo pipefail

host=${PG_HOST:-127.0.0.1}
port=${PG_PORT:-5432}
local_port=${LOCAL_PG_PORT:-54329}
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.local/pg"

answers() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$1" -p "$2" -t 3
	else
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
	fi
}

if answers "$host" "$port"; then
	echo "postgres://postgres@$host:$port"
	exit 0
fi
if answers 127.0.0.1 "$local_port"; then
	echo "postgres://postgres@127.0.0.1:$local_port"
	exit 0
fi

bindir=""
if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
	bindir=$(dirname "$(command -v pg_ctl)")
else
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then bindir=$d; fi
	done
fi
if [ -z "$bindir" ]; then
	cat >&2 <<MSG
No PostgreSQL answers at $host:$port, and PostgreSQL's server binaries are not installed.
Install PostgreSQL (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql),
or point DATABASE_URL (and TEST_DATABASE_URL for tests) at a server you have.
MSG
	exit 1
fi

echo "No PostgreSQL at $host:$port; starting a project-local cluster in .local/pg on port $local_port" >&2
mkdir -p "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
	# initdb refuses to run as root: run the cluster as the postgres user.
	if ! id postgres >/dev/null 2>&1; then
		echo "Running as root needs a 'postgres' user to own the local cluster." >&2
		exit 1
	fi
	chown -R postgres "$dir"
	as_pg=(runuser -u postgres --)
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
	if ! "${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		exit 1
	fi
fi
"${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
	-o "-p $local_port -k $dir -c listen_addresses=127.0.0.1" start >&2
echo "postgres://postgres@127.0.0.1:$local_port"
