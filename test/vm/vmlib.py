# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for tests that drive ftgt with real Linux initiators inside a QEMU guest.

Standard library only. Typical use from a test:

    import sys; sys.path.insert(0, "<repo>/test/vm")
    import vmlib

    vmlib.require()                       # exits 77 (skip) if no QEMU, no root or no kernel
    with vmlib.Netns() as ns:             # namespace ftgtvm-<pid>-<n>, tap, 10.99.1.1/24
        ftgtd = ns.popen([ftgtd_path, "-c", cfg])   # runs inside the namespace
        ...configure ftgtd to listen on ns.host_ip...
        rc, log = vmlib.run_guest("#!/bin/bash\\nnvme discover -t tcp -a $FTGT_VM_HOST_IP\\n",
                                  netns=ns, timeout_s=180)
    # leaving the block kills what popen started and deletes the namespace, also on errors

The guest sees the host's files read-only (so built binaries under the repo work there),
gets the tap's peer address ns.guest_ip, and finds its share directory at /ftgt.

Run as a program it offers small tools for shell tests:
    python3 vmlib.py icreq HOST PORT [--timeout S]   NVMe/TCP ICReq/ICResp handshake
    python3 vmlib.py check                           exit 0 if a guest can run, else 77
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PREPARE = os.path.join(HERE, "prepare.sh")
RUN_GUEST = os.path.join(HERE, "run-guest.sh")
SKIP = 77

_counter = 0


class Unavailable(Exception):
    """The guest cannot run here (no QEMU, not root, no kernel); tests should skip."""


def unavailable_reason():
    """Returns why a guest cannot run here, or None if it can (prepares the kernel once)."""
    if os.geteuid() != 0:
        return "not root (network namespaces and tap devices need root)"
    for tool in ("qemu-system-x86_64", "ip"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    kdir = prepare()
    if kdir is None:
        return "the guest kernel cannot be prepared (see prepare.sh output)"
    return None


def require():
    """Exits with status 77 (the meson/automake skip code) if a guest cannot run here."""
    reason = unavailable_reason()
    if reason is not None:
        print("SKIP: QEMU guest unavailable: %s" % reason, file=sys.stderr)
        sys.exit(SKIP)


def prepare():
    """Builds (or finds cached) kernel + initramfs; returns their directory or None."""
    try:
        out = subprocess.run([PREPARE, "--quiet"], stdout=subprocess.PIPE, timeout=600,
                             check=False, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30)


class Netns:
    """A network namespace with a tap device for one guest; a context manager.

    The host side of the tap has host_ip (10.99.<subnet>.1/24); the guest booted with
    run_guest(netns=this) gets guest_ip (10.99.<subnet>.2). Processes started with popen()
    live in the namespace and are killed on exit, before the namespace is deleted.
    """

    def __init__(self, name=None, subnet=1, tap=None):
        global _counter
        _counter += 1
        self.name = name or "ftgtvm-%d-%d" % (os.getpid(), _counter)
        self.subnet = int(subnet)
        if not 1 <= self.subnet <= 254:
            raise ValueError("subnet must be 1..254")
        self.tap = tap or "ftgttap%d" % self.subnet
        self.host_ip = "10.99.%d.1" % self.subnet
        self.guest_ip = "10.99.%d.2" % self.subnet
        self._procs = []
        self._created = False

    def __enter__(self):
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    def create(self):
        _ip("netns", "add", self.name)
        self._created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        _ip("-n", self.name, "tuntap", "add", "dev", self.tap, "mode", "tap")
        _ip("-n", self.name, "addr", "add", self.host_ip + "/24", "dev", self.tap)
        _ip("-n", self.name, "link", "set", self.tap, "up")

    def argv(self, argv):
        """The command line that runs argv inside the namespace."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def popen(self, argv, **kwargs):
        """Starts argv inside the namespace (own process group); killed on destroy()."""
        kwargs.setdefault("start_new_session", True)
        proc = subprocess.Popen(self.argv(argv), **kwargs)
        self._procs.append(proc)
        return proc

    def run(self, argv, timeout=60, **kwargs):
        """Runs argv inside the namespace to completion (subprocess.run semantics)."""
        return subprocess.run(self.argv(argv), timeout=timeout, **kwargs)

    def destroy(self):
        for proc in self._procs:
            _kill_group(proc)
        self._procs = []
        if not self._created:
            return
        # Anything else still in the namespace (started by hand) must not outlive it.
        pids = _ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _ip("-n", self.name, "link", "del", self.tap, check=False)
        _ip("netns", "del", self.name, check=False)
        self._created = False


def _kill_group(proc, grace_s=3.0):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout=grace_s)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait(timeout=10)


def run_guest(script, args=(), netns=None, timeout_s=300, mem_mb=1024, smp=1, share=None,
              log=None, verbose=False):
    """Boots the guest, runs script in it and returns (rc, console_text).

    script: a path to a file, or the script's text (anything containing a newline).
    rc: the script's exit status, 124 on timeout, 125 if the guest failed to boot.
    Raises Unavailable if the guest cannot run here (run-guest.sh exits 77).
    share: a host directory the guest sees read-write as /ftgt (default: a temporary one).
    """
    tmp = tempfile.mkdtemp(prefix="ftgtvm-py-")
    try:
        if "\n" in script:
            path = os.path.join(tmp, "script")
            with open(path, "w") as f:
                f.write(script)
        else:
            path = script
        console = log or os.path.join(tmp, "console.log")
        cmd = [RUN_GUEST, "--timeout", str(int(timeout_s)), "--mem", str(int(mem_mb)),
               "--smp", str(int(smp)), "--log", console, "--script", path]
        if netns is not None:
            cmd += ["--netns", netns.name, "--tap", netns.tap, "--subnet", str(netns.subnet)]
        if share is not None:
            cmd += ["--share", share]
        if verbose:
            cmd.append("--verbose")
        cmd += ["--"] + [str(a) for a in args]
        # run-guest.sh enforces timeout_s itself; this bound only catches a stuck harness.
        proc = subprocess.run(cmd, timeout=timeout_s + 120, check=False)
        if proc.returncode == SKIP and not os.path.exists(console):
            raise Unavailable("run-guest.sh could not start a guest")
        try:
            with open(console, errors="replace") as f:
                text = f.read().replace("\r", "")
        except OSError:
            text = ""
        if proc.returncode == SKIP and "ftgt-vm: RC=" not in text:
            raise Unavailable("run-guest.sh could not start a guest")
        return proc.returncode, text
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- NVMe/TCP -------------------------------------------------------------------------------
# NVMe/TCP 1.0: every PDU starts with an 8-byte common header: PDU-type, FLAGS, HLEN, PDO,
# PLEN (le32). ICReq (type 0x00) and ICResp (type 0x01) are 128 bytes, header only.
NVME_TCP_ICREQ = 0x00
NVME_TCP_ICRESP = 0x01
NVME_TCP_IC_LEN = 128


def nvmf_tcp_icreq(host, port, hpda=0, digests=0, maxr2t=0, timeout_s=5.0):
    """Connects, sends an ICReq, reads the ICResp; returns its fields as a dict.

    Raises OSError on connection trouble and ValueError on a malformed answer.
    """
    # ICReq: ch (type, flags, hlen, pdo, plen) | pfv le16 | hpda u8 | dgst u8 | maxr2t le32
    pdu = struct.pack("<BBBBIHBBI", NVME_TCP_ICREQ, 0, NVME_TCP_IC_LEN, 0, NVME_TCP_IC_LEN,
                      0, hpda, digests, maxr2t)
    pdu += bytes(NVME_TCP_IC_LEN - len(pdu))
    with socket.create_connection((host, port), timeout=timeout_s) as s:
        s.sendall(pdu)
        buf = b""
        while len(buf) < NVME_TCP_IC_LEN:
            chunk = s.recv(NVME_TCP_IC_LEN - len(buf))
            if not chunk:
                raise ValueError("connection closed after %d bytes of ICResp" % len(buf))
            buf += chunk
    ptype, flags, hlen, pdo, plen, pfv, cpda, dgst, maxdata = struct.unpack_from(
        "<BBBBIHBBI", buf)
    if ptype != NVME_TCP_ICRESP or hlen != NVME_TCP_IC_LEN or plen != NVME_TCP_IC_LEN:
        raise ValueError("not an ICResp: type %#x hlen %d plen %d" % (ptype, hlen, plen))
    return {"pfv": pfv, "cpda": cpda, "digests": dgst, "maxh2cdata": maxdata,
            "flags": flags, "pdo": pdo}


def _main(argv):
    import argparse

    parser = argparse.ArgumentParser(prog="vmlib.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("icreq", help="NVMe/TCP ICReq/ICResp handshake, retried until timeout")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=60.0, help="give up after S seconds")
    p.add_argument("--out", help="also write the result line to this file")
    sub.add_parser("check", help="exit 0 if a guest can run here, else 77")
    a = parser.parse_args(argv)

    if a.cmd == "check":
        reason = unavailable_reason()
        if reason:
            print("guest unavailable: %s" % reason)
            return SKIP
        print("guest available")
        return 0

    deadline = time.monotonic() + a.timeout
    err = None
    while time.monotonic() < deadline:
        try:
            r = nvmf_tcp_icreq(a.host, a.port, timeout_s=5.0)
        except (OSError, ValueError) as e:
            err = e
            time.sleep(0.5)
            continue
        line = "ICResp pfv=%d cpda=%d digests=%d maxh2cdata=%d" % (
            r["pfv"], r["cpda"], r["digests"], r["maxh2cdata"])
        ok = r["pfv"] == 0 and r["maxh2cdata"] >= 4096
        if not ok:
            line = "BAD " + line
        print(line)
        if a.out:
            with open(a.out + ".tmp", "w") as f:
                f.write(line + "\n")
            os.rename(a.out + ".tmp", a.out)
        return 0 if ok else 1
    print("no ICResp from %s:%d within %.0f s: %s" % (a.host, a.port, a.timeout, err))
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write("FAIL %s\n" % err)
        os.rename(a.out + ".tmp", a.out)
    return 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
