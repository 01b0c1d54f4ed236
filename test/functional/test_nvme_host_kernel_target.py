#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Our NVMe/TCP host (lib/nvme, through ftgt-perf) against a target nobody here wrote: the
Linux kernel's nvmet-tcp inside the QEMU guest of test/vm.

The guest configures nvmet (two file-backed namespaces, NSIDs 1 and 3, on its tap address)
and waits; from the host side, inside the network namespace this test creates,
`ftgt-perf --discover` must list the subsystem, and `ftgt-perf --verify -t 2` must find
exactly the two active namespaces (Identify) and write + read back every I/O without error.
Bounded (< 90 s); needs root, QEMU and the prepared guest (test/vm/prepare.sh), else skips
(77). Everything started is torn down on every path (vmlib.Netns, the guest's process group).
Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvme_host_kernel_target.py
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import SRC_ROOT, Skip, run_tests, test  # noqa: E402

VM = os.path.join(SRC_ROOT, "test", "vm")
sys.path.insert(0, VM)
import vmlib  # noqa: E402

SUBNQN = "nqn.2026-11.io.ftgt:kernel-nvmet"
BUDGET_S = 85

GUEST_SCRIPT = r"""#!/bin/bash
set -x
C=/sys/kernel/config/nvmet
S=$C/subsystems/@SUBNQN@
[ -d $C ] || modprobe nvmet || exit 10
[ -d /sys/module/nvmet_tcp ] || modprobe nvmet_tcp || exit 11
mkdir $S || exit 12
echo 1 > $S/attr_allow_any_host || exit 13
for n in 1 3; do
    # tmpfs has no O_DIRECT on this kernel: buffered file I/O.
    truncate -s 32M /tmp/ns$n.img || exit 14
    mkdir $S/namespaces/$n || exit 15
    echo -n /tmp/ns$n.img > $S/namespaces/$n/device_path || exit 16
    echo 1 > $S/namespaces/$n/buffered_io || exit 17
    echo 1 > $S/namespaces/$n/enable || exit 18
done
mkdir $C/ports/1 || exit 19
echo tcp > $C/ports/1/addr_trtype
echo ipv4 > $C/ports/1/addr_adrfam
echo "$FTGT_VM_GUEST_IP" > $C/ports/1/addr_traddr
echo 4420 > $C/ports/1/addr_trsvcid
ln -s $S $C/ports/1/subsystems/@SUBNQN@ || exit 20
touch /ftgt/ready
# The host runs its initiator now; it says when it is done (bounded).
for i in $(seq 600); do
    [ -e /ftgt/done ] && exit 0
    sleep 0.1
done
exit 21
"""


def perf_path():
    build = os.environ.get("FTGT_BUILD_DIR", os.path.join(SRC_ROOT, "build"))
    return os.path.join(build, "app", "ftgt-perf", "ftgt-perf")


def kill_group(proc):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@test
def ftgt_perf_against_kernel_nvmet():
    t0 = time.monotonic()
    perf = perf_path()
    if not os.access(perf, os.X_OK):
        raise Skip("no ftgt-perf at %s" % perf)
    reason = vmlib.unavailable_reason()
    if reason is not None:
        raise Skip("guest not available: %s" % reason)
    subnet = 100 + os.getpid() % 100
    tmp = tempfile.mkdtemp(prefix="ftgt-kernel-nvmet-")
    guest = None
    try:
        with vmlib.Netns(name="ftgtkn%d" % os.getpid(), subnet=subnet,
                         tap="ftgtkn%d" % (os.getpid() % 100000)) as ns:
            script = os.path.join(tmp, "guest.sh")
            with open(script, "w") as f:
                f.write(GUEST_SCRIPT.replace("@SUBNQN@", SUBNQN))
            share = os.path.join(tmp, "share")
            os.mkdir(share)
            log = os.path.join(tmp, "console.log")
            guest = subprocess.Popen(
                [vmlib.RUN_GUEST, "--netns", ns.name, "--tap", ns.tap, "--subnet", str(subnet),
                 "--timeout", str(BUDGET_S - 10), "--share", share, "--log", log,
                 "--script", script],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

            def console():
                try:
                    with open(log, errors="replace") as f:
                        return f.read().replace("\r", "")[-4000:]
                except OSError:
                    return ""

            ready = os.path.join(share, "ready")
            while not os.path.exists(ready):
                if guest.poll() is not None:
                    out = guest.stdout.read().decode(errors="replace")
                    if guest.returncode == vmlib.SKIP and "ftgt-vm: RC=" not in console():
                        raise Skip("guest cannot run: %s" % out[-300:])
                    raise AssertionError("guest ended (%d) before its target was ready\n%s\n%s"
                                         % (guest.returncode, out[-2000:], console()))
                if time.monotonic() - t0 > BUDGET_S - 30:
                    raise AssertionError("guest target not ready in time\n%s" % console())
                time.sleep(0.2)

            trid = "trtype:tcp adrfam:ipv4 traddr:%s trsvcid:4420" % ns.guest_ip

            # Discovery: the kernel's discovery controller lists our subsystem.
            r = ns.run([perf, "-r", trid, "--discover"], timeout=30, capture_output=True,
                       text=True)
            assert r.returncode == 0, "discover: rc %d\n%s%s" % (r.returncode, r.stdout,
                                                                  r.stderr)
            entries = [ln for ln in r.stdout.splitlines() if "subnqn:%s" % SUBNQN in ln]
            assert len(entries) == 1, "discovery log lacks %s:\n%s" % (SUBNQN, r.stdout)
            assert "traddr:%s" % ns.guest_ip in entries[0] and "trsvcid:4420" in entries[0], \
                entries[0]
            # The line is a TRID that ftgt-perf takes back (checked by the next run).
            nvm_trid = entries[0].split(" subtype:")[0]

            # Identify + verify: exactly NSIDs 1 and 3 are active; every I/O verified.
            r = ns.run([perf, "-r", nvm_trid, "--verify", "-t", "2", "-q", "8", "-o", "4k",
                        "--json"], timeout=30, capture_output=True, text=True)
            assert r.returncode == 0, "verify: rc %d\n%s%s" % (r.returncode, r.stdout,
                                                                r.stderr)
            res = json.loads(r.stdout)
            names = sorted(n["name"] for n in res["namespaces"])
            assert names == ["%s:4420 ns 1" % ns.guest_ip, "%s:4420 ns 3" % ns.guest_ip], names
            for n in res["namespaces"]:
                assert n["ios"] > 0 and n["errors"] == 0 and n["miscompares"] == 0, n
            assert res["verify"] is True

            # With digests: the same target, header and data digests on, text output.
            r = ns.run([perf, "-r", nvm_trid + " ns:3", "--verify", "-t", "1", "-q", "4",
                        "--hdgst", "--ddgst"], timeout=30, capture_output=True, text=True)
            assert r.returncode == 0, "digests: rc %d\n%s%s" % (r.returncode, r.stdout,
                                                                 r.stderr)
            assert "1 namespace(s)" in r.stdout, r.stdout

            # A subsystem the kernel target does not have: one line, non-zero, no hang.
            r = ns.run([perf, "-r", trid + " subnqn:nqn.2026-11.io.ftgt:nosuch", "-t", "1"],
                       timeout=30, capture_output=True, text=True)
            assert r.returncode != 0 and r.stderr.strip(), (r.returncode, r.stderr)

            open(os.path.join(share, "done"), "w").close()
            try:
                out, _ = guest.communicate(timeout=max(5, BUDGET_S - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                raise AssertionError("guest did not finish\n%s" % console())
            assert guest.returncode == 0, "guest script failed with %d\n%s\n%s" % (
                guest.returncode, out.decode(errors="replace")[-2000:], console())
    finally:
        if guest is not None:
            kill_group(guest)
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - t0
    assert elapsed < 90, "took %.1f s" % elapsed


if __name__ == "__main__":
    run_tests()
