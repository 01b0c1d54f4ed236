#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""iSCSI target against the real ftgtd: RPC validation and save_config, logins with
libiscsi tools (discovery, CHAP, mutual CHAP, wrong secret), a malformed PDU ending
only its own connection, and a bounded selection of iscsi-test-cu suites.
Traffic goes to 127.0.0.1 only.

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
        cfg = d.rpc("save_config")
        iscsi = [s for s in cfg["subsystems"] if s["subsystem"] == "iscsi"][0]["config"]
        methods = [c["method"] for c in iscsi]
        assert methods[0] == "iscsi_set_options"
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


if __name__ == "__main__":
    run_tests()
