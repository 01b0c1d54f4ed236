#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Acceptance benchmarks of the bdev layer (not a timed test): ftgt-bdevperf, 4 KiB random
# reads at queue depth 128 on one core, on a null bdev (target >= 10 M IOPS) and on a
# malloc bdev (target >= 1 M IOPS). Prints one JSON object per line.
#
#   bench/bdev/bdevperf.sh [BUILD_DIR] [SECONDS] [CORE_MASK]
#   (defaults: build, 10, 0x1; BDEVPERF=path overrides the binary)
set -euo pipefail

build=${1:-build}
secs=${2:-10}
mask=${3:-0x1}
bin=${BDEVPERF:-$build/app/ftgt-bdevperf/ftgt-bdevperf}
if [ ! -x "$bin" ]; then
	echo "bdevperf.sh: $bin not found (build it: ninja -C $build app/ftgt-bdevperf/ftgt-bdevperf)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/bdev.json" <<'JSON'
{"subsystems": [{"subsystem": "bdev", "config": [
  {"method": "bdev_null_create", "params": {"name": "Null0", "num_blocks": 2097152, "block_size": 4096}},
  {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 262144, "block_size": 4096}}
]}]}
JSON

run() { # bdev target_iops
	local out rc=0
	out=$("$bin" --json "$tmp/bdev.json" -m "$mask" -q 128 -o 4096 -w randread -t "$secs" \
		-b "$1" --output json 2>"$tmp/err") || rc=$?
	if [ $rc -ne 0 ]; then
		printf '{"bench":"bdevperf","bdev":"%s","error":"exit %d"}\n' "$1" "$rc"
		cat "$tmp/err" >&2
		return
	fi
	python3 -c '
import json, sys
r = json.loads(sys.stdin.read())["total"]
target = float(sys.argv[2])
print(json.dumps({"bench": "bdevperf", "bdev": sys.argv[1], "workload": "randread",
                  "io_size": 4096, "queue_depth": 128, "core_mask": sys.argv[3],
                  "seconds": float(sys.argv[4]), "iops": round(r["iops"]),
                  "mibps": round(r["mibps"], 1), "lat_avg_us": round(r["latency_us"]["avg"], 2),
                  "lat_p99_us": round(r["latency_us"]["p99"], 2),
                  "target_iops": int(target), "meets_target": r["iops"] >= target}))
' "$1" "$2" "$mask" "$secs" <<<"$out"
}

run Null0 10000000
run Malloc0 1000000
