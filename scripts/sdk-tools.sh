#!/usr/bin/env bash
# Installs the TypeScript SDK's packages pinned in sdk/typescript/package-lock.json
# (openapi-fetch and standardwebhooks; openapi-typescript and typescript to generate
# and compile) into sdk/typescript/node_modules (git-ignored).
set -euo pipefail
dir="$(cd "$(dirname "$0")/../sdk/typescript" && pwd)"
if [ ! -d "$dir/node_modules/openapi-fetch" ] || [ ! -d "$dir/node_modules/typescript" ]; then
	command -v npm >/dev/null 2>&1 || { echo "npm is needed to install the TypeScript SDK's packages (sdk/typescript)" >&2; exit 1; }
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
fi
