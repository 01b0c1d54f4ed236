#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# iscsi-perf 4 KiB random reads (queue depth 128) against ftgtd and Debian's tgtd in one
# run, on pinned cores: the target on TARGET_CORES, the client alone on CLIENT_CORE.
# Prints "result target=<name> iops=<n>" lines and the ratio. Not a CI test.
#   bench/iscsi/perf-vs-tgtd.sh [path/to/ftgtd] [seconds]
# Env: TARGET_CORES (default 0), CLIENT_CORE (default 1), QD (default 128).
set -u
ftgtd=${1:-build/app/ftgtd/ftgtd}
secs=${2:-10}
tcores=${TARGET_CORES:-0}
ccore=${CLIENT_CORE:-1}
qd=${QD:-128}
work=$(mktemp -d /tmp/iscsi-perf.XXXXXX)
ftgt_pid= tgt_pid=
cleanup() {
	[ -n "$ftgt_pid" ] && kill "$ftgt_pid" 2>/dev/null
	# tgtd ignores SIGTERM while it has targets: SIGKILL it after a grace period.
	if [ -n "$tgt_pid" ]; then
		kill "$tgt_pid" 2>/dev/null
		sleep 1
		kill -9 "$tgt_pid" 2>/dev/null
	fi
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# iscsi-perf prints "hh:mm:ss - lba N, iops current N (...)" every second; report the
# median of the per-second values after the first two seconds.
perf() {
	timeout -s INT "$((secs + 3))" taskset -c "$ccore" iscsi-perf -m "$qd" -b 8 -r "$1" \
		>"$work/perf.out" 2>&1
	tr '\r' '\n' <"$work/perf.out" | grep -oE 'iops current [0-9]+' | awk '{print $3}' | tail -n +3 |
		sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'
}

cat >"$work/ftgt.json" <<JSON
{"subsystems":[
 {"subsystem":"bdev","config":[{"method":"bdev_malloc_create",
   "params":{"name":"Malloc0","num_blocks":524288,"block_size":512}}]},
 {"subsystem":"iscsi","config":[
   {"method":"iscsi_create_portal_group","params":{"tag":1,"portals":[{"host":"127.0.0.1","port":"3280"}]}},
   {"method":"iscsi_create_initiator_group","params":{"tag":1,"initiators":["ANY"],"netmasks":["127.0.0.1/8"]}},
   {"method":"iscsi_create_target_node","params":{"name":"iqn.2016-06.io.ftgt:perf","pg_ig_maps":[{"pg_tag":1,"ig_tag":1}],
     "luns":[{"bdev_name":"Malloc0","lun_id":0}],"queue_depth":128}}]}]}
JSON
mask=$(python3 -c "import sys; print(hex(sum(1 << int(c) for c in sys.argv[1].split(','))))" "$tcores")
"$ftgtd" -m "$mask" -r "$work/ftgt.sock" -c "$work/ftgt.json" --no-huge >"$work/ftgtd.log" 2>&1 &
ftgt_pid=$!
sleep 2
ftgt_iops=$(perf iscsi://127.0.0.1:3280/iqn.2016-06.io.ftgt:perf/0)
echo "result target=ftgtd iops=$ftgt_iops"
kill "$ftgt_pid"
wait "$ftgt_pid" 2>/dev/null
ftgt_pid=

# tgtd serves from a file on tmpfs (its RAM-disk equivalent) with its default threads.
mkdir -p /dev/shm/iscsi-perf.$$
img=/dev/shm/iscsi-perf.$$/lun.img
truncate -s 256M "$img"
taskset -c "$tcores" tgtd -f -C 9 --iscsi portal=127.0.0.1:3281 >"$work/tgtd.log" 2>&1 &
tgt_pid=$!
sleep 2
tgtadm -C 9 --lld iscsi --op new --mode target --tid 1 -T iqn.2016-06.io.tgt:perf
tgtadm -C 9 --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$img"
tgtadm -C 9 --lld iscsi --op bind --mode target --tid 1 -I ALL
tgt_iops=$(perf iscsi://127.0.0.1:3281/iqn.2016-06.io.tgt:perf/1)
echo "result target=tgtd iops=$tgt_iops"
rm -rf /dev/shm/iscsi-perf.$$
python3 -c "import sys; f, t = int(sys.argv[1]), int(sys.argv[2]); print('ratio ftgtd/tgtd=%.2f' % (f / t if t else 0))" "$ftgt_iops" "$tgt_iops"
