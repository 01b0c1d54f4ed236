#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""ftgtctl: argument typing, output, errors and exit codes against a small fake
JSON-RPC server on a temporary UNIX socket; then, when $FTGT_BUILD_DIR has ftgtd,
checks against the real daemon (reactors, version, errors, and that the methods ftgtd
registers and schema/rpc/*.json agree). The doc check is a separate test:
`scripts/gen-rpc-doc.py --check`.

    FTGT_BUILD_DIR=build /usr/bin/python3 test/functional/test_ftgtctl.py [TEST...]

Ends with "N passed, N failed"; exit 0 only when none failed. Standard library only.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("FTGT_BUILD_DIR", os.path.join(SRC_ROOT, "build"))
FTGTCTL = os.environ.get("FTGTCTL", os.path.join(BUILD, "app", "ftgtctl", "ftgtctl"))
FTGTD = os.environ.get("FTGTD", os.path.join(BUILD, "app", "ftgtd", "ftgtd"))


class Skip(Exception):
    pass


def ctl(*args, timeout=20, stdin=None):
    """Run ftgtctl; returns (rc, stdout, stderr)."""
    p = subprocess.run([FTGTCTL] + [str(a) for a in args], capture_output=True,
                       timeout=timeout, input=stdin)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ---- a fake JSON-RPC server ------------------------------------------------------------

REACTORS = {
    "tick_rate": 1000, "pid": 1234,
    "reactors": [
        {"lcore": 0, "busy": 250, "idle": 750, "irq": 0, "sys": 0, "in_interrupt": False,
         "lw_threads": [{"name": "app_thread", "id": 1, "cpumask": "1", "elapsed": 1000}]},
        {"lcore": 1, "busy": 1000, "idle": 0, "irq": 0, "sys": 0, "in_interrupt": False,
         "lw_threads": [{"name": "nvmf_tgt_poll_group_0", "id": 2, "cpumask": "2",
                         "elapsed": 1000},
                        {"name": "iscsi_poll_group_1", "id": 3, "cpumask": "2",
                         "elapsed": 1000}]},
    ]}

BDEVS = [
    {"name": "Malloc0", "product_name": "Malloc disk", "block_size": 512,
     "num_blocks": 131072, "claimed": False},
    {"name": "Null7", "product_name": "Null disk", "block_size": 4096,
     "num_blocks": 256, "claimed": True},
]


class FakeServer:
    """Answers by method name; records every request it parsed."""

    def __init__(self):
        self.tmpdir = tempfile.mkdtemp(prefix="ftgtctl-test-")
        self.path = os.path.join(self.tmpdir, "fake.sock")
        self.requests = []
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(self.path)
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.stop_flag = False
        self.threads = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_flag = True
        self.thread.join(5)
        self.lsock.close()
        for t in self.threads:
            t.join(5)
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def last(self):
        return self.requests[-1] if self.requests else None

    def _accept_loop(self):
        while not self.stop_flag:
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn):
        conn.settimeout(10)
        buf = b""
        dec = json.JSONDecoder()
        try:
            while True:
                try:
                    req, _ = dec.raw_decode(buf.decode())
                    break
                except ValueError:
                    pass
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            self.requests.append(req)
            self._answer(conn, req)
        except OSError:
            pass
        finally:
            conn.close()

    def _answer(self, conn, req):
        method = req.get("method")
        params = req.get("params")

        def result(res):
            conn.sendall(json.dumps({"jsonrpc": "2.0", "id": req.get("id"),
                                     "result": res}).encode())

        def error(code, msg):
            conn.sendall(json.dumps({"jsonrpc": "2.0", "id": req.get("id"),
                                     "error": {"code": code, "message": msg}}).encode())

        if method == "echo":
            result(params)
        elif method == "fail":
            error(-32602, "invalid parameter 'x': expected a string")
        elif method == "split":
            text = json.dumps({"jsonrpc": "2.0", "id": req.get("id"),
                               "result": {"answer": 42, "text": "x" * 100000}})
            for i in range(0, len(text), 7001):
                conn.sendall(text[i:i + 7001].encode())
                time.sleep(0.01)
        elif method == "split_tiny":
            text = json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": 12345})
            for ch in text:
                conn.sendall(ch.encode())
                time.sleep(0.002)
        elif method == "never":
            for _ in range(300):
                if self.stop_flag:
                    break
                time.sleep(0.01)
        elif method == "close":
            return
        elif method == "cut":
            conn.sendall(b'{"jsonrpc": "2.0", "id": 1, "result": {"a": ')
        elif method == "bdev_get_iostat":
            result({"tick_rate": 1000, "ticks": 5, "bdevs": [
                {"name": "Malloc0", "bytes_read": 1048576, "num_read_ops": 256,
                 "bytes_written": 0, "num_write_ops": 0, "bytes_unmapped": 0,
                 "num_unmap_ops": 0}]})
        elif method == "thread_get_pollers":
            result({"tick_rate": 1000, "threads": [
                {"name": "reactor_0", "id": 1, "active_pollers": [
                    {"name": "nvmf_poll", "id": 3, "state": "running", "run_count": 9,
                     "busy_count": 4}],
                 "timed_pollers": [
                    {"name": "rpc_server", "id": 1, "state": "waiting", "run_count": 5,
                     "busy_count": 1, "period_ticks": 1000}],
                 "paused_pollers": []}]})
        elif method == "log_get_flags":
            result({"bdev": True, "rpc": False})
        elif method == "garbage":
            conn.sendall(b"this is not json")
        elif method == "uniform":
            result([{"name": "a", "size": 1}, {"name": "bb", "size": 22}])
        elif method == "scalar":
            result("hello")
        elif method == "framework_get_reactors":
            result(REACTORS)
        elif method == "bdev_get_bdevs":
            if params and "name" in params:
                b = [x for x in BDEVS if x["name"] == params["name"]]
                if not b:
                    error(-19, "No such device")
                else:
                    result(b)
            else:
                result(BDEVS)
        elif method in ("bdev_malloc_create",):
            result(params.get("name"))
        elif method in ("bdev_malloc_delete", "bdev_null_delete", "log_set_level",
                        "load_config", "log_set_flag"):
            result(True)
        elif method == "save_config":
            result({"subsystems": [{"subsystem": "bdev", "config": []}]})
        elif method == "spdk_kill_instance":
            result(True)
        elif method == "ftgt_get_version":
            result({"version": "ftgt v9.9.9", "fields": {"major": 9}})
        elif method == "rpc_get_methods":
            result(["ftgt_get_version", "rpc_get_methods", "zz_unknown"])
        else:
            error(-32601, "Method not found")


# ---- tests with the fake server ----------------------------------------------------------

FAKE = None
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def typed_params_from_schema():
    # bdev_malloc_create is declared in bdev.json when that exists; the guessing path
    # gives the same types for these values, so this holds either way.
    rc, out, err = ctl("-s", FAKE.path, "bdev_malloc_create", "--name", "Malloc9",
                       "--num-blocks", "1024", "--block-size", "512")
    expect(rc == 0, f"rc {rc}: {err}")
    p = FAKE.last()["params"]
    expect(p == {"name": "Malloc9", "num_blocks": 1024, "block_size": 512}, f"params {p}")
    expect(isinstance(p["block_size"], int), "block_size must be an integer")
    # Declared string: stays a string even when it looks like a number.
    rc, out, err = ctl("-s", FAKE.path, "log_set_level", "--level", "123")
    expect(rc == 0, f"rc {rc}: {err}")
    expect(FAKE.last()["params"] == {"level": "123"}, f"params {FAKE.last()}")
    # Declared bool: alone means true; "false" parses.
    ctl("-s", FAKE.path, "rpc_get_methods", "--include-aliases")
    expect(FAKE.last()["params"] == {"include_aliases": True}, f"{FAKE.last()}")
    ctl("-s", FAKE.path, "rpc_get_methods", "--include_aliases", "false", "--current", "true")
    expect(FAKE.last()["params"] == {"include_aliases": False, "current": True},
           f"{FAKE.last()}")


@test
def typed_params_errors_are_usage_errors():
    rc, out, err = ctl("-s", FAKE.path, "rpc_get_methods", "--current", "maybe")
    expect(rc == 2, f"bad bool: rc {rc}")
    rc, out, err = ctl("-s", FAKE.path, "save_config", "--indent", "x")
    expect(rc == 2 and "--indent" in err, f"bad int: rc {rc} {err}")
    rc, out, err = ctl("-s", FAKE.path, "log_set_level", "--no-such-param", "1")
    expect(rc == 2 and "unknown parameter" in err, f"unknown param: rc {rc} {err}")
    rc, out, err = ctl("-s", FAKE.path, "log_set_level")
    expect(rc == 2 and "--level" in err, f"missing required: rc {rc} {err}")
    rc, out, err = ctl("-s", FAKE.path, "--bogus-option", "version")
    expect(rc == 2, f"unknown global option: rc {rc}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "create", "malloc", "M", "1K", "4096")
    expect(rc == 2 and "multiple" in err, f"size not a multiple: rc {rc} {err}")
    expect(FAKE.requests == [], f"usage errors send nothing: {FAKE.requests}")


@test
def guessed_params_for_unknown_methods():
    rc, out, err = ctl("-s", FAKE.path, "--json", "echo", "--an-int", "512", "--neg", "-3",
                       "--yes", "true", "--str", "abc", "--obj", '{"a": [1]}', "--arr",
                       "[1,2]", "--flt", "1.5", "--hexish", "0x10", "--alone")
    expect(rc == 0, f"rc {rc}: {err}")
    p = FAKE.last()["params"]
    want = {"an_int": 512, "neg": -3, "yes": True, "str": "abc", "obj": {"a": [1]},
            "arr": [1, 2], "flt": 1.5, "hexish": 16, "alone": True}
    expect(p == want, f"params {p}")
    expect(json.loads(out) == want, f"--json output {out!r}")


@test
def params_json():
    rc, out, err = ctl("-s", FAKE.path, "echo", "--params-json", '{"a": 1, "b": "x"}',
                       "--b", "y")
    expect(rc == 0, f"rc {rc}: {err}")
    expect(FAKE.last()["params"] == {"a": 1, "b": "y"}, f"{FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "echo", "--params-json", "[1]")
    expect(rc == 2, f"--params-json with an array: rc {rc}")
    # No params at all: the request carries none.
    ctl("-s", FAKE.path, "echo")
    expect("params" not in FAKE.last(), f"{FAKE.last()}")


@test
def string_array_repeats():
    # A declared string_array param: find one in the schema, else skip.
    # The method's other required params get placeholder values, so only the repeated
    # option is under test.
    placeholder = {"bool": True, "int32": 1, "uint32": 1, "uint64": 1, "string": "x",
                   "string_array": ["x"], "object": {}, "array": []}
    schema = {}
    for path in sorted(glob.glob(os.path.join(SRC_ROOT, "schema", "rpc", "*.json"))):
        with open(path) as f:
            for m in json.load(f)["methods"]:
                for p in m["params"]:
                    if p["type"] == "string_array" and not schema:
                        others = {q["name"]: placeholder.get(q["type"], "x")
                                  for q in m["params"]
                                  if q.get("required") and q["name"] != p["name"]}
                        schema = {"method": m["name"], "param": p["name"], "others": others}
    if not schema:
        raise Skip("no string_array param in the schema")
    opt = "--" + schema["param"].replace("_", "-")
    others = json.dumps(schema["others"])
    rc, out, err = ctl("-s", FAKE.path, "--json", schema["method"], "--params-json", others,
                       opt, "a", opt, "b")
    expect(FAKE.last() is not None, f"nothing sent: rc {rc}: {err}")
    expect(FAKE.last()["params"].get(schema["param"]) == ["a", "b"], f"{FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, schema["method"], "--params-json", others, opt,
                       '["c","d"]')
    expect(FAKE.last()["params"].get(schema["param"]) == ["c", "d"], f"{FAKE.last()}")


@test
def error_response_exit_1():
    rc, out, err = ctl("-s", FAKE.path, "fail")
    expect(rc == 1, f"rc {rc}")
    expect(err.strip() == "ftgtctl: fail: invalid parameter 'x': expected a string "
           "(code -32602)", f"stderr {err!r}")
    expect(out == "", f"stdout {out!r}")
    rc, out, err = ctl("-s", FAKE.path, "no_such_method")
    expect(rc == 1 and "(code -32601)" in err, f"rc {rc} {err!r}")


@test
def broken_answers_exit_1():
    rc, out, err = ctl("-s", FAKE.path, "close")
    expect(rc == 1 and "closed the connection" in err, f"close: rc {rc} {err!r}")
    rc, out, err = ctl("-s", FAKE.path, "cut")
    expect(rc == 1 and "before a complete answer" in err, f"cut: rc {rc} {err!r}")
    rc, out, err = ctl("-s", FAKE.path, "garbage")
    expect(rc == 1 and "not valid JSON" in err, f"garbage: rc {rc} {err!r}")


@test
def response_split_across_writes():
    rc, out, err = ctl("-s", FAKE.path, "--json", "split")
    expect(rc == 0, f"rc {rc}: {err}")
    res = json.loads(out)
    expect(res["answer"] == 42 and len(res["text"]) == 100000, "split result")
    rc, out, err = ctl("-s", FAKE.path, "split_tiny")
    expect(rc == 0 and out == "12345\n", f"byte by byte: rc {rc} {out!r} {err!r}")


@test
def timeout_exit_4():
    start = time.monotonic()
    rc, out, err = ctl("-s", FAKE.path, "-t", "0.5", "never")
    took = time.monotonic() - start
    expect(rc == 4, f"rc {rc} {err!r}")
    expect("never" in err and "0.5 s" in err, f"message {err!r}")
    expect(took < 2.5, f"took {took:.1f} s")


@test
def timeout_when_not_accepting():
    # A daemon stuck before accept(): its backlog fills and connect() would block.
    path = os.path.join(FAKE.tmpdir, "stuck.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fillers = []
    try:
        lsock.bind(path)
        lsock.listen(0)
        for _ in range(8):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            fillers.append(c)
            try:
                c.connect(path)
            except BlockingIOError:
                break
        start = time.monotonic()
        rc, out, err = ctl("-s", path, "-t", "0.5", "version", timeout=10)
        expect(rc == 4, f"rc {rc} {err!r}")
        expect(time.monotonic() - start < 5, "bounded by -t")
    finally:
        for c in fillers:
            c.close()
        lsock.close()


@test
def no_daemon_exit_3():
    path = os.path.join(FAKE.tmpdir, "absent.sock")
    rc, out, err = ctl("-s", path, "version")
    expect(rc == 3, f"rc {rc}")
    expect(err.strip() == f"ftgtctl: cannot connect to {path}: No such file or directory "
           "(is ftgtd running? use -s PATH)", f"stderr {err!r}")


@test
def human_output():
    rc, out, err = ctl("-s", FAKE.path, "uniform")
    expect(rc == 0, f"rc {rc}")
    lines = out.splitlines()
    expect(lines[0].split() == ["name", "size"], f"header {lines}")
    expect(lines[1].split() == ["a", "1"] and lines[2].split() == ["bb", "22"], f"{lines}")
    rc, out, err = ctl("-s", FAKE.path, "scalar")
    expect(out == "hello\n", f"scalar {out!r}")
    rc, out, err = ctl("-s", FAKE.path, "echo", "--k", "v", "--n", "2")
    expect(out == "k: v\nn: 2\n", f"object {out!r}")
    rc, out, err = ctl("-s", FAKE.path, "echo", "--params-json", '{"list": [{"a": 1}]}',
                       "--json")
    expect(json.loads(out) == {"list": [{"a": 1}]}, f"--json after the method {out!r}")


@test
def friendly_reactors():
    rc, out, err = ctl("-s", FAKE.path, "reactors")
    expect(rc == 0, f"rc {rc}: {err}")
    lines = out.splitlines()
    expect(lines[0].split() == ["lcore", "busy", "idle", "threads"], f"{lines}")
    expect(lines[1].split() == ["0", "25.0%", "75.0%", "app_thread"], f"{lines}")
    expect(lines[2].split() == ["1", "100.0%", "0.0%",
                                "nvmf_tgt_poll_group_0,iscsi_poll_group_1"], f"{lines}")
    expect(FAKE.last()["method"] == "framework_get_reactors", "method")
    rc, out, err = ctl("-s", FAKE.path, "reactors", "--json")
    expect(json.loads(out) == REACTORS, "reactors --json is the raw result")


@test
def friendly_bdev():
    rc, out, err = ctl("-s", FAKE.path, "bdev", "list")
    expect(rc == 0, f"rc {rc}: {err}")
    lines = out.splitlines()
    expect(lines[0].split() == ["name", "product", "block_size", "blocks", "size", "claimed"],
           f"{lines}")
    expect(lines[1].split() == ["Malloc0", "Malloc", "disk", "512", "131072", "64.0", "MiB",
                                "false"], f"{lines}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "create", "malloc", "M1", "64", "4096")
    expect(rc == 0 and out == "M1\n", f"create: rc {rc} {out!r} {err!r}")
    expect(FAKE.last()["method"] == "bdev_malloc_create" and FAKE.last()["params"] ==
           {"name": "M1", "num_blocks": 16384, "block_size": 4096}, f"{FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "create", "malloc", "M2", "1G")
    expect(FAKE.last()["params"] == {"name": "M2", "num_blocks": 2097152, "block_size": 512},
           f"{FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "delete", "Null7")
    expect(rc == 0 and out == "", f"delete: rc {rc} {out!r} {err!r}")
    expect(FAKE.last()["method"] == "bdev_null_delete" and
           FAKE.last()["params"] == {"name": "Null7"}, f"{FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "delete", "Nope")
    expect(rc == 1 and "No such device" in err, f"delete absent: rc {rc} {err!r}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "frobnicate")
    expect(rc == 2, f"unknown bdev command: rc {rc}")
    rc, out, err = ctl("-s", FAKE.path, "bdev", "delete")
    expect(rc == 2 and "usage" in err, f"missing NAME: rc {rc} {err!r}")


@test
def friendly_misc():
    rc, out, err = ctl("-s", FAKE.path, "version")
    expect(rc == 0 and out == "ftgt v9.9.9\n", f"version {rc} {out!r}")
    rc, out, err = ctl("-s", FAKE.path, "shutdown")
    expect(rc == 0 and FAKE.last()["params"] == {"sig_name": "SIGTERM"} and
           FAKE.last()["method"] == "spdk_kill_instance", f"shutdown {FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "log", "level", "debug")
    expect(rc == 0 and FAKE.last() == {"jsonrpc": "2.0", "method": "log_set_level", "id": 1,
                                       "params": {"level": "debug"}}, f"{FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "methods")
    expect(rc == 0 and "zz_unknown" in out and "not in ftgtctl's schema" in out, out)
    path = os.path.join(FAKE.tmpdir, "cfg.json")
    rc, out, err = ctl("-s", FAKE.path, "config", "save", path)
    expect(rc == 0 and out == "", f"config save {rc} {err!r}")
    with open(path) as f:
        cfg = json.load(f)
    expect(cfg == {"subsystems": [{"subsystem": "bdev", "config": []}]}, f"{cfg}")
    rc, out, err = ctl("-s", FAKE.path, "config", "load", path)
    expect(rc == 0 and FAKE.last()["method"] == "load_config" and
           FAKE.last()["params"] == cfg, f"config load {rc} {err!r} {FAKE.last()}")
    rc, out, err = ctl("-s", FAKE.path, "config", "load", "-", stdin=b'{"subsystems": []}')
    expect(rc == 0 and FAKE.last()["params"] == {"subsystems": []}, f"stdin {rc} {err!r}")
    rc, out, err = ctl("-s", FAKE.path, "config", "load", "-", stdin=b'[1]')
    expect(rc == 1 and "expected a JSON object" in err, f"not an object {rc} {err!r}")


@test
def friendly_tables():
    rc, out, err = ctl("-s", FAKE.path, "bdev", "stats", "Malloc0")
    expect(rc == 0 and FAKE.last()["params"] == {"name": "Malloc0"}, f"{rc} {err!r}")
    lines = out.splitlines()
    expect(lines[0].split()[:3] == ["name", "reads", "read"], f"{lines}")
    expect(lines[1].split()[:4] == ["Malloc0", "256", "1.0", "MiB"], f"{lines}")
    rc, out, err = ctl("-s", FAKE.path, "pollers")
    lines = out.splitlines()
    expect(rc == 0 and len(lines) == 3, f"pollers {rc} {out!r} {err!r}")
    expect(lines[1].split()[:4] == ["reactor_0", "nvmf_poll", "active", "running"], f"{lines}")
    expect(lines[2].split() == ["reactor_0", "rpc_server", "timed", "waiting", "5", "1",
                                "1000"], f"{lines}")
    rc, out, err = ctl("-s", FAKE.path, "log", "flags")
    expect(rc == 0 and [l.split() for l in out.splitlines()] ==
           [["flag", "enabled"], ["bdev", "yes"], ["rpc", "no"]], f"log flags {out!r}")


@test
def embedded_schema_matches_source():
    rc, out, err = ctl("methods", "--all")
    expect(rc == 0, f"rc {rc}")
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    rc, js, err = ctl("--json", "methods", "--all")
    embedded = {a["area"]: {m["name"]: m.get("aliases", []) for m in a["methods"]}
                for a in json.loads(js)}
    expect(embedded == schema_methods(), "the embedded schema is schema/rpc/*.json")
    for area, ms in schema_methods().items():
        expect(f"{area}:" in out.splitlines(), f"area {area} missing from methods --all")
        missing = sorted(set(ms) - listed)
        expect(not missing, f"not embedded (rebuild ftgtctl?): {missing}")
        for name, aliases in ms.items():
            for a in aliases:
                rc, out2, err = ctl(a, "--help")
                expect(rc == 0 and f"usage: ftgtctl {name}" in out2, f"alias {a}: {out2!r}")


@test
def help_and_completion():
    rc, out, err = ctl("--help")
    expect(rc == 0 and "bdev list" in out and "methods --all" in out, "ftgtctl --help")
    rc, out, err = ctl("log_set_level", "--help")
    expect(rc == 0 and "--level string" in out and "required" in out, out)
    rc, out, err = ctl("bdev", "--help")
    expect(rc == 0 and "bdev delete NAME" in out, out)
    rc, out, err = ctl("methods", "--all")
    expect(rc == 0 and "rpc_get_methods" in out and "log_get_flags" in out, out)
    rc, out, err = ctl()
    expect(rc == 2, f"no arguments: rc {rc}")
    rc, out, err = ctl("__complete", "bd")
    expect("bdev" in out.split(), out)
    rc, out, err = ctl("__complete", "log_set_level", "--")
    expect(out.split() == ["--level", "--params-json", "--help"], out)
    rc, out, err = ctl("__complete", "log_set_level", "--level", "")
    expect("DEBUG" in out.split(), out)
    rc, out, err = ctl("__complete", "-s", "/x", "bdev", "")
    expect({"list", "stats", "create", "delete"} <= set(out.split()), out)
    # Names of the daemon's objects come from the daemon.
    rc, out, err = ctl("__complete", "-s", FAKE.path, "bdev", "delete", "N")
    expect(out.split() == ["Null7"], f"bdev names {out!r}")
    rc, out, err = ctl("__complete", "-s", "/nonexistent", "bdev", "delete", "")
    expect(rc == 0 and out == "", f"no daemon: no names {out!r}")
    # The bash completion script loads and completes through __complete.
    script = os.path.join(SRC_ROOT, "scripts", "ftgtctl-completion.bash")
    if shutil.which("bash") and os.path.exists(script):
        cmd = (f"source {script}; COMP_WORDS=({FTGTCTL} bdev l); COMP_CWORD=2; "
               "_ftgtctl; echo ${COMPREPLY[@]}")
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=20)
        expect(p.stdout.decode().split() == ["list"], f"bash completion {p.stdout!r} "
               f"{p.stderr!r}")


# ---- tests with the real daemon ---------------------------------------------------------


def schema_methods():
    """{area: {method: [aliases]}}"""
    out = {}
    for path in sorted(glob.glob(os.path.join(SRC_ROOT, "schema", "rpc", "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        out[doc["area"]] = {m["name"]: m.get("aliases", []) for m in doc["methods"]}
    return out


class RealDaemon:
    """ftgtd on a private socket; always killed."""

    def __init__(self, cpumask="0x1"):
        self.tmpdir = tempfile.mkdtemp(prefix="ftgtctl-real-")
        self.sock = os.path.join(self.tmpdir, "ftgt.sock")
        self.out = open(os.path.join(self.tmpdir, "out"), "wb")
        self.proc = subprocess.Popen([FTGTD, "-m", cpumask, "-r", self.sock],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ftgtd exited with {self.proc.returncode}: {self.log()}")
            if os.path.exists(self.sock) and ctl("-s", self.sock, "-t", "2",
                                                 "framework_wait_init")[0] == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"ftgtd not ready after 30 s: {self.log()}")

    def log(self):
        with open(os.path.join(self.tmpdir, "out"), "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def need_ftgtd():
    if not os.access(FTGTD, os.X_OK):
        raise Skip(f"no ftgtd at {FTGTD}")


@test
def real_reactors_and_version():
    need_ftgtd()
    with RealDaemon("0x3") as d:
        rc, out, err = ctl("-s", d.sock, "reactors")
        expect(rc == 0, f"rc {rc}: {err}")
        rows = out.splitlines()
        expect(rows[0].split()[:3] == ["lcore", "busy", "idle"], f"{out}")
        expect(len(rows) == 3 and rows[1].split()[0] == "0" and rows[2].split()[0] == "1",
               f"two reactors: {out}")
        rc, out, err = ctl("-s", d.sock, "version")
        expect(rc == 0 and out.startswith("ftgt"), f"version {rc} {out!r} {err!r}")
        rc, out, err = ctl("-s", d.sock, "no_such_method_xyz")
        expect(rc == 1 and "(code -32601)" in err, f"unknown method {rc} {err!r}")
        rc, out, err = ctl("-s", d.sock, "log_set_level", "--level", "INFO")
        expect(rc == 0, f"log_set_level {rc} {err!r}")
        rc, out, err = ctl("-s", d.sock, "log", "level")
        expect(rc == 0 and out == "INFO\n", f"log level {rc} {out!r} {err!r}")
        rc, out, err = ctl("-s", d.sock, "threads")
        expect(rc == 0 and out.split()[:3] == ["name", "id", "cpumask"] and
               len(out.splitlines()) >= 2, f"threads {rc} {out!r} {err!r}")
        rc, out, err = ctl("-s", d.sock, "--json", "config", "save")
        expect(rc == 0 and "subsystems" in json.loads(out), f"config save {rc} {err!r}")
    rc, out, err = ctl("-s", d.sock, "version")
    expect(rc == 3 and "cannot connect" in err, f"daemon gone: rc {rc} {err!r}")


@test
def real_front_end_forms():
    need_ftgtd()
    with RealDaemon() as d:
        rc, out, err = ctl("-s", d.sock, "bdev", "create", "malloc", "M9", "8")
        expect(rc == 0, f"bdev create {rc} {err!r}")
        rc, out, err = ctl("-s", d.sock, "nvmf_create_subsystem", "--nqn",
                           "nqn.2016-06.io.ftgt:ctl", "--allow-any-host")
        expect(rc == 0, f"nvmf_create_subsystem {rc} {err!r}")
        rc, out, err = ctl("-s", d.sock, "nvmf_subsystem_add_ns", "--nqn",
                           "nqn.2016-06.io.ftgt:ctl", "--namespace", '{"bdev_name": "M9"}')
        expect(rc == 0, f"nvmf_subsystem_add_ns {rc} {err!r}")
        rc, out, err = ctl("-s", d.sock, "nvmf", "list")
        rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        expect(rc == 0 and out.split()[:2] == ["nqn", "type"], f"nvmf list {rc} {out!r}")
        expect("nqn.2016-06.io.ftgt:ctl" in rows and "M9" in rows["nqn.2016-06.io.ftgt:ctl"],
               f"subsystem and its namespace listed: {out!r}")
        rc, out, err = ctl("-s", d.sock, "iscsi", "list")
        expect(rc == 0 and "no iSCSI target nodes" in out, f"iscsi list {rc} {out!r} {err!r}")


@test
def real_methods_match_schema():
    need_ftgtd()
    schema = schema_methods()
    declared = {m for area in schema.values() for m in area}
    aliases = {a for area in schema.values() for al in area.values() for a in al}
    with RealDaemon() as d:
        rc, out, err = ctl("-s", d.sock, "--json", "rpc_get_methods")
        expect(rc == 0, f"rc {rc}: {err}")
        methods = set(json.loads(out))
        rc, out, err = ctl("-s", d.sock, "--json", "rpc_get_methods", "--include-aliases")
        with_aliases = set(json.loads(out))
    missing = sorted(methods - declared)
    expect(not missing, f"registered by ftgtd but not in schema/rpc/*.json: {missing}")
    undeclared_aliases = sorted(with_aliases - methods - aliases - declared)
    expect(not undeclared_aliases,
           f"aliases registered by ftgtd but not declared in the schema: {undeclared_aliases}")
    # An area counts as built when ftgtd registers any of its methods.
    for area, ms in schema.items():
        if area != "framework" and not (set(ms) & methods):
            continue
        absent = sorted(set(ms) - methods)
        expect(not absent, f"schema/rpc/{area}.json declares methods ftgtd does not "
               f"register: {absent}")
        absent = sorted({a for al in ms.values() for a in al} - with_aliases)
        expect(not absent, f"schema/rpc/{area}.json declares aliases ftgtd does not "
               f"register: {absent}")


def main(argv):
    global FAKE
    if not os.access(FTGTCTL, os.X_OK):
        print(f"SKIP: no ftgtctl at {FTGTCTL} (set FTGT_BUILD_DIR)")
        print("0 passed, 0 failed")
        return 77
    passed = failed = 0
    for fn in TESTS:
        if argv and fn.__name__ not in argv:
            continue
        FAKE = FakeServer()
        start = time.monotonic()
        try:
            fn()
        except Skip as e:
            print(f"SKIP {fn.__name__}: {e}", flush=True)
            continue
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__} ({time.monotonic() - start:.1f} s)")
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            continue
        finally:
            FAKE.close()
        passed += 1
        print(f"PASS {fn.__name__} ({time.monotonic() - start:.1f} s)", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
