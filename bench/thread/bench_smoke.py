#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of ftgt-thread-bench: a short run prints, one JSON object per line, the
cross-thread message rate and the per-iteration poller overhead, all positive.

Usage: bench_smoke.py PATH_TO_ftgt-thread-bench
"""
import json
import subprocess
import sys


def main(bench):
    p = subprocess.run([bench, "-t", "0.1"], capture_output=True, timeout=100,
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        print("ftgt-thread-bench exited with %d:\n%s%s"
              % (p.returncode, out, p.stderr.decode(errors="replace")))
        return 1
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["bench"], []).append(r)
    ok = True

    def need(cond, what):
        nonlocal ok
        if not cond:
            print("FAIL:", what)
            ok = False

    need(len(by.get("msg_rate", [])) == 1 and by["msg_rate"][0]["msgs_per_sec"] > 0,
         "one msg_rate line with msgs_per_sec > 0")
    need(len(by.get("msg_ping_pong", [])) == 1 and by["msg_ping_pong"][0]["one_way_ns"] > 0,
         "one msg_ping_pong line with one_way_ns > 0")
    po = by.get("poller_overhead", [])
    need([r["pollers"] for r in po] == [0, 1, 8, 64], "poller_overhead for 0, 1, 8, 64 pollers")
    need(all(r["ns_per_iter"] > 0 and r["iterations"] > 0 for r in po),
         "poller_overhead ns_per_iter > 0")
    print(out, end="")
    print("bench output OK" if ok else "bench output incomplete")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
