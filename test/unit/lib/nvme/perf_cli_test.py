#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""ftgt-perf end to end against nvme_mock_target on 127.0.0.1, and its error paths.

usage: perf_cli_test.py FTGT_PERF NVME_MOCK_TARGET
"""
import json
import socket
import subprocess
import sys
import time

PERF, MOCK = sys.argv[1], sys.argv[2]
SUBNQN = "nqn.2026-01.io.ftgt:mock"
failed = 0


def perf(args, timeout=30):
    p = subprocess.run([PERF] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Mock:
    def __init__(self, *args):
        self.p = subprocess.Popen([MOCK] + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])

    def trid(self, subnqn=SUBNQN):
        return f"trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:{self.port} subnqn:{subnqn}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def test(fn):
    global failed
    try:
        fn()
        print(f"PASS {fn.__name__}")
    except Exception as e:  # noqa: BLE001
        failed += 1
        print(f"FAIL {fn.__name__}: {e!r}")
    return fn


def one_line_error(rc, out, err, needle):
    assert rc != 0, (rc, out, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]


@test
def bad_trid():
    rc, out, err = perf(["-r", "trtype:tcp traddr:nohost", "-t", "1"])
    one_line_error(rc, out, err, "traddr 'nohost' is not a numeric IP address")
    rc, out, err = perf(["-r", "trtype:rdma traddr:127.0.0.1", "-t", "1"])
    one_line_error(rc, out, err, "trtype 'rdma' is not supported")


@test
def refused():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = s.getsockname()[1]
    start = time.monotonic()
    rc, out, err = perf(["-r", f"trtype:tcp traddr:127.0.0.1 trsvcid:{port} subnqn:{SUBNQN}",
                         "-t", "1"])
    s.close()
    one_line_error(rc, out, err, "Connection refused")
    assert time.monotonic() - start < 5


@test
def unreachable():
    # A peer that accepts TCP but never speaks NVMe/TCP: bounded by --connect-timeout.
    with Mock("--no-icresp") as m:
        start = time.monotonic()
        rc, out, err = perf(["-r", m.trid(), "-t", "1", "--connect-timeout", "500"])
        one_line_error(rc, out, err, "no ICResp")
        assert time.monotonic() - start < 5


@test
def wrong_subnqn():
    with Mock() as m:
        rc, out, err = perf(["-r", m.trid("nqn.2026-01.io.ftgt:other"), "-t", "1"])
        one_line_error(rc, out, err, "refused Fabrics Connect")


@test
def randread_json():
    with Mock() as m:
        rc, out, err = perf(["-r", m.trid(), "-q", "16", "-o", "4k", "-w", "randread",
                             "-t", "1", "--json"])
        assert rc == 0, err
        r = json.loads(out)
        assert len(r["namespaces"]) == 1
        t = r["total"]
        assert t["iops"] > 100, t
        assert t["errors"] == 0
        lat = t["latency_us"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], lat


@test
def verify_two_conns():
    with Mock("--success") as m:
        rc, out, err = perf(["-r", m.trid(), "-q", "8", "-o", "8k", "-P", "2", "-t", "1",
                             "--verify", "-c", "0x1"])
        assert rc == 0, (out, err)
        assert "Total" in out and "p99.9" in out, out


@test
def randrw_big_io_digests():
    with Mock("--block-size", "4096", "--num-blocks", "4096") as m:
        rc, out, err = perf(["-r", m.trid(), "-q", "4", "-o", "128k", "-w", "randrw", "-M",
                             "70", "-t", "1", "--hdgst", "--ddgst", "--json"])
        assert rc == 0, err
        assert json.loads(out)["total"]["ios"] > 0


@test
def discover():
    with Mock("--discovery") as m:
        rc, out, err = perf(["--discover", "-r", f"trtype:tcp traddr:127.0.0.1 trsvcid:{m.port}"])
        assert rc == 0, err
        assert out.splitlines() == [
            "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:4420 "
            f"subnqn:nqn.2026-01.io.ftgt:sub{i} subtype:nvme" for i in range(2)], out
        rc, out, err = perf(["--discover", "--json", "-r", m.trid("nqn.2014-08.org.nvmexpress.discovery")])
        assert rc == 0, err
        assert [e["subnqn"] for e in json.loads(out)] == ["nqn.2026-01.io.ftgt:sub0",
                                                          "nqn.2026-01.io.ftgt:sub1"]
        # An I/O run against a discovery subsystem is refused in one line.
        rc, out, err = perf(["-r", m.trid("nqn.2014-08.org.nvmexpress.discovery"), "-t", "1"])
        one_line_error(rc, out, err, "is a discovery subsystem")


@test
def bad_options():
    rc, out, err = perf(["-r", "trtype:tcp traddr:127.0.0.1", "-w", "scan"])
    one_line_error(rc, out, err, "-w 'scan'")
    rc, out, err = perf(["-r", "trtype:tcp traddr:127.0.0.1", "-q", "0"])
    one_line_error(rc, out, err, "-q '0'")
    rc, out, err = perf(["-r", "trtype:tcp traddr:127.0.0.1", "-M", "50"])
    one_line_error(rc, out, err, "-M needs")


print(f"{failed} failed")
sys.exit(1 if failed else 0)
