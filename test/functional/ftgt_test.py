# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for tests that drive a real ftgtd (Python standard library only).

    from ftgt_test import Daemon, RpcError, test, run_tests

    @test
    def two_reactors():
        with Daemon(cpumask="0x3") as d:
            assert len(d.rpc("framework_get_reactors")["reactors"]) == 2

    if __name__ == "__main__":
        run_tests()

The daemon binary is $FTGTD, else $FTGT_BUILD_DIR/app/ftgtd/ftgtd, else
build/app/ftgtd/ftgtd under the source tree. Every Daemon gets a private temporary
directory (its socket, its stdout/stderr files) and is always killed on exit.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SRC_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ftgtd_path():
    if os.environ.get("FTGTD"):
        return os.environ["FTGTD"]
    build = os.environ.get("FTGT_BUILD_DIR", os.path.join(SRC_ROOT, "build"))
    return os.path.join(build, "app", "ftgtd", "ftgtd")


def is_sanitized(path):
    """True when the program at path was built with AddressSanitizer."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def asan_ftgtd_path():
    """The ftgtd of the sanitizer (ASan+UBSan) build, or None: this build's own when it
    is one, else $FTGT_ASAN_BUILD_DIR, else the sibling tree '<build dir>-asan' (the
    test command builds 'build' and 'build-asan' side by side)."""
    if is_sanitized(ftgtd_path()):
        return ftgtd_path()
    build = os.environ.get("FTGT_BUILD_DIR", os.path.join(SRC_ROOT, "build"))
    dirs = [os.environ.get("FTGT_ASAN_BUILD_DIR"), os.path.normpath(build) + "-asan"]
    for d in dirs:
        if d:
            p = os.path.join(d, "app", "ftgtd", "ftgtd")
            if os.access(p, os.X_OK) and is_sanitized(p):
                return p
    return None


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class RpcError(Exception):
    """A JSON-RPC error response."""

    def __init__(self, error):
        self.code = error.get("code")
        self.message = error.get("message", "")
        self.error = error
        super().__init__("%s: %s" % (self.code, self.message))


class RpcClient:
    """A JSON-RPC 2.0 client on a UNIX socket. Responses are read as a stream of JSON
    values (no framing assumed)."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self._buf = b""
        self._next_id = 0
        self._decoder = json.JSONDecoder()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj))

    def read_response(self):
        """The next JSON value the server sent; raises EOFError if it closed first."""
        while True:
            try:
                text = self._buf.decode("utf-8").lstrip()
            except UnicodeDecodeError:
                text = ""  # a character split across reads: read on
            if text:
                try:
                    obj, end = self._decoder.raw_decode(text)
                    self._buf = text[end:].encode()
                    return obj
                except ValueError:
                    pass
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed by ftgtd")
            self._buf += chunk

    def is_closed_by_peer(self, timeout=5.0):
        """True when the server closed the connection (and sent nothing more)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def request(self, method, params=None, req_id=None):
        """Send one request and return the whole response object."""
        if req_id is None:
            self._next_id += 1
            req_id = self._next_id
        req = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            req["params"] = params
        self.send(req)
        return self.read_response()

    def call(self, method, params=None, **kwargs):
        """Call a method; returns its result or raises RpcError."""
        if kwargs:
            params = dict(params or {}, **kwargs)
        resp = self.request(method, params)
        if "error" in resp:
            raise RpcError(resp["error"])
        return resp["result"]


class Daemon:
    """ftgtd on a private socket. A context manager: started on enter (waits for the
    ready line), always killed on exit."""

    def __init__(self, args=(), cpumask="0x1", sock=None, config=None, wait=True,
                 start_timeout=30.0, env=None, check_exit=True, binary=None, netns=False):
        """args: extra ftgtd options. check_exit: on a normal exit from the with-block,
        fail unless the SIGTERM shutdown returned 0 and stderr has no sanitizer report.
        binary: another ftgtd (e.g. asan_ftgtd_path()). netns: run it in a network
        namespace of its own (loopback only; root), so fixed ports such as --default's
        4420 and 3260 never collide with another test or program."""
        if netns and (os.geteuid() != 0 or not shutil.which("unshare") or
                      not shutil.which("ip")):
            raise Skip("needs root, unshare and ip for a private network namespace")
        self.check_exit = check_exit
        self.tmpdir = tempfile.mkdtemp(prefix="ftgt-test-")
        self.sock = sock or os.path.join(self.tmpdir, "ftgt.sock")
        self.args = [binary or ftgtd_path(), "-m", cpumask, "-r", self.sock]
        if netns:
            # unshare and sh exec in place: the pid stays ftgtd's, signals reach it.
            self.args = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"'
                         ] + self.args
        if config is not None:
            self.args += ["-c", config]
        self.args += list(args)
        self.wait = wait
        self.start_timeout = start_timeout
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.returncode = None
        self.stdout_path = os.path.join(self.tmpdir, "stdout")
        self.stderr_path = os.path.join(self.tmpdir, "stderr")

    # -- life cycle --
    def start(self):
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         start_new_session=True)
        if self.wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if "ftgtd: ready" in self.stdout:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("ftgtd exited with %d before it was ready:\n%s"
                                   % (self.proc.returncode, self.stderr))
            time.sleep(0.02)
        raise RuntimeError("ftgtd not ready after %.0f s:\n%s" % (self.start_timeout,
                                                                  self.stderr))

    def wait_exit(self, timeout=10.0):
        """Wait for the process to end; returns its exit code (None on timeout)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def send_signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal, wait up to timeout, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if self.wait_exit(timeout) is None:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.kill()
            self.cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            was_running = self.proc is not None and self.proc.poll() is None
            rc = self.stop()
            if exc_type is None and self.check_exit:
                # A clean shutdown is part of every test: exit 0 on SIGTERM, and no
                # sanitizer report (ASan build) at any time.
                if was_running and rc != 0:
                    raise AssertionError("ftgtd exited with %s on SIGTERM:\n%s"
                                         % (rc, self.stderr))
                for marker in SANITIZER_MARKERS:
                    if marker in self.stderr:
                        raise AssertionError("sanitizer report from ftgtd:\n%s"
                                             % self.stderr)
        finally:
            self.kill()
            self.cleanup()

    def cleanup(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- output --
    def _read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def stdout(self):
        return self._read(self.stdout_path)

    @property
    def stderr(self):
        return self._read(self.stderr_path)

    # -- RPC --
    def client(self, timeout=30.0):
        return RpcClient(self.sock, timeout)

    def rpc(self, method, params=None, **kwargs):
        with self.client() as c:
            return c.call(method, params, **kwargs)


def run(args, timeout=30.0):
    """Run ftgtd to completion (e.g. a config that must fail): (rc, stdout, stderr)."""
    p = subprocess.run([ftgtd_path()] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Skip(Exception):
    """Raise from a test to skip it (printed as SKIP, counted as neither)."""


_TESTS = []


def test(fn):
    """Register a test function (runs in definition order)."""
    _TESTS.append(fn)
    return fn


def run_tests(argv=None):
    """Run registered tests (or those named on the command line); print PASS/FAIL/SKIP
    lines and 'N passed, N failed'; exit 0 when none failed (77 when nothing ran)."""
    argv = sys.argv[1:] if argv is None else argv
    if not os.access(ftgtd_path(), os.X_OK):
        print("SKIP: no ftgtd at %s (set FTGT_BUILD_DIR or FTGTD)" % ftgtd_path())
        print("0 passed, 0 failed")
        sys.exit(77)
    passed = failed = skipped = 0
    for fn in _TESTS:
        if argv and fn.__name__ not in argv:
            continue
        start = time.monotonic()
        try:
            fn()
        except Skip as e:
            print("SKIP %s: %s" % (fn.__name__, e), flush=True)
            skipped += 1
            continue
        except Exception:
            failed += 1
            print("FAIL %s (%.1f s)" % (fn.__name__, time.monotonic() - start))
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            continue
        passed += 1
        print("PASS %s (%.1f s)" % (fn.__name__, time.monotonic() - start), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        sys.exit(1)
    # Everything skipped (no root, no VM): tell meson it was a skip, not a pass.
    sys.exit(77 if passed == 0 and skipped > 0 else 0)
