#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux kernel iSCSI initiator (open-iscsi's iscsid/iscsiadm and iscsi_tcp, in the
QEMU guest of test/vm) against ftgtd, in one guest boot: SendTargets discovery, a login
without CHAP refused by a CHAP target, CHAP login, the disk found through sysfs, fio
write+verify (4 KiB random, 64 KiB and 512 KiB sequential, QD 8), logout, relogin and fio
verify-only of the first session's data, LUN and target reset during fio, persistent
reservations and UNMAP through the kernel (sg3-utils, blkdiscard), a wrong CHAP secret
refused, mutual CHAP with header and data digests (CRC32C) plus fio, and a target that
answers mutual CHAP with the wrong secret refused by the initiator. See doc/iscsi.md.

ftgtd runs inside a network namespace this test creates; the guest reaches it through a
tap device in that namespace. Needs root, QEMU and the prepared guest (test/vm/prepare.sh);
skips (77) otherwise. The guest script prints one PASS/FAIL line per step and
"N passed, N failed". With a sanitizer build's ftgtd (FTGT_BUILD_DIR=build-asan, or
FTGTD=...) the daemon's stderr must hold no sanitizer report and SIGTERM must exit 0.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_iscsi_linux_host.py
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import (SRC_ROOT, Daemon, Skip, ftgtd_path, is_sanitized,  # noqa: E402
                       run_tests, test)

VM = os.path.join(SRC_ROOT, "test", "vm")
T_CHAP = "iqn.2016-06.io.ftgt:linuxchap"
T_MUTUAL = "iqn.2016-06.io.ftgt:linuxmutual"
USER1, SECRET1 = "guestuser", "guestsecret123"
USER2, SECRET2 = "guestuser2", "guestsecret456"
MUSER2, MSECRET2 = "ftgttarget", "targetsecret789"
LUN_BLOCKS = 32768  # 16 MiB of 512-byte blocks, each target
GUEST_TIMEOUT_S = 150

GUEST_SCRIPT = r"""#!/bin/bash
H=$FTGT_VM_HOST_IP
P=$H:3260
RES=/ftgt/results.txt
LOG=/ftgt/steps.log
pass=0
fail=0
blocked=""
: > $RES
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
t_start=$(now_ms)
out() { echo "$*" | tee -a $RES; }
finish() {
    out "total in guest: $(( $(now_ms) - t_start )) ms"
    out "$pass passed, $fail failed"
    [ $fail -eq 0 ] && exit 0
    exit 1
}
skip() { out "SKIP: $*"; out "0 passed, 0 failed"; exit 77; }
# step NAME CMD...: PASS/FAIL line with the time taken. A failed step blocks the rest of
# its group (group resets); the blocked steps count as failed.
group() { blocked=""; }
step() {
    local name=$1 rc t0
    shift
    if [ -n "$blocked" ]; then
        out "FAIL $name: not run ($blocked failed)"
        fail=$((fail + 1))
        return 1
    fi
    echo "=== $name: $*" >> $LOG
    t0=$(now_ms)
    "$@" >> $LOG 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        out "PASS $name ($(( $(now_ms) - t0 )) ms)"
        pass=$((pass + 1))
        return 0
    fi
    out "FAIL $name (rc $rc, $(( $(now_ms) - t0 )) ms)"
    fail=$((fail + 1))
    blocked=$name
    return 1
}
adm() { timeout 60 iscsiadm "$@"; }
node_set() { adm -m node -T "$1" -p $P -o update -n "$2" -v "$3"; }
login() { adm -m node -T "$1" -p $P --login; }
logout() { adm -m node -T "$1" -p $P --logout; }
# A login that must be refused: iscsiadm fails, and no session is left.
login_refused() {
    if adm -m node -T "$1" -p $P --login; then
        echo "login to $1 succeeded"
        return 1
    fi
    ! session_of "$1" > /dev/null
}
session_of() {
    local s
    for s in /sys/class/iscsi_session/session*; do
        [ "$(cat $s/targetname 2>/dev/null)" = "$1" ] && echo $s && return 0
    done
    return 1
}
# find_disk TARGET: DEV=/dev/sdX of LUN 0 of TARGET's session (sysfs only, no udev),
# and checks its capacity.
find_disk() {
    local i s b
    DEV=""
    for i in $(seq 150); do
        if s=$(session_of "$1"); then
            for b in $s/device/target*/*:0/block/*; do
                [ -e "$b" ] && DEV=/dev/$(basename $b) && break 2
            done
        fi
        sleep 0.1
    done
    [ -n "$DEV" ] || { echo "no disk for $1"; return 1; }
    b=$(basename $DEV)
    [ -b $DEV ] || mknod $DEV b $(tr : ' ' < /sys/block/$b/dev) || return 1
    echo "$1: $DEV, $(cat /sys/block/$b/size) sectors"
    [ "$(cat /sys/block/$b/size)" = "@LUN_BLOCKS@" ]
}
disk_gone() {
    local i b=$(basename $DEV)
    for i in $(seq 100); do
        [ ! -e /sys/block/$b ] && ! session_of "$1" > /dev/null && return 0
        sleep 0.1
    done
    echo "$DEV or the session of $1 still there"
    return 1
}
# 12 MiB in all, at once: 4 KiB random writes in the first 4 MiB, 64 KiB sequential in
# the next, 512 KiB sequential in the third (several R2Ts/Data-Outs and Data-Ins each).
FIO_JOBS="--direct=1 --ioengine=libaio --iodepth=8 --verify=crc32c
    --name=rand4k --rw=randwrite --bs=4k --offset=0 --size=4M
    --name=seq64k --rw=write --bs=64k --offset=4M --size=4M
    --name=seq512k --rw=write --bs=512k --offset=8M --size=4M"
fio_write_verify() {
    timeout 120 fio --output=$1 --filename=$DEV --do_verify=1 $FIO_JOBS || return 1
    grep -q "err= 0" $1
}
fio_verify_only() {
    timeout 120 fio --output=$1 --filename=$DEV --verify_only $FIO_JOBS || return 1
    grep -q "err= 0" $1
}
# SG=/dev/sgN of DEV (made from sysfs when devtmpfs did not).
sg_of() {
    local sg
    sg=$(ls /sys/block/$(basename $DEV)/device/scsi_generic/ 2> /dev/null | head -n 1)
    [ -n "$sg" ] || return 1
    SG=/dev/$sg
    [ -c $SG ] || mknod $SG c $(tr : ' ' < /sys/class/scsi_generic/$sg/dev)
}
# LUN reset and target reset (task management through the kernel's SCSI error handler)
# while fio writes and verifies the last 4 MiB (a region the other fio jobs leave alone):
# both resets succeed and fio sees no error.
resets_during_fio() {
    local f
    sg_of || return 1
    timeout 60 fio --output=/ftgt/fio-reset.txt --filename=$DEV --direct=1 \
        --ioengine=libaio --iodepth=8 --verify=crc32c --verify_backlog=128 --name=reset \
        --rw=randwrite --bs=4k --offset=12M --size=4M --time_based --runtime=3 &
    f=$!
    sleep 1
    kill -0 $f || { echo "fio ended before the resets"; wait $f; return 1; }
    sg_reset -d $SG && sleep 0.3 && sg_reset -t $SG || { wait $f; return 1; }
    kill -0 $f || echo "note: fio ended during the resets"
    wait $f || return 1
    grep "err=" /ftgt/fio-reset.txt
    grep -q "err= 0" /ftgt/fio-reset.txt
}
# PERSISTENT RESERVE OUT/IN through SG_IO: register, reserve (Write Exclusive), read the
# reservation back, release, unregister.
pr_cycle() {
    sg_of || return 1
    sg_persist -o -G -S 0xf7f7 $SG && sg_persist -o -R -T 1 -K 0xf7f7 $SG || return 1
    sg_persist -i -r $SG | tee /ftgt/pr.txt
    grep -q "Key=0xf7f7" /ftgt/pr.txt && grep -q "Write Exclusive" /ftgt/pr.txt || return 1
    sg_persist -o -L -T 1 -K 0xf7f7 $SG && sg_persist -o -G -K 0xf7f7 -S 0 $SG || return 1
    sg_persist -i -k $SG | tee /ftgt/pr.txt
    grep -q "NO registered reservation keys" /ftgt/pr.txt
}
start_iscsid() {
    local i rc
    iscsid -f > /ftgt/iscsid.log 2>&1 &
    for i in $(seq 100); do
        iscsiadm -m session > /dev/null 2>&1
        rc=$?
        # 21: no sessions (iscsid answered); 20: iscsid not reachable yet
        [ $rc -eq 21 ] || [ $rc -eq 0 ] && return 0
        sleep 0.1
    done
    return 1
}
# digests TARGET: the connection of TARGET's session uses header and data digests.
digests() {
    local s c
    s=$(session_of "$1") || return 1
    for c in /sys/class/iscsi_connection/connection${s##*session}:*; do
        grep -H . $c/header_digest $c/data_digest
        # the kernel shows 1 (digest on) or the digest's name
        grep -qxE '1|CRC32C' $c/header_digest && grep -qxE '1|CRC32C' $c/data_digest ||
            return 1
    done
}
discover() {
    adm -m discovery -t st -p $P > /ftgt/discovery.txt || return 1
    cat /ftgt/discovery.txt
    grep -qx "$P,1 @T_CHAP@" /ftgt/discovery.txt &&
        grep -qx "$P,1 @T_MUTUAL@" /ftgt/discovery.txt
}

for t in iscsiadm iscsid fio timeout; do
    command -v $t > /dev/null || skip "$t not installed in the guest root"
done
# Our own iscsid.conf (the host's asks systemctl to start iscsid and retries logins 8
# times): bounded timeouts, one login try, NOP-Outs every 5 s.
cat > /etc/iscsi/iscsid.conf << 'EOF'
iscsid.startup = /bin/true
node.startup = manual
node.session.timeo.replacement_timeout = 15
node.conn[0].timeo.login_timeout = 15
node.conn[0].timeo.logout_timeout = 15
node.conn[0].timeo.noop_out_interval = 5
node.conn[0].timeo.noop_out_timeout = 15
node.session.initial_login_retry_max = 1
node.session.cmds_max = 128
node.session.queue_depth = 32
node.session.iscsi.InitialR2T = No
node.session.iscsi.ImmediateData = Yes
node.session.iscsi.FirstBurstLength = 262144
node.session.iscsi.MaxBurstLength = 16776192
node.conn[0].iscsi.MaxRecvDataSegmentLength = 262144
node.session.scan = auto
EOF

group
step "modprobe iscsi_tcp" modprobe iscsi_tcp
step "start iscsid" start_iscsid
step "SendTargets discovery lists both targets" discover
[ -n "$blocked" ] && finish

T=@T_CHAP@
group
step "login without CHAP to a CHAP target refused" login_refused $T
group
step "set CHAP secret" eval "node_set $T node.session.auth.authmethod CHAP &&
    node_set $T node.session.auth.username @USER1@ &&
    node_set $T node.session.auth.password @SECRET1@"
step "CHAP login" login $T
step "disk found in sysfs, 16 MiB" find_disk $T
step "fio write+verify 12 MiB (4k rand, 64k + 512k seq, QD 8)" fio_write_verify /ftgt/fio1.txt
step "logout" logout $T
step "disk and session gone after logout" disk_gone $T
step "relogin" login $T
step "disk found again" find_disk $T
step "fio verify-only: data of the first session" fio_verify_only /ftgt/fio2.txt
if command -v sg_reset > /dev/null && command -v sg_persist > /dev/null; then
    step "LUN reset and target reset during fio" resets_during_fio
    step "persistent reservation register/reserve/release" pr_cycle
else
    out "SKIP resets and persistent reservations: sg3-utils not installed"
fi
step "discard (UNMAP) of 1 MiB" blkdiscard -o 12M -l 1M $DEV
step "logout again" logout $T
group
step "set a wrong CHAP secret" node_set $T node.session.auth.password wrongsecret123
step "login with the wrong CHAP secret refused" login_refused $T

T=@T_MUTUAL@
group
step "set mutual CHAP, a wrong target secret, digests" eval "
    node_set $T node.session.auth.authmethod CHAP &&
    node_set $T node.session.auth.username @USER2@ &&
    node_set $T node.session.auth.password @SECRET2@ &&
    node_set $T node.session.auth.username_in @MUSER2@ &&
    node_set $T node.session.auth.password_in notthetarget123 &&
    node_set $T node.conn[0].iscsi.HeaderDigest CRC32C &&
    node_set $T node.conn[0].iscsi.DataDigest CRC32C"
step "initiator refuses the target's wrong mutual CHAP answer" login_refused $T
step "set the right target secret" node_set $T node.session.auth.password_in @MSECRET2@
step "mutual CHAP login with header+data digests" login $T
step "mutual: header and data digests are CRC32C" digests $T
step "mutual: disk found" find_disk $T
step "mutual: fio write+verify 12 MiB" fio_write_verify /ftgt/fio3.txt
step "mutual: logout" logout $T
step "mutual: disk and session gone" disk_gone $T
finish
"""


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def asan_env():
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    supp = os.path.join(SRC_ROOT, "test", "unit", "lsan.supp")
    if os.path.exists(supp):
        env["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % supp
    return env


def configure(d, host_ip, subnet_cidr):
    d.rpc("bdev_malloc_create", name="Malloc0", num_blocks=LUN_BLOCKS, block_size=512)
    d.rpc("bdev_malloc_create", name="Malloc1", num_blocks=LUN_BLOCKS, block_size=512)
    d.rpc("iscsi_create_portal_group", tag=1, portals=[{"host": host_ip, "port": "3260"}])
    d.rpc("iscsi_create_initiator_group", tag=1, initiators=["ANY"], netmasks=[subnet_cidr])
    d.rpc("iscsi_create_auth_group", tag=1, secrets=[{"user": USER1, "secret": SECRET1}])
    d.rpc("iscsi_create_auth_group", tag=2, secrets=[{"user": USER2, "secret": SECRET2,
                                                      "muser": MUSER2, "msecret": MSECRET2}])
    maps = [{"pg_tag": 1, "ig_tag": 1}]
    d.rpc("iscsi_create_target_node", name=T_CHAP, pg_ig_maps=maps,
          luns=[{"bdev_name": "Malloc0", "lun_id": 0}], require_chap=True, chap_group=1)
    d.rpc("iscsi_create_target_node", name=T_MUTUAL, pg_ig_maps=maps,
          luns=[{"bdev_name": "Malloc1", "lun_id": 0}], require_chap=True, mutual_chap=True,
          chap_group=2)


def guest_script():
    s = GUEST_SCRIPT
    for k, v in (("T_CHAP", T_CHAP), ("T_MUTUAL", T_MUTUAL), ("USER1", USER1),
                 ("SECRET1", SECRET1), ("USER2", USER2), ("SECRET2", SECRET2),
                 ("MUSER2", MUSER2), ("MSECRET2", MSECRET2), ("LUN_BLOCKS", str(LUN_BLOCKS))):
        s = s.replace("@%s@" % k, v)
    assert "@" not in s.replace("$@", ""), "unreplaced placeholder"
    return s


def run_guest(ns, tap, subnet, script, share, log):
    """run-guest.sh in its own process group (killed whole if even its own timeout fails);
    returns (exit status, stderr)."""
    p = subprocess.Popen(["bash", os.path.join(VM, "run-guest.sh"), "--netns", ns, "--tap",
                          tap, "--subnet", str(subnet), "--timeout", str(GUEST_TIMEOUT_S),
                          "--share", share, "--log", log, "--script", script],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=GUEST_TIMEOUT_S + 60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    return p.returncode, err.decode(errors="replace")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


@test
def linux_initiator_chap_fio():
    if os.geteuid() != 0:
        raise Skip("needs root (network namespace, tap)")
    if not os.path.exists(os.path.join(VM, "run-guest.sh")):
        raise Skip("test/vm is not there")
    prep = subprocess.run(["bash", os.path.join(VM, "prepare.sh"), "--quiet"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if prep.returncode != 0:
        raise Skip("guest not available: %s" % prep.stderr.decode()[-300:])
    pid = os.getpid()
    ns, tap, subnet = "ftgtis%d" % pid, "ftgtist%d" % (pid % 100000), 100 + pid % 50
    host_ip = "10.99.%d.1" % subnet
    sanitized = is_sanitized(ftgtd_path())
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", host_ip + "/24", "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        # One reactor: ftgtd busy-polls its core, so on a 2-core CI machine the guest's
        # emulated CPU keeps the other.
        d = Daemon(cpumask="0x1", env=asan_env() if sanitized else None)
        d.args = ["ip", "netns", "exec", ns] + d.args
        with d:
            if "iscsi_create_portal_group" not in d.rpc("rpc_get_methods"):
                raise Skip("ftgtd built without iscsi")
            configure(d, host_ip, "10.99.%d.0/24" % subnet)
            with tempfile.TemporaryDirectory() as tmp:
                script = os.path.join(tmp, "guest.sh")
                with open(script, "w") as f:
                    f.write(guest_script())
                share = os.path.join(tmp, "share")
                os.mkdir(share)
                log = os.path.join(tmp, "console.log")
                t0 = time.monotonic()
                rc, err = run_guest(ns, tap, subnet, script, share, log)
                guest_s = time.monotonic() - t0
                results = read(os.path.join(share, "results.txt"))
                sys.stdout.write(results)
                print("guest run (boot to poweroff): %.1f s%s" %
                      (guest_s, " (ASan ftgtd)" if sanitized else ""), flush=True)
                if rc == 77:
                    raise Skip("guest cannot run: %s%s" % (results, err[-300:]))
                summary = re.search(r"^(\d+) passed, (\d+) failed$", results, re.M)
                if rc != 0 or summary is None or summary.group(2) != "0":
                    keep = os.path.join(tempfile.gettempdir(), "ftgt-iscsi-linux-console.log")
                    with open(keep, "w") as f:
                        f.write(read(log))
                    raise AssertionError(
                        "guest script exited with %d (whole console in %s)\n--- steps.log "
                        "---\n%s\n--- iscsid ---\n%s\n--- console ---\n%s\n--- ftgtd ---\n%s"
                        % (rc, keep, read(os.path.join(share, "steps.log"))[-6000:],
                           read(os.path.join(share, "iscsid.log"))[-2000:],
                           read(log)[-3000:], d.stderr[-3000:]))
                # fio really moved the 8 MiB: written and read back (verify), or only
                # read (verify-only of the first session's data after the relogin).
                for name, ops in (("fio1.txt", ("READ", "WRITE")), ("fio2.txt", ("READ",)),
                                  ("fio3.txt", ("READ", "WRITE"))):
                    out = read(os.path.join(share, name))
                    assert "err= 0" in out, name + "\n" + out
                    for op in ops:
                        assert re.search(r"^\s*%s: bw=.*io=12\.0MiB" % op, out, re.M), \
                            "%s: no %s of 12 MiB\n%s" % (name, op, out)
            st = d.rpc("iscsi_get_stats")
            # Refused by the target: no CHAP, wrong secret (the wrong mutual answer is
            # refused by the initiator, which the target sees as a closed connection).
            assert st["logins_failed"] >= 2, st
            assert st["logins_ok"] >= 4, st  # discovery, login, relogin, mutual
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and d.rpc("iscsi_get_stats")["sessions"]:
                time.sleep(0.1)
            assert d.rpc("iscsi_get_stats")["sessions"] == 0, d.rpc("iscsi_get_connections")
    finally:
        sh("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    run_tests()
