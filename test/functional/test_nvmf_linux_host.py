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


if __name__ == "__main__":
    run_tests()
