#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""bdev RPCs against the real ftgtd (malloc, null, stats, histograms, QoS, config
save/replay, bad parameters) and bounded ftgt-bdevperf runs.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_bdev.py [test names]
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import SANITIZER_MARKERS, Daemon, RpcError, Skip, run_tests, test  # noqa: E402

INVALID_PARAMS = -32602
ENODEV = -19
EEXIST = -17
EBUSY = -16
EINVAL = -22


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


@test
def malloc_create_get_delete():
    with Daemon() as d:
        name = d.rpc("bdev_malloc_create", name="M0", num_blocks=2048, block_size=512)
        assert name == "M0"
        b = d.rpc("bdev_get_bdevs", name="M0")
        assert len(b) == 1
        b = b[0]
        assert b["block_size"] == 512 and b["num_blocks"] == 2048
        assert b["product_name"] == "Malloc disk"
        assert b["claimed"] is False
        assert len(b["uuid"]) == 36
        assert b["supported_io_types"]["read"] and b["supported_io_types"]["unmap"]
        assert b["assigned_rate_limits"]["rw_ios_per_sec"] == 0
        # default name
        auto = d.rpc("bdev_malloc_create", num_blocks=16, block_size=4096)
        assert auto.startswith("Malloc")
        # md interleaved: 520-byte blocks
        d.rpc("bdev_malloc_create", name="M520", num_blocks=16, block_size=512, md_size=8,
              md_interleave=True)
        assert d.rpc("bdev_get_bdevs", name="M520")[0]["block_size"] == 520
        uu = "12345678-1234-4321-8765-123456789abc"
        d.rpc("bdev_malloc_create", name="MU", num_blocks=16, block_size=512, uuid=uu)
        assert d.rpc("bdev_get_bdevs", name="MU")[0]["uuid"] == uu
        # What SPDK's scripts/rpc.py sends by default is accepted.
        d.rpc("bdev_malloc_create", name="MS", num_blocks=16, block_size=512, md_size=0,
              md_interleave=False, dif_type=0, dif_is_head_of_md=False, dif_pi_format=0,
              physical_block_size=512)
        for n in ("M0", auto, "M520", "MU", "MS"):
            assert d.rpc("bdev_malloc_delete", name=n) is True
        assert names(d) == []


@test
def bad_params_leave_nothing():
    with Daemon() as d:
        d.rpc("bdev_malloc_create", name="Keep", num_blocks=64, block_size=512)
        before = names(d)
        expect_error(d, "bdev_malloc_create", {"name": "X", "block_size": 512}, INVALID_PARAMS,
                     "num_blocks")
        expect_error(d, "bdev_malloc_create", {"name": "X", "num_blocks": 0, "block_size": 512},
                     INVALID_PARAMS, "number of blocks")
        expect_error(d, "bdev_malloc_create", {"name": "X", "num_blocks": 8, "block_size": 1000},
                     INVALID_PARAMS, "block size 1000")
        expect_error(d, "bdev_malloc_create", {"name": "X", "num_blocks": 8, "block_size": 512,
                                               "uuid": "nope"}, INVALID_PARAMS, "uuid")
        expect_error(d, "bdev_malloc_create", {"name": "X", "num_blocks": 8, "block_size": 512,
                                               "bogus": 1}, INVALID_PARAMS, "bogus")
        expect_error(d, "bdev_malloc_create", {"name": "Keep", "num_blocks": 8,
                                               "block_size": 512}, EEXIST, "already exists")
        expect_error(d, "bdev_malloc_create", {"name": "a/b", "num_blocks": 8,
                                               "block_size": 512}, INVALID_PARAMS, "'/'")
        expect_error(d, "bdev_malloc_create", {"name": "X", "num_blocks": 8, "block_size": 512,
                                               "dif_type": 1}, INVALID_PARAMS, "DIF")
        expect_error(d, "bdev_malloc_create", {"name": "X", "num_blocks": 8, "block_size": 512,
                                               "physical_block_size": 4096}, INVALID_PARAMS,
                     "physical_block_size")
        expect_error(d, "bdev_null_create", {"num_blocks": 8, "block_size": 512},
                     INVALID_PARAMS, "name")
        expect_error(d, "bdev_null_create", {"name": "N", "num_blocks": 0, "block_size": 512},
                     INVALID_PARAMS)
        expect_error(d, "bdev_null_create", {"name": "N", "num_blocks": 8, "block_size": 1000},
                     INVALID_PARAMS, "block size 1000")
        expect_error(d, "bdev_null_create", {"name": "Keep", "num_blocks": 8,
                                             "block_size": 512}, EEXIST, "already exists")
        expect_error(d, "bdev_malloc_delete", {}, INVALID_PARAMS, "name")
        expect_error(d, "bdev_malloc_delete", {"name": "nope"}, ENODEV, "does not exist")
        expect_error(d, "bdev_get_bdevs", {"name": "nope"}, ENODEV, "does not exist")
        assert names(d) == before


@test
def malloc_out_of_memory():
    # Sanitizer builds abort on impossible allocations unless told to return NULL.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {"ASAN_OPTIONS": (asan + ":" if asan else "") + "allocator_may_return_null=1"}
    with Daemon(env=env) as d:
        # 512 TiB: more than the address space; refused with a sentence, nothing left.
        expect_error(d, "bdev_malloc_create", {"name": "Huge", "num_blocks": 1 << 40,
                                               "block_size": 512}, -12, "Huge")
        assert names(d) == []


@test
def null_bdev_and_resize():
    with Daemon() as d:
        d.rpc("bdev_null_create", name="N0", num_blocks=1024, block_size=4096)
        b = d.rpc("bdev_get_bdevs", name="N0")[0]
        assert b["block_size"] == 4096 and b["product_name"] == "Null disk"
        # the wrong delete method names the module
        expect_error(d, "bdev_malloc_delete", {"name": "N0"}, EINVAL, "null bdev")
        assert d.rpc("bdev_null_resize", name="N0", new_size=16) is True
        assert d.rpc("bdev_get_bdevs", name="N0")[0]["num_blocks"] == 4096
        expect_error(d, "bdev_null_resize", {"name": "nx", "new_size": 16}, ENODEV)
        assert d.rpc("bdev_null_delete", name="N0") is True
        expect_error(d, "bdev_null_delete", {"name": "N0"}, ENODEV)


@test
def delete_claimed_bdev_refused():
    with Daemon() as d:
        methods = d.rpc("rpc_get_methods")
        if "bdev_split_create" not in methods:
            raise Skip("no stacking module (bdev_split_create) in this build")
        d.rpc("bdev_malloc_create", name="Base", num_blocks=2048, block_size=512)
        d.rpc("bdev_split_create", base_bdev="Base", split_count=2)
        e = expect_error(d, "bdev_malloc_delete", {"name": "Base"}, EBUSY, "claimed by module")
        assert "Base" in e.message
        assert "Base" in names(d)


@test
def iostat_histogram_qos():
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        _iostat_histogram_qos(td)


def _iostat_histogram_qos(td):
    with Daemon() as d:
        d.rpc("bdev_malloc_create", name="S0", num_blocks=1024, block_size=512)
        st = d.rpc("bdev_get_iostat", name="S0")
        assert st["tick_rate"] > 0
        assert st["bdevs"][0]["name"] == "S0"
        assert st["bdevs"][0]["num_read_ops"] == 0
        assert d.rpc("bdev_get_iostat")["bdevs"][0]["name"] == "S0"
        expect_error(d, "bdev_get_histogram", {"name": "S0"}, EINVAL, "not enabled")
        assert d.rpc("bdev_enable_histogram", name="S0", enable=True) is True
        h = d.rpc("bdev_get_histogram", name="S0")
        assert h["name"] == "S0" and "io_types" in h
        expect_error(d, "bdev_set_qos_limit", {"name": "S0"}, INVALID_PARAMS, "at least one")
        expect_error(d, "bdev_set_qos_limit", {"name": "nx", "rw_ios_per_sec": 1000}, ENODEV)
        assert d.rpc("bdev_set_qos_limit", name="S0", rw_ios_per_sec=20000,
                     r_mbytes_per_sec=100) is True
        rl = d.rpc("bdev_get_bdevs", name="S0")[0]["assigned_rate_limits"]
        assert rl["rw_ios_per_sec"] == 20000 and rl["r_mbytes_per_sec"] == 100
        assert d.rpc("bdev_reset_iostat", name="S0") is True
        # save_config replays: the bdev, its QoS limit and its histogram come back.
        cfg = d.rpc("save_config")
        path = os.path.join(td, "cfg.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        bdev_cfg = [s for s in cfg["subsystems"] if s["subsystem"] == "bdev"][0]["config"]
        methods = [c["method"] for c in bdev_cfg]
        assert "bdev_malloc_create" in methods and "bdev_set_qos_limit" in methods
        assert methods.index("bdev_malloc_create") < methods.index("bdev_set_qos_limit")
        assert methods[0] == "bdev_set_options"
        # The saved options replay at run time; different sizes are refused.
        assert d.rpc("bdev_set_options", bdev_cfg[0]["params"]) is True
        expect_error(d, "bdev_set_options", {"bdev_io_pool_size": 1234}, EBUSY, "before")
        uuid = d.rpc("bdev_get_bdevs", name="S0")[0]["uuid"]
        assert d.rpc("bdev_set_qos_limit", name="S0", rw_ios_per_sec=0,
                     r_mbytes_per_sec=0) is True
    with Daemon(config=path) as d2:
        b = d2.rpc("bdev_get_bdevs", name="S0")[0]
        assert b["uuid"] == uuid
        assert b["assigned_rate_limits"]["rw_ios_per_sec"] == 20000
        d2.rpc("bdev_get_histogram", name="S0")


def bdevperf_path():
    p = os.path.join(os.environ.get("FTGT_BUILD_DIR", "build"), "app", "ftgt-bdevperf",
                     "ftgt-bdevperf")
    if not os.path.exists(p):
        raise Skip("ftgt-bdevperf not built")
    return p


def bdevperf(tmpdir, cfg, args, timeout=60):
    path = os.path.join(tmpdir, "bdevperf.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([bdevperf_path(), "--json", path, "--output", "json"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    err = p.stderr.decode()
    for m in SANITIZER_MARKERS:
        assert m not in err, err
    return p.returncode, p.stdout.decode(), err


def bdev_cfg(*calls):
    return {"subsystems": [{"subsystem": "bdev", "config": [
        {"method": m, "params": p} for m, p in calls]}]}


@test
def bdevperf_verify_malloc():
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        cfg = bdev_cfg(("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 8192,
                                               "block_size": 4096}),
                       ("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 8192,
                                               "block_size": 512, "optimal_io_boundary": 16}))
        rc, out, err = bdevperf(td, cfg, ["-q", "32", "-o", "12288", "-w", "verify", "-t", "1"])
        assert rc == 0, err
        r = json.loads(out)
        assert len(r["results"]) == 2
        for j in r["results"]:
            assert j["ios"] > 0 and j["io_failed"] == 0 and j["verify_errors"] == 0, j
        assert r["total"]["iops"] > 0
        assert r["total"]["latency_us"]["p99"] >= r["total"]["latency_us"]["p50"]


@test
def bdevperf_randread_null():
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        cfg = bdev_cfg(("bdev_null_create", {"name": "Null0", "num_blocks": 65536,
                                             "block_size": 4096}))
        rc, out, err = bdevperf(td, cfg, ["-q", "64", "-o", "4096", "-w", "randread", "-t", "1",
                                          "-b", "Null0"])
        assert rc == 0, err
        r = json.loads(out)
        assert r["results"][0]["bdev"] == "Null0" and r["results"][0]["ios"] > 0
        # Bad options are refused.
        rc, out, err = bdevperf(td, cfg, ["-q", "8", "-o", "4096", "-w", "bogus", "-t", "1"])
        assert rc != 0 and "workload" in err
        rc, out, err = bdevperf(td, cfg, ["-q", "8", "-o", "4096", "-w", "read", "-t", "1",
                                          "-b", "nope"])
        assert rc != 0 and "nope" in err


if __name__ == "__main__":
    run_tests()
