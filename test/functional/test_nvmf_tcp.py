#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""NVMe/TCP target over loopback, driven by a small Python host (nvme_tcp_host.py):
configuration RPCs, ICReq/Connect/Identify, reads and writes (in-capsule, R2T, C2HData),
digests, discovery, refused connects, malformed PDUs ending only their own connection.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvmf_tcp.py [test names]
"""

import os
import shutil
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import Daemon, RpcError, Skip, run_tests, test  # noqa: E402
import nvme_tcp_host as nt  # noqa: E402

SUBNQN = "nqn.2016-06.io.ftgt:test1"
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6f0b5a1e-0000-4000-8000-000000000001"
DISC = "nqn.2014-08.org.nvmexpress.discovery"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def setup_target(d, port, addr="127.0.0.1", adrfam="IPv4"):
    methods = d.rpc("rpc_get_methods")
    if "nvmf_create_transport" not in methods:
        raise Skip("ftgtd built without nvmf")
    d.rpc("nvmf_create_transport", {"trtype": "TCP"})
    d.rpc("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 4096, "block_size": 512})
    d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN, "allow_any_host": True,
                                    "serial_number": "FTGT0001"})
    assert d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                           "namespace": {"bdev_name": "Malloc0"}}) == 1
    d.rpc("nvmf_subsystem_add_listener", {"nqn": SUBNQN, "listen_address": {
        "trtype": "TCP", "adrfam": adrfam, "traddr": addr, "trsvcid": str(port)}})


@test
def connect_identify_read_write():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        for hd, dd in ((False, False), (True, True)):
            h = nt.Host("127.0.0.1", port, hdgst=hd, ddgst=dd)
            assert h.hdgst == hd and h.ddgst == dd
            cntlid = h.admin_connect(SUBNQN, HOSTNQN, kato=10000)
            st, cd = h.identify(1)
            assert st == 0
            assert cd[768:768 + len(SUBNQN)].decode() == SUBNQN
            assert cd[4:12] == b"FTGT0001"
            assert struct.unpack_from("<H", cd, 78)[0] == cntlid
            st, nsd = h.identify(0, nsid=1)
            assert st == 0 and struct.unpack_from("<Q", nsd, 0)[0] == 4096
            io = nt.Host("127.0.0.1", port, hdgst=hd, ddgst=dd)
            st, _ = io.connect(SUBNQN, HOSTNQN, qid=1, cntlid=cntlid, sqsize=127)
            assert st == 0, hex(st)
            small = bytes((i * 13) & 0xFF for i in range(4096))
            big = bytes((i * 7 + 3) & 0xFF for i in range(65536))
            assert io.write(1, 0, small, fua=True) == 0           # in-capsule
            assert io.write(1, 100, big, icd=False) == 0          # R2T + H2CData
            st, data, _ = io.read(1, 0, 8)
            assert st == 0 and data == small
            st, data, seen = io.read(1, 100, 128)
            assert st == 0 and data == big
            assert nt.PDU_RSP in seen                 # SQ flow control on: a response
            st, _, _ = io.read(1, 4095, 2)                        # past the end
            assert st == 0x80 and io.last_dnr, hex(st)
            # SQ flow control disabled (CATTR bit 2): C2HData carries SUCCESS, no response.
            io2 = nt.Host("127.0.0.1", port, hdgst=hd, ddgst=dd)
            st, _ = io2.connect(SUBNQN, HOSTNQN, qid=2, cntlid=cntlid, sqsize=127, cattr=4)
            assert st == 0
            st, data, seen = io2.read(1, 0, 8)
            assert st == 0 and data == small and nt.PDU_RSP not in seen, seen
            io2.close()
            ctrls = d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN})
            assert [c["cntlid"] for c in ctrls] == [cntlid]
            io.close()
            h.close()


@test
def namespace_ids_from_bdev_uuid():
    """NGUID and the UUID descriptor come from the bdev's UUID (stable /dev/disk/by-id)."""
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        uuid = d.rpc("bdev_get_bdevs", {"name": "Malloc0"})[0]["uuid"]
        sub = [s for s in d.rpc("nvmf_get_subsystems") if s["nqn"] == SUBNQN][0]
        ns = sub["namespaces"][0]
        assert ns["uuid"] == uuid, (ns, uuid)
        assert ns["nguid"].lower() == uuid.replace("-", "").lower(), (ns, uuid)
        h = nt.Host("127.0.0.1", port)
        h.admin_connect(SUBNQN, HOSTNQN, kato=10000)
        st, nsd = h.identify(0, nsid=1)
        assert st == 0 and nsd[104:120].hex() == uuid.replace("-", ""), nsd[104:120].hex()
        h.close()


@test
def namespace_resize_seen_by_host():
    """A bdev that grows: Identify Namespace shows the new size, and the namespace is
    listed in the Changed Namespace List log page."""
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        d.rpc("bdev_null_create", {"name": "Null1", "num_blocks": 2048, "block_size": 512})
        assert d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                               "namespace": {"bdev_name": "Null1"}}) == 2
        h = nt.Host("127.0.0.1", port)
        h.admin_connect(SUBNQN, HOSTNQN, kato=10000)
        st, nsd = h.identify(0, nsid=2)
        assert st == 0 and struct.unpack_from("<Q", nsd, 0)[0] == 2048
        h.get_log(0x04, 4096)                          # reading the log clears it
        d.rpc("bdev_null_resize", {"name": "Null1", "new_size": 4})
        st, nsd = h.identify(0, nsid=2)
        assert st == 0 and struct.unpack_from("<Q", nsd, 0)[0] == 4 * 2048, \
            struct.unpack_from("<Q", nsd, 0)[0]
        st, log = h.get_log(0x04, 4096)
        assert st == 0 and struct.unpack_from("<I", log, 0)[0] == 2, log[:8].hex()
        h.close()


@test
def discovery_log():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        h = nt.Host("127.0.0.1", port)
        h.admin_connect(DISC, HOSTNQN)
        st, cd = h.identify(1)
        assert st == 0 and cd[111] == 2          # CNTRLTYPE discovery
        st, hdr = h.get_log(0x70, 1024)
        assert st == 0
        numrec = struct.unpack_from("<Q", hdr, 8)[0]
        assert numrec == 1
        st, page = h.get_log(0x70, 1024 * (numrec + 1))
        e = page[1024:2048]
        assert e[0] == 3 and e[1] == 1 and e[2] == 2  # TCP, IPv4, NVMe subsystem
        assert e[256:256 + len(SUBNQN)].decode() == SUBNQN
        assert e[512:521].rstrip(b"\0").decode() == "127.0.0.1"
        assert e[32:40].rstrip(b"\0").decode() == str(port)
        h.close()


@test
def refused_connects():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        d.rpc("nvmf_subsystem_allow_any_host", {"nqn": SUBNQN, "allow_any_host": False})
        h = nt.Host("127.0.0.1", port)
        st, cdw0 = h.connect(SUBNQN, HOSTNQN)
        assert st == 0x184, hex(st)                     # connect invalid host
        st, cdw0 = h.connect("nqn.2016-06.io.ftgt:nope", HOSTNQN)
        assert st == 0x182 and cdw0 == (256 | 1 << 16), (hex(st), hex(cdw0))  # IPO SUBNQN
        d.rpc("nvmf_subsystem_add_host", {"nqn": SUBNQN, "host": HOSTNQN})
        st, cdw0 = h.connect(SUBNQN, HOSTNQN, sqsize=0)
        assert st == 0x182 and cdw0 == 44, hex(cdw0)
        st, cdw0 = h.connect(SUBNQN, HOSTNQN)
        assert st == 0, hex(st)
        h.close()


@test
def malformed_pdu_ends_only_its_connection():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        good = nt.Host("127.0.0.1", port)
        good.admin_connect(SUBNQN, HOSTNQN)
        bad = nt.Host("127.0.0.1", port)
        # A CapsuleCmd with a wrong HLEN.
        bad.sock.sendall(struct.pack("<BBBBI", 4, 0, 64, 0, 72) + b"\0" * 64)
        try:
            bad.recv_pdu()
            raise AssertionError("no C2HTermReq")
        except nt.TermReq as t:
            assert t.fes == 1 and t.fei == 2, (t.fes, t.fei)
        assert bad.sock.recv(1) == b""                  # then closed
        bad.close()
        # A command before ICReq.
        bad = nt.Host("127.0.0.1", port, icreq=False)
        bad.send_pdu(nt.PDU_CMD, b"\0" * 64)
        try:
            bad.recv_pdu()
            raise AssertionError("no C2HTermReq")
        except nt.TermReq as t:
            assert t.fes == 2
        bad.close()
        st, _ = good.identify(1)
        assert st == 0
        good.close()


@test
def connections_spread_over_reactors_and_shutdown_with_hosts_connected():
    port = free_port()
    with Daemon(cpumask="0x3") as d:
        setup_target(d, port)
        admin = nt.Host("127.0.0.1", port)
        cntlid = admin.admin_connect(SUBNQN, HOSTNQN)
        ios = []
        for qid in (1, 2, 3):
            h = nt.Host("127.0.0.1", port)
            st, _ = h.connect(SUBNQN, HOSTNQN, qid=qid, cntlid=cntlid, sqsize=63)
            assert st == 0, hex(st)
            ios.append(h)
        # The same QID twice on one controller is refused.
        dup = nt.Host("127.0.0.1", port)
        st, cdw0 = dup.connect(SUBNQN, HOSTNQN, qid=2, cntlid=cntlid, sqsize=63)
        assert st == 0x182 and cdw0 == 42, (hex(st), hex(cdw0))
        for i, h in enumerate(ios):
            blk = bytes([i + 1]) * 512
            assert h.write(1, 10 + i, blk) == 0
        for i, h in enumerate(ios):
            st, data, _ = h.read(1, 10 + i, 1)
            assert st == 0 and data == bytes([i + 1]) * 512
        stats = d.rpc("nvmf_get_stats")["poll_groups"]
        assert len(stats) == 2, stats
        # Round robin: admin + 3 I/O + the refused duplicate = 5 connections, split 3/2.
        assert sorted(g["current_qpairs"] for g in stats) == [2, 3], stats
        assert all(g["pdus_in"] > 0 and g["pdus_out"] > 0 for g in stats), stats
        pollers = d.rpc("thread_get_pollers")
        names = str(pollers)
        assert names.count("nvmf_tcp_poll_group") == 2, pollers
        # Leave everything connected: SIGTERM must still exit 0 (checked on exit).


@test
def keep_alive_expiry_disconnects():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        h = nt.Host("127.0.0.1", port, timeout=10)
        h.admin_connect(SUBNQN, HOSTNQN, kato=1000)
        assert len(d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN})) == 1
        # No Keep Alive: the target drops the controller after about 1-2 s.
        assert h.sock.recv(1) == b""
        time.sleep(0.2)
        assert d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN}) == []
        h.close()


@test
def ipv6_listener():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        raise Skip("no IPv6 loopback")
    port = free_port()
    with Daemon() as d:
        setup_target(d, port, addr="::1", adrfam="IPv6")
        h = nt.Host("::1", port)
        h.admin_connect(SUBNQN, HOSTNQN)
        st, _ = h.identify(1)
        assert st == 0
        h.close()


@test
def rpc_errors_and_listing():
    with Daemon() as d:
        if "nvmf_create_transport" not in d.rpc("rpc_get_methods"):
            raise Skip("ftgtd built without nvmf")
        for params in ({"trtype": "FOO"}, {}):
            try:
                d.rpc("nvmf_create_transport", params)
                raise AssertionError("accepted %r" % params)
            except RpcError:
                pass
        d.rpc("nvmf_create_transport", {"trtype": "tcp", "max_queue_depth": 64})
        assert d.rpc("nvmf_get_transports")[0]["max_queue_depth"] == 64
        try:
            d.rpc("nvmf_create_subsystem", {"nqn": "bad nqn"})
            raise AssertionError("bad NQN accepted")
        except RpcError as e:
            assert "nqn" in e.message
        d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN})
        try:
            d.rpc("nvmf_subsystem_add_listener", {"nqn": SUBNQN, "listen_address": {
                "trtype": "TCP", "adrfam": "IPv4", "traddr": "192.0.2.1", "trsvcid": "4420"}})
            raise AssertionError("non-local address accepted")
        except RpcError:
            pass
        subs = d.rpc("nvmf_get_subsystems")
        assert [s["nqn"] for s in subs] == [DISC, SUBNQN]
        cfg = d.rpc("save_config")
        nvmf = [s for s in cfg["subsystems"] if s["subsystem"] == "nvmf"][0]["config"]
        assert [c["method"] for c in nvmf] == ["nvmf_create_transport",
                                               "nvmf_create_subsystem"]
        d.rpc("nvmf_delete_subsystem", {"nqn": SUBNQN})
        assert [s["nqn"] for s in d.rpc("nvmf_get_subsystems")] == [DISC]


HOSTNQN2 = "nqn.2014-08.org.nvmexpress:uuid:6f0b5a1e-0000-4000-8000-000000000002"


def counts(d):
    """(connections, controllers, queue pairs) of the whole target, and the same seen
    through every other RPC that reports them."""
    st = d.rpc("nvmf_get_stats")
    sub = d.rpc("nvmf_get_subsystems", {"nqn": SUBNQN})[0]
    lis = d.rpc("nvmf_subsystem_get_listeners", {"nqn": SUBNQN})
    qps = d.rpc("nvmf_subsystem_get_qpairs", {"nqn": SUBNQN})
    pg = sum(g["current_qpairs"] for g in st["poll_groups"])
    return {"conns": st["num_connections"], "ctrlrs": st["num_controllers"],
            "qpairs": st["num_qpairs"], "pg_qpairs": pg,
            "sub_ctrlrs": sub["num_controllers"], "sub_qpairs": sub["num_qpairs"],
            "hosts": sub["connected_hosts"],
            "lis_ctrlrs": sum(x["num_controllers"] for x in lis),
            "lis_qpairs": sum(x["num_qpairs"] for x in lis), "get_qpairs": len(qps)}


def wait_counts_zero(d, timeout=20.0):
    deadline = time.time() + timeout
    zero = {"conns": 0, "ctrlrs": 0, "qpairs": 0, "pg_qpairs": 0, "sub_ctrlrs": 0,
            "sub_qpairs": 0, "hosts": [], "lis_ctrlrs": 0, "lis_qpairs": 0, "get_qpairs": 0}
    while True:
        c = counts(d)
        if c == zero:
            return
        if time.time() > deadline:
            raise AssertionError("counts not back to zero: %r" % c)
        time.sleep(0.05)


def wait_closed(h, timeout=5.0):
    """The target closed the connection (EOF or reset) within timeout."""
    h.sock.settimeout(timeout)
    try:
        while h.sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    h.close()


@test
def exact_connection_counts_after_connect_storm():
    port = free_port()
    with Daemon(cpumask="0x3") as d:
        setup_target(d, port)
        # Two hosts, one with two I/O queues: every RPC agrees on the counts.
        a = nt.Host("127.0.0.1", port)
        ca = a.admin_connect(SUBNQN, HOSTNQN)
        ios = []
        for qid in (1, 2):
            h = nt.Host("127.0.0.1", port)
            assert h.connect(SUBNQN, HOSTNQN, qid=qid, cntlid=ca)[0] == 0
            ios.append(h)
        b = nt.Host("127.0.0.1", port)
        b.admin_connect(SUBNQN, HOSTNQN2, kato=0)
        idle = nt.Host("127.0.0.1", port)          # ICReq only: a connection, no queue
        c = counts(d)
        assert c["conns"] == 5 and c["ctrlrs"] == 2 and c["qpairs"] == 4, c
        assert c["sub_ctrlrs"] == 2 and c["sub_qpairs"] == 4 and c["get_qpairs"] == 4, c
        assert c["lis_ctrlrs"] == 2 and c["lis_qpairs"] == 4 and c["pg_qpairs"] == 5, c
        ctrls = d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN})
        assert sorted(x["num_qpairs"] for x in ctrls) == [1, 3], ctrls
        hosts = {x["hostnqn"]: (x["num_controllers"], x["num_qpairs"]) for x in c["hosts"]}
        assert hosts == {HOSTNQN: (1, 3), HOSTNQN2: (1, 1)}, hosts
        qps = d.rpc("nvmf_subsystem_get_qpairs", {"nqn": SUBNQN})
        assert sorted((q["cntlid"], q["qid"]) for q in qps if q["cntlid"] == ca) == \
            [(ca, 0), (ca, 1), (ca, 2)], qps
        assert all(q["state"] == "active" and q["listen_address"]["trsvcid"] == str(port)
                   for q in qps), qps
        for h in ios + [a, b, idle]:
            h.close()
        wait_counts_zero(d)
        # The storm: 100 cycles; some end cleanly, some abruptly in the middle of a
        # command (R2T outstanding, half a PDU header, admin queue dropped first).
        blk = bytes(range(256)) * 32
        for i in range(100):
            adm = nt.Host("127.0.0.1", port)
            cnt = adm.admin_connect(SUBNQN, HOSTNQN if i % 2 else HOSTNQN2)
            io = nt.Host("127.0.0.1", port)
            assert io.connect(SUBNQN, HOSTNQN if i % 2 else HOSTNQN2, qid=1,
                              cntlid=cnt)[0] == 0
            kind = i % 4
            if kind == 0:
                assert io.write(1, i, blk[:512]) == 0
            elif kind == 1:
                # A write that waits for H2CData; close without sending it.
                e = nt.sqe(0x01, io.next_cid(), 1, cdw=(i, 0, 15, 0, 0, 0))
                e = e[:24] + nt.sgl(0, 8192, 0x5A) + e[40:]
                io.send_pdu(nt.PDU_CMD, e)
                assert io.recv_pdu()[0] == nt.PDU_R2T
            elif kind == 2:
                io.sock.sendall(bytes([nt.PDU_CMD, 0, 72, 0]))   # half a header
            else:
                adm.close()                                       # admin first
            io.close()
            adm.close()
        wait_counts_zero(d)


@test
def target_initiated_disconnect():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        # nvmf_ctrlr_disconnect: one controller, all its queues.
        a = nt.Host("127.0.0.1", port)
        ca = a.admin_connect(SUBNQN, HOSTNQN)
        io = nt.Host("127.0.0.1", port)
        assert io.connect(SUBNQN, HOSTNQN, qid=1, cntlid=ca)[0] == 0
        b = nt.Host("127.0.0.1", port)
        cb = b.admin_connect(SUBNQN, HOSTNQN2)
        assert d.rpc("nvmf_ctrlr_disconnect", {"nqn": SUBNQN, "cntlid": ca}) is True
        wait_closed(a)
        wait_closed(io)
        st, _ = b.identify(1)                     # the other controller is untouched
        assert st == 0
        ctrls = d.rpc("nvmf_subsystem_get_controllers", {"nqn": SUBNQN})
        assert [x["cntlid"] for x in ctrls] == [cb], ctrls
        try:
            d.rpc("nvmf_ctrlr_disconnect", {"nqn": SUBNQN, "cntlid": ca})
            raise AssertionError("disconnect of a gone controller accepted")
        except RpcError:
            pass
        # nvmf_subsystem_disconnect_host: every controller of that host; it may reconnect.
        assert d.rpc("nvmf_subsystem_disconnect_host",
                     {"nqn": SUBNQN, "host": HOSTNQN2}) == 1
        wait_closed(b)
        b = nt.Host("127.0.0.1", port)
        b.admin_connect(SUBNQN, HOSTNQN2)
        a = nt.Host("127.0.0.1", port)
        a.admin_connect(SUBNQN, HOSTNQN)
        # Without host: every controller of the subsystem.
        assert d.rpc("nvmf_subsystem_disconnect_host", {"nqn": SUBNQN}) == 2
        wait_closed(a)
        wait_closed(b)
        # nvmf_subsystem_remove_host disconnects the host and it cannot come back.
        d.rpc("nvmf_subsystem_allow_any_host", {"nqn": SUBNQN, "allow_any_host": False})
        d.rpc("nvmf_subsystem_add_host", {"nqn": SUBNQN, "host": HOSTNQN})
        a = nt.Host("127.0.0.1", port)
        a.admin_connect(SUBNQN, HOSTNQN)
        d.rpc("nvmf_subsystem_remove_host", {"nqn": SUBNQN, "host": HOSTNQN})
        wait_closed(a)
        a = nt.Host("127.0.0.1", port)
        assert a.connect(SUBNQN, HOSTNQN)[0] == 0x184          # invalid host
        a.close()
        wait_counts_zero(d)


@test
def duplicate_host_connection_policy():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        # Default: a host may have several controllers through one listener.
        a1, a2 = nt.Host("127.0.0.1", port), nt.Host("127.0.0.1", port)
        a1.admin_connect(SUBNQN, HOSTNQN)
        a2.admin_connect(SUBNQN, HOSTNQN)
        a1.close()
        a2.close()
        nqn2 = SUBNQN + "-nodup"
        d.rpc("nvmf_create_subsystem", {"nqn": nqn2, "allow_any_host": True,
                                        "allow_duplicate_host_connections": False})
        d.rpc("nvmf_subsystem_add_listener", {"nqn": nqn2, "listen_address": {
            "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1", "trsvcid": str(port)}})
        sub = d.rpc("nvmf_get_subsystems", {"nqn": nqn2})[0]
        assert sub["allow_duplicate_host_connections"] is False
        a1 = nt.Host("127.0.0.1", port)
        cnt = a1.admin_connect(nqn2, HOSTNQN)
        dup = nt.Host("127.0.0.1", port)
        st, _ = dup.connect(nqn2, HOSTNQN)
        assert st == 0x181, hex(st)                               # controller busy
        dup.close()
        other = nt.Host("127.0.0.1", port)                        # another host ID: fine
        assert other.connect(nqn2, HOSTNQN, hostid=b"\x22" * 16)[0] == 0
        other.close()
        io = nt.Host("127.0.0.1", port)                           # I/O queues unaffected
        assert io.connect(nqn2, HOSTNQN, qid=1, cntlid=cnt)[0] == 0
        io.close()
        a1.close()
        deadline = time.time() + 10
        while d.rpc("nvmf_subsystem_get_controllers", {"nqn": nqn2}):
            assert time.time() < deadline
            time.sleep(0.05)
        a1 = nt.Host("127.0.0.1", port)                           # gone: may come back
        a1.admin_connect(nqn2, HOSTNQN)
        a1.close()
        cfg = d.rpc("save_config")
        nvmf = [s for s in cfg["subsystems"] if s["subsystem"] == "nvmf"][0]["config"]
        created = [c["params"] for c in nvmf if c["method"] == "nvmf_create_subsystem"]
        assert [p.get("allow_duplicate_host_connections", True) for p in created] == \
            [True, False], created


@test
def listener_validation():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)

        def add(traddr, trsvcid, adrfam="IPv4"):
            d.rpc("nvmf_subsystem_add_listener", {"nqn": SUBNQN, "listen_address": {
                "trtype": "TCP", "adrfam": adrfam, "traddr": traddr, "trsvcid": trsvcid}})

        def refused(traddr, trsvcid, adrfam="IPv4"):
            try:
                add(traddr, trsvcid, adrfam)
            except RpcError as e:
                return e
            raise AssertionError("listener %s:%s accepted" % (traddr, trsvcid))

        for traddr, trsvcid, fam in (("not-an-address", "4420", "IPv4"),
                                     ("127.0.0.1", "0", "IPv4"),
                                     ("127.0.0.1", "65536", "IPv4"),
                                     ("127.0.0.1", "-1", "IPv4"),
                                     ("127.0.0.1", "44x", "IPv4"),
                                     ("::1", "4420", "IPv4"),         # wrong family
                                     ("192.0.2.1", "4420", "IPv4"),   # not this machine
                                     ("127.0.0.1", str(port), "IPv4")):  # duplicate
            refused(traddr, trsvcid, fam)
        # Bind failure: the port is held by another process.
        held = socket.socket()
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        held.bind(("127.0.0.2", 0))
        held.listen(1)
        hport = str(held.getsockname()[1])
        try:
            refused("127.0.0.2", hport)
            lis = d.rpc("nvmf_subsystem_get_listeners", {"nqn": SUBNQN})
            assert [x["address"]["trsvcid"] for x in lis] == [str(port)], lis
            sub = d.rpc("nvmf_get_subsystems", {"nqn": SUBNQN})[0]
            assert len(sub["listen_addresses"]) == 1, sub
        finally:
            held.close()
        add("127.0.0.2", hport)                      # free now: works, and is usable
        h = nt.Host("127.0.0.2", int(hport))
        h.admin_connect(SUBNQN, HOSTNQN)
        h.close()
        assert len(d.rpc("nvmf_subsystem_get_listeners", {"nqn": SUBNQN})) == 2


def recv_rsp(h):
    """The next CapsuleResp: (cid, status, cdw0)."""
    ptype, _, hdr, _ = h.recv_pdu()
    assert ptype == nt.PDU_RSP, ptype
    cdw0, _, _, _, cid, status = struct.unpack_from("<IIHHHH", hdr, 8)
    return cid, (status >> 1) & 0x7FF, cdw0


@test
def namespace_removed_while_connected():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        d.rpc("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 2048, "block_size": 512})
        # Writes to namespace 2 take 1.5 s: one is in flight while it is removed.
        d.rpc("bdev_delay_create", {"name": "Delay1", "base_bdev_name": "Malloc1",
                                    "avg_read_latency": 1, "p99_read_latency": 1,
                                    "avg_write_latency": 1500000, "p99_write_latency": 1500000})
        assert d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                               "namespace": {"bdev_name": "Delay1"}}) == 2
        a = nt.Host("127.0.0.1", port)
        cntlid = a.admin_connect(SUBNQN, HOSTNQN)
        io = nt.Host("127.0.0.1", port)
        assert io.connect(SUBNQN, HOSTNQN, qid=1, cntlid=cntlid)[0] == 0
        e = nt.sqe(0x09, a.next_cid(), 0, cdw=(0x0B, 1 << 8, 0, 0, 0, 0))  # AEC: ns notices
        assert a.submit(e)[0] == 0
        aer_cid = a.next_cid()
        a.send_pdu(nt.PDU_CMD, nt.sqe(0x0C, aer_cid))
        wcid = io.next_cid()
        e = nt.sqe(0x01, wcid, 2, cdw=(7, 0, 0, 0, 0, 0))
        io.send_pdu(nt.PDU_CMD, e[:24] + nt.sgl(0, 512, 0x01) + e[40:], b"\x5a" * 512)
        time.sleep(0.1)
        t0 = time.time()
        # The RPC answers once the write in flight is done and the bdev is closed.
        assert d.rpc("nvmf_subsystem_remove_ns", {"nqn": SUBNQN, "nsid": 2}) is True
        assert time.time() - t0 > 0.5
        assert recv_rsp(io) == (wcid, 0, 0)                  # completed normally
        cid, st, cdw0 = recv_rsp(a)                           # the AEN
        assert (cid, st, cdw0) == (aer_cid, 0, 0x040002), (cid, hex(st), hex(cdw0))
        st, log = a.get_log(0x04, 4096)
        assert st == 0 and struct.unpack_from("<II", log, 0) == (2, 0)
        st, lst = a.identify(2)
        assert st == 0 and struct.unpack_from("<II", lst, 0) == (1, 0)
        assert io.write(2, 0, b"\0" * 512) == 0x0B and io.last_dnr  # invalid namespace
        assert io.write(1, 0, b"\1" * 512) == 0                    # the other one works
        # The bdev is free: it can come back (another AEN), and go again at once.
        assert d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                               "namespace": {"bdev_name": "Delay1"}}) == 2
        assert io.write(2, 0, b"\2" * 512) == 0
        assert d.rpc("nvmf_subsystem_remove_ns", {"nqn": SUBNQN, "nsid": 2}) is True
        d.rpc("bdev_delay_delete", {"name": "Delay1"})
        io.close()
        a.close()


@test
def abort_command_waiting_in_delay_bdev():
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        d.rpc("bdev_malloc_create", {"name": "Malloc1", "num_blocks": 2048, "block_size": 512})
        d.rpc("bdev_delay_create", {"name": "Delay1", "base_bdev_name": "Malloc1",
                                    "avg_read_latency": 1, "p99_read_latency": 1,
                                    "avg_write_latency": 5000000, "p99_write_latency": 5000000})
        assert d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN,
                                               "namespace": {"bdev_name": "Delay1"}}) == 2
        a = nt.Host("127.0.0.1", port)
        cntlid = a.admin_connect(SUBNQN, HOSTNQN)
        io = nt.Host("127.0.0.1", port)
        assert io.connect(SUBNQN, HOSTNQN, qid=1, cntlid=cntlid)[0] == 0
        # A write that the delay bdev holds for 5 s.
        wcid = io.next_cid()
        e = nt.sqe(0x01, wcid, 2, cdw=(9, 0, 0, 0, 0, 0))
        io.send_pdu(nt.PDU_CMD, e[:24] + nt.sgl(0, 512, 0x01) + e[40:], b"\x77" * 512)
        time.sleep(0.2)
        t0 = time.time()
        e = nt.sqe(0x08, a.next_cid(), 0, cdw=(1 | (wcid << 16), 0, 0, 0, 0, 0))
        st, cdw0, _, _, _ = a.submit(e)
        assert st == 0 and cdw0 & 1 == 0, (hex(st), cdw0)      # aborted
        cid, st, _ = recv_rsp(io)
        assert cid == wcid and st == 0x07, hex(st)              # Command Abort Requested
        assert time.time() - t0 < 2.0
        # Not outstanding any more, or never was: "not aborted".
        e = nt.sqe(0x08, a.next_cid(), 0, cdw=(1 | (wcid << 16), 0, 0, 0, 0, 0))
        st, cdw0, _, _, _ = a.submit(e)
        assert st == 0 and cdw0 & 1 == 1
        e = nt.sqe(0x08, a.next_cid(), 0, cdw=(5 | (1 << 16), 0, 0, 0, 0, 0))
        st, cdw0, _, _, _ = a.submit(e)
        assert st == 0 and cdw0 & 1 == 1
        assert io.write(1, 0, b"\1" * 512) == 0                   # the queue still works
        # The error log has the aborted write; then an out-of-range read, newest first.
        assert io.read(1, 99999, 1)[0] == 0x80
        st, log = a.get_log(0x01, 4096)
        assert st == 0
        ents = [struct.unpack_from("<QHHHHQI", log, i * 64) for i in range(3)]
        cnt0, sq0, cid0, st0, _, lba0, ns0 = ents[0]
        cnt1, sq1, cid1, st1, _, _, ns1 = ents[1]
        assert (sq0, (st0 >> 1) & 0x7FF, lba0, ns0) == (1, 0x80, 99999, 1), ents
        assert (cnt1, sq1, cid1, (st1 >> 1) & 0x7FF, ns1) == (cnt0 - 1, 1, wcid, 0x07, 2), ents
        assert (cnt0, ents[2][0]) == (2, 0), ents           # nothing else failed
        io.close()
        a.close()


@test
def accept_failure_keeps_listener_armed():
    """Out of file descriptors: accept fails (logged, rate limited), the target keeps
    running and the listener accepts again once descriptors are free."""
    if not shutil.which("prlimit"):
        raise Skip("needs prlimit")
    port = free_port()
    d = Daemon()
    d.args = ["prlimit", "--nofile=64:64", "--"] + d.args
    with d:
        setup_target(d, port)
        socks = []
        for _ in range(100):                       # more than the target can accept
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)                            # (no RPC now: it needs a descriptor)
        for s in socks:
            s.close()
        deadline = time.time() + 10
        while True:                                 # the backlog drains, then all close
            if d.rpc("nvmf_get_stats")["num_connections"] == 0:
                break
            assert time.time() < deadline
            time.sleep(0.1)
        h = nt.Host("127.0.0.1", port)
        h.admin_connect(SUBNQN, HOSTNQN)
        h.close()
        log = d.stderr + d.stdout
        assert "accept on 127.0.0.1 port %d" % port in log, log[-2000:]


@test
def io_stats_count_commands_and_latency():
    """nvmf_get_stats: per poll group and target-wide, I/O commands by type, bytes of the
    successful ones, and one latency sample per I/O command (admin commands not counted)."""
    port = free_port()
    with Daemon() as d:
        setup_target(d, port)
        st0 = d.rpc("nvmf_get_stats")
        assert st0["io"] == {"read_ops": 0, "write_ops": 0, "other_ops": 0,
                             "read_bytes": 0, "write_bytes": 0}, st0
        assert st0["latency_us"]["count"] == 0, st0
        a = nt.Host("127.0.0.1", port)
        cntlid = a.admin_connect(SUBNQN, HOSTNQN)
        assert a.identify(1)[0] == 0
        io = nt.Host("127.0.0.1", port)
        assert io.connect(SUBNQN, HOSTNQN, qid=1, cntlid=cntlid, sqsize=63)[0] == 0
        for i in range(5):                          # in-capsule and R2T writes
            assert io.write(1, 100 + 2 * i, bytes([i + 1]) * 1024, icd=(i % 2 == 0)) == 0
        for i in range(3):
            st, data, _ = io.read(1, 100 + 2 * i, 2)
            assert st == 0 and data == bytes([i + 1]) * 1024
        st, _, _ = io.read(1, 99999, 1)             # past the end: fails, no bytes
        assert st != 0
        assert io.submit(nt.sqe(0x00, io.next_cid(), 1))[0] == 0      # Flush
        st = d.rpc("nvmf_get_stats")
        want = {"read_ops": 4, "write_ops": 5, "other_ops": 1,
                "read_bytes": 3 * 1024, "write_bytes": 5 * 1024}
        assert st["io"] == want, st
        lat = st["latency_us"]
        assert lat["count"] == 10, st
        assert 0 <= lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], lat
        assert lat["max"] < 10e6, lat                # microseconds, not ticks
        groups = st["poll_groups"]
        for key in want:
            assert sum(g["io"][key] for g in groups) == want[key], groups
        assert sum(g["latency_us"]["count"] for g in groups) == 10, groups
        busy = [g for g in groups if g["latency_us"]["count"] != 0]
        assert len(busy) == 1 and busy[0]["io"] == want, groups   # one I/O queue
        # Counts survive the connections.
        io.close()
        a.close()
        wait_counts_zero(d)
        assert d.rpc("nvmf_get_stats")["io"] == want


if __name__ == "__main__":
    run_tests()
