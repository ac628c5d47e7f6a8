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
import pwd
import re
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
sys.path.insert(0, os.path.join(REPO, "scripts"))
import scenario  # noqa: E402,F401  (scripts/scenario.py: the scenario the tests replay)
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


class PgBouncer:
    """A PgBouncer (Debian's pgbouncer) on a free loopback port, transaction
    pooling, its [databases] in an %include'd file (self.databases_file)
    that starts as `dbs` ({name: connection string}) between comments.  The
    admin console is self.admin_dsn (user pgbouncer, no password: auth_type
    trust on loopback).  When root, it runs as the `postgres` user, as
    scripts/pg-sandbox runs PostgreSQL (PgBouncer refuses to run as root)."""

    def __init__(self, dbs, pool_mode="transaction"):
        self.dir = tempfile.mkdtemp(prefix="pgbouncer-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.databases_file = os.path.join(self.dir, "databases.ini")
        with open(self.databases_file, "w") as f:
            f.write("; the application's databases (rewritten by migrate cutover)\n")
            for name, conn in dbs.items():
                f.write(f"{name} = {conn}\n")
            f.write("# end\n")
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write('"pgbouncer" ""\n"minitwit" ""\n')
        self.ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(self.ini, "w") as f:
            f.write(f"[databases]\n%include {self.databases_file}\n\n[pgbouncer]\n"
                    f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
                    f"auth_type = trust\nauth_file = {self.dir}/userlist.txt\nadmin_users = pgbouncer\n"
                    f"pool_mode = {pool_mode}\ndefault_pool_size = 20\nmax_client_conn = 500\n"
                    "server_login_retry = 1\nignore_startup_parameters = extra_float_digits\n")
        for n in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, n), 0o644)
        self.admin_dsn = f"host=127.0.0.1 port={self.port} dbname=pgbouncer user=pgbouncer"
        self.log = open(os.path.join(self.dir, "pgbouncer.log"), "w")
        kw = {}
        if os.getuid() == 0:
            # the user scripts/pg-sandbox runs PostgreSQL as
            user = "postgres"
            try:
                pwd.getpwnam(user)
            except KeyError:
                user = "pgsandbox"
            kw = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
        self.proc = subprocess.Popen(["pgbouncer", self.ini], stdout=self.log, stderr=self.log, cwd="/",
                                     **kw)
        _cleanups.append(self.stop)
        wait_until(self._ready, timeout=30, what=f"pgbouncer on port {self.port}")

    def dsn(self, db, user="minitwit"):
        return f"host=127.0.0.1 port={self.port} dbname={db} user={user}"

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"pgbouncer exited with {self.proc.returncode}:\n{self.logtext()}")
        r = subprocess.run(["psql", self.admin_dsn, "-XAtqc", "SHOW VERSION"], capture_output=True, text=True)
        return r.returncode == 0

    def show_databases(self):
        """{name: {column: value}} from SHOW DATABASES."""
        r = subprocess.run(["psql", self.admin_dsn, "-XAq", "-F", "\x1f", "-c", "SHOW DATABASES"],
                           capture_output=True, text=True, check=True)
        lines = [ln for ln in r.stdout.splitlines() if "\x1f" in ln]
        head = lines[0].split("\x1f")
        return {row[0]: dict(zip(head, row)) for row in (ln.split("\x1f") for ln in lines[1:])}

    def logtext(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def build_pgwriter():
    """Compile tests/integration/pgwriter.c (libpq) into $BUILD/tests; its path."""
    build = os.environ.get("BUILD", os.path.join(REPO, "build", "out"))
    out = os.path.join(build, "tests", "pgwriter")
    src = os.path.join(REPO, "tests", "integration", "pgwriter.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libpq"], capture_output=True, text=True,
                               check=True).stdout.split()
        subprocess.run(["cc", "-std=c11", "-O2", "-D_GNU_SOURCE", "-o", out, src] + flags + ["-lpthread"],
                       check=True)
    return out


class Writer:
    """pgwriter through dsn: nconn connections, rate transactions/s in all,
    until finish(), which returns its summary and the acknowledged
    (writer, seq) pairs."""

    def __init__(self, dsn, nconn=4, rate=400):
        self.ackfile = tempfile.NamedTemporaryFile(prefix="pgwriter-", suffix=".ack", delete=False).name
        self.proc = subprocess.Popen([build_pgwriter(), dsn, str(nconn), str(rate), self.ackfile],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        _cleanups.append(self._kill)

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self):
        out, err = self.proc.communicate(timeout=60)
        summary = json.loads(out)
        summary["stderr"] = err
        with open(self.ackfile) as f:
            acked = [tuple(int(x) for x in ln.split()) for ln in f if ln.strip()]
        os.unlink(self.ackfile)
        return summary, acked


MIGRATE = os.environ.get("MIGRATE", os.path.join(REPO, "bin", "migrate"))


def hop_yaml(src, tgt, server, rest):
    """A migration config file for a hop from src to tgt named server (the
    sync tuned for tests), rest appended (cutover, tables); its path."""
    cfg = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False).name
    with open(cfg, "w") as f:
        f.write(f'source: {{ dsn: "{src}" }}\ntarget: {{ dsn: "{tgt}" }}\n'
                f'link: {{ server: "{server}", schema: "staging_{server}" }}\n'
                f'sync: {{ batch_size: 2000, interval: 20ms }}\n' + rest)
    return cfg


def run_migrate(cfg, args, env=None, check=True):
    """bin/migrate --config cfg args with env added; raises on a failure
    when check, and on a sanitizer report in any case."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([MIGRATE, "--config", cfg] + list(args), capture_output=True, text=True, env=e,
                       timeout=600)
    # a sanitized migrate that failed as expected must not hide a finding
    assert not any(m in r.stderr for m in SANITIZER_MARKERS), f"sanitizer report from migrate:\n{r.stderr[-4000:]}"
    if check and r.returncode != 0:
        raise AssertionError(f"migrate {' '.join(args)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def request(base, method, path, body=None, headers=None, timeout=5.0, raw_body=None, source=None):
    """One request on a fresh connection; returns (status, headers, body bytes).
    source: the client's address ("127.0.0.7": any of 127/8 is loopback)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
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


def metric(url, name):
    """The value of an unlabelled counter or gauge of url's /metrics."""
    st, _, body = request(url, "GET", "/metrics")
    m = re.search(rf"^{re.escape(name)} (\d+)$", body.decode(), re.M)
    assert st == 200 and m, f"no {name} in /metrics"
    return int(m.group(1))


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
