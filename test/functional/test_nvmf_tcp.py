#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""NVMe/TCP target over loopback, driven by a small Python host (nvme_tcp_host.py):
configuration RPCs, ICReq/Connect/Identify, reads and writes (in-capsule, R2T, C2HData),
digests, discovery, refused connects, malformed PDUs ending only their own connection.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvmf_tcp.py [test names]
"""

import os
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


if __name__ == "__main__":
    run_tests()
