#!/usr/bin/env bash
# The API reference at /docs embeds Redoc's standalone bundle, vendored in apidocs/ so
# the binary builds and serves it offline. This checks the vendored files against the
# npm package they come from (npm verifies the tarball against the registry's
# integrity; the version is pinned here), or with --update writes them from it.
# Upgrading Redoc: change REDOC_VERSION, run scripts/redoc.sh --update, make test.
set -euo pipefail
REDOC_VERSION=2.5.4
root="$(cd "$(dirname "$0")/.." && pwd)"
command -v npm >/dev/null 2>&1 || { echo "npm is needed to check apidocs/redoc.standalone.js" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tarball="$(cd "$tmp" && npm pack "redoc@$REDOC_VERSION" --silent --loglevel=error)"
tar -xzf "$tmp/$tarball" -C "$tmp" package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt package/LICENSE
declare -A files=([package/bundles/redoc.standalone.js]=redoc.standalone.js
	[package/bundles/redoc.standalone.js.LICENSE.txt]=redoc.standalone.js.LICENSE.txt [package/LICENSE]=redoc.LICENSE)
for from in "${!files[@]}"; do
	to="$root/apidocs/${files[$from]}"
	if [ "${1:-}" = "--update" ]; then
		cp "$tmp/$from" "$to"
	elif ! cmp -s "$tmp/$from" "$to"; then
		echo "apidocs/${files[$from]} differs from redoc@$REDOC_VERSION's $from: run scripts/redoc.sh --update" >&2
		exit 1
	fi
done
