#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The uring, delay, error and split bdev modules against the real ftgtd (create, delete,
bad parameters, save_config replay) and bounded ftgt-bdevperf verify runs on each of
them: uring on a file and on a loop device, delay, split, and the error module injecting
failures and corruption that verify must report.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_bdev_modules.py [names]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import SANITIZER_MARKERS, Daemon, RpcError, Skip, run_tests, test  # noqa: E402

INVALID_PARAMS = -32602
ENOENT = -2
ENODEV = -19
EEXIST = -17
EBUSY = -16


def expect_error(d, method, params, code, *needles):
    try:
        d.rpc(method, params)
    except RpcError as e:
        assert e.code == code, "%s: expected code %d, got %d (%s)" % (method, code, e.code,
                                                                      e.message)
        for n in needles:
            assert n in e.message, "%r not in %r" % (n, e.message)
        return e
    raise AssertionError("%s %r: no error (expected %d)" % (method, params, code))


def names(d):
    return sorted(b["name"] for b in d.rpc("bdev_get_bdevs"))


def make_file(dirname, size, name="disk.img"):
    path = os.path.join(dirname, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def bdevperf_path():
    p = os.path.join(os.environ.get("FTGT_BUILD_DIR", "build"), "app", "ftgt-bdevperf",
                     "ftgt-bdevperf")
    if not os.path.exists(p):
        raise Skip("ftgt-bdevperf not built")
    return p


def bdevperf(tmpdir, calls, args, timeout=60):
    """Run ftgt-bdevperf on a config made of (method, params) calls; returns (rc, results
    as parsed JSON or None, stderr)."""
    path = os.path.join(tmpdir, "bdevperf.json")
    cfg = {"subsystems": [{"subsystem": "bdev", "config": [
        {"method": m, "params": p} for m, p in calls]}]}
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([bdevperf_path(), "--json", path, "--output", "json"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    for m in SANITIZER_MARKERS:
        assert m not in err, err
    out = p.stdout.decode(errors="replace")
    try:
        res = json.loads(out)
    except ValueError:
        res = None
    return p.returncode, res, err


VERIFY = ["-q", "16", "-o", "4096", "-w", "verify", "-t", "1"]


def assert_clean(rc, res, err, bdevs):
    assert rc == 0, err
    got = {j["bdev"]: j for j in res["results"]}
    for b in bdevs:
        j = got[b]
        assert j["ios"] > 0 and j["io_failed"] == 0 and j["verify_errors"] == 0, j


# ---- verify workloads --------------------------------------------------------------------

@test
def uring_file_verify():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td:
        path = make_file(td, 32 << 20)
        rc, res, err = bdevperf(td, [("bdev_uring_create", {"name": "U0", "filename": path})],
                                VERIFY + ["-b", "U0"])
        assert_clean(rc, res, err, ["U0"])
        # 512-byte and 4096-byte blocks both verify (the file system allows either).
        rc, res, err = bdevperf(td, [("bdev_uring_create", {"name": "U1", "filename": path,
                                                            "block_size": 4096})],
                                ["-q", "8", "-o", "8192", "-w", "verify", "-t", "1"])
        assert_clean(rc, res, err, ["U1"])


def losetup(path):
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        return None, "not root or no losetup"
    p = subprocess.run(["losetup", "-f", "--show", path], capture_output=True, timeout=30)
    if p.returncode != 0:
        return None, p.stderr.decode(errors="replace").strip()
    return p.stdout.decode().strip(), None


@test
def uring_loop_device_verify():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td:
        path = make_file(td, 32 << 20)
        dev, why = losetup(path)
        if dev is None:
            raise Skip("loop devices are not available here (%s)" % why)
        try:
            rc, res, err = bdevperf(td, [("bdev_uring_create", {"name": "UL",
                                                                "filename": dev})],
                                    VERIFY + ["-b", "UL"])
            assert_clean(rc, res, err, ["UL"])
        finally:
            subprocess.run(["losetup", "-d", dev], timeout=30)


def shrink_then_hot_remove(td, filename, shrink):
    """bdevperf reads `filename` through a uring bdev; shrink() makes it smaller under the
    I/O: reads past the new end must be reported as failed (never as success with stale
    data), then bdev_uring_delete on bdevperf's RPC socket removes the bdev from under
    the running job (hot remove on request), and nothing crashes."""
    import time
    from ftgt_test import RpcClient
    cfg = os.path.join(td, "bdevperf.json")
    sock = os.path.join(td, "bdevperf.sock")
    with open(cfg, "w") as f:
        json.dump({"subsystems": [{"subsystem": "bdev", "config": [
            {"method": "bdev_uring_create", "params": {"name": "U", "filename": filename}}]}]},
            f)
    p = subprocess.Popen([bdevperf_path(), "--json", cfg, "--output", "json", "-q", "8",
                          "-o", "4096", "-w", "randread", "-t", "20", "-r", sock],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        shrink()
        time.sleep(0.5)
        with RpcClient(sock) as c:
            assert c.call("bdev_uring_delete", {"name": "U"}) is True
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode(errors="replace")
    for m in SANITIZER_MARKERS:
        assert m not in err, err
    assert p.returncode == 1, (p.returncode, err)
    assert "removed during the run" in err, err
    j = json.loads(out)["results"][0]
    assert j["io_failed"] > 0 and j["ios"] > 0, j
    # Removed well before the 20 s run time.
    assert j["runtime_s"] < 10, j


@test
def uring_file_truncated_then_hot_removed():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td:
        path = make_file(td, 16 << 20)

        def shrink():
            with open(path, "r+b") as f:
                f.truncate(4096)
        shrink_then_hot_remove(td, path, shrink)


@test
def uring_loop_device_shrinks_then_hot_removed():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td:
        path = make_file(td, 16 << 20)
        dev, why = losetup(path)
        if dev is None:
            raise Skip("loop devices are not available here (%s)" % why)
        try:
            def shrink():
                with open(path, "r+b") as f:
                    f.truncate(1 << 20)
                subprocess.run(["losetup", "-c", dev], check=True, timeout=30)
            shrink_then_hot_remove(td, dev, shrink)
        finally:
            subprocess.run(["losetup", "-d", dev], timeout=30)


@test
def split_and_delay_verify():
    with tempfile.TemporaryDirectory() as td:
        calls = [
            ("bdev_malloc_create", {"name": "M0", "num_blocks": 16384, "block_size": 4096}),
            ("bdev_split_create", {"base_bdev": "M0", "split_count": 3}),
            ("bdev_delay_create", {"name": "D0", "base_bdev_name": "M0p2",
                                   "avg_read_latency": 100, "p99_read_latency": 1000,
                                   "avg_write_latency": 200, "p99_write_latency": 2000}),
        ]
        rc, res, err = bdevperf(td, calls, VERIFY)
        # Every unclaimed bdev runs: the two plain splits and the delay bdev.
        assert_clean(rc, res, err, ["M0p0", "M0p1", "D0"])
        assert len(res["results"]) == 3, res["results"]
        d0 = [j for j in res["results"] if j["bdev"] == "D0"][0]
        # Each write and its read back are each held >= 100 us.
        assert d0["latency_us"]["avg"] >= 100, d0


@test
def error_injection_is_reported_by_verify():
    with tempfile.TemporaryDirectory() as td:
        base = [("bdev_malloc_create", {"name": "M0", "num_blocks": 8192, "block_size": 512}),
                ("bdev_error_create", {"base_name": "M0"})]
        # Failures: exactly the injected number of reads fail, and bdevperf says so.
        rc, res, err = bdevperf(td, base + [("bdev_error_inject_error", {
            "name": "EE_M0", "io_type": "read", "error_type": "failure", "num": 10})],
            VERIFY + ["-b", "EE_M0"])
        assert rc == 1, (rc, err)
        j = res["results"][0]
        assert j["io_failed"] == 10 and j["ios"] > 0, j
        # Corrupted writes: the data read back differs, and verify reports it.
        rc, res, err = bdevperf(td, base + [("bdev_error_inject_error", {
            "name": "EE_M0", "io_type": "write", "error_type": "corrupt_data", "num": 3,
            "corrupt_offset": 100, "corrupt_value": 1})], VERIFY + ["-b", "EE_M0"])
        assert rc == 1, (rc, err)
        j = res["results"][0]
        assert j["verify_errors"] == 3 and j["io_failed"] == 0, j
        # No injection: clean.
        rc, res, err = bdevperf(td, base, VERIFY + ["-b", "EE_M0"])
        assert_clean(rc, res, err, ["EE_M0"])


# ---- RPCs --------------------------------------------------------------------------------

@test
def bad_params_leave_nothing():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td, Daemon() as d:
        expect_error(d, "bdev_uring_create", {"name": "U", "filename": td + "/none.img"},
                     ENOENT, "does not exist")
        expect_error(d, "bdev_uring_create", {"name": "U"}, INVALID_PARAMS, "filename")
        small = make_file(td, 100, "small.img")
        expect_error(d, "bdev_uring_create", {"name": "U", "filename": small}, INVALID_PARAMS,
                     "smaller than one block")
        path = make_file(td, 4 << 20)
        expect_error(d, "bdev_uring_create", {"name": "U", "filename": path,
                                              "block_size": 1000}, INVALID_PARAMS,
                     "block_size")
        assert names(d) == []
        expect_error(d, "bdev_delay_create", {"name": "D", "base_bdev_name": "nope",
                                              "avg_read_latency": 1, "p99_read_latency": 1,
                                              "avg_write_latency": 1, "p99_write_latency": 1},
                     ENODEV, "nope")
        expect_error(d, "bdev_error_create", {"base_name": "nope"}, ENODEV, "nope")
        expect_error(d, "bdev_split_create", {"base_bdev": "nope", "split_count": 2}, ENODEV,
                     "nope")
        assert names(d) == []

        assert d.rpc("bdev_uring_create", name="U", filename=path) == "U"
        expect_error(d, "bdev_uring_create", {"name": "U", "filename": path}, EEXIST, "U")
        expect_error(d, "bdev_uring_create", {"name": "U2", "filename": path}, EEXIST,
                     "already used")
        d.rpc("bdev_malloc_create", name="M0", num_blocks=1000, block_size=512)
        expect_error(d, "bdev_split_create", {"base_bdev": "M0", "split_count": 0},
                     INVALID_PARAMS, "split_count")
        expect_error(d, "bdev_split_create", {"base_bdev": "M0", "split_count": 2,
                                              "split_size_mb": 1}, INVALID_PARAMS,
                     "do not fit")
        assert d.rpc("bdev_split_create", base_bdev="M0", split_count=2) == ["M0p0", "M0p1"]
        expect_error(d, "bdev_split_create", {"base_bdev": "M0", "split_count": 2}, EEXIST)
        # A claimed base cannot be deleted, nor stacked on again.
        expect_error(d, "bdev_malloc_delete", {"name": "M0"}, EBUSY, "split")
        expect_error(d, "bdev_error_create", {"base_name": "M0"}, EBUSY, "split")
        assert "EE_M0" not in names(d)
        d.rpc("bdev_error_create", base_name="M0p0")
        expect_error(d, "bdev_error_create", {"base_name": "M0p0"}, EEXIST, "EE_M0p0")
        expect_error(d, "bdev_error_inject_error", {"name": "EE_M0p0", "io_type": "bogus",
                                                    "error_type": "failure"},
                     INVALID_PARAMS, "io_type")
        expect_error(d, "bdev_error_inject_error", {"name": "EE_M0p0", "io_type": "read",
                                                    "error_type": "bogus"},
                     INVALID_PARAMS, "error_type")
        expect_error(d, "bdev_error_inject_error", {"name": "nope", "io_type": "read",
                                                    "error_type": "failure"}, ENODEV)
        assert d.rpc("bdev_error_inject_error", name="EE_M0p0", io_type="all",
                     error_type="failure", num=3) is True
        assert d.rpc("bdev_error_inject_error", name="EE_M0p0", io_type="clear",
                     error_type="failure") is True
        d.rpc("bdev_delay_create", name="D1", base_bdev_name="M0p1", avg_read_latency=10,
              p99_read_latency=20, avg_write_latency=30, p99_write_latency=40)
        expect_error(d, "bdev_delay_create", {"name": "D1", "base_bdev_name": "U",
                                              "avg_read_latency": 1, "p99_read_latency": 1,
                                              "avg_write_latency": 1, "p99_write_latency": 1},
                     EEXIST, "D1")
        assert d.rpc("bdev_get_bdevs", name="U")[0]["claimed"] is False
        expect_error(d, "bdev_delay_update_latency", {"delay_bdev_name": "D1",
                                                      "latency_type": "p50_read",
                                                      "latency_us": 5}, INVALID_PARAMS)
        assert d.rpc("bdev_delay_update_latency", delay_bdev_name="D1",
                     latency_type="avg_read", latency_us=15) is True
        ds = d.rpc("bdev_get_bdevs", name="D1")[0]["driver_specific"]["delay"]
        assert ds["avg_read_latency"] == 15 and ds["base_bdev_name"] == "M0p1", ds
        # Splits cannot be deleted while a part is claimed.
        expect_error(d, "bdev_split_delete", {"base_bdev": "M0"}, EBUSY)
        expect_error(d, "bdev_uring_delete", {"name": "D1"}, -22, "delay")
        expect_error(d, "bdev_uring_delete", {"name": "nope"}, ENODEV)
        # Delete top-down.
        assert d.rpc("bdev_delay_delete", name="D1") is True
        assert d.rpc("bdev_error_delete", name="EE_M0p0") is True
        assert d.rpc("bdev_split_delete", base_bdev="M0") is True
        expect_error(d, "bdev_split_delete", {"base_bdev": "M0"}, ENODEV)
        assert d.rpc("bdev_malloc_delete", name="M0") is True
        assert d.rpc("bdev_uring_delete", name="U") is True
        assert names(d) == []


@test
def uring_rescan_grows():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td, Daemon() as d:
        path = make_file(td, 1 << 20)
        d.rpc("bdev_uring_create", name="U", filename=path, block_size=4096)
        b = d.rpc("bdev_get_bdevs", name="U")[0]
        assert b["num_blocks"] == 256 and b["block_size"] == 4096
        assert b["driver_specific"]["uring"]["filename"] == path
        with open(path, "r+b") as f:
            f.truncate(3 << 20)
        assert d.rpc("bdev_uring_rescan", name="U") is True
        assert d.rpc("bdev_get_bdevs", name="U")[0]["num_blocks"] == 768
        expect_error(d, "bdev_uring_rescan", {"name": "nope"}, ENODEV)
        # Shrunk while nobody holds it: the bdev follows.
        with open(path, "r+b") as f:
            f.truncate(2 << 20)
        assert d.rpc("bdev_uring_rescan", name="U") is True
        assert d.rpc("bdev_get_bdevs", name="U")[0]["num_blocks"] == 512


@test
def save_config_replays_stack():
    with tempfile.TemporaryDirectory(dir="/var/tmp") as td:
        path = make_file(td, 8 << 20)
        with Daemon() as d:
            d.rpc("bdev_uring_create", name="U", filename=path)
            d.rpc("bdev_split_create", base_bdev="U", split_count=4)
            d.rpc("bdev_error_create", base_name="Up1")
            d.rpc("bdev_delay_create", name="D", base_bdev_name="EE_Up1",
                  avg_read_latency=5, p99_read_latency=50, avg_write_latency=6,
                  p99_write_latency=60)
            before = {b["name"]: b for b in d.rpc("bdev_get_bdevs")}
            cfg = d.rpc("save_config")
        cpath = os.path.join(td, "config.json")
        with open(cpath, "w") as f:
            json.dump(cfg, f)
        with Daemon(config=cpath) as d2:
            after = {b["name"]: b for b in d2.rpc("bdev_get_bdevs")}
            assert sorted(after) == sorted(before), (sorted(after), sorted(before))
            for n, b in before.items():
                assert after[n]["uuid"] == b["uuid"], n
                assert after[n]["num_blocks"] == b["num_blocks"], n
            ds = after["D"]["driver_specific"]["delay"]
            assert ds["p99_write_latency"] == 60, ds


if __name__ == "__main__":
    run_tests()
