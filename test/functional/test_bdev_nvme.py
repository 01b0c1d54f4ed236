#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The NVMe-oF bdev (module/bdev/nvme): ftgtd A exports a malloc bdev over NVMe/TCP on
127.0.0.1; ftgtd B attaches it with bdev_nvme_attach_controller and re-exports it over a
second subsystem on another port; ftgt-perf --verify runs through both hops. Also:
get_controllers, save_config and its replay, detach (refused while exported), bad
parameters and unreachable targets (clear error, nothing created), reconnect after A
restarts, and failing I/O once ctrlr_loss_timeout_sec has passed.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_bdev_nvme.py [names]
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import Daemon, RpcError, Skip, run_tests, test  # noqa: E402

NQN_A = "nqn.2026-11.io.ftgt:bdev-nvme-a"
NQN_B = "nqn.2026-11.io.ftgt:bdev-nvme-b"


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


def trid(port, nqn):
    return "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:%d subnqn:%s" % (port, nqn)


def perf(args, timeout=60):
    p = subprocess.run([perf_path()] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def listen(d, nqn, port):
    d.rpc("nvmf_subsystem_add_listener", nqn=nqn,
          listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                          "trsvcid": str(port)})


def target_a(d, port, num_blocks=65536):
    """A: a malloc bdev exported as NQN_A on port."""
    if "nvmf_create_transport" not in d.rpc("rpc_get_methods"):
        raise Skip("ftgtd built without nvmf")
    d.rpc("nvmf_create_transport", trtype="TCP")
    d.rpc("bdev_malloc_create", name="M0", num_blocks=num_blocks, block_size=512)
    d.rpc("nvmf_create_subsystem", nqn=NQN_A, allow_any_host=True)
    d.rpc("nvmf_subsystem_add_ns", nqn=NQN_A, namespace={"bdev_name": "M0"})
    listen(d, NQN_A, port)


def attach(d, port, name="Nvme0", **extra):
    params = {"name": name, "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1",
              "trsvcid": str(port), "subnqn": NQN_A}
    params.update(extra)
    return d.rpc("bdev_nvme_attach_controller", params)


def reexport(d, port, bdev="Nvme0n1"):
    """B: the attached namespace exported as NQN_B on port."""
    d.rpc("nvmf_create_transport", trtype="TCP")
    d.rpc("nvmf_create_subsystem", nqn=NQN_B, allow_any_host=True)
    d.rpc("nvmf_subsystem_add_ns", nqn=NQN_B, namespace={"bdev_name": bdev})
    listen(d, NQN_B, port)


def expect_error(fn, *needles):
    try:
        fn()
    except RpcError as e:
        for n in needles:
            assert n in e.message, (n, e.message)
        return e
    raise AssertionError("no error; expected one with %s" % (needles,))


def check_verify(rc, out, err):
    assert rc == 0, "ftgt-perf rc %d\n%s%s" % (rc, out, err)
    t = json.loads(out)["total"]
    assert t["ios"] > 0 and t["errors"] == 0 and t["miscompares"] == 0, t


def nothing_created(d):
    assert d.rpc("bdev_nvme_get_controllers") == []
    assert not [b for b in d.rpc("bdev_get_bdevs") if b["name"].startswith("Nvme")]


@test
def two_hops_verify_detach():
    pa, pb = free_port(), free_port()
    with Daemon() as a, Daemon() as b:
        target_a(a, pa)
        names = attach(b, pa, ctrlr_loss_timeout_sec=5, reconnect_delay_sec=1)
        assert names == ["Nvme0n1"], names
        bd = b.rpc("bdev_get_bdevs", name="Nvme0n1")[0]
        assert bd["num_blocks"] == 65536 and bd["block_size"] == 512, bd
        assert bd["driver_specific"]["nvme"]["nsid"] == 1, bd
        ctrls = b.rpc("bdev_nvme_get_controllers")
        assert len(ctrls) == 1 and ctrls[0]["name"] == "Nvme0", ctrls
        c = ctrls[0]["ctrlrs"][0]
        assert c["state"] == "enabled" and c["trid"]["trsvcid"] == str(pa), c
        assert c["trid"]["subnqn"] == NQN_A and ctrls[0]["bdevs"] == ["Nvme0n1"], ctrls
        assert b.rpc("bdev_nvme_get_controllers", name="Nvme0") == ctrls
        expect_error(lambda: b.rpc("bdev_nvme_get_controllers", name="Nope"), "Nope")
        # Same name again: refused, the first one untouched.
        expect_error(lambda: attach(b, pa), "already exists")

        reexport(b, pb)
        # Through both hops: ftgt-perf -> B (nvmf) -> Nvme0n1 -> A (nvmf) -> M0.
        check_verify(*perf(["-r", trid(pb, NQN_B), "--verify", "-t", "2", "-q", "16",
                            "-o", "4k", "--json"]))
        # Larger I/O (several blocks, split by MDTS if needed) and two connections.
        check_verify(*perf(["-r", trid(pb, NQN_B), "--verify", "-t", "1", "-q", "8",
                            "-o", "64k", "-P", "2", "--json"]))

        # save_config has the attach with SPDK's parameters, before the subsystem using it.
        cfg = b.rpc("save_config")
        calls = [c for s in cfg["subsystems"] for c in (s.get("config") or [])]
        methods = [c["method"] for c in calls]
        att = [c for c in calls if c["method"] == "bdev_nvme_attach_controller"]
        assert len(att) == 1, methods
        p = att[0]["params"]
        assert (p["name"], p["traddr"], p["trsvcid"], p["subnqn"]) == (
            "Nvme0", "127.0.0.1", str(pa), NQN_A), p
        assert p["ctrlr_loss_timeout_sec"] == 5 and p["reconnect_delay_sec"] == 1, p
        # ... and a daemon started with it attaches again.
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"subsystems": [s for s in cfg["subsystems"] if s["subsystem"] == "bdev"]},
                      f)
            path = f.name
        try:
            with Daemon(config=path) as b2:
                assert b2.rpc("bdev_get_bdevs", name="Nvme0n1")[0]["num_blocks"] == 65536
                assert b2.rpc("bdev_nvme_get_controllers")[0]["ctrlrs"][0]["state"] == \
                    "enabled"
        finally:
            os.unlink(path)

        # Detach is refused while the bdev is exported; works once it is not.
        expect_error(lambda: b.rpc("bdev_nvme_detach_controller", name="Nvme0"), "Nvme0n1")
        assert b.rpc("bdev_nvme_get_controllers")[0]["ctrlrs"][0]["state"] == "enabled"
        b.rpc("nvmf_delete_subsystem", nqn=NQN_B)
        assert b.rpc("bdev_nvme_detach_controller", name="Nvme0") is True
        nothing_created(b)
        expect_error(lambda: b.rpc("bdev_nvme_detach_controller", name="Nvme0"),
                     "does not exist")
        # A still serves (B disconnected in order) and B can attach again.
        assert attach(b, pa) == ["Nvme0n1"]


NQN_A2 = "nqn.2026-11.io.ftgt:bdev-nvme-a2"
NQN_A3 = "nqn.2026-11.io.ftgt:bdev-nvme-a3"


@test
def two_reactors_digests_empty_and_shutdown():
    """B on two reactors (qpairs on a thread other than the app thread), a controller with
    header and data digests, one with no namespace, and a daemon shutdown with both still
    attached and one exported (exit 0, no sanitizer report: checked by Daemon)."""
    pa, pb = free_port(), free_port()
    with Daemon() as a, Daemon(cpumask="0x3") as b:
        target_a(a, pa)
        a.rpc("bdev_malloc_create", name="M1", num_blocks=32768, block_size=4096)
        a.rpc("nvmf_create_subsystem", nqn=NQN_A2, allow_any_host=True)
        a.rpc("nvmf_subsystem_add_ns", nqn=NQN_A2, namespace={"bdev_name": "M1"})
        listen(a, NQN_A2, pa)
        a.rpc("nvmf_create_subsystem", nqn=NQN_A3, allow_any_host=True)
        listen(a, NQN_A3, pa)
        assert attach(b, pa, name="Dig", subnqn=NQN_A2, hdgst=True, ddgst=True) == ["Dign1"]
        assert b.rpc("bdev_get_bdevs", name="Dign1")[0]["block_size"] == 4096
        assert attach(b, pa, name="Empty", subnqn=NQN_A3) == []
        c = b.rpc("bdev_nvme_get_controllers", name="Empty")[0]
        assert c["bdevs"] == [] and c["ctrlrs"][0]["state"] == "enabled", c
        reexport(b, pb, bdev="Dign1")
        check_verify(*perf(["-r", trid(pb, NQN_B), "--verify", "-t", "2", "-q", "16",
                            "-o", "16k", "-P", "2", "-c", "0x1", "--json"]))
        # A zero-namespace controller detaches too; Dig stays for the shutdown.
        assert b.rpc("bdev_nvme_detach_controller", name="Empty") is True
        assert attach(b, pa, name="Empty", subnqn=NQN_A3) == []


@test
def bad_params_nothing_created():
    pa = free_port()
    with Daemon() as a, Daemon() as b:
        target_a(a, pa)
        # Refused connection (nobody listens): one clear error, quickly.
        dead = free_port()
        t0 = time.monotonic()
        e = expect_error(lambda: attach(b, dead), "cannot attach nvme controller 'Nvme0'",
                         str(dead))
        assert time.monotonic() - t0 < 5, e.message
        nothing_created(b)
        # A peer that accepts but never answers: bounded by fabrics_connect_timeout_us.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        try:
            t0 = time.monotonic()
            expect_error(lambda: attach(b, s.getsockname()[1],
                                        fabrics_connect_timeout_us=1000000),
                         "cannot attach")
            assert time.monotonic() - t0 < 5
            # The connect runs off the app thread: RPCs are answered meanwhile.
            res = {}

            def slow():
                try:
                    attach(b, s.getsockname()[1], fabrics_connect_timeout_us=3000000)
                except RpcError as e:
                    res["err"] = e.message

            th = threading.Thread(target=slow)
            th.start()
            try:
                deadline = time.monotonic() + 2
                while not b.rpc("bdev_nvme_get_controllers") and time.monotonic() < deadline:
                    time.sleep(0.02)
                t1 = time.monotonic()
                c = b.rpc("bdev_nvme_get_controllers", name="Nvme0")[0]
                assert time.monotonic() - t1 < 1
                assert c["ctrlrs"][0]["state"] == "connecting", c
                expect_error(lambda: attach(b, pa), "already exists")
                expect_error(lambda: b.rpc("bdev_nvme_detach_controller", name="Nvme0"),
                             "connecting")
            finally:
                th.join(timeout=15)
            assert "cannot attach" in res.get("err", ""), res
        finally:
            s.close()
        nothing_created(b)
        # A subsystem A does not have: the controller refuses Fabrics Connect.
        expect_error(lambda: attach(b, pa, subnqn="nqn.2026-11.io.ftgt:nosuch"),
                     "cannot attach")
        # The discovery subsystem is not an NVM subsystem.
        expect_error(lambda: attach(b, pa, subnqn="nqn.2014-08.org.nvmexpress.discovery"),
                     "discovery")
        # Parameter checks.
        expect_error(lambda: attach(b, pa, traddr="nohost"), "nohost")
        expect_error(lambda: attach(b, pa, trtype="RDMA"), "trtype")
        expect_error(lambda: attach(b, pa, adrfam="IPv9"), "adrfam")
        expect_error(lambda: attach(b, pa, trsvcid="99999"), "trsvcid")
        expect_error(lambda: attach(b, pa, name=""), "name")
        expect_error(lambda: attach(b, pa, ctrlr_loss_timeout_sec=10), "reconnect_delay_sec")
        expect_error(lambda: attach(b, pa, ctrlr_loss_timeout_sec=2, reconnect_delay_sec=5),
                     "reconnect_delay_sec")
        expect_error(lambda: attach(b, pa, ctrlr_loss_timeout_sec=-2), "ctrlr_loss_timeout")
        expect_error(lambda: b.rpc("bdev_nvme_attach_controller", {"name": "X"}), "trtype")
        nothing_created(b)
        # A subsystem that admits one host: refused as another, admitted with hostnqn.
        host = "nqn.2026-11.io.ftgt:host-b"
        a.rpc("nvmf_create_subsystem", nqn=NQN_A2, allow_any_host=False)
        a.rpc("bdev_malloc_create", name="M2", num_blocks=2048, block_size=512)
        a.rpc("nvmf_subsystem_add_ns", nqn=NQN_A2, namespace={"bdev_name": "M2"})
        a.rpc("nvmf_subsystem_add_host", nqn=NQN_A2, host=host)
        listen(a, NQN_A2, pa)
        expect_error(lambda: attach(b, pa, name="H", subnqn=NQN_A2), "cannot attach")
        nothing_created(b)
        assert attach(b, pa, name="H", subnqn=NQN_A2, hostnqn=host) == ["Hn1"]
        c = b.rpc("bdev_nvme_get_controllers", name="H")[0]["ctrlrs"][0]
        assert c["host"]["nqn"] == host, c
        assert b.rpc("bdev_nvme_detach_controller", name="H") is True
        # A bdev name already taken: nothing half-made.
        b.rpc("bdev_malloc_create", name="Nvme0n1", num_blocks=1024, block_size=512)
        expect_error(lambda: attach(b, pa), "Nvme0n1")
        assert b.rpc("bdev_nvme_get_controllers") == []
        b.rpc("bdev_malloc_delete", name="Nvme0n1")
        assert attach(b, pa) == ["Nvme0n1"]


def wait_state(d, state, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        c = d.rpc("bdev_nvme_get_controllers", name="Nvme0")[0]
        if c["ctrlrs"][0]["state"] == state:
            return c
        assert time.monotonic() < deadline, "state %s, waited for %s" % (
            c["ctrlrs"][0]["state"], state)
        time.sleep(0.1)


@test
def reconnect_then_loss_limit():
    pa, pb = free_port(), free_port()
    with Daemon() as b:
        with Daemon() as a:
            target_a(a, pa)
            attach(b, pa, ctrlr_loss_timeout_sec=3, reconnect_delay_sec=1)
            reexport(b, pb)
            check_verify(*perf(["-r", trid(pb, NQN_B), "--verify", "-t", "1", "-q", "8",
                                "--json"]))
        # A is gone (SIGTERM): B notices and tries to reconnect.
        wait_state(b, "resetting", 15)
        with Daemon() as a:
            target_a(a, pa)
            c = wait_state(b, "enabled", 10)
            assert c["reconnects"] == 1, c
            check_verify(*perf(["-r", trid(pb, NQN_B), "--verify", "-t", "1", "-q", "8",
                                "--json"]))
        # Gone for longer than ctrlr_loss_timeout_sec: failed, and I/O fails (no hang).
        wait_state(b, "resetting", 15)
        wait_state(b, "failed", 10)
        rc, out, err = perf(["-r", trid(pb, NQN_B), "-t", "1", "-q", "4", "-w", "read"],
                            timeout=30)
        assert rc != 0, (rc, out, err)
        # Detach of a failed controller works.
        b.rpc("nvmf_delete_subsystem", nqn=NQN_B)
        assert b.rpc("bdev_nvme_detach_controller", name="Nvme0") is True
        nothing_created(b)


@test
def io_waits_through_target_restart():
    """I/O in flight when A goes away is retried after the reconnect, not failed."""
    pa, pb = free_port(), free_port()
    with Daemon() as b:
        a = Daemon()
        with a:
            target_a(a, pa)
            attach(b, pa, ctrlr_loss_timeout_sec=10, reconnect_delay_sec=1)
            reexport(b, pb)
            load = subprocess.Popen([perf_path(), "-r", trid(pb, NQN_B), "-t", "5", "-q", "8",
                                     "-w", "randread", "--json"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(1.5)
                a.stop(timeout=10)
                wait_state(b, "resetting", 15)
                a2 = Daemon()
                with a2:
                    target_a(a2, pa)
                    wait_state(b, "enabled", 10)
                    out, err = load.communicate(timeout=40)
            finally:
                if load.poll() is None:
                    load.kill()
                    load.wait()
        assert load.returncode == 0, (load.returncode, out, err)
        t = json.loads(out)["total"]
        assert t["ios"] > 0 and t["errors"] == 0, t
        b.rpc("nvmf_delete_subsystem", nqn=NQN_B)
        assert b.rpc("bdev_nvme_detach_controller", name="Nvme0") is True


if __name__ == "__main__":
    run_tests()
