# SPDX-License-Identifier: BSD-3-Clause
"""A small NVMe/TCP host (Python standard library only) for functional tests: ICReq,
fabrics Connect/Property Get/Set, admin and I/O commands with in-capsule data, R2T/H2CData
and C2HData, optional header/data digests. Not fast; precise about the wire format."""

import socket
import struct

PDU_ICREQ, PDU_ICRESP, PDU_H2C_TERM, PDU_C2H_TERM = 0, 1, 2, 3
PDU_CMD, PDU_RSP, PDU_H2C_DATA, PDU_C2H_DATA, PDU_R2T = 4, 5, 6, 7, 9
F_HDGST, F_DDGST, F_LAST, F_SUCCESS = 1, 2, 4, 8

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def sgl(addr, length, typ):
    return struct.pack("<QI3xB", addr, length, typ)


def sqe(opc, cid=0, nsid=0, dptr=b"\0" * 16, cdw=(0, 0, 0, 0, 0, 0), flags=0x40, raw=None):
    """64-byte submission entry. PSDT 01b (SGL, contiguous MPTR) unless flags says else."""
    if raw is not None:
        return raw
    return struct.pack("<BBHIIIQ16s6I", opc, flags, cid, nsid, 0, 0, 0, dptr, *cdw)


class TermReq(Exception):
    def __init__(self, fes, fei):
        self.fes, self.fei = fes, fei
        super().__init__("C2HTermReq fes %d fei %d" % (fes, fei))


class Host:
    def __init__(self, addr, port, hdgst=False, ddgst=False, timeout=10.0, icreq=True):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.create_connection((addr, port), timeout=timeout) \
            if fam == socket.AF_INET else socket.socket(fam, socket.SOCK_STREAM)
        if fam == socket.AF_INET6:
            self.sock.settimeout(timeout)
            self.sock.connect((addr, port))
        self.hdgst = self.ddgst = False
        self.cid = 0
        self.icd = 4096
        self.maxh2c = 0
        if icreq:
            self.icreq(hdgst, ddgst)

    def close(self):
        self.sock.close()

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the target")
            buf += chunk
        return buf

    def send_pdu(self, ptype, psh, data=b"", flags=0, digests=True):
        hlen = 8 + len(psh)
        hd = digests and self.hdgst and ptype in (PDU_CMD, PDU_H2C_DATA)
        dd = digests and self.ddgst and ptype in (PDU_CMD, PDU_H2C_DATA) and len(data) > 0
        pdo = hlen + (4 if hd else 0) if data else 0
        plen = hlen + (4 if hd else 0) + len(data) + (4 if dd else 0)
        flags |= (F_HDGST if hd else 0) | (F_DDGST if dd else 0)
        hdr = struct.pack("<BBBBI", ptype, flags, hlen, pdo, plen) + psh
        out = hdr
        if hd:
            out += struct.pack("<I", crc32c(hdr))
        out += data
        if dd:
            out += struct.pack("<I", crc32c(data))
        self.sock.sendall(out)

    def recv_pdu(self):
        ch = self.recv_exact(8)
        ptype, flags, hlen, pdo, plen = struct.unpack("<BBBBI", ch)
        rest = self.recv_exact(plen - 8)
        hdr = ch + rest[:hlen - 8]
        off = hlen - 8
        if flags & F_HDGST:
            (d,) = struct.unpack_from("<I", rest, off)
            assert d == crc32c(hdr), "bad header digest from target"
            off += 4
        if ptype == PDU_C2H_TERM:
            fes, fei = struct.unpack_from("<HI", hdr, 8)
            raise TermReq(fes, fei)
        data = b""
        if pdo:
            dlen = plen - pdo - (4 if flags & F_DDGST else 0)
            data = rest[pdo - 8:pdo - 8 + dlen]
            if flags & F_DDGST:
                (d,) = struct.unpack_from("<I", rest, pdo - 8 + dlen)
                assert d == crc32c(data), "bad data digest from target"
        return ptype, flags, hdr, data

    def icreq(self, hdgst, ddgst):
        dgst = (1 if hdgst else 0) | (2 if ddgst else 0)
        self.send_pdu(PDU_ICREQ, struct.pack("<HBBI112x", 0, 0, dgst, 0), digests=False)
        ptype, flags, hdr, _ = self.recv_pdu()
        assert ptype == PDU_ICRESP, ptype
        pfv, cpda, got, maxh2c = struct.unpack_from("<HBBI", hdr, 8)
        assert pfv == 0
        self.hdgst, self.ddgst = bool(got & 1), bool(got & 2)
        self.maxh2c = maxh2c
        self.cpda = cpda

    def next_cid(self):
        self.cid = (self.cid + 1) & 0xFFFF
        return self.cid

    def submit(self, entry, data_out=None, data_in=0, icd=True):
        """Send one command; returns (SCT << 8 | SC, cdw0, cdw1, data, PDU types seen);
        self.last_dnr has the DNR bit of the response."""
        cid = struct.unpack_from("<H", entry, 2)[0]
        data = b""
        if data_out is not None and icd and len(data_out) <= self.icd:
            entry = entry[:24] + sgl(0, len(data_out), 0x01) + entry[40:]
            self.send_pdu(PDU_CMD, entry, data_out)
        else:
            length = len(data_out) if data_out is not None else data_in
            entry = entry[:24] + sgl(0, length, 0x5A) + entry[40:]
            self.send_pdu(PDU_CMD, entry)
        seen = set()
        while True:
            ptype, flags, hdr, pdata = self.recv_pdu()
            seen.add(ptype)
            if ptype == PDU_R2T:
                cccid, ttag, r2to, r2tl = struct.unpack_from("<HHII", hdr, 8)
                assert cccid == cid
                off = r2to
                while off < r2to + r2tl:
                    n = min(self.maxh2c, r2to + r2tl - off)
                    last = F_LAST if off + n == r2to + r2tl else 0
                    self.send_pdu(PDU_H2C_DATA, struct.pack("<HHII4x", cid, ttag, off, n),
                                  data_out[off:off + n], flags=last)
                    off += n
            elif ptype == PDU_C2H_DATA:
                cccid, _, datao, datal = struct.unpack_from("<HHII", hdr, 8)
                assert cccid == cid and datao == len(data)
                data += pdata
                if flags & F_SUCCESS:
                    return 0, 0, 0, data, seen
            elif ptype == PDU_RSP:
                cdw0, cdw1, sqhd, sqid, rcid, status = struct.unpack_from("<IIHHHH", hdr, 8)
                assert rcid == cid, (rcid, cid)
                self.last_dnr = bool(status & 0x8000)
                return (status >> 1) & 0x7FF, cdw0, cdw1, data, seen
            else:
                raise AssertionError("unexpected PDU type %d" % ptype)

    # ---- fabrics ----------------------------------------------------------------------

    def connect(self, subnqn, hostnqn, qid=0, cntlid=0xFFFF, sqsize=31, kato=0,
                hostid=b"\x11" * 16, cattr=0):
        e = bytearray(64)
        struct.pack_into("<BBHB", e, 0, 0x7F, 0x40, self.next_cid(), 0x01)
        struct.pack_into("<HHHBxI", e, 40, 0, qid, sqsize, cattr, kato)
        d = bytearray(1024)
        d[0:16] = hostid
        struct.pack_into("<H", d, 16, cntlid)
        d[256:256 + len(subnqn)] = subnqn.encode()      # SUBNQN at 256, HOSTNQN at 512
        d[512:512 + len(hostnqn)] = hostnqn.encode()
        st, cdw0, _, _, _ = self.submit(bytes(e), bytes(d))
        return st, cdw0

    def prop_get(self, ofst, size8=False):
        e = bytearray(64)
        struct.pack_into("<BBHB", e, 0, 0x7F, 0x40, self.next_cid(), 0x04)
        struct.pack_into("<BxxxI", e, 40, 1 if size8 else 0, ofst)
        st, cdw0, cdw1, _, _ = self.submit(bytes(e))
        return st, cdw0 | (cdw1 << 32)

    def prop_set(self, ofst, value):
        e = bytearray(64)
        struct.pack_into("<BBHB", e, 0, 0x7F, 0x40, self.next_cid(), 0x00)
        struct.pack_into("<BxxxIQ", e, 40, 0, ofst, value)
        return self.submit(bytes(e))[0]

    def enable(self):
        assert self.prop_set(0x14, 1 | (6 << 16) | (4 << 20)) == 0
        st, csts = self.prop_get(0x1C)
        assert st == 0 and csts & 1, (st, csts)

    def admin_connect(self, subnqn, hostnqn, kato=0):
        st, cdw0 = self.connect(subnqn, hostnqn, kato=kato)
        assert st == 0, hex(st)
        self.enable()
        return cdw0 & 0xFFFF

    def identify(self, cns, nsid=0):
        e = sqe(0x06, self.next_cid(), nsid, cdw=(cns, 0, 0, 0, 0, 0))
        st, _, _, data, _ = self.submit(e, data_in=4096)
        return st, data

    def get_log(self, lid, length, offset=0):
        numd = length // 4 - 1
        e = sqe(0x02, self.next_cid(), 0,
                cdw=(lid | ((numd & 0xFFFF) << 16), numd >> 16, offset & 0xFFFFFFFF,
                     offset >> 32, 0, 0))
        st, _, _, data, _ = self.submit(e, data_in=length)
        return st, data

    def write(self, nsid, slba, data, block=512, fua=False, icd=True):
        nlb = len(data) // block
        e = sqe(0x01, self.next_cid(), nsid,
                cdw=(slba & 0xFFFFFFFF, slba >> 32, (nlb - 1) | (1 << 30 if fua else 0),
                     0, 0, 0))
        return self.submit(e, data_out=data, icd=icd)[0]

    def read(self, nsid, slba, nlb, block=512):
        e = sqe(0x02, self.next_cid(), nsid, cdw=(slba & 0xFFFFFFFF, slba >> 32, nlb - 1,
                                                  0, 0, 0))
        st, _, _, data, seen = self.submit(e, data_in=nlb * block)
        return st, data, seen
