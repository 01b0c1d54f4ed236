#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""ftgtd as a user sees it: start, RPC over its socket, config save/replay, shutdown.

Run: FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_daemon.py [test names]
"""

import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftgt_test import (SANITIZER_MARKERS, Daemon, RpcError, Skip,  # noqa: E402
                       asan_ftgtd_path, is_sanitized, run, run_tests, test)

BUILTIN_METHODS = [
    "app_shutdown", "framework_get_config", "framework_get_reactors",
    "framework_get_subsystems", "framework_wait_init", "ftgt_get_version", "load_config",
    "log_clear_flag", "log_get_flags", "log_get_level", "log_get_print_level",
    "log_set_flag", "log_set_level", "log_set_print_level", "rpc_get_methods",
    "save_config", "spdk_kill_instance", "thread_get_pollers", "thread_get_stats",
]


def dpdk_leftovers(pid):
    """Entries a process left in DPDK's runtime directory (its prefix has the pid)."""
    try:
        return [e for e in os.listdir("/var/run/dpdk") if str(pid) in e]
    except FileNotFoundError:
        return []


def run_failing(args, timeout=30.0):
    """Run ftgtd expecting it to stop by itself: (rc, stdout, stderr, pid)."""
    d = Daemon(args=args, wait=False)
    try:
        d.start()
        rc = d.wait_exit(timeout)
        assert not os.path.exists(d.sock), "socket file left behind by a failed start"
        return rc, d.stdout, d.stderr, d.proc.pid
    finally:
        d.kill()
        d.cleanup()


def expect_rpc_error(fn, code, *needles):
    try:
        fn()
    except RpcError as e:
        assert e.code == code, "expected %d, got %s" % (code, e)
        for n in needles:
            assert n in e.message, "%r not in %r" % (n, e.message)
        return e
    raise AssertionError("no error (expected %d)" % code)


@test
def two_reactors_and_builtin_methods():
    with Daemon(cpumask="0x3") as d:
        assert "ftgtd: ready, 2 reactors, RPC on %s" % d.sock in d.stdout, d.stdout
        r = d.rpc("framework_get_reactors")
        assert r["tick_rate"] > 0
        assert [x["lcore"] for x in r["reactors"]] == [0, 1], r
        for x in r["reactors"]:
            for key in ("busy", "idle", "irq", "sys", "in_interrupt", "lw_threads"):
                assert key in x, (key, x)
            assert len(x["lw_threads"]) >= 1
            for t in x["lw_threads"]:
                assert set(("name", "id", "cpumask", "elapsed")) <= set(t), t
        methods = d.rpc("rpc_get_methods")
        assert methods == sorted(methods)
        missing = set(BUILTIN_METHODS) - set(methods)
        assert not missing, missing
        assert "spdk_get_version" in d.rpc("rpc_get_methods", include_aliases=True)
        v = d.rpc("spdk_get_version")
        assert v["version"].startswith("ftgt v") and "major" in v["fields"], v
        assert d.rpc("framework_wait_init") is True
        st = d.rpc("thread_get_stats")
        assert len(st["threads"]) >= 2 and "busy" in st["threads"][0]
        pollers = d.rpc("thread_get_pollers")
        names = [p["name"] for t in pollers["threads"] for p in t["timed_pollers"]]
        assert "rpc_server" in names, pollers
        assert d.rpc("log_set_level", level="INFO") is True
        assert d.rpc("log_get_level") == "INFO"
        assert d.rpc("log_set_print_level", level="warning") is True
        assert d.rpc("log_get_print_level") == "WARNING"
        flags = d.rpc("log_get_flags")
        assert flags.get("rpc") is False, flags
        assert d.rpc("log_set_flag", flag="rpc") is True
        assert d.rpc("log_get_flags")["rpc"] is True
        assert d.rpc("log_clear_flag", flag="rpc") is True
        expect_rpc_error(lambda: d.rpc("log_set_flag", flag="no_such_flag"), -32602,
                         "no_such_flag")


@test
def sigterm_exits_0_quickly_and_cleans_up():
    d = Daemon()
    with d:
        assert os.path.exists(d.sock)
        c = d.client()  # a connected client must not hold up the exit
        start = time.monotonic()
        d.send_signal(signal.SIGTERM)
        rc = d.wait_exit(timeout=2.0)
        elapsed = time.monotonic() - start
        c.close()
        assert rc == 0, "exit code %s after %.2f s:\n%s" % (rc, elapsed, d.stderr)
        assert not os.path.exists(d.sock), "socket file left behind"
        assert not dpdk_leftovers(d.proc.pid), dpdk_leftovers(d.proc.pid)


@test
def sigint_and_rpc_shutdowns_exit_0():
    with Daemon() as d:
        d.send_signal(signal.SIGINT)
        assert d.wait_exit(5) == 0, d.stderr
    with Daemon() as d:
        assert d.rpc("spdk_kill_instance", sig_name="SIGTERM") is True
        assert d.wait_exit(5) == 0, d.stderr
        assert not os.path.exists(d.sock)
    with Daemon() as d:
        assert d.rpc("app_shutdown") is True
        assert d.wait_exit(5) == 0, d.stderr
    with Daemon() as d:
        expect_rpc_error(lambda: d.rpc("spdk_kill_instance", sig_name="SIGFOO"), -32602,
                         "sig_name")


@test
def second_signal_forces_exit():
    # Two different signals cannot merge into one pending signal: the second one lands
    # while the first one's shutdown runs, and must end the process at once, status 1.
    with Daemon(check_exit=False) as d:
        d.send_signal(signal.SIGINT)
        d.send_signal(signal.SIGTERM)
        rc = d.wait_exit(timeout=2.0)
        assert rc == 1, "exit code %s:\n%s" % (rc, d.stderr)
        assert "second signal: exiting now" in d.stderr, d.stderr


@test
def two_instances_side_by_side_and_same_socket_refused():
    with Daemon() as a, Daemon() as b:
        assert a.rpc("spdk_get_version") == b.rpc("spdk_get_version")
        rc, out, err = run(["-r", a.sock], timeout=30)
        assert rc != 0, "second ftgtd on %s started (rc 0)" % a.sock
        assert "in use" in err, err
        # The first one is untouched.
        assert a.rpc("framework_wait_init") is True
        assert os.path.exists(a.sock)


@test
def stale_socket_file_is_replaced():
    with Daemon() as a:
        sock = a.sock
        a.kill()  # SIGKILL: the socket file stays
        assert os.path.exists(sock)
        with Daemon(sock=sock) as b:
            assert b.rpc("framework_wait_init") is True


@test
def jsonrpc_error_codes():
    with Daemon() as d:
        with d.client() as c:
            r = c.request("no_such_method")
            assert r["error"]["code"] == -32601 and r["id"] == 1, r
            r = c.request("log_set_level", {"level": 5})
            assert r["error"]["code"] == -32602, r
            assert "'level'" in r["error"]["message"], r
            r = c.request("log_set_level", {"level": "INFO", "bogus": 1})
            assert r["error"]["code"] == -32602 and "'bogus'" in r["error"]["message"], r
            c.send({"id": 7, "method": "rpc_get_methods"})  # no "jsonrpc": "2.0"
            r = c.read_response()
            assert r["error"]["code"] == -32600 and r["id"] == 7, r
            # A notification gets no answer: the next answer is for id 8.
            c.send({"jsonrpc": "2.0", "method": "rpc_get_methods"})
            assert c.request("framework_wait_init", req_id=8) == {
                "jsonrpc": "2.0", "id": 8, "result": True}
            # Malformed JSON: -32700, then the server closes the connection.
            c.send_raw('{"jsonrpc": "2.0", "id": 9, "method": }')
            r = c.read_response()
            assert r["error"]["code"] == -32700 and r["id"] is None, r
            assert c.is_closed_by_peer(), "connection still open after a parse error"
        # The daemon is fine.
        assert d.rpc("framework_wait_init") is True


@test
def batch_requests():
    with Daemon() as d, d.client() as c:
        c.send([{"jsonrpc": "2.0", "id": 1, "method": "spdk_get_version"},
                {"jsonrpc": "2.0", "method": "framework_wait_init"},
                {"jsonrpc": "2.0", "id": 2, "method": "nope"}])
        r = c.read_response()
        assert isinstance(r, list) and len(r) == 2, r
        by_id = {x["id"]: x for x in r}
        assert "result" in by_id[1] and by_id[2]["error"]["code"] == -32601, r
        # A batch of 2000 requests (> 64 KiB of JSON).
        batch = [{"jsonrpc": "2.0", "id": i, "method": "log_get_level"} for i in range(2000)]
        assert len(json.dumps(batch)) > 65536
        c.send(batch)
        r = c.read_response()
        assert sorted(x["id"] for x in r) == list(range(2000))


@test
def split_and_large_requests():
    with Daemon() as d, d.client() as c:
        req = json.dumps({"jsonrpc": "2.0", "id": "split", "method": "framework_get_config",
                          "params": {"name": "no\"such}{subsystem"}}).encode()
        for i in range(0, len(req), 3):
            c.send_raw(req[i:i + 3])
            if i % 15 == 0:
                time.sleep(0.002)
        r = c.read_response()
        assert r["id"] == "split" and r["error"]["code"] == -32602, r
        assert "no\"such}{subsystem" in r["error"]["message"], r
        # One request of 200 KiB, sent in one go and answered.
        big = "x" * (200 * 1024)
        r = c.request("log_set_flag", {"flag": big})
        assert r["error"]["code"] == -32602, r["error"]["code"]
        assert c.request("framework_wait_init")["result"] is True


@test
def twenty_concurrent_clients():
    with Daemon(cpumask="0x3") as d:
        errors = []

        def client(n):
            try:
                with d.client() as c:
                    for i in range(25):
                        r = c.request("log_get_level", req_id="%d-%d" % (n, i))
                        if r.get("id") != "%d-%d" % (n, i) or "result" not in r:
                            errors.append(r)
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
        assert not any(t.is_alive() for t in threads)


def subsystems(d):
    return [s["subsystem"] for s in d.rpc("framework_get_subsystems")]


@test
def save_config_restart_identical():
    with Daemon() as d:
        cfg_path = os.path.join(d.tmpdir, "saved.json")
        if "bdev_malloc_create" in d.rpc("rpc_get_methods"):
            d.rpc("bdev_malloc_create", name="Keep0", num_blocks=2048, block_size=512)
        saved = d.rpc("save_config", filename=cfg_path)
        assert [s["subsystem"] for s in saved["subsystems"]] == subsystems(d)
        for s in saved["subsystems"]:
            assert isinstance(s["config"], list), s
            assert d.rpc("framework_get_config", name=s["subsystem"]) == s["config"]
        with open(cfg_path) as f:
            assert json.load(f) == saved
        with Daemon(config=cfg_path) as d2:
            assert d2.rpc("save_config") == saved
        # --json is the same option.
        with Daemon(args=["--json", cfg_path]) as d3:
            assert d3.rpc("save_config") == saved
        # load_config over RPC replays into a running daemon.
        with Daemon() as d4:
            if saved["subsystems"] and any(s["config"] for s in saved["subsystems"]):
                assert d4.rpc("load_config", saved) is True
                assert d4.rpc("save_config") == saved
            expect_rpc_error(lambda: d4.rpc("load_config", {"subsystems": [
                {"subsystem": "no_such_subsystem", "config": []}]}), -32602,
                "unknown subsystem 'no_such_subsystem'")


def write_config(tmpdir, name, cfg):
    path = os.path.join(tmpdir, name)
    with open(path, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return path


@test
def bad_config_exits_nonzero_naming_the_problem():
    with Daemon() as probe:
        subs = subsystems(probe)
        methods = probe.rpc("rpc_get_methods")
        tmp = probe.tmpdir

        def check_fails(cfg, name, *needles):
            path = write_config(tmp, name, cfg)
            rc, out, err, pid = run_failing(["-c", path])
            assert rc == 1, (name, rc, err)
            assert not any(m in err for m in SANITIZER_MARKERS), err
            for n in needles:
                assert n in err, (name, n, err)
            assert "ready" not in out, out
            assert not dpdk_leftovers(pid), dpdk_leftovers(pid)

        check_fails({"subsystems": [{"subsystem": "no_such_subsystem", "config": []}]},
                    "unknown_sub.json", "unknown subsystem 'no_such_subsystem'")
        check_fails('{"subsystems": [\n  {"subsystem": ,}]}', "syntax.json", "line 2",
                    "syntax.json")
        if not subs:
            raise Skip("no subsystem registered in this build: method/field errors "
                       "not checked")
        sub = "bdev" if "bdev" in subs else subs[0]
        check_fails({"subsystems": [{"subsystem": sub, "config": [
            {"method": "log_set_level", "params": {"level": "NOTICE"}},
            {"method": "no_such_method_create", "params": {}}]}]},
            "unknown_method.json",
            "subsystem '%s', entry 2: method 'no_such_method_create': unknown method" % sub)
        check_fails({"subsystems": [{"subsystem": sub, "config": [
            {"method": "log_set_level", "params": {"level": "NOTICE"}},
            {"method": "log_set_level", "params": {"level": 3}}]}]},
            "bad_param.json",
            "entry 2: method 'log_set_level': invalid parameter 'level': expected a string")
        if "bdev_malloc_create" in methods:
            check_fails({"subsystems": [{"subsystem": "bdev", "config": [
                {"method": "bdev_malloc_create",
                 "params": {"name": "M0", "num_blocks": 16, "block_size": "big"}}]}]},
                "bad_bdev.json", "method 'bdev_malloc_create'", "'block_size'")


def load_schemas():
    """{method or alias: (area, method)} from schema/rpc/*.json."""
    import glob
    from ftgt_test import SRC_ROOT
    names = {}
    for path in sorted(glob.glob(os.path.join(SRC_ROOT, "schema", "rpc", "*.json"))):
        with open(path) as f:
            schema = json.load(f)
        for m in schema.get("methods", []):
            names[m["name"]] = (schema.get("area"), m)
            for a in m.get("aliases", []):
                names[a] = (schema.get("area"), m)
    return names


@test
def framework_methods_match_schema():
    schemas = load_schemas()
    if not schemas:
        raise Skip("no schema/rpc/*.json")
    with Daemon() as d:
        # (That every registered method is declared is test_ftgtctl's check.)
        methods = d.rpc("rpc_get_methods", include_aliases=True)
        framework = [n for n, (area, m) in schemas.items() if area == "framework"]
        missing = [n for n in framework if n not in methods]
        assert not missing, "in framework.json but not registered: %s" % missing
        # Every framework method decodes strictly: an unknown parameter is -32602 and
        # names it (and nothing runs: app_shutdown and spdk_kill_instance included).
        with d.client() as c:
            for n in sorted(set(m["name"] for a, m in schemas.values() if a == "framework")):
                r = c.request(n, {"__bogus__": 1})
                assert r.get("error", {}).get("code") == -32602, (n, r)
                assert "__bogus__" in r["error"]["message"], (n, r)


@test
def default_config_and_options():
    rc, out, err = run(["--help"])
    assert rc == 0 and "--rpc-socket" in out
    rc, out, err = run(["--version"])
    assert rc == 0 and out.startswith("ftgtd (ftgt) v")
    rc, out, err = run(["--bogus-option"])
    assert rc != 0
    rc, out, err = run(["-m", "0xzz", "-r", "/tmp/ftgt-test-never.sock"])
    assert rc != 0 and err, (rc, err)
    with Daemon(args=["--default", "-L", "rpc", "-e", "0xffff", "--no-huge"],
                netns=True) as d:
        assert "ftgtd: connect with:" in d.stdout, d.stdout
        assert d.rpc("log_get_flags")["rpc"] is True
        methods = d.rpc("rpc_get_methods")
        if "bdev_malloc_create" in methods:
            assert "bdev_malloc_create" in d.stdout
            cfg = d.rpc("save_config")
            assert "Malloc0" in json.dumps(cfg), cfg
        # Every front end this build has exports a RAM disk, with a connect line.
        if "nvmf_subsystem_add_listener" in methods:
            assert ("nvme connect -t tcp -a 127.0.0.1 -s 4420 -n nqn.2016-06.io.ftgt:malloc0"
                    in d.stdout), d.stdout
            subs = d.rpc("nvmf_get_subsystems")
            assert any(s["nqn"] == "nqn.2016-06.io.ftgt:malloc0" for s in subs), subs
        if "iscsi_create_target_node" in methods:
            assert "iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3260" in d.stdout
            nodes = d.rpc("iscsi_get_target_nodes")
            assert any(n["name"].endswith(":malloc1") for n in nodes), nodes


@test
def sigterm_under_rpc_load():
    with Daemon(cpumask="0x3", check_exit=False) as d:
        stop = threading.Event()

        def hammer():
            try:
                with d.client(timeout=5) as c:
                    while not stop.is_set():
                        c.send([{"jsonrpc": "2.0", "id": i, "method": m}
                                for i, m in enumerate(["framework_get_reactors",
                                                       "thread_get_stats",
                                                       "thread_get_pollers"])])
                        c.read_response()
            except Exception:
                pass  # the daemon goes away under us: expected

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        d.send_signal(signal.SIGTERM)
        rc = d.wait_exit(timeout=2.0)
        stop.set()
        for t in threads:
            t.join(10)
        assert rc == 0, "exit code %s:\n%s" % (rc, d.stderr)
        assert not any(m in d.stderr for m in SANITIZER_MARKERS), d.stderr
        assert not os.path.exists(d.sock)


@test
def client_gone_mid_request_and_half_close():
    with Daemon() as d:
        # Many clients send a request and vanish before reading the answer.
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.sock)
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"framework_get_reactors"}')
            s.close()
        # A client that shuts down its sending side still gets its answer.
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(d.sock)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"thread_get_stats"}')
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        assert json.loads(data)["id"] == 1
        assert d.rpc("framework_wait_init") is True
        assert d.stop() == 0, d.stderr


def _asan_env():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    supp = os.path.join(top, "test", "unit", "lsan.supp")
    if os.path.exists(supp):
        env["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % supp
    return env


@test
def asan_daemon_shuts_down_clean():
    """The sanitizer build's ftgtd, after a session that exercises the RPC server
    (batches, split and large requests, clients gone mid-request, a parse error,
    config save and replay): SIGTERM exits 0 within 2 s (slack for ASan: 10 s) and
    LeakSanitizer, ASan and UBSan report nothing."""
    path = asan_ftgtd_path()
    if path is None:
        raise Skip("no sanitizer build of ftgtd (a build-asan tree next to this one, or "
                   "$FTGT_ASAN_BUILD_DIR)")
    with Daemon(binary=path, cpumask="0x3", env=_asan_env(), check_exit=False,
                args=["--default"], netns=True) as d:
        assert len(d.rpc("framework_get_reactors")["reactors"]) == 2
        with d.client() as c:
            c.send([{"jsonrpc": "2.0", "id": i, "method": m} for i, m in
                    enumerate(["thread_get_stats", "thread_get_pollers", "no_such_method",
                               "framework_get_subsystems"])])
            assert len(c.read_response()) == 4
            big = {"jsonrpc": "2.0", "id": 7, "method": "rpc_get_methods",
                   "params": {"include_aliases": True}, "pad": "x" * (200 * 1024)}
            raw = json.dumps(big).encode()
            for i in range(0, len(raw), 1000):
                c.send_raw(raw[i:i + 1000])
            assert c.read_response()["id"] == 7
        for _ in range(5):  # gone with answers still to write
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.sock)
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"framework_get_reactors"}'
                      b'{"jsonrpc":"2.0","id":2,"method":"save_config"}')
            s.close()
        with d.client() as c:
            c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":}')
            assert c.read_response()["error"]["code"] == -32700
        saved = d.rpc("save_config")
        expect_rpc_error(lambda: d.rpc("load_config", {"subsystems": [
            {"subsystem": "no_such", "config": []}]}), -32602, "no_such")
        idle = d.client()  # connected at shutdown: must not leak
        start = time.monotonic()
        d.send_signal(signal.SIGTERM)
        rc = d.wait_exit(timeout=10.0)
        elapsed = time.monotonic() - start
        idle.close()
        err = d.stderr
        assert rc == 0, "exit code %s after %.2f s:\n%s" % (rc, elapsed, err)
        for m in SANITIZER_MARKERS:
            assert m not in err, err
        assert saved["subsystems"] is not None
    # And a start that fails on a bad config leaks nothing either.
    with Daemon(binary=path, env=_asan_env(), wait=False, check_exit=False,
                args=["-c", "/nonexistent/ftgt-config.json"]) as d:
        rc = d.wait_exit(timeout=20.0)
        assert rc == 1, (rc, d.stderr)
        for m in SANITIZER_MARKERS:
            assert m not in d.stderr, d.stderr


@test
def spdk_rpc_py_compat():
    """SPDK's own scripts/rpc.py (from an SPDK tree in $SPDK_DIR) drives ftgtd."""
    import subprocess
    spdk = os.environ.get("SPDK_DIR")
    if not spdk or not os.path.exists(os.path.join(spdk, "scripts", "rpc.py")):
        raise Skip("set SPDK_DIR to a copy of SPDK (scripts/rpc.py, python/spdk)")
    env = dict(os.environ, PYTHONPATH=os.path.join(spdk, "python"))
    with Daemon(cpumask="0x3") as d:
        def rpc_py(*args):
            p = subprocess.run([sys.executable, os.path.join(spdk, "scripts", "rpc.py"),
                                "-s", d.sock, "-t", "10"] + list(args),
                               capture_output=True, timeout=30, env=env,
                               stdin=subprocess.DEVNULL)
            assert p.returncode == 0, (args, p.stdout, p.stderr)
            return json.loads(p.stdout) if p.stdout.strip() else None
        methods = rpc_py("rpc_get_methods")
        assert methods == d.rpc("rpc_get_methods")
        reactors = rpc_py("framework_get_reactors")
        assert [r["lcore"] for r in reactors["reactors"]] == [0, 1], reactors
        assert rpc_py("save_config") == d.rpc("save_config")


SYSLOG_SCRIPT = r"""
set -e
# A private mount namespace: a fresh /dev with a few nodes and our own /dev/log.
mount -t tmpfs tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/urandom c 1 9
exec "$@"
"""


@test
def syslog_output():
    """--syslog: lines reach syslog (facility daemon, ident ftgtd, the right priority,
    no trailing newline) and still reach stderr."""
    import shutil
    import subprocess
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise Skip("needs root and unshare (a private /dev/log in a mount namespace)")
    listener = r"""
import json, os, socket, subprocess, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(0.2)
tmp = sys.argv[1]
err = open(os.path.join(tmp, "stderr"), "wb")
p = subprocess.Popen([sys.argv[2], "--syslog", "--log-level", "info", "-r",
                      os.path.join(tmp, "sock")], stdout=subprocess.DEVNULL, stderr=err)
lines, deadline, signalled = [], time.monotonic() + 20, False
while time.monotonic() < deadline:
    try:
        lines.append(s.recv(8192).decode(errors="replace"))
    except socket.timeout:
        pass
    if not signalled and any("listening on" in l for l in lines):
        p.terminate()
        signalled = True
    if p.poll() is not None and signalled:
        break
if p.poll() is None:
    p.kill()
rc = p.wait()
open(os.path.join(tmp, "syslog"), "w").write(json.dumps(lines))
sys.exit(rc)
"""
    from ftgt_test import ftgtd_path
    import tempfile
    tmp = tempfile.mkdtemp(prefix="ftgt-syslog-")
    try:
        script = os.path.join(tmp, "listen.py")
        with open(script, "w") as f:
            f.write(listener)
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c",
                            SYSLOG_SCRIPT, "bash", sys.executable, script, tmp,
                            ftgtd_path()], capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0 and b"unshare failed" in p.stderr:
            raise Skip("unshare -m not permitted here: %s" % p.stderr.decode().strip())
        assert p.returncode == 0, (p.returncode, p.stderr)
        with open(os.path.join(tmp, "syslog")) as f:
            msgs = json.load(f)
        with open(os.path.join(tmp, "stderr")) as f:
            err = f.read()
        # <30> = facility daemon (3) * 8 + info (6); <29>: notice (5).
        assert any(m.startswith("<30>") and "ftgtd[" in m and "rpc: listening on" in m
                   for m in msgs), msgs
        assert any(m.startswith("<29>") and "app: shutting down" in m for m in msgs), msgs
        assert not any(m.endswith("\n") for m in msgs), msgs
        assert "rpc: listening on" in err and "shutting down" in err, err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests()
