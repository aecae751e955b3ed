#!/usr/bin/env bash
# Installs what Pier needs on a fresh Debian 12 machine (as root) and builds it.
# Used by scripts/setup.sh and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(runc conmon iptables busybox-static tini catatonit g++ make musl-tools linux-libc-dev zlib1g-dev python3 tmux procps iproute2)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build
