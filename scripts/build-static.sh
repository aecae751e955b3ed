#!/bin/sh
# Builds one of the native helpers (native/pier_monitor.c, native/pier_exec.c) into a static
# binary (run by binding.gyp, so `npm ci` builds them). Static so each monitor maps no shared
# libraries (with musl-gcc, Debian's musl-tools, it is ~90 KiB and costs ~100 KiB of RSS per
# container), and so pier-exec can run inside any container's root (its --init mode is the
# container's first process there, where the image may have no libc at all). glibc's static
# libc is larger but works.
# Usage: build-static.sh SOURCE OUTPUT
set -eu
src=$1
out=$2
flags="-Os -static -Wall -Wextra -D_GNU_SOURCE -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections -Wl,--gc-sections -s"
if [ -n "${PIER_MONITOR_CC:-}" ]; then
  cc=$PIER_MONITOR_CC
elif command -v musl-gcc >/dev/null 2>&1; then
  cc=musl-gcc
else
  echo "build-static: musl-gcc not found (apt-get install musl-tools); building with gcc -static" >&2
  cc=${CC:-gcc}
fi
mkdir -p "$(dirname "$out")"
if [ "$cc" = musl-gcc ]; then
  # musl-gcc searches only musl's headers; the kernel's (linux/, asm/: linux-libc-dev) are
  # linked in from the system's include dirs, and nothing else of glibc's.
  kh=$(mktemp -d)
  trap 'rm -rf "$kh"' EXIT
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  ln -s /usr/include/linux "$kh/linux"
  ln -s /usr/include/asm-generic "$kh/asm-generic"
  if [ -d "/usr/include/$multiarch/asm" ]; then ln -s "/usr/include/$multiarch/asm" "$kh/asm"; else ln -s /usr/include/asm "$kh/asm"; fi
  flags="$flags -idirafter $kh"
fi
# pier-monitor gzips rotated logs with zlib (zlib1g-dev): linked in statically too. musl-gcc
# sees only musl's headers, so zlib's two are added beside the kernel's; Debian's libz.a is
# built against glibc, but its deflate objects use nothing of libc beyond malloc and mem*.
libs=""
if grep -q '^#include <zlib.h>' "$src"; then
  zlib_a=""
  for d in "/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" /usr/lib /usr/local/lib; do
    if [ -f "$d/libz.a" ]; then zlib_a="$d/libz.a"; break; fi
  done
  if [ -z "$zlib_a" ] || [ ! -f /usr/include/zlib.h ]; then
    echo "build-static: $src needs zlib's static library and headers (apt-get install zlib1g-dev)" >&2
    exit 1
  fi
  if [ "$cc" = musl-gcc ]; then
    ln -s /usr/include/zlib.h "$kh/zlib.h"
    ln -s /usr/include/zconf.h "$kh/zconf.h"
  fi
  libs=$zlib_a
fi
# shellcheck disable=SC2086
$cc $flags -o "$out.tmp" "$src" $libs
mv "$out.tmp" "$out"
