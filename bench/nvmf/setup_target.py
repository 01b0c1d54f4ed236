#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Configure a benchmark target over JSON-RPC (TCP transport, null bdev, one subsystem
listening on 127.0.0.1:PORT), then optionally open IDLE idle NVMe/TCP connections (ICReq
exchanged, nothing more) and hold them until killed. Writes "ready" to $READY_FILE (or
prints it) once done. Used by bench/nvmf/ab.sh.

    setup_target.py RPC_SOCK NQN PORT [IDLE]
"""
import json
import os
import signal
import socket
import struct
import sys
import time

path, nqn, port = sys.argv[1], sys.argv[2], sys.argv[3]
idle = int(sys.argv[4]) if len(sys.argv) > 4 else 0
deadline = time.monotonic() + 20
while True:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("setup_target.py: ftgtd did not open its RPC socket")
        time.sleep(0.1)
f = s.makefile("rwb")


def rpc(i, method, **params):
    f.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method,
                        "params": params}).encode() + b"\n")
    f.flush()
    dec, buf = json.JSONDecoder(), ""
    while True:
        buf += f.read1(65536).decode()
        try:
            r, _ = dec.raw_decode(buf.strip())
            break
        except ValueError:
            continue
    if "error" in r:
        sys.exit("setup_target.py: %s: %s" % (method, r["error"]))


rpc(1, "nvmf_create_transport", trtype="TCP")
rpc(2, "bdev_null_create", name="Null0", num_blocks=1 << 22, block_size=4096)
rpc(3, "nvmf_create_subsystem", nqn=nqn, allow_any_host=True)
rpc(4, "nvmf_subsystem_add_ns", nqn=nqn, namespace={"bdev_name": "Null0"})
rpc(5, "nvmf_subsystem_add_listener", nqn=nqn,
    listen_address={"trtype": "tcp", "adrfam": "ipv4", "traddr": "127.0.0.1",
                    "trsvcid": port})
conns = []
icreq = struct.pack("<BBBBI", 0, 0, 128, 0, 128) + struct.pack("<HBBI112x", 0, 0, 0, 0)
for _ in range(idle):
    c = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    c.sendall(icreq)
    got = b""
    while len(got) < 128:
        chunk = c.recv(128 - len(got))
        if not chunk:
            sys.exit("setup_target.py: idle connection closed")
        got += chunk
    conns.append(c)
ready = os.environ.get("READY_FILE")
if ready:
    with open(ready, "w") as out:
        out.write("ready\n")
else:
    print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(3600)
