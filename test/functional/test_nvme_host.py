#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The NVMe-oF host library through ftgt-perf against ftgtd's NVMe/TCP target on
127.0.0.1: discovery, randread on a null bdev, --verify on a malloc bdev (in-capsule and R2T
writes, two connections, digests), and the one-line errors for a wrong subsystem, a
host that is not allowed and a port nobody listens on.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvme_host.py [names]
($FTGT_PERF overrides the ftgt-perf binary.)
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import Daemon, Skip, run_tests, test  # noqa: E402

NQN = "nqn.2026-01.io.ftgt:host-test"


def perf_path():
    p = os.environ.get("FTGT_PERF") or os.path.join(
        os.environ.get("FTGT_BUILD_DIR", "build"), "app", "ftgt-perf", "ftgt-perf")
    if not os.access(p, os.X_OK):
        raise Skip("ftgt-perf not built")
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def trid(port, nqn=NQN):
    return "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:%d subnqn:%s" % (port, nqn)


def perf(args, timeout=60):
    p = subprocess.run([perf_path()] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def target(d, bdev="malloc", allow_any_host=True, block_size=512):
    """TCP transport, one subsystem with one namespace, a listener; returns the port."""
    d.rpc("nvmf_create_transport", trtype="TCP")
    if bdev == "malloc":
        d.rpc("bdev_malloc_create", name="B0", num_blocks=65536, block_size=block_size)
    else:
        d.rpc("bdev_null_create", name="B0", num_blocks=1 << 20, block_size=block_size)
    d.rpc("nvmf_create_subsystem", nqn=NQN, allow_any_host=allow_any_host)
    d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "B0"})
    port = free_port()
    d.rpc("nvmf_subsystem_add_listener", nqn=NQN,
          listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                          "trsvcid": str(port)})
    return port


def one_line_error(rc, out, err, needle):
    assert rc != 0, (rc, out, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]


def check_json(out):
    r = json.loads(out)
    t = r["total"]
    assert t["ios"] > 0 and t["errors"] == 0 and t["miscompares"] == 0, t
    lat = t["latency_us"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], lat
    return r


@test
def randread_null_bdev():
    perf_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d, bdev="null")
        rc, out, err = perf(["-r", trid(port), "-q", "32", "-o", "4k", "-w", "randread",
                             "-t", "1", "--json"])
        assert rc == 0, err
        check_json(out)


@test
def verify_malloc_small_and_large():
    perf_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d)
        # 4 KiB writes travel in the capsule, 128 KiB ones after R2T.
        for size in ("4k", "128k"):
            rc, out, err = perf(["-r", trid(port), "-q", "8", "-o", size, "-P", "2",
                                 "-t", "1", "--verify", "--json"])
            assert rc == 0, (size, err)
            assert check_json(out)["verify"] is True


@test
def verify_digests_4k_blocks():
    perf_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d, block_size=4096)
        rc, out, err = perf(["-r", trid(port), "-q", "4", "-o", "64k", "-w", "randrw",
                             "-t", "1", "--verify", "--hdgst", "--ddgst", "--json"])
        assert rc == 0, err
        check_json(out)


@test
def discovery_lists_subsystem():
    perf_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d)
        d.rpc("nvmf_subsystem_add_listener", nqn="nqn.2014-08.org.nvmexpress.discovery",
              listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                              "trsvcid": str(port)})
        rc, out, err = perf(["--discover", "--json", "-r",
                             "trtype:tcp traddr:127.0.0.1 trsvcid:%d" % port])
        assert rc == 0, err
        entries = json.loads(out)
        assert [(e["subnqn"], e["traddr"], e["trsvcid"]) for e in entries] == [
            (NQN, "127.0.0.1", str(port))], entries


@test
def wrong_subsystem_is_one_line():
    perf_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d)
        rc, out, err = perf(["-r", trid(port, "nqn.2026-01.io.ftgt:nosuch"), "-t", "1"])
        one_line_error(rc, out, err, "refused Fabrics Connect")


@test
def host_not_allowed_is_one_line():
    perf_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d, allow_any_host=False)
        rc, out, err = perf(["-r", trid(port), "-t", "1"])
        one_line_error(rc, out, err, "refused Fabrics Connect")


@test
def nobody_listening_is_one_line():
    port = free_port()
    start = time.monotonic()
    rc, out, err = perf(["-r", trid(port), "-t", "1"])
    one_line_error(rc, out, err, "Connection refused")
    assert time.monotonic() - start < 10


if __name__ == "__main__":
    run_tests()
