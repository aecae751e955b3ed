#!/bin/sh
# Builds native/pier_monitor.c into a static binary (run by binding.gyp, so `npm ci` builds it).
# Static so each monitor maps no shared libraries: with musl-gcc (Debian's musl-tools) it is
# ~90 KiB and costs ~100 KiB of RSS per container; glibc's static libc is larger but works.
# Usage: build-monitor.sh SOURCE OUTPUT
set -eu
src=$1
out=$2
flags="-Os -static -Wall -Wextra -D_GNU_SOURCE -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections -Wl,--gc-sections -s"
if [ -n "${PIER_MONITOR_CC:-}" ]; then
  cc=$PIER_MONITOR_CC
elif command -v musl-gcc >/dev/null 2>&1; then
  cc=musl-gcc
else
  echo "build-monitor: musl-gcc not found (apt-get install musl-tools); building with gcc -static" >&2
  cc=${CC:-gcc}
fi
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2086
$cc $flags -o "$out.tmp" "$src"
mv "$out.tmp" "$out"
