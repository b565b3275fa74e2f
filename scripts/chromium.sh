#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed, for the console's browser tests: present
# already (or CHROMIUM names it), or installed here from Debian's packages when this
# shell may (root, or sudo without a password). Otherwise it exits 1 and says what to
# install: the browser tests never skip silently. playwright-core drives this browser;
# no browser is ever downloaded.
set -euo pipefail

if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then exit 0; fi
if [ -x /usr/bin/chromium ]; then exit 0; fi

sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="no"; fi
fi
if [ "$sudo" != no ] && command -v apt-get >/dev/null 2>&1; then
	echo "chromium: installing Debian's chromium package" >&2
	$sudo apt-get update -qq >&2 || true
	if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2 && [ -x /usr/bin/chromium ]; then
		exit 0
	fi
fi
echo "Chromium is not installed and could not be installed here: the console's browser tests need it." >&2
echo "Install it (Debian: apt-get install chromium), or set CHROMIUM to its path." >&2
exit 1
