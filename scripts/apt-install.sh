#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet (apt-get update only if the
# first try fails); a no-op when all are there. Used by the test bed's scripts.
#   scripts/apt-install.sh PACKAGE...
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
((${#missing[@]})) || exit 0
printf '[apt-install] installing %s\n' "${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
{ apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }; } >/dev/null 2>&1 \
  || { printf '[apt-install] ERROR: apt-get install %s failed\n' "${missing[*]}" >&2; exit 1; }
