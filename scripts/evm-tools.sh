#!/usr/bin/env bash
# Installs the Ethereum rail's test tools pinned in tools/evm/package-lock.json (anvil,
# whose binary ships inside its npm package, and solc) into tools/evm/node_modules
# (git-ignored), and prints anvil's path. Nothing is downloaded but npm packages.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tools/evm" && pwd)"
anvil="$dir/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if [ ! -x "$anvil" ] || [ ! -d "$dir/node_modules/solc" ]; then
	command -v npm >/dev/null 2>&1 || { echo "npm is needed to install anvil and solc (tools/evm)" >&2; exit 1; }
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
fi
"$anvil" --version >/dev/null
echo "$anvil"
