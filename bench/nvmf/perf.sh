#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# NVMe/TCP acceptance benchmark (not a timed test): ftgt-perf against ftgtd's NVMe/TCP
# target on a null bdev over loopback, target pinned to core 0 and initiator to core 1,
# next to tcpfloor (bench/tcpfloor.sh: the same byte pattern with no protocol work).
# Prints one table: workload, IOPS, MiB/s, p50/p99 latency, ratio to tcpfloor.
#
#   bench/nvmf/perf.sh [BUILD_DIR] [SECONDS]
#   (defaults: build, 5; FTGTD= and FTGT_PERF= override the binaries;
#    TARGET_MASK=0x1 and INITIATOR_MASK=0x2 the cores; JSON=1 also prints JSON lines)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
secs=${2:-5}
ftgtd=${FTGTD:-$build/app/ftgtd/ftgtd}
perf=${FTGT_PERF:-$build/app/ftgt-perf/ftgt-perf}
tmask=${TARGET_MASK:-0x1}
imask=${INITIATOR_MASK:-0x2}
nqn=nqn.2026-01.io.ftgt:bench
for b in "$ftgtd" "$perf"; do
	if [ ! -x "$b" ]; then
		echo "perf.sh: $b not found (build it with ninja -C $build)" >&2
		exit 1
	fi
done
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# tcpfloor first: ftgtd's reactor busy-polls core 0 and would share it with the floor.
workloads=("4k randread QD128|randread|4096|128" "4k randread QD1|randread|4096|1"
	"4k randwrite QD128|randwrite|4096|128" "128k read QD16|read|131072|16")
floors=()
for w in "${workloads[@]}"; do
	IFS='|' read -r _ _ size qd <<<"$w"
	floors+=("$("$top/bench/tcpfloor.sh" "$secs" "$qd" "$size" | tail -1)")
done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ftgtd" -m "$tmask" -r "$tmp/sock" --log-level error >"$tmp/ftgtd.log" 2>&1 &
pid=$!
python3 - "$tmp/sock" "$nqn" "$port" <<'PY'
import json, socket, sys, time
path, nqn, port = sys.argv[1], sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 20
while True:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("perf.sh: ftgtd did not open its RPC socket")
        time.sleep(0.1)
f = s.makefile("rwb")
def rpc(i, method, **params):
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}).encode() + b"\n")
    f.flush()
    dec, buf = json.JSONDecoder(), ""
    while True:
        buf += f.read1(65536).decode()
        try:
            r, _ = dec.raw_decode(buf.strip())
            break
        except ValueError:
            continue
    if "error" in r:
        sys.exit("perf.sh: %s: %s" % (method, r["error"]))
rpc(1, "nvmf_create_transport", trtype="TCP")
rpc(2, "bdev_null_create", name="Null0", num_blocks=1 << 22, block_size=4096)
rpc(3, "nvmf_create_subsystem", nqn=nqn, allow_any_host=True)
rpc(4, "nvmf_subsystem_add_ns", nqn=nqn, namespace={"bdev_name": "Null0"})
rpc(5, "nvmf_subsystem_add_listener", nqn=nqn,
    listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1", "trsvcid": port})
PY

trid="trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:$port subnqn:$nqn"
results=()
for i in "${!workloads[@]}"; do
	IFS='|' read -r name wl size qd <<<"${workloads[$i]}"
	out=$("$perf" -r "$trid" -c "$imask" -w "$wl" -o "$size" -q "$qd" -t "$secs" --json \
		2>"$tmp/perf.err") || {
		echo "perf.sh: ftgt-perf $name failed: $(cat "$tmp/perf.err")" >&2
		out='{"total":{"iops":0,"mib_s":0,"latency_us":{"p50":0,"p99":0}}}'
	}
	results+=("$name|$out|${floors[$i]}")
done

printf '%s\n' "${results[@]}" | python3 -c '
import json, os, sys
rows = []
for line in sys.stdin:
    name, perf, floor = line.rstrip("\n").split("|")
    t = json.loads(perf)["total"]
    f = json.loads(floor)
    ratio = t["iops"] / f["iops"] if f.get("iops") else 0.0
    rows.append((name, t["iops"], t["mib_s"], t["latency_us"]["p50"], t["latency_us"]["p99"],
                 f.get("iops", 0), ratio))
    if os.environ.get("JSON") == "1":
        print(json.dumps({"bench": "nvmf_tcp", "workload": name, "iops": round(t["iops"]),
                          "mib_s": round(t["mib_s"], 1), "p50_us": t["latency_us"]["p50"],
                          "p99_us": t["latency_us"]["p99"], "tcpfloor_iops": f.get("iops"),
                          "ratio": round(ratio, 3)}))
print("%-20s %12s %9s %9s %9s %14s %7s" % ("workload", "IOPS", "MiB/s", "p50(us)", "p99(us)",
                                          "tcpfloor IOPS", "ratio"))
for r in rows:
    print("%-20s %12.0f %9.1f %9.1f %9.1f %14.0f %7.2f" % r)
'
