#!/usr/bin/env bash
# Makes sure Litecoin Core's litecoind is installed, for the chain tests and make regtest:
# present already (or LITECOIND names it), or installed here from Debian's packages when
# this shell may (root, or sudo without a password). Otherwise it exits 1 and says what
# to install: the chain tests never skip silently.
set -euo pipefail

if [ -n "${LITECOIND:-}" ] && [ -x "$LITECOIND" ]; then exit 0; fi
if command -v litecoind >/dev/null 2>&1; then exit 0; fi

sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="no"; fi
fi
if [ "$sudo" != no ] && command -v apt-get >/dev/null 2>&1; then
	echo "litecoind: installing Debian's litecoind package" >&2
	$sudo apt-get update -qq >&2 || true
	if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq litecoind >&2 && command -v litecoind >/dev/null 2>&1; then
		exit 0
	fi
fi
echo "litecoind is not installed and could not be installed here: the chain tests need Litecoin Core." >&2
echo "Install it (Debian: apt-get install litecoind), or set LITECOIND to its path." >&2
exit 1
