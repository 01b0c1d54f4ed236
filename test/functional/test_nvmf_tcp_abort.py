#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Abort (admin opcode 08h) of NVMe/TCP commands the transport still holds: a write waiting
for its R2T data (H2CData), one whose H2CData PDU or in-capsule data is half received. Each
completes with Command Abort Requested, is not executed, and the data the host still sends
for it is dropped without ending the connection, also once its request slot holds another
command (target transfer tags carry a generation).

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_nvmf_tcp_abort.py [names]
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import Daemon, Skip, run_tests, test  # noqa: E402
import nvme_tcp_host as nt  # noqa: E402

SUBNQN = "nqn.2016-06.io.ftgt:abort1"
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6f0b5a1e-0000-4000-8000-0000000000ab"
BLOCK = 512
SC_ABORTED_BY_REQUEST = 0x07


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def setup(d):
    if "nvmf_create_transport" not in d.rpc("rpc_get_methods"):
        raise Skip("ftgtd built without nvmf")
    port = free_port()
    d.rpc("nvmf_create_transport", {"trtype": "TCP"})
    d.rpc("bdev_malloc_create", {"name": "Malloc0", "num_blocks": 8192, "block_size": BLOCK})
    d.rpc("nvmf_create_subsystem", {"nqn": SUBNQN, "allow_any_host": True})
    d.rpc("nvmf_subsystem_add_ns", {"nqn": SUBNQN, "namespace": {"bdev_name": "Malloc0"}})
    d.rpc("nvmf_subsystem_add_listener", {"nqn": SUBNQN, "listen_address": {
        "trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1", "trsvcid": str(port)}})
    a = nt.Host("127.0.0.1", port)
    cntlid = a.admin_connect(SUBNQN, HOSTNQN)
    io = nt.Host("127.0.0.1", port)
    st, _ = io.connect(SUBNQN, HOSTNQN, qid=1, cntlid=cntlid, sqsize=127)
    assert st == 0, hex(st)
    return a, io


def write_capsule_r2t(io, slba, length):
    """Send a Write whose data comes by R2T; returns its CID."""
    cid = io.next_cid()
    e = nt.sqe(0x01, cid, 1, cdw=(slba, 0, length // BLOCK - 1, 0, 0, 0))
    io.send_pdu(nt.PDU_CMD, e[:24] + nt.sgl(0, length, 0x5A) + e[40:])
    return cid


def recv_r2t(io, cid):
    ptype, _, hdr, _ = io.recv_pdu()
    assert ptype == nt.PDU_R2T, ptype
    cccid, ttag, r2to, r2tl = struct.unpack_from("<HHII", hdr, 8)
    assert cccid == cid
    return ttag, r2to, r2tl


def h2c_pdu(cid, ttag, datao, data, last):
    """One H2CData PDU as bytes (no digests)."""
    psh = struct.pack("<HHII4x", cid, ttag, datao, len(data))
    hlen = 8 + len(psh)
    return struct.pack("<BBBBI", nt.PDU_H2C_DATA, nt.F_LAST if last else 0, hlen, hlen,
                       hlen + len(data)) + psh + data


def recv_rsp(io):
    ptype, _, hdr, _ = io.recv_pdu()
    assert ptype == nt.PDU_RSP, ptype
    _, _, _, _, cid, status = struct.unpack_from("<IIHHHH", hdr, 8)
    return cid, (status >> 1) & 0x7FF


def abort(a, cid, sqid=1):
    e = nt.sqe(0x08, a.next_cid(), 0, cdw=(sqid | (cid << 16), 0, 0, 0, 0, 0))
    st, cdw0, _, _, _ = a.submit(e)
    assert st == 0, hex(st)
    return cdw0


def read(io, slba, nlb):
    st, data, _ = io.read(1, slba, nlb)
    assert st == 0, hex(st)
    return data


@test
def abort_write_waiting_for_r2t_data():
    """The host got the R2T but sent nothing: the write completes aborted at once, the
    data sent afterwards is dropped (also once the slot holds newer commands), nothing is
    written, and the queue keeps working."""
    with Daemon() as d:
        a, io = setup(d)
        cid = write_capsule_r2t(io, 16, 4096)
        ttag, r2to, r2tl = recv_r2t(io, cid)
        assert (r2to, r2tl) == (0, 4096)
        assert abort(a, cid) & 1 == 0       # aborted: dword 0 bit 0 clear
        assert recv_rsp(io) == (cid, SC_ABORTED_BY_REQUEST)
        # Half of the stale data now, while the slot is free.
        io.sock.sendall(h2c_pdu(cid, ttag, 0, b"\xee" * 2048, False))
        # 128 writes in flight take every request slot, the aborted one included.
        cids, r2ts = [], {}
        for i in range(128):
            cids.append(write_capsule_r2t(io, 64 + 8 * i, 4096))
        for _ in range(128):
            c, t, o, n = (lambda h: struct.unpack_from("<HHII", h, 8))(io.recv_pdu()[2])
            assert (o, n) == (0, 4096)
            r2ts[c] = t
        assert sorted(r2ts) == sorted(cids)
        # The aborted write's tag is not reused while its data may still come.
        assert ttag not in r2ts.values()
        # The rest of the stale data, while its slot holds another command.
        io.sock.sendall(h2c_pdu(cid, ttag, 2048, b"\xee" * 2048, True))
        for i, c in enumerate(cids):
            io.sock.sendall(h2c_pdu(c, r2ts[c], 0, bytes([i % 251 + 1]) * 4096, True))
        done = {}
        for _ in range(128):
            c, st = recv_rsp(io)
            done[c] = st
        assert done == {c: 0 for c in cids}, done
        assert read(io, 16, 8) == b"\0" * 4096           # the aborted write did not happen
        for i in (0, 77, 127):
            assert read(io, 64 + 8 * i, 8) == bytes([i % 251 + 1]) * 4096
        # Gone: a second Abort of it finds nothing ("not aborted").
        assert abort(a, cid) & 1 == 1
        assert io.write(1, 0, b"\1" * 4096, icd=False) == 0
        assert read(io, 0, 8) == b"\1" * 4096
        io.close()
        a.close()


@test
def abort_write_between_h2c_pdus():
    """Half of the data came in one H2CData PDU; the rest comes after the Abort."""
    with Daemon() as d:
        a, io = setup(d)
        cid = write_capsule_r2t(io, 32, 8192)
        ttag, _, _ = recv_r2t(io, cid)
        io.sock.sendall(h2c_pdu(cid, ttag, 0, b"\xaa" * 4096, False))
        assert abort(a, cid) & 1 == 0       # aborted: dword 0 bit 0 clear
        assert recv_rsp(io) == (cid, SC_ABORTED_BY_REQUEST)
        io.sock.sendall(h2c_pdu(cid, ttag, 4096, b"\xaa" * 4096, True))
        assert read(io, 32, 16) == b"\0" * 8192
        # Stale data past what the R2T asked for still ends the connection.
        io.sock.sendall(h2c_pdu(cid, ttag, 8192, b"\xaa" * 512, True))
        try:
            io.recv_pdu()
            raise AssertionError("no C2HTermReq")
        except nt.TermReq as t:
            assert t.fes in (1, 5), t.fes   # invalid header field / out of range
        a.close()
        io.close()


@test
def abort_write_inside_h2c_pdu():
    """An H2CData PDU is half received when the Abort comes: the command ends when that
    PDU ends; the PDU and the rest of the data are dropped."""
    with Daemon() as d:
        a, io = setup(d)
        cid = write_capsule_r2t(io, 48, 8192)
        ttag, _, _ = recv_r2t(io, cid)
        pdu = h2c_pdu(cid, ttag, 0, b"\xbb" * 4096, False)
        io.sock.sendall(pdu[:1000])
        # The Abort is answered at once; the command itself when its PDU is complete.
        assert abort(a, cid) & 1 == 0       # aborted: dword 0 bit 0 clear
        io.sock.sendall(pdu[1000:])
        assert recv_rsp(io) == (cid, SC_ABORTED_BY_REQUEST)
        io.sock.sendall(h2c_pdu(cid, ttag, 4096, b"\xbb" * 4096, True))
        assert read(io, 48, 16) == b"\0" * 8192
        assert io.write(1, 48, b"\2" * 8192, icd=False) == 0
        assert read(io, 48, 16) == b"\2" * 8192
        a.close()
        io.close()


@test
def abort_write_inside_in_capsule_data():
    """In-capsule data half received: the command is aborted when its capsule is in."""
    with Daemon() as d:
        a, io = setup(d)
        cid = io.next_cid()
        e = nt.sqe(0x01, cid, 1, cdw=(80, 0, 4096 // BLOCK - 1, 0, 0, 0))
        psh = e[:24] + nt.sgl(0, 4096, 0x01) + e[40:]
        hlen = 8 + len(psh)
        pdu = struct.pack("<BBBBI", nt.PDU_CMD, 0, hlen, hlen, hlen + 4096) + psh
        pdu += b"\xcc" * 4096
        io.sock.sendall(pdu[:hlen + 100])
        time.sleep(0.2)                # received and parsed before the Abort comes
        assert abort(a, cid) & 1 == 0       # aborted: dword 0 bit 0 clear
        io.sock.sendall(pdu[hlen + 100:])
        assert recv_rsp(io) == (cid, SC_ABORTED_BY_REQUEST)
        assert read(io, 80, 8) == b"\0" * 4096
        assert io.write(1, 80, b"\3" * 4096) == 0
        assert read(io, 80, 8) == b"\3" * 4096
        a.close()
        io.close()


if __name__ == "__main__":
    run_tests()
