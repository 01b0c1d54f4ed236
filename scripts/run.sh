#!/usr/bin/env bash
# Builds ftgtd and runs it on the embedded default: a RAM disk exported over every front
# end that exists, printing how to connect. Extra arguments go to ftgtd.
# Stop it with Ctrl-C (SIGINT) or `build/app/ftgtctl/ftgtctl shutdown`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/install-deps.sh
if [ -d build ]; then
	meson setup --reconfigure build >/dev/null || meson setup --wipe build >/dev/null
else
	meson setup build >/dev/null
fi
ninja -C build >/dev/null

# Hugepages make DMA-able memory faster; ftgtd runs without them too.
if [ "$(id -u)" -eq 0 ] && [ "$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)" -lt 512 ]; then
	echo 512 >/proc/sys/vm/nr_hugepages 2>/dev/null || true
fi

echo "ftgtctl: $top/build/app/ftgtctl/ftgtctl (e.g. 'ftgtctl bdev list')"
exec "$top/build/app/ftgtd/ftgtd" --default "$@"
