#!/usr/bin/env bash
# Sets Pier up on a fresh Debian 12 machine (run as root): packages, build, `pier` and `pierd`
# on PATH, pierd started in the background on /run/pier/pier.sock, the offline busybox image
# loaded. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

here=$(pwd)
ln -sf "$here/bin/pier.js" /usr/local/bin/pier
ln -sf "$here/bin/pierd.js" /usr/local/bin/pierd

if ! pier version >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup pierd >>/var/log/pierd.log 2>&1 &
  for _ in $(seq 1 100); do
    [ -S /run/pier/pier.sock ] && pier version >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
pier version >/dev/null || { echo "pierd did not start; see /var/log/pierd.log" >&2; exit 1; }

if ! pier image inspect busybox:latest >/dev/null 2>&1; then
  node dist/scripts/make-busybox-image.js -o /var/tmp/pier-busybox.tar
  pier load -i /var/tmp/pier-busybox.tar
fi
echo "Pier is ready: try 'pier run --rm busybox echo hello'"
