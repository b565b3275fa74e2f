#!/usr/bin/env bash
# Makes sure promtool is installed, for make lint's check and unit tests of the alert
# rules (deploy/prometheus): present already, or installed here from Debian's prometheus
# package when this shell may (root, or sudo without a password). Otherwise it exits 1
# and says what to install.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then exit 0; fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="no"; fi
fi
if [ "$sudo" != no ] && command -v apt-get >/dev/null 2>&1; then
	echo "promtool: installing Debian's prometheus package" >&2
	$sudo apt-get update -qq >&2 || true
	# The package also installs Prometheus itself as a service; only promtool is used here.
	if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2 && command -v promtool >/dev/null; then
		exit 0
	fi
fi
echo "promtool is not installed and could not be installed here: make lint checks the alert rules with it." >&2
echo "Install it (Debian: apt-get install prometheus)." >&2
exit 1
