# Sourced by the scripts that measure against ../shared/bench/reference's pgbench
# reference on a scratch copy of its schema (ceiling.sh, pgcost.sh): checks the
# reference is there, finds the server, and loads the schema and seed into a database.
# Sets: reference (its directory), server (base URL, from scripts/dev-db.sh).
reference=../shared/bench/reference
if [ ! -f "$reference/schema.sql" ]; then
	echo "no pgbench reference at $reference" >&2
	exit 1
fi
export PGOPTIONS="-c client_min_messages=warning"
server=$(scripts/dev-db.sh)

# load_reference DB_URL: the reference's schema and seed (100 earlier withdrawals per
# merchant, as the reference's own run.sh seeds by default) into an existing database.
load_reference() {
	psql -q -v ON_ERROR_STOP=1 "$1" -f "$reference/schema.sql" >/dev/null
	psql -q -v ON_ERROR_STOP=1 -v per_merchant=100 "$1" -f "$reference/seed.sql" >/dev/null
}
