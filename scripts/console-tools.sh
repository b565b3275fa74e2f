#!/usr/bin/env bash
# Installs the console's browser-test tools pinned in tools/console/package-lock.json
# (playwright-core and axe-core) into tools/console/node_modules (git-ignored). Nothing
# is downloaded but npm packages: playwright-core drives Debian's Chromium
# (scripts/chromium.sh) and never fetches a browser.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../tools/console" && pwd)"
if [ ! -d "$dir/node_modules/playwright-core" ] || [ ! -d "$dir/node_modules/axe-core" ]; then
	command -v npm >/dev/null 2>&1 || { echo "npm is needed to install playwright-core and axe-core (tools/console)" >&2; exit 1; }
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
fi
