#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A/B comparison of ftgtd builds on the NVMe/TCP path (not a timed test): runs each
# workload against each binary in turn, alternating A B A B ... ROUNDS times, with one
# ftgt-perf binary, the target on core 0 and the initiator on core 1, a null bdev, and
# optionally IDLE_CONNS idle connections (ICReq done, nothing else) held open during
# every run. Prints one line per run (IOPS; the share of a core the target and the
# initiator got, from their CPU time: both poll, so below ~0.9 means other processes took
# the core; the target's system calls per I/O, from perf's raw_syscalls tracepoint) and,
# per workload, the median IOPS of each binary over the runs where both got >= 0.9 of
# their core (over all runs, marked "noisy", when none did) and the ratio of the medians
# (B/A, C/A...). Use it on a shared machine: alternation keeps drift out of the ratio,
# the CPU-share filter drops runs that other processes disturbed.
#
#   bench/nvmf/ab.sh FTGT_PERF FTGTD_A FTGTD_B [FTGTD_C...]
#   env: SECS=5 ROUNDS=3 IDLE_CONNS=0 TARGET_MASK=0x1 INITIATOR_MASK=0x2
#        WORKLOADS="randread:4096:128 randwrite:4096:128" (workload:size:qd)
#        PERF_RECORD=DIR: also `perf record -a -C PERF_CPU` (default 0, the target's core;
#        filter with `perf report --comm`) during each run into DIR (no -g: without frame
#        pointers the call graphs are garbage, and `perf record -p` lost samples here)
#        NICE=-15: run target and initiator at that nice level (root; shared machines)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
perf_bin=$1
shift
bins=("$@")
secs=${SECS:-5}
rounds=${ROUNDS:-3}
idle=${IDLE_CONNS:-0}
tmask=${TARGET_MASK:-0x1}
imask=${INITIATOR_MASK:-0x2}
nice=(nice -n "${NICE:-0}")
read -r -a workloads <<<"${WORKLOADS:-randread:4096:128 randwrite:4096:128}"
nqn=nqn.2026-01.io.ftgt:bench
tmp=$(mktemp -d)
pid=
idle_pid=
cleanup() {
	for p in $idle_pid $pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

start_target() { # binary port
	"${nice[@]}" "$1" -m "$tmask" -r "$tmp/sock" --log-level error >"$tmp/ftgtd.log" 2>&1 &
	pid=$!
	python3 "$top/bench/nvmf/setup_target.py" "$tmp/sock" "$nqn" "$2" "$idle" &
	idle_pid=$!
	# setup_target.py prints "ready" once configured and the idle connections are up.
	for _ in $(seq 1 300); do
		grep -q ready "$tmp/ready" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "ab.sh: target did not come up: $(cat "$tmp/ftgtd.log")" >&2
	exit 1
}
stop_target() {
	kill "$idle_pid" 2>/dev/null || true
	wait "$idle_pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid= idle_pid=
	rm -f "$tmp/ready" "$tmp/sock"
}

export READY_FILE=$tmp/ready
results=$tmp/results
: >"$results"
for r in $(seq 1 "$rounds"); do
	for i in "${!bins[@]}"; do
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		start_target "${bins[$i]}" "$port"
		trid="trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:$port subnqn:$nqn"
		for w in "${workloads[@]}"; do
			IFS=: read -r wl size qd <<<"$w"
			rec=
			if [ -n "${PERF_RECORD:-}" ]; then
				mkdir -p "$PERF_RECORD"
				perf record -q -a -C "${PERF_CPU:-0}" -o "$PERF_RECORD/$(basename "${bins[$i]}").$w.$r.data" \
					-- sleep "$((secs - 1))" >/dev/null 2>&1 &
				rec=$!
			fi
			perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$tmp/stat" \
				-- sleep "$secs" >/dev/null 2>&1 &
			stat=$!
			t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
			TIMEFORMAT='%R %U %S'
			{ time "${nice[@]}" "$perf_bin" -r "$trid" -c "$imask" -w "$wl" -o "$size" \
				-q "$qd" -t "$secs" --json >"$tmp/out" 2>"$tmp/perf.err"; } 2>"$tmp/time" ||
				echo '{"total":{"iops":0}}' >"$tmp/out"
			t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
			wait "$stat" || true
			[ -n "$rec" ] && wait "$rec" || true
			python3 - "$tmp/out" "$tmp/time" "$tmp/stat" "$t0" "$t1" "$secs" "$w" "$i" \
				"$(basename "${bins[$i]}")" "$r" "$(getconf CLK_TCK)" >>"$results" <<'PY'
import json, sys
out, tim, stat, t0, t1, secs, w, i, name, r, hz = sys.argv[1:]
iops = json.load(open(out))["total"]["iops"]
real, user, sys_ = (float(x) for x in open(tim).read().split()[-3:])
ini = (user + sys_) / real if real else 0
tgt = (float(t1) - float(t0)) / float(hz) / real if real else 0
calls = 0
for line in open(stat):
    f = line.split(",")
    if len(f) > 2 and "raw_syscalls" in f[2]:
        calls = float(f[0]) if f[0].replace(".", "").isdigit() else 0
spi = calls / (iops * float(secs)) if iops else 0
print("%s %s %.0f %.2f %.2f %.2f %s" % (w, i, iops, tgt, ini, spi, r))
sys.stderr.write("round %s bin %s (%s) %-20s iops %9.0f  cpu target %.2f initiator %.2f  "
                 "syscalls/io %.2f\n" % (r, i, name, w, iops, tgt, ini, spi))
PY
		done
		stop_target
	done
done
python3 - "$results" "${#bins[@]}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
print("%-22s %s   ratio of medians, median [min-max] of per-round ratios, to bin 0" %
      ("workload", " ".join("%18s" % ("bin %d IOPS (n)" % i) for i in range(n))))
for w in dict.fromkeys(r[0] for r in rows):
    meds, tags = [], []
    for i in range(n):
        mine = [r for r in rows if r[0] == w and int(r[1]) == i]
        clean = [r for r in mine if float(r[3]) >= 0.9 and float(r[4]) >= 0.9]
        use = clean or mine
        meds.append(statistics.median([float(r[2]) for r in use]) if use else 0)
        tags.append("%d%s" % (len(use), "" if clean else " noisy"))
    spi = [statistics.median([float(r[5]) for r in rows if r[0] == w and int(r[1]) == i] or [0])
           for i in range(n)]
    # Per round, each binary against the first one run just before it.
    paired = []
    for i in range(1, n):
        rs = []
        for rnd in dict.fromkeys(r[6] for r in rows):
            a = [float(r[2]) for r in rows if r[0] == w and r[1] == "0" and r[6] == rnd]
            b = [float(r[2]) for r in rows if r[0] == w and int(r[1]) == i and r[6] == rnd]
            if a and b and a[0]:
                rs.append(b[0] / a[0])
        paired.append("%.3f [%.2f-%.2f]" % (statistics.median(rs), min(rs), max(rs))
                      if rs else "-")
    print("%-22s " % w + " ".join("%10.0f (%5s)" % (m, t) for m, t in zip(meds, tags)) +
          "   " + " ".join("%.3f" % (m / meds[0] if meds[0] else 0) for m in meds[1:]) +
          "   per-round " + " ".join(paired) +
          "   syscalls/io " + " ".join("%.2f" % x for x in spi))
PY
