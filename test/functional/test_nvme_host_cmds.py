#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The NVMe-oF host library (lib/nvme) command by command against ftgtd's NVMe/TCP target
on 127.0.0.1, through the C driver test/functional/nvme_cmds (one scenario per run):
Identify, Get Log Page, Get/Set Features, Abort, Keep Alive and unsupported opcodes with
their exact NVMe statuses; every I/O command and its errors; fused Compare and Write;
keep-alive sent by the library and enforced by ftgtd; Abort of a read held in a delay
bdev; the target restarted under a connected host; several I/O queue pairs on threads.
See doc/nvme-host-tests.md.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvme_host_cmds.py [names]
($FTGT_NVME_CMDS overrides the driver binary, e.g. the ASan build's.)
"""

import os
import queue
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import Daemon, Skip, run_tests, test  # noqa: E402

NQN = "nqn.2026-01.io.ftgt:host-cmds"
MALLOC_BLOCKS = 16384
KATO_MS = 2000
DELAY_MS = 4000


def cmds_path():
    p = os.environ.get("FTGT_NVME_CMDS") or os.path.join(
        os.environ.get("FTGT_BUILD_DIR", "build"), "test", "functional", "nvme_cmds",
        "nvme_cmds")
    if not os.access(p, os.X_OK):
        raise Skip("nvme_cmds not built (%s)" % p)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def trid(port):
    return "trtype:tcp adrfam:ipv4 traddr:127.0.0.1 trsvcid:%d subnqn:%s" % (port, NQN)


def target(d, port=None, delay=False):
    """NSID 1 malloc, 2 null, 3 (delay=True) a delay bdev holding reads DELAY_MS over
    malloc; NSID 5 stays inactive (max 32). Returns the listener's port."""
    d.rpc("nvmf_create_transport", trtype="TCP")
    d.rpc("bdev_malloc_create", name="M0", num_blocks=MALLOC_BLOCKS, block_size=512)
    d.rpc("bdev_null_create", name="N0", num_blocks=1 << 20, block_size=512)
    d.rpc("nvmf_create_subsystem", nqn=NQN, allow_any_host=True, max_namespaces=32)
    d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "M0", "nsid": 1})
    d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "N0", "nsid": 2})
    if delay:
        d.rpc("bdev_malloc_create", name="M1", num_blocks=1024, block_size=512)
        d.rpc("bdev_delay_create", name="D0", base_bdev_name="M1",
              avg_read_latency=DELAY_MS * 1000, p99_read_latency=DELAY_MS * 1000,
              avg_write_latency=0, p99_write_latency=0)
        d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "D0", "nsid": 3})
    port = port or free_port()
    d.rpc("nvmf_subsystem_add_listener", nqn=NQN,
          listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                          "trsvcid": str(port)})
    return port


class Driver:
    """nvme_cmds as a child process; its stdout read line by line on a thread."""

    def __init__(self, port, case, *args):
        self.case = case
        self.lines = []
        self._q = queue.Queue()
        self.proc = subprocess.Popen(
            [cmds_path(), trid(port), case, "null_nsid=2", "inactive_nsid=5",
             "active=1,2" + (",3" if "delay_nsid=3" in args else "")] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        self._err = []
        self._te = threading.Thread(target=self._read_err, daemon=True)
        self._te.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self._err.append(line.rstrip("\n"))

    def output(self):
        return "\n".join(self.lines + ["-- stderr --"] + self._err)

    def wait_line(self, prefix, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no '%s' from nvme_cmds %s in %.0f s:\n%s"
                                     % (prefix, self.case, timeout, self.output()))
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                if self.proc.wait(timeout=10) == 77:
                    raise Skip(next((l[5:] for l in self.lines if l.startswith("SKIP")),
                                    "skipped"))
                raise AssertionError("nvme_cmds %s ended before '%s':\n%s"
                                     % (self.case, prefix, self.output()))
            if line.startswith(prefix):
                return line

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("nvme_cmds %s still running after %.0f s:\n%s"
                                 % (self.case, timeout, self.output()))
        self._t.join(5)
        self._te.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def check(self, rc):
        """Exit 0 and a PASS line."""
        print("  %s: %d checks ok" % (self.case, sum(l.startswith("ok ") for l in self.lines)),
              flush=True)
        if rc == 77:
            raise Skip(next((l[5:] for l in self.lines if l.startswith("SKIP")), "skipped"))
        assert rc == 0 and any(l == "PASS " + self.case or
                               l.startswith("PASS %s " % self.case) for l in self.lines), \
            "nvme_cmds %s exited %s:\n%s" % (self.case, rc, self.output())
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert marker not in "\n".join(self._err), self.output()


def run_case(case, *args, cpumask="0x1", delay=False, timeout=120):
    cmds_path()
    with Daemon(cpumask=cpumask) as d:
        port = target(d, delay=delay)
        drv = Driver(port, case, *args)
        try:
            drv.check(drv.finish(timeout))
        finally:
            drv.kill()


@test
def admin_identify():
    run_case("admin_identify")


@test
def admin_log_pages():
    run_case("admin_log_pages")


@test
def admin_features():
    run_case("admin_features")


@test
def admin_misc():
    run_case("admin_misc")


@test
def io_cmds():
    run_case("io_cmds")


@test
def io_fused_compare_and_write():
    run_case("io_fused")


@test
def keepalive_sent_while_idle():
    run_case("keepalive_idle", "kato_ms=%d" % KATO_MS, "idle_ms=6000")


def counts(d):
    st = d.rpc("nvmf_get_stats")
    sub = [s for s in d.rpc("nvmf_get_subsystems") if s["nqn"] == NQN][0]
    return {"conns": st["num_connections"], "ctrlrs": st["num_controllers"],
            "qpairs": st["num_qpairs"], "sub_ctrlrs": sub["num_controllers"],
            "sub_qpairs": sub["num_qpairs"], "hosts": len(sub["connected_hosts"])}


@test
def keepalive_expiry_drops_silent_host():
    """The driver stops polling for 6 s with KATO 2 s: while it is silent (its sockets
    still open) ftgtd must drop the controller and every count must go back to zero;
    then the driver checks its next commands fail cleanly."""
    cmds_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d)
        drv = Driver(port, "keepalive_expiry", "kato_ms=%d" % KATO_MS, "idle_ms=6000")
        try:
            drv.wait_line("WAIT silent", 30)
            t0 = time.monotonic()
            before = counts(d)
            assert before["ctrlrs"] == 1 and before["sub_qpairs"] == 2, before
            zero = {"conns": 0, "ctrlrs": 0, "qpairs": 0, "sub_ctrlrs": 0, "sub_qpairs": 0,
                    "hosts": 0}
            now = before
            while time.monotonic() - t0 < 5.0:
                now = counts(d)
                if now == zero:
                    break
                time.sleep(0.05)
            took = time.monotonic() - t0
            assert drv.proc.poll() is None, "the driver exited while silent"
            assert now == zero, "after %.1f s of silence (KATO %d ms): %s" % (took, KATO_MS,
                                                                              now)
            # Not before the KATO (the target rounds it up to 100 ms; allow poll slack).
            assert took >= KATO_MS / 1000.0 - 0.5, "dropped after only %.1f s" % took
            assert "keep-alive timeout" in d.stdout + d.stderr, d.stdout + d.stderr
            drv.check(drv.finish(60))
        finally:
            drv.kill()


@test
def abort_read_held_in_delay_bdev():
    run_case("abort_delayed", "delay_nsid=3", "delay_ms=%d" % DELAY_MS, delay=True)


def restart_case(case, down_s=0.0):
    """Connect, then SIGTERM ftgtd and, down_s later, start a new one on the same port
    with the same configuration while the driver polls."""
    cmds_path()
    with Daemon(cpumask="0x1") as d1:
        port = target(d1)
        drv = Driver(port, case, "kato_ms=%d" % KATO_MS)
        try:
            drv.wait_line("WAIT restart", 30)
            rc = d1.stop()
            assert rc == 0, "ftgtd exited %s on SIGTERM with a host connected:\n%s" % (
                rc, d1.stderr)
            # Reconnect attempts meanwhile are refused: the back-off has to go on.
            time.sleep(down_s)
            with Daemon(cpumask="0x1") as d2:
                target(d2, port=port)
                drv.check(drv.finish(90))
        finally:
            drv.kill()


@test
def restart_reconnect_by_hand():
    restart_case("restart")


@test
def restart_automatic_reconnect():
    restart_case("restart_auto", down_s=1.5)


@test
def aer_namespace_added_and_removed():
    """A namespace added, then removed while connected: the library's AER callback
    reports each Namespace Attribute Changed notice after it refreshed its namespace list."""
    cmds_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d)
        d.rpc("bdev_malloc_create", name="M5", num_blocks=2048, block_size=512)
        drv = Driver(port, "aer_ns_change")
        try:
            drv.wait_line("WAIT add_ns", 30)
            d.rpc("nvmf_subsystem_add_ns", nqn=NQN, namespace={"bdev_name": "M5", "nsid": 5})
            drv.wait_line("WAIT remove_ns", 30)
            d.rpc("nvmf_subsystem_remove_ns", nqn=NQN, nsid=5)
            drv.check(drv.finish(60))
        finally:
            drv.kill()


@test
def reset_with_commands_queued():
    """ftgt_nvme_ctrlr_reset() with writes queued: they end once, the same controller
    object and qpair work again, and ftgtd holds one controller (the old association
    is gone) with its admin and I/O queue."""
    cmds_path()
    with Daemon(cpumask="0x1") as d:
        port = target(d)
        drv = Driver(port, "reset")
        try:
            drv.wait_line("WAIT counts", 30)
            t0 = time.monotonic()
            want = {"conns": 2, "ctrlrs": 1, "qpairs": 2, "sub_ctrlrs": 1, "sub_qpairs": 2,
                    "hosts": 1}
            now = counts(d)
            while now != want and time.monotonic() - t0 < 2.0:
                time.sleep(0.05)
                now = counts(d)
            assert now == want, now
            drv.check(drv.finish(60))
        finally:
            drv.kill()


@test
def several_qpairs_on_threads():
    run_case("multi_qpair", "threads=4", "iterations=100", cpumask="0x3")


if __name__ == "__main__":
    run_tests()
