#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""lib/nvme against ftgtd's NVMe/TCP target on 127.0.0.1 (ftgtd_e2e.c does the host
side): iovecs, fused Compare and Write, a namespace notice when a namespace is added,
a controller reset. Without and with digests.

Run: ftgtd_e2e_test.py <ftgtd_e2e binary>   ($FTGTD or $FTGT_BUILD_DIR locate ftgtd)
"""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "functional"))
from ftgt_test import Daemon, Skip, ftgtd_path, run_tests, test  # noqa: E402

NQN = "nqn.2026-01.io.ftgt:host-e2e"
E2E = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_e2e(digests):
    if not os.access(ftgtd_path(), os.X_OK):
        raise Skip("ftgtd not built")
    with Daemon() as d:
        d.rpc("nvmf_create_transport", trtype="TCP")
        d.rpc("bdev_malloc_create", name="B0", num_blocks=8192, block_size=512)
        d.rpc("bdev_malloc_create", name="B1", num_blocks=4096, block_size=512)
        d.rpc("nvmf_create_subsystem", nqn=NQN, allow_any_host=True)
        d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "B0"})
        port = free_port()
        d.rpc("nvmf_subsystem_add_listener", nqn=NQN,
              listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                              "trsvcid": str(port)})
        trid = "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:%d subnqn:%s" % (port, NQN)
        args = [E2E, trid] + (["digests"] if digests else [])
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            assert line.strip() == "AER-READY", line + p.stdout.read() + p.stderr.read()
            d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "B1"})
            p.stdin.write("go\n")
            p.stdin.flush()
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0 and out.strip().endswith("OK"), (p.returncode, out, err)


@test
def e2e_plain():
    run_e2e(False)


@test
def e2e_digests():
    run_e2e(True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: ftgtd_e2e_test.py <ftgtd_e2e binary> [test names]", file=sys.stderr)
        sys.exit(2)
    E2E = os.path.abspath(sys.argv.pop(1))
    run_tests()
