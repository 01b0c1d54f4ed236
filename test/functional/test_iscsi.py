#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""iSCSI target against the real ftgtd: RPC validation and save_config, logins with
libiscsi tools (discovery, CHAP, mutual CHAP, wrong secret), a malformed PDU ending
only its own connection, a bounded selection of iscsi-test-cu suites, and raw-PDU
tests (RawConn) of sessions with several connections, connection/session
reinstatement, logout, target-requested logout, exact counts, LUNs added/removed with
live sessions, a bdev hot-removed under a LUN, and task management aborts. Traffic goes to 127.0.0.1 only.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_iscsi.py [test names]
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import Daemon, RpcError, Skip, run_tests, test  # noqa: E402

INVALID_PARAMS = -32602
IQN = "iqn.2016-06.io.ftgt:t1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def need_iscsi(d):
    if "iscsi_create_portal_group" not in d.rpc("rpc_get_methods"):
        raise Skip("this ftgtd has no iscsi subsystem")


def need_tool(name):
    if shutil.which(name) is None:
        raise Skip("%s not installed (apt-get install libiscsi-bin)" % name)


def setup_target(d, port, **tgt_params):
    d.rpc("bdev_malloc_create", name="M0", num_blocks=65536, block_size=512)
    d.rpc("iscsi_create_portal_group", tag=1, portals=[{"host": "127.0.0.1", "port": str(port)}])
    d.rpc("iscsi_create_initiator_group", tag=1, initiators=["ANY"], netmasks=["127.0.0.0/8"])
    params = dict(name=IQN, pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}],
                  luns=[{"bdev_name": "M0", "lun_id": 0}], queue_depth=32)
    params.update(tgt_params)
    d.rpc("iscsi_create_target_node", params)


def expect_error(d, method, params, code=None, needle=None):
    try:
        d.rpc(method, params)
    except RpcError as e:
        if code is not None:
            assert e.code == code, "%s: code %s (%s)" % (method, e.code, e.message)
        if needle is not None:
            assert needle in e.message, "%r not in %r" % (needle, e.message)
        return
    raise AssertionError("%s %r succeeded" % (method, params))


def run_tool(args, timeout=30):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


@test
def rpc_objects_and_save_config():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port, alias_name="disk one")
        pgs = d.rpc("iscsi_get_portal_groups")
        assert pgs[0]["tag"] == 1 and pgs[0]["portals"][0]["port"] == str(port)
        igs = d.rpc("iscsi_get_initiator_groups")
        assert igs[0]["initiators"] == ["ANY"]
        tgts = d.rpc("iscsi_get_target_nodes")
        assert tgts[0]["name"] == IQN and tgts[0]["luns"] == [{"bdev_name": "M0", "lun_id": 0}]
        # A short name gets the node base.
        d.rpc("bdev_malloc_create", name="M1", num_blocks=2048, block_size=512)
        d.rpc("iscsi_create_target_node", name="short", pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}],
              luns=[{"bdev_name": "M1", "lun_id": 0}])
        names = [t["name"] for t in d.rpc("iscsi_get_target_nodes")]
        assert "iqn.2016-06.io.ftgt:short" in names, names
        d.rpc("iscsi_set_options", max_connections_per_session=4)
        cfg = d.rpc("save_config")
        iscsi = [s for s in cfg["subsystems"] if s["subsystem"] == "iscsi"][0]["config"]
        methods = [c["method"] for c in iscsi]
        assert methods[0] == "iscsi_set_options"
        assert iscsi[0]["params"]["max_connections_per_session"] == 4, iscsi[0]
        for m in ("iscsi_create_portal_group", "iscsi_create_initiator_group",
                  "iscsi_create_target_node"):
            assert m in methods, methods
        d.rpc("iscsi_delete_target_node", name="short")
        assert len(d.rpc("iscsi_get_target_nodes")) == 1


@test
def rpc_validation():
    with Daemon() as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        # duplicate listener, non-local address, bad port, host name, tag 0, dup tag
        expect_error(d, "iscsi_create_portal_group",
                     {"tag": 2, "portals": [{"host": "127.0.0.1", "port": str(port)}]},
                     needle="already")
        expect_error(d, "iscsi_create_portal_group",
                     {"tag": 2, "portals": [{"host": "192.0.2.77", "port": "3260"}]},
                     needle="not local")
        expect_error(d, "iscsi_create_portal_group",
                     {"tag": 2, "portals": [{"host": "127.0.0.1", "port": "70000"}]},
                     code=INVALID_PARAMS)
        expect_error(d, "iscsi_create_portal_group",
                     {"tag": 2, "portals": [{"host": "localhost", "port": "3260"}]},
                     code=INVALID_PARAMS)
        expect_error(d, "iscsi_create_portal_group",
                     {"tag": 0, "portals": [{"host": "127.0.0.1", "port": "3260"}]},
                     code=INVALID_PARAMS)
        expect_error(d, "iscsi_create_portal_group",
                     {"tag": 1, "portals": [{"host": "127.0.0.1", "port": str(free_port())}]})
        # a port someone else holds: bind failure is reported
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        try:
            expect_error(d, "iscsi_create_portal_group",
                         {"tag": 3, "portals": [{"host": "127.0.0.1",
                                                 "port": str(s.getsockname()[1])}]},
                         needle="cannot listen")
        finally:
            s.close()
        # target nodes: bad IQN, unknown groups, unknown bdev, duplicate
        expect_error(d, "iscsi_create_target_node",
                     {"name": "iqn.bad name", "pg_ig_maps": [{"pg_tag": 1, "ig_tag": 1}],
                      "luns": [{"bdev_name": "M0", "lun_id": 0}]}, code=INVALID_PARAMS)
        expect_error(d, "iscsi_create_target_node",
                     {"name": "x2", "pg_ig_maps": [{"pg_tag": 9, "ig_tag": 1}],
                      "luns": [{"bdev_name": "M0", "lun_id": 0}]}, needle="portal group")
        expect_error(d, "iscsi_create_target_node",
                     {"name": "x3", "pg_ig_maps": [{"pg_tag": 1, "ig_tag": 1}],
                      "luns": [{"bdev_name": "nope", "lun_id": 0}]}, needle="no such bdev")
        expect_error(d, "iscsi_create_initiator_group",
                     {"tag": 2, "initiators": ["not an iqn"], "netmasks": ["ANY"]},
                     code=INVALID_PARAMS)
        expect_error(d, "iscsi_set_options", {"error_recovery_level": 2},
                     code=INVALID_PARAMS)
        # in use: cannot delete a mapped portal group
        expect_error(d, "iscsi_delete_portal_group", {"tag": 1}, needle="mapped")


@test
def discovery_and_login():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        need_tool("iscsi-ls")
        port = free_port()
        setup_target(d, port)
        r = run_tool(["iscsi-ls", "-s", "iscsi://127.0.0.1:%d" % port])
        assert r.returncode == 0, r.stderr
        assert "Target:%s Portal:127.0.0.1:%d,1" % (IQN, port) in r.stdout, r.stdout
        assert "Lun:0" in r.stdout and "DIRECT_ACCESS" in r.stdout, r.stdout
        st = d.rpc("iscsi_get_stats")
        assert st["logins_ok"] >= 2, st


@test
def chap_and_mutual_chap():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        need_tool("iscsi-inq")
        port = free_port()
        d.rpc("iscsi_create_auth_group", tag=1,
              secrets=[{"user": "alice", "secret": "alicesecret1",
                        "muser": "target", "msecret": "targetsecret1"}])
        setup_target(d, port, require_chap=True, chap_group=1)
        base = "127.0.0.1:%d/%s/0" % (port, IQN)
        ok = run_tool(["iscsi-inq", "iscsi://alice%%alicesecret1@%s" % base])
        assert ok.returncode == 0, ok.stderr
        bad = run_tool(["iscsi-inq", "iscsi://alice%%wrongsecret1@%s" % base])
        assert bad.returncode != 0, "login with a wrong secret succeeded"
        none = run_tool(["iscsi-inq", "iscsi://%s" % base])
        assert none.returncode != 0, "login without CHAP succeeded on a CHAP target"
        # mutual: libiscsi checks the target's answer with target_user/target_password
        mutual = run_tool(["iscsi-inq", "iscsi://alice%%alicesecret1@%s?target_user=target"
                           "&target_password=targetsecret1" % base])
        assert mutual.returncode == 0, mutual.stderr
        wrong_t = run_tool(["iscsi-inq", "iscsi://alice%%alicesecret1@%s?target_user=target"
                            "&target_password=notthetarget1" % base])
        assert wrong_t.returncode != 0, "initiator accepted a wrong target secret"
        assert d.rpc("iscsi_get_stats")["logins_failed"] >= 2


def login_pdu(port):
    """A raw Login Request for a discovery session; returns the socket after login."""
    text = b"InitiatorName=iqn.2000-01.com.test:raw\0SessionType=Discovery\0AuthMethod=None\0"
    pad = (4 - len(text) % 4) % 4
    bhs = bytearray(48)
    bhs[0] = 0x43                     # immediate Login Request
    bhs[1] = 0x80 | (0 << 2) | 3      # T, CSG=0, NSG=3
    bhs[5:8] = len(text).to_bytes(3, "big")
    bhs[8:14] = b"\x40\x00\x00\x00\x00\x01"
    struct.pack_into(">I", bhs, 16, 1)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(bytes(bhs) + text + b"\0" * pad)
    rsp = s.recv(48)
    assert len(rsp) == 48 and rsp[0] == 0x23, rsp
    assert rsp[36] == 0, "login status class %d" % rsp[36]
    dsl = int.from_bytes(rsp[5:8], "big")
    s.recv(dsl + (4 - dsl % 4) % 4)
    return s


@test
def malformed_pdu_ends_only_its_connection():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        good = login_pdu(port)
        bad = login_pdu(port)
        # DataSegmentLength far beyond MaxRecvDataSegmentLength: connection must end.
        bhs = bytearray(48)
        bhs[0] = 0x40
        bhs[1] = 0x80
        bhs[5:8] = (0xffffff).to_bytes(3, "big")
        bad.sendall(bytes(bhs))
        bad.settimeout(5)
        assert bad.recv(100) == b"", "target kept the connection after a malformed PDU"
        bad.close()
        # The other connection still answers a NOP-Out ping.
        nop = bytearray(48)
        nop[0] = 0x40
        nop[1] = 0x80
        struct.pack_into(">I", nop, 16, 7)          # ITT
        struct.pack_into(">I", nop, 20, 0xffffffff)  # TTT
        good.sendall(bytes(nop))
        rsp = good.recv(48)
        assert rsp[0] == 0x20 and struct.unpack_from(">I", rsp, 16)[0] == 7, rsp
        deadline = time.time() + 5
        while time.time() < deadline and len(d.rpc("iscsi_get_connections")) != 1:
            time.sleep(0.1)
        assert len(d.rpc("iscsi_get_connections")) == 1
        assert d.rpc("iscsi_get_stats")["pdus_malformed"] >= 1
        good.close()


@test
def iscsi_test_cu_selection():
    """A bounded selection of libiscsi's conformance suites (the full run is
    bench/iscsi/compare-tgtd.sh)."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        need_tool("iscsi-test-cu")
        port = free_port()
        setup_target(d, port)
        url = "iscsi://127.0.0.1:%d/%s/0" % (port, IQN)
        for suite in ("SCSI.Inquiry", "SCSI.ReadCapacity16", "SCSI.Read10", "SCSI.Write16",
                      "SCSI.CompareAndWrite", "SCSI.Unmap", "SCSI.ProutReserve",
                      "iSCSI.iSCSIResiduals", "iSCSI.iSCSITMF", "iSCSI.iSCSIcmdsn"):
            r = run_tool(["iscsi-test-cu", "-d", "-n", "-t", suite, url], timeout=120)
            line = [l for l in r.stdout.splitlines() if l.strip().startswith("tests")]
            assert line, "%s: no summary\n%s" % (suite, r.stdout[-2000:])
            total, ran, passed, failed = line[-1].split()[1:5]
            assert failed == "0" and ran == total, "%s: %s\n%s" % (suite, line[-1],
                                                                   r.stdout[-3000:])


# ---- raw PDU tests: sessions with several connections, logout, counts, TMF ------------------

RAW_INITIATOR = "iqn.2000-01.com.test:raw"


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed by the target")
        buf += chunk
    return buf


def recv_pdu(s):
    """One target PDU (no digests): (bhs, data)."""
    bhs = recv_exact(s, 48)
    ahs = bhs[4] * 4
    dsl = int.from_bytes(bhs[5:8], "big")
    rest = recv_exact(s, ahs + dsl + (4 - dsl % 4) % 4)
    return bhs, rest[ahs:ahs + dsl]


def closed_by_target(s, timeout):
    """True when the target closes s within timeout (PDUs before the close are read)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            if not s.recv(4096):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


def text_pdu(opcode, flags, itt, text, isid=b"\x40\x00\x00\x00\x00\x01", tsih=0, cid=0,
             cmd_sn=1, exp_stat_sn=0):
    pad = (4 - len(text) % 4) % 4
    bhs = bytearray(48)
    bhs[0] = opcode
    bhs[1] = flags
    bhs[5:8] = len(text).to_bytes(3, "big")
    bhs[8:14] = isid
    struct.pack_into(">H", bhs, 14, tsih)
    struct.pack_into(">I", bhs, 16, itt)
    struct.pack_into(">H", bhs, 20, cid)
    struct.pack_into(">I", bhs, 24, cmd_sn)
    struct.pack_into(">I", bhs, 28, exp_stat_sn)
    return bytes(bhs) + text + b"\0" * pad


class RawConn:
    """A normal-session connection driven PDU by PDU (no digests, ERL 0)."""

    def __init__(self, port, isid=b"\x40\x00\x00\x00\x00\x01", tsih=0, cid=0, cmd_sn=1,
                 target=IQN, max_connections=2):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.cid = cid
        self.other = []  # PDUs read while waiting for another ITT
        self.exp_stat_sn = 0
        self.status = None
        sec = ("InitiatorName=%s\0TargetName=%s\0SessionType=Normal\0AuthMethod=None\0"
               % (RAW_INITIATOR, target)).encode()
        self.s.sendall(text_pdu(0x43, 0x80 | 1, 1, sec, isid, tsih, cid, cmd_sn))
        bhs, _ = recv_pdu(self.s)
        assert bhs[0] == 0x23, bhs
        if bhs[36] != 0:
            self.status = (bhs[36], bhs[37])
            return
        op = b"ImmediateData=Yes\0InitialR2T=Yes\0MaxRecvDataSegmentLength=65536\0"
        if tsih == 0:
            op += ("MaxConnections=%d\0" % max_connections).encode()
        self.exp_stat_sn = struct.unpack_from(">I", bhs, 24)[0] + 1
        self.s.sendall(text_pdu(0x43, 0x80 | (1 << 2) | 3, 1, op, isid, tsih, cid, cmd_sn,
                                self.exp_stat_sn))
        bhs, self.login_text = recv_pdu(self.s)
        assert bhs[0] == 0x23, bhs
        self.status = (bhs[36], bhs[37])
        self.tsih = struct.unpack_from(">H", bhs, 14)[0]
        self.exp_stat_sn = struct.unpack_from(">I", bhs, 24)[0] + 1
        self.max_cmd_sn = struct.unpack_from(">I", bhs, 32)[0]

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def scsi_cmd(self, itt, cmd_sn, cdb, lun=0, read_len=0, write_data=b"", immediate=False):
        bhs = bytearray(48)
        bhs[0] = 0x01 | (0x40 if immediate else 0)
        bhs[1] = 0x80 | 1 | (0x40 if read_len else 0) | (0x20 if write_data else 0)
        bhs[5:8] = len(write_data).to_bytes(3, "big")
        struct.pack_into(">H", bhs, 8, lun & 0x3fff)
        struct.pack_into(">I", bhs, 16, itt)
        struct.pack_into(">I", bhs, 20, read_len or len(write_data))
        struct.pack_into(">I", bhs, 24, cmd_sn)
        struct.pack_into(">I", bhs, 28, self.exp_stat_sn)
        bhs[32:32 + len(cdb)] = cdb
        pad = (4 - len(write_data) % 4) % 4
        self.send(bytes(bhs) + write_data + b"\0" * pad)

    def wait_status(self, itt, timeout=10):
        """Read PDUs until the status of itt: (status, data, last bhs). Others are kept."""
        data = b""
        self.s.settimeout(timeout)
        while True:
            bhs, seg = recv_pdu(self.s)
            self.note(bhs)
            if struct.unpack_from(">I", bhs, 16)[0] != itt:
                self.other.append((bhs, seg))
                continue
            if bhs[0] == 0x25:
                data += seg
                if bhs[1] & 0x01:
                    return bhs[3], data, bhs
            elif bhs[0] == 0x21:
                return bhs[3], data, bhs

    def note(self, bhs):
        if bhs[0] in (0x21, 0x22, 0x26, 0x32, 0x3f) or (bhs[0] == 0x25 and bhs[1] & 1):
            self.exp_stat_sn = struct.unpack_from(">I", bhs, 24)[0] + 1

    def read10(self, itt, cmd_sn, lba=0, blocks=1, lun=0):
        cdb = bytes([0x28, 0]) + struct.pack(">I", lba) + bytes([0]) + struct.pack(">H", blocks) \
            + b"\0"
        self.scsi_cmd(itt, cmd_sn, cdb, lun=lun, read_len=512 * blocks)

    def write10(self, itt, cmd_sn, data, lba=0):
        cdb = bytes([0x2a, 0]) + struct.pack(">I", lba) + bytes([0]) \
            + struct.pack(">H", len(data) // 512) + b"\0"
        self.scsi_cmd(itt, cmd_sn, cdb, write_data=data)

    def report_luns(self, itt, cmd_sn):
        cdb = bytes([0xa0, 0, 0, 0, 0, 0]) + struct.pack(">I", 4096) + b"\0\0"
        self.scsi_cmd(itt, cmd_sn, cdb, read_len=4096)
        status, data, _ = self.wait_status(itt)
        assert status == 0, "REPORT LUNS status %d" % status
        n = struct.unpack_from(">I", data, 0)[0] // 8
        return sorted(struct.unpack_from(">H", data, 8 + 8 * i)[0] & 0x3fff for i in range(n))

    def logout(self, itt, cmd_sn, reason=0, cid=None):
        bhs = bytearray(48)
        bhs[0] = 0x46
        bhs[1] = 0x80 | reason
        struct.pack_into(">I", bhs, 16, itt)
        struct.pack_into(">H", bhs, 20, self.cid if cid is None else cid)
        struct.pack_into(">I", bhs, 24, cmd_sn)
        struct.pack_into(">I", bhs, 28, self.exp_stat_sn)
        self.send(bytes(bhs))

    def wait_opcode(self, opcode, timeout=10):
        self.s.settimeout(timeout)
        while True:
            bhs, seg = recv_pdu(self.s)
            self.note(bhs)
            if bhs[0] == opcode:
                return bhs, seg

    def nop(self, itt, cmd_sn):
        bhs = bytearray(48)
        bhs[0] = 0x40
        bhs[1] = 0x80
        struct.pack_into(">I", bhs, 16, itt)
        struct.pack_into(">I", bhs, 20, 0xffffffff)
        struct.pack_into(">I", bhs, 24, cmd_sn)
        struct.pack_into(">I", bhs, 28, self.exp_stat_sn)
        self.send(bytes(bhs))
        bhs, _ = self.wait_opcode(0x20, 5)
        assert struct.unpack_from(">I", bhs, 16)[0] == itt
        return bhs


def wait_until(fn, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def no_connections(d):
    return wait_until(lambda: d.rpc("iscsi_get_connections") == [] and
                      d.rpc("iscsi_get_stats")["sessions"] == 0)


@test
def two_connections_one_session():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        a = RawConn(port, cid=0)
        assert a.status == (0, 0), a.status
        assert b"MaxConnections=2" in a.login_text, a.login_text
        b = RawConn(port, tsih=a.tsih, cid=1)
        assert b.status == (0, 0), b.status
        assert b.tsih == a.tsih
        sess = d.rpc("iscsi_get_sessions")
        assert len(sess) == 1 and sess[0]["connections"] == 2, sess
        assert sorted(sess[0]["cids"]) == [0, 1], sess
        conns = d.rpc("iscsi_get_connections")
        assert len(conns) == 2 and {c["tsih"] for c in conns} == {a.tsih}, conns
        # Both connections run on the session's reactor.
        assert len({c["lcore_id"] for c in conns}) == 1, conns
        # One CmdSN sequence over both: write on A, read it back on B; 6 before 5.
        block = bytes(range(256)) * 2
        a.write10(0x100, 1, block, lba=7)
        assert a.wait_status(0x100)[0] == 0
        b.read10(0x200, 2, lba=7)
        status, data, _ = b.wait_status(0x200)
        assert status == 0 and data == block, (status, data[:16])
        b.read10(0x201, 4)
        a.read10(0x101, 3)
        assert a.wait_status(0x101)[0] == 0 and b.wait_status(0x201)[0] == 0
        b.read10(0x202, 6)
        time.sleep(0.1)
        a.read10(0x102, 5)
        assert a.wait_status(0x102)[0] == 0
        assert b.wait_status(0x202)[0] == 0
        # The hole at 5 closed after 6 came: ExpCmdSN is 7 on both connections.
        for conn in (a, b):
            exp = struct.unpack_from(">I", conn.nop(0x210, 7), 28)[0]
            assert exp == 7, "ExpCmdSN %d" % exp
        # StatSN is per connection: each counts its own responses.
        st = d.rpc("iscsi_get_lun_stats", name=IQN)
        assert st[0]["luns"][0]["reads"] == 5 and st[0]["luns"][0]["writes"] == 1, st
        # Logout "close the connection" of B from A: B ends, A goes on.
        a.logout(0x300, 7, reason=1, cid=1)
        bhs, _ = a.wait_opcode(0x26)
        assert bhs[2] == 0, "logout response %d" % bhs[2]
        assert closed_by_target(b.s, 5)
        a.nop(0x301, 7)
        assert wait_until(lambda: len(d.rpc("iscsi_get_connections")) == 1)
        # Logout with a CID that is not there: "CID not found".
        a.logout(0x302, 7, reason=1, cid=9)
        bhs, _ = a.wait_opcode(0x26)
        assert bhs[2] == 1, "logout response %d" % bhs[2]
        # ERL 0: "remove the connection for recovery" is not supported.
        a.logout(0x303, 7, reason=2, cid=0)
        bhs, _ = a.wait_opcode(0x26)
        assert bhs[2] == 2, "logout response %d" % bhs[2]
        a.close()
        b.close()
        assert no_connections(d)


@test
def max_connections_and_reinstatement():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        a = RawConn(port, cid=0, max_connections=2)
        b = RawConn(port, tsih=a.tsih, cid=1)
        assert b.status == (0, 0), b.status
        c = RawConn(port, tsih=a.tsih, cid=2)
        assert c.status == (2, 6), "third connection: status %r" % (c.status,)
        c.close()
        # A TSIH that does not exist: "session does not exist".
        x = RawConn(port, tsih=(a.tsih + 100) & 0xffff, cid=5)
        assert x.status == (2, 0x0a), x.status
        x.close()
        # Same CID again: connection reinstatement; the old one ends.
        b2 = RawConn(port, tsih=a.tsih, cid=1)
        assert b2.status == (0, 0), b2.status
        assert closed_by_target(b.s, 5), "old connection of cid 1 still open"
        b2.read10(0x10, 1)
        assert b2.wait_status(0x10)[0] == 0
        a.read10(0x11, 2)
        assert a.wait_status(0x11)[0] == 0
        sess = d.rpc("iscsi_get_sessions")
        assert len(sess) == 1 and sess[0]["connections"] == 2, sess
        # Logout "close the session" from A ends both connections.
        a.logout(0x20, 3, reason=0)
        bhs, _ = a.wait_opcode(0x26)
        assert bhs[2] == 0
        assert closed_by_target(a.s, 5) and closed_by_target(b2.s, 5)
        assert no_connections(d), d.rpc("iscsi_get_connections")
        for s in (a, b, b2):
            s.close()
        # max_connections_per_session 1: a second connection is refused.
        d.rpc("iscsi_set_options", max_connections_per_session=1)
        a = RawConn(port, cid=0, max_connections=4)
        assert b"MaxConnections=1" in a.login_text, a.login_text
        b = RawConn(port, tsih=a.tsih, cid=1)
        assert b.status == (2, 6), b.status
        a.close()
        b.close()
        assert no_connections(d)
        expect_error(d, "iscsi_set_options", {"max_connections_per_session": 0},
                     code=INVALID_PARAMS)


@test
def target_requests_logout():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        expect_error(d, "iscsi_target_node_request_logout", {"name": "nope"})
        expect_error(d, "iscsi_target_node_request_logout", {"name": IQN, "pg_tag": 9},
                     code=INVALID_PARAMS)
        # A polite initiator logs out when asked.
        a = RawConn(port, cid=0)
        b = RawConn(port, tsih=a.tsih, cid=1)
        d.rpc("iscsi_target_node_request_logout", name=IQN, logout_timeout=5)
        for conn in (a, b):
            bhs, _ = conn.wait_opcode(0x32, 5)
            assert bhs[36] == 1, "AsyncEvent %d" % bhs[36]
            assert struct.unpack_from(">H", bhs, 42)[0] == 5, "Parameter3"
        a.logout(0x40, 1, reason=0)
        bhs, _ = a.wait_opcode(0x26)
        assert bhs[2] == 0
        assert closed_by_target(a.s, 5) and closed_by_target(b.s, 5)
        assert no_connections(d)
        a.close()
        b.close()
        # One that ignores it is dropped after Parameter3 seconds (AsyncEvent 2 first).
        c = RawConn(port, isid=b"\x40\x00\x00\x00\x00\x07", cid=0)
        t0 = time.time()
        d.rpc("iscsi_target_node_request_logout", name=IQN, pg_tag=1, logout_timeout=1)
        bhs, _ = c.wait_opcode(0x32, 5)
        assert bhs[36] == 1
        bhs, _ = c.wait_opcode(0x32, 5)
        assert bhs[36] == 2, "AsyncEvent %d" % bhs[36]
        assert closed_by_target(c.s, 5)
        elapsed = time.time() - t0
        assert 0.9 <= elapsed < 4, "dropped after %.1f s" % elapsed
        c.close()
        assert no_connections(d)


@test
def exact_counts_after_churn():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        for i in range(50):
            isid = b"\x40\x00\x00\x00\x01" + bytes([i])
            a = RawConn(port, isid=isid, cid=0)
            assert a.status == (0, 0), a.status
            b = None
            if i % 2 == 0:
                b = RawConn(port, isid=isid, tsih=a.tsih, cid=1)
                assert b.status == (0, 0), b.status
            if i % 3 == 0:
                a.close()            # connection lost, no logout
                if b is not None:
                    b.close()
                continue
            a.read10(1, 1)
            assert a.wait_status(1)[0] == 0
            a.logout(2, 2, reason=0)
            a.wait_opcode(0x26)
            a.close()
            if b is not None:
                assert closed_by_target(b.s, 5)
                b.close()
        assert no_connections(d), (d.rpc("iscsi_get_connections"), d.rpc("iscsi_get_stats"))
        st = d.rpc("iscsi_get_stats")
        assert st["running"] == 0 and st["exiting"] == 0 and st["connections"] == 0, st
        assert st["logins_ok"] >= 75, st
        tgt = [t for t in st["targets"] if t["name"] == IQN][0]
        assert tgt["sessions"] == 0 and tgt["connections"] == 0 and tgt["reads"] >= 33, tgt


@test
def add_lun_with_live_session():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        d.rpc("bdev_malloc_create", name="M1", num_blocks=4096, block_size=512)
        a = RawConn(port, cid=0)
        assert a.report_luns(1, 1) == [0]
        d.rpc("iscsi_target_node_add_lun", name=IQN, bdev_name="M1", lun_id=3)
        assert a.report_luns(2, 2) == [0, 3]
        sn = 3
        for _ in range(2):  # a unit attention (LUNs changed) may come first
            a.read10(10 + sn, sn, lun=3)
            status, data, _ = a.wait_status(10 + sn)
            sn += 1
            if status == 0:
                break
        assert status == 0 and len(data) == 512, status
        luns = d.rpc("iscsi_get_target_nodes")[0]["luns"]
        assert {"bdev_name": "M1", "lun_id": 3} in luns, luns
        st = d.rpc("iscsi_get_lun_stats")
        lun3 = [x for x in st[0]["luns"] if x["lun_id"] == 3][0]
        assert lun3["reads"] == 1 and lun3["read_bytes"] == 512, lun3
        # Remove it again with the session live: gone from REPORT LUNS, commands to it
        # fail (LOGICAL UNIT NOT SUPPORTED), the bdev is released.
        d.rpc("iscsi_target_node_remove_lun", name=IQN, lun_id=3)
        assert a.report_luns(20, sn) == [0]
        sn += 1
        a.read10(21, sn, lun=3)
        sn += 1
        status, _, _ = a.wait_status(21)
        assert status == 2, "READ on a removed LUN: status %d" % status
        d.rpc("bdev_malloc_delete", name="M1")
        expect_error(d, "iscsi_target_node_remove_lun", {"name": IQN, "lun_id": 3})
        # A LUN with a read in flight: the removal waits for it (it completes, GOOD).
        d.rpc("bdev_malloc_create", name="M2", num_blocks=4096, block_size=512)
        d.rpc("bdev_delay_create", name="D2", base_bdev_name="M2", avg_read_latency=1000000,
              p99_read_latency=1000000, avg_write_latency=0, p99_write_latency=0)
        d.rpc("iscsi_target_node_add_lun", name=IQN, bdev_name="D2", lun_id=3)
        for _ in range(2):
            a.read10(30 + sn, sn, lun=3)
            status, _, _ = a.wait_status(30 + sn)
            sn += 1
            if status == 0:
                break
        assert status == 0, status
        a.read10(40, sn, lun=3)
        sn += 1
        time.sleep(0.1)
        t0 = time.time()
        d.rpc("iscsi_target_node_remove_lun", name=IQN, lun_id=3)
        assert time.time() - t0 > 0.5, "removal did not wait for the read in flight"
        status, data, _ = a.wait_status(40)
        assert status == 0 and len(data) == 512, status
        assert a.report_luns(41, sn) == [0]
        d.rpc("bdev_delay_delete", name="D2")
        a.close()
        assert no_connections(d)


@test
def abort_task_of_held_read():
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        d.rpc("bdev_malloc_create", name="M0", num_blocks=4096, block_size=512)
        d.rpc("bdev_delay_create", name="D0", base_bdev_name="M0", avg_read_latency=3000000,
              p99_read_latency=3000000, avg_write_latency=0, p99_write_latency=0)
        d.rpc("iscsi_create_portal_group", tag=1,
              portals=[{"host": "127.0.0.1", "port": str(port)}])
        d.rpc("iscsi_create_initiator_group", tag=1, initiators=["ANY"],
              netmasks=["127.0.0.0/8"])
        d.rpc("iscsi_create_target_node", name=IQN, pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}],
              luns=[{"bdev_name": "D0", "lun_id": 0}])
        a = RawConn(port, cid=0)
        t0 = time.time()
        a.read10(0x50, 1)
        time.sleep(0.2)
        tmf = bytearray(48)
        tmf[0] = 0x42                       # immediate TMF request
        tmf[1] = 0x80 | 1                   # ABORT TASK
        struct.pack_into(">I", tmf, 16, 0x51)
        struct.pack_into(">I", tmf, 20, 0x50)
        struct.pack_into(">I", tmf, 24, 2)
        struct.pack_into(">I", tmf, 28, a.exp_stat_sn)
        struct.pack_into(">I", tmf, 32, 1)  # RefCmdSN
        a.send(bytes(tmf))
        bhs, _ = a.wait_opcode(0x22, 10)
        took = time.time() - t0
        assert struct.unpack_from(">I", bhs, 16)[0] == 0x51
        assert bhs[2] == 0, "TMF response %d" % bhs[2]
        # No SCSI response / Data-In for the aborted ITT, even after the delay.
        a.nop(0x52, 2)
        a.s.settimeout(max(0.1, t0 + 3.6 - time.time()))
        try:
            while True:
                rbhs, _ = recv_pdu(a.s)
                assert struct.unpack_from(">I", rbhs, 16)[0] != 0x50, \
                    "a response for the aborted task came: opcode 0x%02x" % rbhs[0]
        except socket.timeout:
            pass
        assert not any(struct.unpack_from(">I", b, 16)[0] == 0x50 for b, _ in a.other)
        a.nop(0x53, 2)
        # ABORT TASK SET from A covers the session's tasks on both connections.
        b = RawConn(port, tsih=a.tsih, cid=1)
        assert b.status == (0, 0), b.status
        a.read10(0x60, 2)
        b.read10(0x61, 3)
        time.sleep(0.2)
        tmf = bytearray(48)
        tmf[0] = 0x42
        tmf[1] = 0x80 | 2                   # ABORT TASK SET
        struct.pack_into(">I", tmf, 16, 0x62)
        struct.pack_into(">I", tmf, 20, 0xffffffff)
        struct.pack_into(">I", tmf, 24, 4)
        struct.pack_into(">I", tmf, 28, a.exp_stat_sn)
        t1 = time.time()
        a.send(bytes(tmf))
        bhs, _ = a.wait_opcode(0x22, 10)
        took_set = time.time() - t1
        assert bhs[2] == 0, "TMF response %d" % bhs[2]
        for conn, itt in ((a, 0x60), (b, 0x61)):
            conn.nop(0x63, 4)
            assert not any(struct.unpack_from(">I", x, 16)[0] == itt for x, _ in conn.other)
        # Connection lost with a read in the bdev layer: freed only after it completed.
        b.read10(0x64, 4)
        time.sleep(0.2)
        b.close()
        a.nop(0x65, 5)
        assert wait_until(lambda: len(d.rpc("iscsi_get_connections")) == 1, 8)
        a.close()
        assert no_connections(d)
        took = max(took, took_set)
        # The TMF answer waits for the task's completion: it comes fast only because the
        # bdev I/O (held 3 s by the delay bdev) was really aborted.
        assert took < 2.5, "ABORT TASK answered after %.1f s: bdev I/O not aborted" % took


def read_sense(conn, itt, timeout=10):
    """Wait for the SCSI Response of itt: (status, sense key, ASC, ASCQ)."""
    conn.s.settimeout(timeout)
    while True:
        bhs, seg = recv_pdu(conn.s)
        conn.note(bhs)
        if struct.unpack_from(">I", bhs, 16)[0] != itt:
            conn.other.append((bhs, seg))
            continue
        if bhs[0] == 0x25 and bhs[1] & 0x01:
            return bhs[3], None, None, None
        if bhs[0] == 0x21:
            if bhs[3] == 2 and len(seg) >= 2 + 14:
                return bhs[3], seg[2 + 2] & 0x0f, seg[2 + 12], seg[2 + 13]
            return bhs[3], None, None, None


@test
def bdev_hot_remove_under_lun():
    """A LUN's bdev hot-removed with a live session (bdev_uring_delete --force: an RPC
    delete of a claimed bdev such as bdev_malloc_delete is refused): the LUN goes by
    itself (no RPC), a read in flight completes, REPORT LUNS drops it, commands get
    LOGICAL UNIT NOT SUPPORTED (not NOT READY), the other LUN works, counts are exact
    and the bdev is gone."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        if "bdev_uring_create" not in d.rpc("rpc_get_methods"):
            raise Skip("this ftgtd has no uring bdev")
        port = free_port()
        setup_target(d, port)
        files = []
        for i in (1, 2):
            f = os.path.join(d.tmpdir, "disk%d.img" % i)
            with open(f, "wb") as fh:
                fh.truncate(2 * 1024 * 1024)
            files.append(f)
        try:
            d.rpc("bdev_uring_create", name="U1", filename=files[0], block_size=512)
            d.rpc("bdev_uring_create", name="U2", filename=files[1], block_size=512)
        except RpcError as e:
            raise Skip("io_uring not usable here: %s" % e.message)
        d.rpc("bdev_delay_create", name="D1", base_bdev_name="U1", avg_read_latency=1000000,
              p99_read_latency=1000000, avg_write_latency=0, p99_write_latency=0)
        d.rpc("iscsi_target_node_add_lun", name=IQN, bdev_name="D1", lun_id=1)
        d.rpc("iscsi_target_node_add_lun", name=IQN, bdev_name="U2", lun_id=2)
        # A front end's claim keeps an ordinary delete away.
        expect_error(d, "bdev_delay_delete", {"name": "D1"}, needle="claimed")
        a = RawConn(port, cid=0)
        assert a.status == (0, 0), a.status
        assert a.report_luns(1, 1) == [0, 1, 2]
        sn = 2
        for lun in (1, 2):
            for _ in range(2):  # a unit attention (LUNs changed) may come first
                a.read10(0x100 + sn, sn, lun=lun)
                status, _, _ = a.wait_status(0x100 + sn)
                sn += 1
                if status == 0:
                    break
            assert status == 0, "LUN %d: status %d" % (lun, status)
        # 1. The base of LUN 1 deleted while a read is held 1 s in the delay bdev.
        a.read10(0x200, sn, lun=1)
        sn += 1
        time.sleep(0.1)
        d.rpc("bdev_uring_delete", name="U1", force=True)
        status, _, _, _ = read_sense(a, 0x200)
        assert status in (0, 2), "read in flight: status %d" % status
        assert wait_until(lambda: all(lu["lun_id"] != 1 for lu in
                                      d.rpc("iscsi_get_target_nodes")[0]["luns"]), 10)
        assert all(b["name"] not in ("D1", "U1") for b in d.rpc("bdev_get_bdevs"))
        luns = None
        for _ in range(3):  # REPORTED LUNS DATA HAS CHANGED may come first
            cdb = bytes([0xa0, 0, 0, 0, 0, 0]) + struct.pack(">I", 4096) + b"\0\0"
            a.scsi_cmd(0x300 + sn, sn, cdb, read_len=4096)
            status, data, _ = a.wait_status(0x300 + sn)
            sn += 1
            if status == 0:
                n = struct.unpack_from(">I", data, 0)[0] // 8
                luns = sorted(struct.unpack_from(">H", data, 8 + 8 * i)[0] & 0x3fff
                              for i in range(n))
                break
        assert luns == [0, 2], luns
        for lun in (1, 1, 1):
            a.read10(0x400 + sn, sn, lun=lun)
            got = read_sense(a, 0x400 + sn)
            sn += 1
            assert got[:3] == (2, 0x05, 0x25), "removed LUN: %r (want ILLEGAL REQUEST/25h)" \
                % (got,)
        # 2. A LUN whose bdev is hot-removed with no I/O in flight: same outcome.
        d.rpc("bdev_uring_delete", name="U2", force=True)
        assert wait_until(lambda: [lu["lun_id"] for lu in
                                   d.rpc("iscsi_get_target_nodes")[0]["luns"]] == [0], 10)
        a.read10(0x500, sn, lun=2)
        got = read_sense(a, 0x500)
        sn += 1
        assert got[:3] == (2, 0x05, 0x25), "removed LUN 2: %r" % (got,)
        # The target node goes on with LUN 0.
        lun0_errors = 0
        for _ in range(3):
            a.read10(0x600 + sn, sn, lun=0)
            status, data, _ = a.wait_status(0x600 + sn)
            sn += 1
            if status == 0:
                break
            lun0_errors += 1
        assert status == 0 and len(data) == 512, status
        b = RawConn(port, isid=b"\x40\x00\x00\x00\x00\x02", cid=0)
        assert b.status == (0, 0), b.status
        assert b.report_luns(1, 1) == [0]
        b.logout(2, 2)
        b.wait_opcode(0x26)
        b.close()
        # b's session is freed on its thread after the Logout Response: read the counters
        # once it is gone (a reading that overlaps a session's end can count that
        # session's LUN counters twice: known, doc/iscsi.md).
        assert wait_until(lambda: d.rpc("iscsi_get_stats")["sessions"] == 1, 10)
        st = d.rpc("iscsi_get_lun_stats")
        lun0 = [x for x in st[0]["luns"] if x["lun_id"] == 0][0]
        # LUN 0 saw: REPORT LUNS with 3, 2 and 1 LUNs (a, a, b: data-in commands) and
        # one READ, plus the unit attentions the READ got first.
        assert lun0["reads"] == 4 and lun0["read_bytes"] == 32 + 24 + 16 + 512, lun0
        assert lun0["errors"] == lun0_errors, (lun0, lun0_errors)
        a.logout(0x700, sn)
        a.wait_opcode(0x26)
        a.close()
        assert no_connections(d), (d.rpc("iscsi_get_connections"), d.rpc("iscsi_get_stats"))
        st = d.rpc("iscsi_get_stats")
        assert st["running"] == 0 and st["connections"] == 0 and st["sessions"] == 0, st
        # The LUN ids are free again.
        d.rpc("bdev_malloc_create", name="M3", num_blocks=4096, block_size=512)
        d.rpc("iscsi_target_node_add_lun", name=IQN, bdev_name="M3", lun_id=1)
        assert "hot remove" not in d.stderr, d.stderr



def tmf_pdu(itt, func, ref_itt, cmd_sn, exp_stat_sn, ref_cmd_sn):
    t = bytearray(48)
    t[0] = 0x02 | 0x40                  # immediate TMF request
    t[1] = 0x80 | func
    struct.pack_into(">I", t, 16, itt)
    struct.pack_into(">I", t, 20, ref_itt)
    struct.pack_into(">I", t, 24, cmd_sn)
    struct.pack_into(">I", t, 28, exp_stat_sn)
    struct.pack_into(">I", t, 32, ref_cmd_sn)
    return bytes(t)


@test
def abort_task_of_lost_command_closes_cmdsn_gap():
    """RFC 7143 11.5.1 b/c: ABORT TASK of a CmdSN never received, inside the window and
    below the TMF's own, counts it received (ExpCmdSN moves on); outside: no task."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        a = RawConn(port)
        a.read10(10, 2)                     # CmdSN 1 is lost on the way
        status, _, bhs = a.wait_status(10)
        assert status == 0
        assert struct.unpack_from(">I", bhs, 28)[0] == 1, "ExpCmdSN moved over a hole"
        a.send(tmf_pdu(77, 1, 9, 3, a.exp_stat_sn, 1))
        bhs, _ = a.wait_opcode(0x22)
        assert bhs[2] == 0, "TMF response %d" % bhs[2]
        assert struct.unpack_from(">I", bhs, 28)[0] == 3, \
            "ExpCmdSN %d" % struct.unpack_from(">I", bhs, 28)[0]
        a.send(tmf_pdu(78, 1, 9, 3, a.exp_stat_sn, 100000))
        bhs, _ = a.wait_opcode(0x22)
        assert bhs[2] == 1, "RefCmdSN outside the window: response %d" % bhs[2]
        a.read10(11, 3)
        status, _, bhs = a.wait_status(11)
        assert status == 0 and struct.unpack_from(">I", bhs, 28)[0] == 4
        assert d.rpc("iscsi_get_sessions")[0]["exp_cmd_sn"] == 4
        a.close()
        assert no_connections(d)


@test
def closing_connection_of_silent_initiator_ends():
    """A logout with reads queued to an initiator that stops reading: the connection,
    its tasks and its session end after the CLOSING deadline."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        a = RawConn(port)
        a.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for i in range(20):
            a.read10(100 + i, 1 + i, lba=0, blocks=2048)
        time.sleep(1)
        bhs = bytearray(48)
        bhs[0] = 0x46 | 0x40
        bhs[1] = 0x80
        struct.pack_into(">I", bhs, 16, 999)
        struct.pack_into(">I", bhs, 24, 21)
        a.send(bytes(bhs))
        assert wait_until(lambda: d.rpc("iscsi_get_connections") == [] and
                          d.rpc("iscsi_get_stats")["sessions"] == 0, 15), \
            d.rpc("iscsi_get_connections")
        a.close()


@test
def delete_target_node_during_login():
    """Deleting a target node while a connection is mid-login: the login fails or the
    connection is dropped; nothing uses the freed node (ASan build: no error)."""
    import threading
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        for i in range(4):
            if i > 0:
                d.rpc("iscsi_create_target_node", name=IQN,
                      pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}],
                      luns=[{"bdev_name": "M0", "lun_id": 0}], queue_depth=32)
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            res = {}

            def delete():
                res["r"] = d.rpc("iscsi_delete_target_node", name=IQN)
            sec = ("InitiatorName=%s\0TargetName=%s\0SessionType=Normal\0AuthMethod=None\0"
                   % (RAW_INITIATOR, IQN)).encode()
            if i % 2 == 0:
                s.sendall(text_pdu(0x43, 0x80 | 1, 1, sec))
                bhs, _ = recv_pdu(s)
                assert bhs[36] == 0, (bhs[36], bhs[37])
                th = threading.Thread(target=delete)
                th.start()
            else:
                th = threading.Thread(target=delete)
                th.start()
                time.sleep(0.002 * i)
                s.sendall(text_pdu(0x43, 0x80 | 1, 1, sec))
                bhs, _ = recv_pdu(s)
            op = b"ImmediateData=Yes\0InitialR2T=Yes\0MaxRecvDataSegmentLength=65536\0"
            exp = struct.unpack_from(">I", bhs, 24)[0] + 1
            if bhs[36] == 0:
                try:
                    s.sendall(text_pdu(0x43, 0x80 | (1 << 2) | 3, 1, op, exp_stat_sn=exp))
                    bhs, _ = recv_pdu(s)
                    # Logged in before the delete: then the delete drops it.
                    assert bhs[0] == 0x23
                    assert bhs[36] != 0 or closed_by_target(s, 10), "not dropped"
                except (OSError, EOFError):
                    pass
            th.join(15)
            assert res.get("r") is True, res
            s.close()
            assert d.rpc("iscsi_get_target_nodes") == []
        assert no_connections(d)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@test
def nop_flood_without_reading_is_bounded():
    """An initiator that sends NOP-Outs with data and never reads the NOP-Ins: the
    target stops reading (backpressure) instead of growing its memory."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        setup_target(d, port)
        a = RawConn(port)
        a.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = rss_kib(d.proc.pid)
        data = b"x" * 65536
        bhs = bytearray(48)
        bhs[0] = 0x40 | 0x40
        bhs[1] = 0x80
        bhs[5:8] = len(data).to_bytes(3, "big")
        struct.pack_into(">I", bhs, 20, 0xffffffff)
        struct.pack_into(">I", bhs, 24, 1)
        a.s.settimeout(3)
        sent = 0
        try:
            for i in range(6000):
                struct.pack_into(">I", bhs, 16, i + 10)
                a.send(bytes(bhs) + data)
                sent += 1
        except socket.timeout:
            pass
        time.sleep(0.5)
        grown = rss_kib(d.proc.pid) - before
        assert sent < 6000, "the target read all 6000 NOP-Outs (%d KiB more RSS)" % grown
        assert grown < 96 * 1024, "RSS grew by %d KiB" % grown
        a.close()
        assert no_connections(d)


@test
def join_needs_same_portal_group_and_gets_session_window():
    """A connection joining a session: refused through another portal group; through
    the same one, its final login response carries the session's CmdSN window."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port, port2 = free_port(), free_port()
        d.rpc("bdev_malloc_create", name="M0", num_blocks=4096, block_size=512)
        d.rpc("iscsi_create_portal_group", tag=1,
              portals=[{"host": "127.0.0.1", "port": str(port)}])
        d.rpc("iscsi_create_portal_group", tag=2,
              portals=[{"host": "127.0.0.1", "port": str(port2)}])
        d.rpc("iscsi_create_initiator_group", tag=1, initiators=["ANY"],
              netmasks=["127.0.0.0/8"])
        d.rpc("iscsi_create_target_node", name=IQN,
              pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}, {"pg_tag": 2, "ig_tag": 1}],
              luns=[{"bdev_name": "M0", "lun_id": 0}], queue_depth=32)
        a = RawConn(port, cid=0)
        assert a.status == (0, 0), a.status
        a.nop(0x10, 1)
        max_cmd_sn = struct.unpack_from(">I", a.nop(0x11, 2), 32)[0]
        c = RawConn(port2, tsih=a.tsih, cid=1, cmd_sn=3)
        assert c.status == (2, 0x0a), "join through another portal group: %s" % (c.status,)
        c.close()
        b = RawConn(port, tsih=a.tsih, cid=1, cmd_sn=3)
        assert b.status == (0, 0), b.status
        assert b.tsih == a.tsih
        assert b.max_cmd_sn == max_cmd_sn, "joined with MaxCmdSN %d, session's %d" % (
            b.max_cmd_sn, max_cmd_sn)
        b.nop(0x13, 3)
        b.nop(0x14, 4)
        a.close()
        b.close()
        assert no_connections(d)


@test
def lun_reset_with_read_in_flight_then_remove_lun():
    """LUN RESET with a read held in a delay bdev: "function complete", no response for
    the aborted read, I/O goes on; then removing the LUN is not held by the reset."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        d.rpc("bdev_malloc_create", name="M0", num_blocks=4096, block_size=512)
        d.rpc("bdev_malloc_create", name="M1", num_blocks=4096, block_size=512)
        d.rpc("bdev_delay_create", name="D0", base_bdev_name="M0", avg_read_latency=3000000,
              p99_read_latency=3000000, avg_write_latency=0, p99_write_latency=0)
        d.rpc("iscsi_create_portal_group", tag=1,
              portals=[{"host": "127.0.0.1", "port": str(port)}])
        d.rpc("iscsi_create_initiator_group", tag=1, initiators=["ANY"],
              netmasks=["127.0.0.0/8"])
        d.rpc("iscsi_create_target_node", name=IQN, pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}],
              luns=[{"bdev_name": "D0", "lun_id": 0}, {"bdev_name": "M1", "lun_id": 1}])
        a = RawConn(port)
        a.read10(0x50, 1)
        time.sleep(0.2)
        t0 = time.time()
        a.send(tmf_pdu(0x51, 5, 0xffffffff, 2, a.exp_stat_sn, 0))
        bhs, _ = a.wait_opcode(0x22, 10)
        assert struct.unpack_from(">I", bhs, 16)[0] == 0x51
        assert bhs[2] == 0, "TMF response %d" % bhs[2]
        assert time.time() - t0 < 2.5, "LUN RESET waited for the held read"
        assert not any(struct.unpack_from(">I", b, 16)[0] == 0x50 for b, _ in a.other)
        a.read10(0x52, 2, lun=1)
        status, _, _ = a.wait_status(0x52)
        assert status == 0, status
        t1 = time.time()
        d.rpc("iscsi_target_node_remove_lun", name=IQN, lun_id=0)
        assert time.time() - t1 < 5, "LUN removal held after the reset"
        a.close()
        assert no_connections(d)


@test
def session_reinstatement_waits_for_old_session():
    """Session reinstatement with a read of the old session held in a delay bdev: the new
    session's login succeeds only once the old session (and its task) is gone."""
    with Daemon(cpumask="0x3") as d:
        need_iscsi(d)
        port = free_port()
        d.rpc("bdev_malloc_create", name="M0", num_blocks=4096, block_size=512)
        d.rpc("bdev_delay_create", name="D0", base_bdev_name="M0", avg_read_latency=1000000,
              p99_read_latency=1000000, avg_write_latency=0, p99_write_latency=0)
        d.rpc("iscsi_create_portal_group", tag=1,
              portals=[{"host": "127.0.0.1", "port": str(port)}])
        d.rpc("iscsi_create_initiator_group", tag=1, initiators=["ANY"],
              netmasks=["127.0.0.0/8"])
        d.rpc("iscsi_create_target_node", name=IQN, pg_ig_maps=[{"pg_tag": 1, "ig_tag": 1}],
              luns=[{"bdev_name": "D0", "lun_id": 0}])
        a = RawConn(port)
        a.read10(0x50, 1)
        time.sleep(0.2)
        b = RawConn(port)                   # same ISID and names: reinstates a's session
        assert b.status == (0, 0), b.status
        sessions = d.rpc("iscsi_get_sessions")
        assert [s["tsih"] for s in sessions] == [b.tsih], sessions
        b.read10(0x51, 1)
        status, data, _ = b.wait_status(0x51)
        assert status == 0 and len(data) == 512
        a.close()
        b.close()
        assert no_connections(d)

if __name__ == "__main__":
    run_tests()
