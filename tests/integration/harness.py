"""Integration-test harness: real PostgreSQL clusters (scripts/pg-sandbox) and
real minitwitd processes on loopback, no mocks.

Every cluster and server a test starts is stopped again, also when the test
fails (try/finally plus an atexit hook for the whole run).  Waiting is done by
polling a condition with a deadline, never by fixed sleeps.
"""
import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SANDBOX = os.path.join(REPO, "scripts", "pg-sandbox")
MINITWITD = os.environ.get("MINITWITD", os.path.join(REPO, "bin", "minitwitd"))
SHARED = os.path.abspath(os.path.join(REPO, "..", "shared", "data", "minitwit"))
AUTH = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"



def sanitized(binary):
    """True when binary was built with ASan (its RSS then says nothing about
    leaks: freed memory waits in ASan's quarantine; LeakSanitizer reports
    leaks at exit instead, which the runner checks)."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


_cleanups = []
_servers = []
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "AddressSanitizer:DEADLYSIGNAL")


def _cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_cleanup_all)


def wait_until(cond, timeout=30.0, interval=0.02, what="condition"):
    """Poll cond() until it returns a truthy value; raise after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def log_message(j):
    """A JSON log line's message as its text form: msg, then detail: and
    hint: lines."""
    return j["msg"] + "".join(f"\n{k}: {j[k]}" for k in ("detail", "hint") if k in j)


def log_messages(stderr):
    """The messages of a program's log lines (JSON or text), one per line."""
    out = []
    for line in stderr.splitlines():
        try:
            out.append(log_message(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            out.append(line)
    return "\n".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster."""

    def __init__(self, name, bindir=None):
        """bindir: another installation's server binaries (PG_BINDIR)."""
        self.name = f"it-{os.getpid()}-{name}"
        self.env = dict(os.environ, PG_BINDIR=bindir) if bindir else None
        out = subprocess.run([SANDBOX, "start", self.name], check=True,
                             capture_output=True, text=True, env=self.env)
        self.dsn = out.stdout.strip().splitlines()[-1]
        _cleanups.append(self.stop)

    def stop(self):
        subprocess.run([SANDBOX, "stop", self.name], capture_output=True, env=self.env)

    def restart(self):
        subprocess.run([SANDBOX, "restart", self.name], check=True, capture_output=True, env=self.env)

    def psql(self, sql, db_check=True):
        """Run SQL, return rows as lists of strings.  Fields and rows are
        separated by ASCII unit/record separators, so text with tabs and
        newlines comes back intact."""
        return psql(self.dsn, sql, check=db_check)

    def scalar(self, sql):
        rows = self.psql(sql)
        return rows[0][0] if rows else None


def psql(dsn, sql, check=True):
    out = subprocess.run(["psql", dsn, "-XAtq", "-F", "\x1f", "-R", "\x1e", "-v", "ON_ERROR_STOP=1",
                          "-c", sql], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"psql failed: {out.stderr.strip()}")
    text = out.stdout[:-1] if out.stdout.endswith("\n") else out.stdout
    return [rec.split("\x1f") for rec in text.split("\x1e") if rec != ""]


class Server:
    """A minitwitd process on a free loopback port."""

    def __init__(self, dsn, extra_env=None, config=None, args=None, wait=True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update({"MINITWIT_DATABASE_DSN": dsn,
                    "MINITWIT_HTTP_LISTEN": f"127.0.0.1:{self.port}"})
        env.update(extra_env or {})
        self.log = tempfile.NamedTemporaryFile(prefix="minitwitd-", suffix=".log", delete=False)
        cmd = [MINITWITD] + (["--config", config] if config else []) + (args or [])
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=self.log)
        _cleanups.append(self.stop)
        _servers.append(self)
        if wait:
            wait_until(self._ready, timeout=60, what=f"minitwitd on port {self.port}")

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"minitwitd exited with {self.proc.returncode}:\n{self.logtext()}")
        try:
            return request(self.url, "GET", "/healthz", timeout=1)[0] == 200
        except OSError:
            return False

    def logtext(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def request(base, method, path, body=None, headers=None, timeout=5.0, raw_body=None):
    """One request on a fresh connection; returns (status, headers, body bytes)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"Connection": "close"}
    if body is not None:
        raw_body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    try:
        conn.request(method, path, body=raw_body, headers=h)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def api(base, method, path, body=None, auth=True, **kw):
    h = {"Authorization": AUTH} if auth else {}
    h.update(kw.pop("headers", {}))
    return request(base, method, path, body=body, headers=h, **kw)


def q(name):
    return urllib.parse.quote(name, safe="")


# ---- a tiny test runner: plain asserts, one line per test, CI-readable summary

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def run_tests(setup=None, teardown=None):
    only = os.environ.get("TEST_ONLY")
    ctx = setup() if setup else None
    passed = failed = 0
    try:
        for fn in _tests:
            if only and only not in fn.__name__:
                continue
            t0 = time.monotonic()
            try:
                fn(ctx) if setup else fn()
                passed += 1
                print(f"ok   {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {fn.__name__}", flush=True)
                traceback.print_exc()
                sys.stdout.flush()
    finally:
        if teardown:
            teardown(ctx)
        _cleanup_all()
    # a sanitizer finding in any server (also one only reported at exit, such
    # as a leak) fails the run
    for srv in _servers:
        text = srv.logtext()
        if any(m in text for m in SANITIZER_MARKERS):
            failed += 1
            print(f"FAIL sanitizer report in {srv.log.name}:\n{text[-4000:]}", flush=True)
        else:
            os.unlink(srv.log.name)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1
