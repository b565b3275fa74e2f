#!/usr/bin/env bash
# Generates both SDKs' code from openapi.yaml: sdk/typescript/src/schema.ts
# (openapi-typescript, pinned in sdk/typescript/package-lock.json) and
# sdk/go/client.gen.go (oapi-codegen, pinned in sdk/go/generate.go). With --check it
# writes nothing and fails when either differs from what is committed (make lint).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/sdk-tools.sh"
oapi_codegen="$(sed -n 's|^//go:generate go run \([^ ]*\) .*|\1|p' "$root/sdk/go/generate.go")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$root/sdk/typescript" && node_modules/.bin/openapi-typescript ../../openapi.yaml --output "$tmp/schema.ts" >/dev/null)
(cd "$root/sdk/go" && sed "s|^output: .*|output: $tmp/client.gen.go|" oapi-codegen.yaml >"$tmp/oapi-codegen.yaml" &&
	go run "$oapi_codegen" -config "$tmp/oapi-codegen.yaml" ../../openapi.yaml)

status=0
for pair in "schema.ts:sdk/typescript/src/schema.ts" "client.gen.go:sdk/go/client.gen.go"; do
	generated="$tmp/${pair%%:*}" committed="$root/${pair#*:}"
	if [ "${1:-}" = "--check" ]; then
		if ! cmp -s "$generated" "$committed"; then
			echo "${pair#*:} is not what openapi.yaml generates: run scripts/sdk.sh and commit it" >&2
			status=1
		fi
	else
		cp "$generated" "$committed"
	fi
done
exit $status
