#!/usr/bin/env bash
# The loopback-TCP floor (../shared/bench/tcpfloor.c): the byte pattern of a 4 KiB NVMe/TCP
# read with no protocol work. Server on core 0, client on core 1.
# Prints one JSON line per shape: {"bench":"tcpfloor","conns":..,"qd":..,"payload":..,"iops":..,"mib_s":..}
# Usage: bench/tcpfloor.sh [SECONDS] [QD] [PAYLOAD]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=${FTGT_SHARED:-$top/../shared}/bench/tcpfloor.c
secs=${1:-5}
qd=${2:-128}
payload=${3:-4096}
port=${TCPFLOOR_PORT:-$((20000 + RANDOM % 20000))}

bin=$(mktemp /tmp/tcpfloor.XXXXXX)
trap 'kill "$srv" 2>/dev/null || true; rm -f "$bin"' EXIT
gcc -O2 -o "$bin" "$src"
"$bin" server "$port" 0 "$payload" &
srv=$!
sleep 0.3
out=$("$bin" client "$port" 1 1 "$qd" "$secs" "$payload")
# conns=1 qd=128 payload=4096 iops=123 MiB/s=0.5
echo "$out" | awk '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf("{\"bench\":\"tcpfloor\",\"conns\":%s,\"qd\":%s,\"payload\":%s,\"iops\":%s,\"mib_s\":%s}\n",
	       v["conns"], v["qd"], v["payload"], v["iops"], v["MiB/s"])
}'
