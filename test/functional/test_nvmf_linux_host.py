#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux kernel NVMe/TCP host (in the QEMU guest of test/vm) against ftgtd: nvme
discover, nvme connect, nvme id-ctrl, fio write+verify, nvme disconnect.

ftgtd runs inside a network namespace this test creates; the guest reaches it through a
tap device in that namespace. Needs root, QEMU and the prepared guest (test/vm/prepare.sh);
skips (77) otherwise. Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvmf_linux_host.py
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import SRC_ROOT, Daemon, Skip, run_tests, test  # noqa: E402

SUBNQN = "nqn.2016-06.io.ftgt:linux1"
VM = os.path.join(SRC_ROOT, "test", "vm")

GUEST_SCRIPT = r"""#!/bin/bash
set -x
H=$FTGT_VM_HOST_IP
# The namespace's block device (not the per-path nvmeXcYnZ nodes of native multipath);
# no udev in the guest, so make the device nodes from sysfs when devtmpfs did not.
find_dev() {
    dev=""
    for i in $(seq 100); do
        for d in /sys/block/nvme*n*; do
            b=$(basename "$d")
            case $b in nvme*c*) continue ;; esac
            [ -e "$d" ] && dev=/dev/$b && break 2
        done
        sleep 0.1
    done
    [ -n "$dev" ] || return 1
    [ -b "$dev" ] || mknod "$dev" b $(tr : ' ' < /sys/block/$b/dev) || return 1
    ctrl=$(ls /sys/class/nvme | head -n 1)
    [ -e /dev/$ctrl ] || mknod /dev/$ctrl c $(tr : ' ' < /sys/class/nvme/$ctrl/dev)
    return 0
}
modprobe nvme_tcp || exit 10
nvme discover -t tcp -a "$H" -s 4420 > /ftgt/discover.txt || exit 11
grep -q "@SUBNQN@" /ftgt/discover.txt || exit 12
nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN@ -k 5 || exit 13
find_dev || exit 14
nvme id-ctrl /dev/$ctrl > /ftgt/id-ctrl.txt || exit 16
grep -q "@SUBNQN@" /ftgt/id-ctrl.txt || exit 17
# What nvme-cli users look at: each must succeed.
nvme id-ns $dev > /ftgt/id-ns.txt || exit 30
nvme ns-descs $dev > /ftgt/ns-descs.txt || exit 31
nvme list-ns /dev/$ctrl > /ftgt/list-ns.txt || exit 32
grep -q "0x1" /ftgt/list-ns.txt || exit 33
nvme smart-log /dev/$ctrl > /ftgt/smart-log.txt || exit 34
nvme error-log /dev/$ctrl > /ftgt/error-log.txt || exit 35
nvme effects-log /dev/$ctrl > /ftgt/effects-log.txt || exit 36
nvme get-feature /dev/$ctrl -f 7 > /ftgt/get-feature.txt || exit 37
nvme get-feature /dev/$ctrl -f 0xf > /ftgt/get-feature-kato.txt || exit 38
fio --name=verify --filename=$dev --rw=randwrite --bs=4k --size=4M --direct=1 \
    --ioengine=psync --verify=crc32c --do_verify=1 --output=/ftgt/fio.txt || exit 18
nvme flush /dev/$ctrl -n 1 || exit 19
nvme disconnect -n @SUBNQN@ || exit 20
for i in $(seq 50); do [ -z "$(ls /sys/class/nvme)" ] && break; sleep 0.1; done
# Again through the discovery log (connect-all; its TREQ disables SQ flow control, so
# C2HData carries SUCCESS), with header and data digests, several jobs at once.
nvme connect-all -t tcp -a "$H" -s 4420 -g -G || exit 21
find_dev || exit 22
fio --name=multi --filename=$dev --rw=randrw --bsrange=512-128k --size=4M --direct=1 \
    --ioengine=psync --numjobs=4 --offset_increment=4M --verify=crc32c --do_verify=1 \
    --output=/ftgt/fio2.txt || exit 23
nvme disconnect -n @SUBNQN@ || exit 24
exit 0
"""

# The host side changes things while the guest is connected; the two step through files
# in the shared folder (/ftgt in the guest).
LIVE_SCRIPT = r"""#!/bin/bash
set -x
H=$FTGT_VM_HOST_IP
nsdevs() { ls -d /sys/block/nvme*n* 2>/dev/null | grep -v 'nvme[0-9]*c[0-9]*n' | wc -l; }
wait_file() { for i in $(seq 300); do [ -e "/ftgt/$1" ] && return 0; sleep 0.1; done; return 1; }
wait_ns() { for i in $(seq 150); do [ "$(nsdevs)" = "$1" ] && return 0; sleep 0.1; done; return 1; }
modprobe nvme_tcp || exit 10
nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN@ -k 5 --reconnect-delay=1 \
    --ctrl-loss-tmo=60 || exit 11
wait_ns 1 || exit 12
ctrl=$(ls /sys/class/nvme | head -n 1)
touch /ftgt/connected
wait_file ns_added || exit 13
wait_ns 2 || exit 14                      # the namespace appears (AEN, rescan)
touch /ftgt/saw_ns_added
wait_file ns_removed || exit 15
wait_ns 1 || exit 16                      # and disappears
touch /ftgt/saw_ns_removed
wait_file disconnected || exit 17
# The target dropped the controller: the host reconnects by itself.
for i in $(seq 200); do
    [ "$(cat /sys/class/nvme/$ctrl/state)" = live ] && [ -e /ftgt/reconnected ] && break
    sleep 0.1
done
[ "$(cat /sys/class/nvme/$ctrl/state)" = live ] || exit 18
b=$(ls -d /sys/block/nvme*n1 | grep -v 'nvme[0-9]*c[0-9]*n' | head -n 1)
dev=/dev/$(basename $b)
[ -b "$dev" ] || mknod "$dev" b $(tr : ' ' < $b/dev) || exit 19
dd if=$dev of=/dev/null bs=4k count=64 iflag=direct || exit 20
nvme disconnect -n @SUBNQN@ || exit 21
# 100 connect/disconnect cycles; the host side then checks every count is back to zero.
for i in $(seq 100); do
    nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN@ > /dev/null || exit 22
    nvme disconnect -n @SUBNQN@ > /dev/null || exit 23
done
exit 0
"""


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


@test
def linux_host_discover_connect_fio():
    if os.geteuid() != 0:
        raise Skip("needs root (network namespace, tap)")
    if not os.path.exists(os.path.join(VM, "run-guest.sh")):
        raise Skip("test/vm is not there")
    prep = subprocess.run(["bash", os.path.join(VM, "prepare.sh"), "--quiet"],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=900)
    if prep.returncode != 0:
        raise Skip("guest not available: %s" % prep.stderr.decode()[-300:])
    pid = os.getpid()
    ns, tap, subnet = "ftgtnv%d" % pid, "ftgtnvt%d" % (pid % 100000), 40 + pid % 50
    host_ip = "10.99.%d.1" % subnet
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", host_ip + "/24", "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        d = Daemon(cpumask="0x3")
        d.args = ["ip", "netns", "exec", ns] + d.args
        with d:
            if "nvmf_create_transport" not in d.rpc("rpc_get_methods"):
                raise Skip("ftgtd built without nvmf")
            d.rpc("nvmf_create_transport", {"trtype": "TCP"})
            d.rpc("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 65536,
                                         "block_size": 512})
            d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN, "allow_any_host": True,
                                            "serial_number": "FTGTLINUX1"})
            d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                            "namespace": {"bdev_name": "Malloc0"}})
            addr = {"trtype": "TCP", "adrfam": "IPv4", "traddr": host_ip, "trsvcid": "4420"}
            d.rpc("nvmf_subsystem_add_listener", {"nqn": SUBNQN, "listen_address": addr})
            with tempfile.TemporaryDirectory() as tmp:
                script = os.path.join(tmp, "guest.sh")
                with open(script, "w") as f:
                    f.write(GUEST_SCRIPT.replace("@SUBNQN@", SUBNQN))
                share = os.path.join(tmp, "share")
                os.mkdir(share)
                log = os.path.join(tmp, "console.log")
                r = subprocess.run(["bash", os.path.join(VM, "run-guest.sh"), "--netns", ns, "--tap",
                                    tap, "--subnet", str(subnet), "--timeout", "240",
                                    "--share", share, "--log", log, "--script", script],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=300)
                if r.returncode == 77:
                    raise Skip("guest cannot run: %s" % r.stderr.decode()[-300:])
                if r.returncode != 0:
                    with open(log, errors="replace") as f:
                        console = f.read()
                    keep = os.path.join(tempfile.gettempdir(), "ftgt-nvmf-linux-console.log")
                    with open(keep, "w") as f:
                        f.write(console)
                    console = "(whole console in %s)\n%s" % (keep, console[-4000:])
                    raise AssertionError("guest script failed with %d\n%s\n--- ftgtd ---\n%s"
                                         % (r.returncode, console, d.stderr[-3000:]))
                for name in ("fio.txt", "fio2.txt"):
                    with open(os.path.join(share, name)) as f:
                        assert "err= 0" in f.read(), name
    finally:
        sh("ip", "netns", "del", ns, check=False)


def wait_path(path, proc, timeout=60.0):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise AssertionError("guest ended (%s) before %s" % (proc.returncode, path))
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % path)
        time.sleep(0.1)


@test
def linux_host_live_namespace_and_target_disconnect():
    """Namespace added and removed while the kernel host is connected (it sees both),
    a target-initiated disconnect that the host recovers from by reconnecting, then 100
    connect/disconnect cycles with every count back to zero."""
    if os.geteuid() != 0:
        raise Skip("needs root (network namespace, tap)")
    if not os.path.exists(os.path.join(VM, "run-guest.sh")):
        raise Skip("test/vm is not there")
    prep = subprocess.run(["bash", os.path.join(VM, "prepare.sh"), "--quiet"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if prep.returncode != 0:
        raise Skip("guest not available: %s" % prep.stderr.decode()[-300:])
    pid = os.getpid()
    ns, tap, subnet = "ftgtnl%d" % pid, "ftgtnlt%d" % (pid % 100000), 100 + pid % 50
    host_ip = "10.99.%d.1" % subnet
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", host_ip + "/24", "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        d = Daemon(cpumask="0x3")
        d.args = ["ip", "netns", "exec", ns] + d.args
        with d:
            if "nvmf_create_transport" not in d.rpc("rpc_get_methods"):
                raise Skip("ftgtd built without nvmf")
            d.rpc("nvmf_create_transport", {"trtype": "TCP"})
            for name in ("Malloc0", "Malloc1"):
                d.rpc("bdev_malloc_create", {"name": name, "num_blocks": 16384,
                                             "block_size": 512})
            d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN, "allow_any_host": True,
                                            "serial_number": "FTGTLINUX2"})
            d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                            "namespace": {"bdev_name": "Malloc0"}})
            addr = {"trtype": "TCP", "adrfam": "IPv4", "traddr": host_ip, "trsvcid": "4420"}
            d.rpc("nvmf_subsystem_add_listener", {"nqn": SUBNQN, "listen_address": addr})
            with tempfile.TemporaryDirectory() as tmp:
                script = os.path.join(tmp, "guest.sh")
                with open(script, "w") as f:
                    f.write(LIVE_SCRIPT.replace("@SUBNQN@", SUBNQN))
                share = os.path.join(tmp, "share")
                os.mkdir(share)
                log = os.path.join(tmp, "console.log")
                proc = subprocess.Popen(
                    ["bash", os.path.join(VM, "run-guest.sh"), "--netns", ns, "--tap", tap,
                     "--subnet", str(subnet), "--timeout", "400", "--share", share,
                     "--log", log, "--script", script],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                try:
                    wait_path(os.path.join(share, "connected"), proc, 180)
                    assert d.rpc("nvmf_subsystem_add_ns", {
                        "nqn": SUBNQN, "namespace": {"bdev_name": "Malloc1"}}) == 2
                    open(os.path.join(share, "ns_added"), "w").close()
                    wait_path(os.path.join(share, "saw_ns_added"), proc)
                    assert d.rpc("nvmf_subsystem_remove_ns", {"nqn": SUBNQN, "nsid": 2})
                    open(os.path.join(share, "ns_removed"), "w").close()
                    wait_path(os.path.join(share, "saw_ns_removed"), proc)
                    old = [c["cntlid"] for c in
                           d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN})]
                    assert len(old) == 1, old
                    assert d.rpc("nvmf_subsystem_disconnect_host", {"nqn": SUBNQN}) == 1
                    open(os.path.join(share, "disconnected"), "w").close()
                    deadline = time.time() + 30
                    while True:
                        now = d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN})
                        if len(now) == 1 and now[0]["cntlid"] not in old:
                            break
                        assert time.time() < deadline, now
                        time.sleep(0.2)
                    open(os.path.join(share, "reconnected"), "w").close()
                    _, err = proc.communicate(timeout=420)
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
                if proc.returncode == 77:
                    raise Skip("guest cannot run: %s" % err.decode()[-300:])
                if proc.returncode != 0:
                    with open(log, errors="replace") as f:
                        console = f.read()
                    raise AssertionError("guest script failed with %d\n%s\n--- ftgtd ---\n%s"
                                         % (proc.returncode, console[-4000:],
                                            d.stderr[-3000:]))
            deadline = time.time() + 10
            while True:
                st = d.rpc("nvmf_get_stats")
                sub = d.rpc("nvmf_get_subsystems", {"nqn": SUBNQN})[0]
                if (st["num_connections"], st["num_controllers"], st["num_qpairs"],
                        sub["num_controllers"], sub["num_qpairs"]) == (0, 0, 0, 0, 0):
                    break
                assert time.time() < deadline, (st, sub)
                time.sleep(0.1)
            assert sum(g["accepted_qpairs"] for g in st["poll_groups"]) >= 200, st
    finally:
        sh("ip", "netns", "del", ns, check=False)


SUBNQN_ACL = "nqn.2016-06.io.ftgt:linux-acl"
ALLOWED_HOST = "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-aaaa-4bbb-8ccc-000000000001"
OTHER_HOST = "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-aaaa-4bbb-8ccc-000000000002"
OTHER_HOSTID = "0f1e2d3c-aaaa-4bbb-8ccc-000000000002"

# Three checks in one boot; the host side checks and changes things between the steps.
QUEUES_ACL_KA_SCRIPT = r"""#!/bin/bash
set -x
H=$FTGT_VM_HOST_IP
wait_file() { for i in $(seq 600); do [ -e "/ftgt/$1" ] && return 0; sleep 0.1; done; return 1; }
no_ctrl() {
    for i in $(seq 100); do [ -z "$(ls /sys/class/nvme)" ] && return 0; sleep 0.1; done
    return 1
}
find_dev() {
    dev=""
    for i in $(seq 100); do
        for d in /sys/block/nvme*n*; do
            b=$(basename "$d")
            case $b in nvme*c*) continue ;; esac
            [ -e "$d" ] && dev=/dev/$b && break 2
        done
        sleep 0.1
    done
    [ -n "$dev" ] || return 1
    [ -b "$dev" ] || mknod "$dev" b $(tr : ' ' < /sys/block/$b/dev) || return 1
    ctrl=$(ls /sys/class/nvme | head -n 1)
    return 0
}
modprobe nvme_tcp || exit 10
# 1. Two I/O queues (two vCPUs), libaio at several depths and sizes up to 1 MiB.
nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN@ --nr-io-queues=2 || exit 11
find_dev || exit 12
cat /sys/class/nvme/$ctrl/queue_count > /ftgt/queue_count
touch /ftgt/q_connected
wait_file q_checked || exit 13
fio --ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 --rw=randwrite --numjobs=2 \
    --filename=$dev --output=/ftgt/fio-qd.txt \
    --name=bs4k-qd1 --bs=4k --iodepth=1 --size=2M --offset=0 --offset_increment=2M \
    --name=bs64k-qd16 --stonewall --bs=64k --iodepth=16 --size=8M --offset=8M \
    --offset_increment=8M \
    --name=bs1m-qd4 --stonewall --bs=1M --iodepth=4 --size=8M --offset=32M \
    --offset_increment=8M || exit 14
nvme disconnect -n @SUBNQN@ || exit 15
no_ctrl || exit 16
# 2. A host not in the allow-list is refused; allowed once added.
nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN_ACL@ --hostnqn=@OTHER_HOST@ \
    --hostid=@OTHER_HOSTID@ && exit 17
touch /ftgt/refused
wait_file host_added || exit 18
nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN_ACL@ --hostnqn=@OTHER_HOST@ \
    --hostid=@OTHER_HOSTID@ || exit 19
touch /ftgt/acl_connected
wait_file acl_checked || exit 20
nvme disconnect -n @SUBNQN_ACL@ || exit 21
no_ctrl || exit 22
# 3. Keep-alive: the host side cuts the link; no reconnect (ctrl-loss-tmo 0).
nvme connect -t tcp -a "$H" -s 4420 -n @SUBNQN@ -k 5 --ctrl-loss-tmo=0 || exit 23
touch /ftgt/ka_connected
wait_file ka_done || exit 24
nvme disconnect -n @SUBNQN@ || true
no_ctrl || exit 25
exit 0
"""


@test
def linux_host_queues_acl_keep_alive():
    """One boot, three checks: fio libaio write+verify over two I/O queues at (4k, qd1),
    (64k, qd16), (1M, qd4); a host missing from the allow-list is refused and admitted
    after nvmf_subsystem_add_host; a silent host (link down) loses its controller to the
    keep-alive timeout."""
    if os.geteuid() != 0:
        raise Skip("needs root (network namespace, tap)")
    if not os.path.exists(os.path.join(VM, "run-guest.sh")):
        raise Skip("test/vm is not there")
    prep = subprocess.run(["bash", os.path.join(VM, "prepare.sh"), "--quiet"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if prep.returncode != 0:
        raise Skip("guest not available: %s" % prep.stderr.decode()[-300:])
    pid = os.getpid()
    ns, tap, subnet = "ftgtnk%d" % pid, "ftgtnkt%d" % (pid % 100000), 160 + pid % 50
    host_ip = "10.99.%d.1" % subnet
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", host_ip + "/24", "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        d = Daemon(cpumask="0x3")
        d.args = ["ip", "netns", "exec", ns] + d.args
        with d:
            if "nvmf_create_transport" not in d.rpc("rpc_get_methods"):
                raise Skip("ftgtd built without nvmf")
            d.rpc("nvmf_create_transport", {"trtype": "TCP"})
            d.rpc("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 131072,
                                         "block_size": 512})
            d.rpc("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 8192,
                                         "block_size": 512})
            d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN, "allow_any_host": True,
                                            "serial_number": "FTGTLINUX3"})
            d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                            "namespace": {"bdev_name": "Malloc0"}})
            d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN_ACL, "allow_any_host": False,
                                            "serial_number": "FTGTLINUX4"})
            d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN_ACL,
                                            "namespace": {"bdev_name": "Malloc1"}})
            d.rpc("nvmf_subsystem_add_host", {"nqn": SUBNQN_ACL, "host": ALLOWED_HOST})
            addr = {"trtype": "TCP", "adrfam": "IPv4", "traddr": host_ip, "trsvcid": "4420"}
            for nqn in (SUBNQN, SUBNQN_ACL):
                d.rpc("nvmf_subsystem_add_listener", {"nqn": nqn, "listen_address": addr})
            with tempfile.TemporaryDirectory() as tmp:
                script = os.path.join(tmp, "guest.sh")
                text = QUEUES_ACL_KA_SCRIPT
                for k, v in (("@SUBNQN_ACL@", SUBNQN_ACL), ("@SUBNQN@", SUBNQN),
                             ("@OTHER_HOSTID@", OTHER_HOSTID), ("@OTHER_HOST@", OTHER_HOST)):
                    text = text.replace(k, v)
                with open(script, "w") as f:
                    f.write(text)
                share = os.path.join(tmp, "share")
                os.mkdir(share)
                log = os.path.join(tmp, "console.log")
                proc = subprocess.Popen(
                    ["bash", os.path.join(VM, "run-guest.sh"), "--netns", ns, "--tap", tap,
                     "--subnet", str(subnet), "--timeout", "400", "--smp", "2",
                     "--share", share, "--log", log, "--script", script],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

                def ctrls(nqn):
                    return d.rpc("nvmf_subsystem_get_controllers", {"nqn": nqn})

                def touch(name):
                    open(os.path.join(share, name), "w").close()

                link_down = False
                try:
                    # 1. An admin queue and two I/O queues, on both sides.
                    wait_path(os.path.join(share, "q_connected"), proc, 180)
                    with open(os.path.join(share, "queue_count")) as f:
                        assert f.read().strip() == "3", "guest queue_count"
                    c = ctrls(SUBNQN)
                    assert len(c) == 1 and c[0]["num_qpairs"] == 3, c
                    touch("q_checked")
                    # 2. Refused, then admitted.
                    wait_path(os.path.join(share, "refused"), proc, 120)
                    assert ctrls(SUBNQN_ACL) == [], ctrls(SUBNQN_ACL)
                    d.rpc("nvmf_subsystem_add_host", {"nqn": SUBNQN_ACL, "host": OTHER_HOST})
                    touch("host_added")
                    wait_path(os.path.join(share, "acl_connected"), proc)
                    c = ctrls(SUBNQN_ACL)
                    assert len(c) == 1 and c[0]["hostnqn"] == OTHER_HOST, c
                    touch("acl_checked")
                    # 3. The host goes silent: the target must drop its controller once
                    # the 5 s keep-alive timeout has passed, and not before.
                    wait_path(os.path.join(share, "ka_connected"), proc)
                    c = ctrls(SUBNQN)
                    assert len(c) == 1, c
                    sh("ip", "-n", ns, "link", "set", tap, "down")
                    link_down = True
                    start = time.monotonic()
                    while ctrls(SUBNQN):
                        assert time.monotonic() - start < 30, "controller still there"
                        time.sleep(0.2)
                    elapsed = time.monotonic() - start
                    assert elapsed > 4.0, "dropped after %.1f s, before the KATO" % elapsed
                    assert "keep-alive timeout (5000 ms) expired" in d.stderr, d.stderr[-2000:]
                    deadline = time.monotonic() + 10
                    while True:
                        st = d.rpc("nvmf_get_stats")
                        if (st["num_controllers"], st["num_qpairs"]) == (0, 0):
                            break
                        assert time.monotonic() < deadline, st
                        time.sleep(0.1)
                    sh("ip", "-n", ns, "link", "set", tap, "up")
                    link_down = False
                    touch("ka_done")
                    _, err = proc.communicate(timeout=300)
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
                finally:
                    if link_down:
                        sh("ip", "-n", ns, "link", "set", tap, "up", check=False)
                if proc.returncode == 77:
                    raise Skip("guest cannot run: %s" % err.decode()[-300:])
                if proc.returncode != 0:
                    with open(log, errors="replace") as f:
                        console = f.read()
                    raise AssertionError("guest script failed with %d\n%s\n--- ftgtd ---\n%s"
                                         % (proc.returncode, console[-4000:],
                                            d.stderr[-3000:]))
                with open(os.path.join(share, "fio-qd.txt")) as f:
                    out = f.read()
                for job in ("bs4k-qd1", "bs64k-qd16", "bs1m-qd4"):
                    assert out.count("%s: (groupid=" % job) == 2, out
                assert out.count("err= 0") == 6, out
    finally:
        sh("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    run_tests()
