#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# iscsi-test-cu (SCSI + iSCSI families) against ftgtd and Debian's tgtd on the same
# machine, in one run, each with a 256 MiB RAM/file LUN on loopback. Not a CI test.
#   bench/iscsi/compare-tgtd.sh [path/to/ftgtd]
# Needs: libiscsi-bin (iscsi-test-cu), tgt (tgtd, tgtadm). Run as root (tgtd).
set -u
ftgtd=${1:-build/app/ftgtd/ftgtd}
work=$(mktemp -d /tmp/iscsi-compare.XXXXXX)
here=$(cd "$(dirname "$0")" && pwd)
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
	rm -f "$work/lun.img"
}
trap cleanup EXIT

cat >"$work/ftgt.json" <<JSON
{"subsystems":[
 {"subsystem":"bdev","config":[{"method":"bdev_malloc_create",
   "params":{"name":"Malloc0","num_blocks":524288,"block_size":512}}]},
 {"subsystem":"iscsi","config":[
   {"method":"iscsi_create_portal_group","params":{"tag":1,"portals":[{"host":"127.0.0.1","port":"3270"}]}},
   {"method":"iscsi_create_initiator_group","params":{"tag":1,"initiators":["ANY"],"netmasks":["127.0.0.1/8"]}},
   {"method":"iscsi_create_target_node","params":{"name":"iqn.2016-06.io.ftgt:cmp","pg_ig_maps":[{"pg_tag":1,"ig_tag":1}],
     "luns":[{"bdev_name":"Malloc0","lun_id":0}],"queue_depth":64}}]}]}
JSON
"$ftgtd" -m 0x3 -r "$work/ftgt.sock" -c "$work/ftgt.json" --no-huge >"$work/ftgtd.log" 2>&1 &
ftgt_pid=$!
sleep 2
echo "== ftgtd"
OUT="$work/ftgt" "$here/iscsi-test-cu.sh" iscsi://127.0.0.1:3270/iqn.2016-06.io.ftgt:cmp/0 |
	tee "$work/ftgt.txt" | grep -E "TIMEOUT|^total"
kill -0 "$ftgt_pid" 2>/dev/null && echo "ftgtd alive after the suite" || echo "ftgtd DIED"

truncate -s 256M "$work/lun.img"
tgtd -f -C 7 --iscsi portal=127.0.0.1:3271 >"$work/tgtd.log" 2>&1 &
tgt_pid=$!
sleep 2
tgtadm -C 7 --lld iscsi --op new --mode target --tid 1 -T iqn.2016-06.io.tgt:cmp
tgtadm -C 7 --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$work/lun.img"
tgtadm -C 7 --lld iscsi --op bind --mode target --tid 1 -I ALL
echo "== tgtd"
OUT="$work/tgt" "$here/iscsi-test-cu.sh" iscsi://127.0.0.1:3271/iqn.2016-06.io.tgt:cmp/1 |
	tee "$work/tgt.txt" | grep -E "TIMEOUT|^total"
kill -0 "$tgt_pid" 2>/dev/null && echo "tgtd alive after the suite" || echo "tgtd DIED"
echo "per-suite results: $work/ftgt.txt $work/tgt.txt"
