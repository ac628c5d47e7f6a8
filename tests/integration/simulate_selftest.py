#!/usr/bin/env python3
"""Self-test of scripts/simulate against an in-process fake MiniTwit API.

The fake server (ThreadingHTTPServer on 127.0.0.1, port 0) implements the
simulator API in memory, rejects follows/tweets naming unknown users and
records, per user, the order of the ?latest ids it saw, so the test can check
the replay's end state, per-user ordering and the register barrier.  It can
also inject faults (500s, slow answers past the timeout, malformed reads).

Usage: tests/integration/simulate_selftest.py [-v]
       tests/integration/simulate_selftest.py --serve PORT [PORT...]  (manual use)
Prints "N passed, M failed" last; exits non-zero on any failure.  It replays
the scenario scripts/simulate replays by default (scripts/scenario.py: the
generated one, or $MINITWIT_SCENARIO) and computes every expected figure
from it.
"""

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SIMULATE = os.path.join(ROOT, "scripts", "simulate")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import scenario  # noqa: E402

SCENARIO = scenario.default_scenario()
AUTH = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"
ERR_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,(http://[^,]+),(-?\d+),"
    r"(\d{3}|ConnectionError|ReadTimeout|bad-response),([a-z-]+)$")


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}            # name -> id
        self.msgs = []             # (user, content, pub_date)
        self.follows = set()       # (who, whom)
        self.latest = -1
        self.last_seen = {}        # user -> last latest id of a write acting for user
        self.order_violations = []
        self.requests = 0
        self.n = 0
        # faults
        self.fail_every = 0        # every n-th request answers 500
        self.slow_every = 0        # every n-th request sleeps slow_s
        self.slow_s = 0.0
        self.bad_read_every = 0    # every n-th GET returns a malformed body


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def reply(self, status, obj=None, raw=None):
        body = raw if raw is not None else (b"" if obj is None else json.dumps(obj).encode())
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def handle_any(self, method):
        st = self.server.store
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [urllib.parse.unquote(p) for p in u.path.split("/")[1:]]
        body = None
        if method == "POST":
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n).decode("utf-8"))
        with st.lock:
            st.n += 1
            k = st.n
        if st.fail_every and k % st.fail_every == 0:
            return self.reply(500, {"error": "injected"})
        if st.slow_every and k % st.slow_every == 0:
            time.sleep(st.slow_s)
        if self.headers.get("Authorization") != AUTH:
            return self.reply(403, {"status": 403, "error_msg": "unauthorized"})
        if self.headers.get("Content-Type") != "application/json":
            return self.reply(415, {"error": "content type"})
        bad_read = (method == "GET" and st.bad_read_every
                    and k % st.bad_read_every == 0)
        with st.lock:
            st.requests += 1
            latest = int(q["latest"][0]) if "latest" in q else None
            if latest is not None:
                st.latest = latest
            if method == "GET" and bad_read:
                return self.reply(200, raw=b'{"nope": [')
            if method == "GET" and parts == ["latest"]:
                return self.reply(200, {"latest": st.latest})
            no = int(q.get("no", ["100"])[0])
            if method == "POST" and parts == ["register"]:
                name = body["username"]
                if not body.get("email") or "pwd" not in body:
                    return self.reply(400, {"error": "missing"})
                self.check_order(st, name, latest)
                if name in st.users:
                    return self.reply(400, {"error": "taken"})
                st.users[name] = len(st.users) + 1
                return self.reply(204)
            if method == "GET" and parts == ["msgs"]:
                return self.reply(200, [{"content": c, "pub_date": d, "user": w}
                                        for (w, c, d) in st.msgs[::-1][:no]])
            if len(parts) == 2 and parts[0] in ("msgs", "fllws"):
                user = parts[1]
                if user not in st.users:
                    return self.reply(404)
                if parts[0] == "msgs" and method == "GET":
                    mine = [m for m in st.msgs if m[0] == user][::-1][:no]
                    return self.reply(200, [{"content": c, "pub_date": d, "user": w}
                                            for (w, c, d) in mine])
                if parts[0] == "msgs":
                    self.check_order(st, user, latest)
                    st.msgs.append((user, body["content"], int(time.time())))
                    return self.reply(204)
                if method == "GET":
                    f = sorted(w for (a, w) in st.follows if a == user)[:no]
                    return self.reply(200, {"follows": f})
                self.check_order(st, user, latest)
                if "follow" in body:
                    if body["follow"] not in st.users:
                        return self.reply(404)
                    st.follows.add((user, body["follow"]))
                    return self.reply(204)
                if "unfollow" in body:
                    if body["unfollow"] not in st.users:
                        return self.reply(404)
                    st.follows.discard((user, body["unfollow"]))
                    return self.reply(204)
                return self.reply(400)
            return self.reply(404)

    @staticmethod
    def check_order(st, user, latest):
        prev = st.last_seen.get(user, -1)
        if latest is None or latest <= prev:
            st.order_violations.append((user, prev, latest))
        else:
            st.last_seen[user] = latest

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def start_fake(nports=1, store=None):
    store = store or Store()
    servers = []
    for _ in range(nports):
        s = Server(("127.0.0.1", 0), Handler)
        s.store = store
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    urls = ["http://127.0.0.1:%d" % s.server_address[1] for s in servers]
    return store, servers, urls


def stop_fake(servers):
    for s in servers:
        s.shutdown()
        s.server_close()


def run_sim(args, timeout=600):
    p = subprocess.run([sys.executable, SIMULATE, "--no-progress"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, text=True)
    return p.returncode, p.stdout, p.stderr


def load_json(path):
    with open(path) as f:
        return json.load(f)


def scenario_rows(limit=None):
    return scenario.read_rows(SCENARIO, limit)


def expected_state(rows):
    c = scenario.counts(rows)
    return c["users"], c["messages"], c["followers"]


def check_report_consistent(rep, out_lines):
    assert rep["requests"] == rep["writes"] + rep["reads"], rep
    assert sum(t["requests"] for t in rep["timeline"]) == rep["requests"]
    assert sum(t["errors"] for t in rep["timeline"]) == rep["errors"]
    assert sum(sum(k.values()) for k in rep["errors_by_command"].values()) == rep["errors"]
    lat_total = sum(v["count"] for k, v in rep["latency_ms"].items() if k != "all")
    assert lat_total == rep["requests"] == rep["latency_ms"]["all"]["count"]
    ts = [t["epoch"] for t in rep["timeline"]]
    assert ts == list(range(ts[0], ts[0] + len(ts))), "timeline has gaps"
    assert len(out_lines) == rep["errors"], (len(out_lines), rep["errors"])
    for line in out_lines:
        assert ERR_LINE.match(line), "bad error line %r" % line


# ---------------------------------------------------------------------------
# tests

TMP = "/tmp/simulate_selftest.%d" % os.getpid()


def t_usage_errors():
    for args in (["--speedup", "-1"], ["--concurrency", "0"], ["--bogus"],
                 ["--url", "ftp://x"], ["--scenario", "/nonexistent/file"],
                 ["--timeout", "0"]):
        rc, out, err = run_sim(args, timeout=30)
        assert rc == 2, (args, rc, err)
    rc, out, err = run_sim(["--help"], timeout=30)
    assert rc == 0 and "--speedup" in out and "--reads" in out and "timeline" in out


def t_full_two_urls_reads():
    store, servers, urls = start_fake(2)
    try:
        js = TMP + ".full.json"
        rc, out, err = run_sim(["--url", ",".join(urls), "--speedup", "0",
                                "--concurrency", "8", "--reads", "50", "--json", js])
        assert rc == 0, (rc, out[:2000], err[-2000:])
        assert store.order_violations == [], store.order_violations[:5]
        rows = scenario_rows()
        assert (len(store.users), len(store.msgs), len(store.follows)) == expected_state(rows)
        rep = load_json(js)
        n = len(rows)
        assert rep["errors"] == 0 and rep["writes"] == n and rep["rows"] == n, (rep["rows"], n)
        assert rep["reads"] > 0, rep["reads"]
        check_report_consistent(rep, out.splitlines())
        assert set(rep["by_url"]) == set(urls)
        assert all(v["requests"] > 1000 for v in rep["by_url"].values())
        for ep in ("POST /register", "POST /msgs/<user>", "POST /fllws/<user>",
                   "GET /msgs", "GET /msgs/<user>", "GET /fllws/<user>", "GET /latest"):
            assert rep["latency_ms"][ep]["count"] > 0, ep
        m = re.search(r"simulate: (\d+) requests, (\d+) errors, ([\d.]+) req/s, p99 ([\d.]+) ms",
                      err)
        assert m and int(m.group(1)) == rep["requests"] and m.group(2) == "0", err
        print("    full replay: %s req/s, p99 %s ms" % (m.group(3), m.group(4)))
    finally:
        stop_fake(servers)


def t_sequential_single_url_limit():
    store, servers, urls = start_fake(1)
    try:
        js = TMP + ".limit.json"
        rc, out, err = run_sim(["--url", urls[0], "--speedup", "inf", "--limit", "3000",
                                "--json", js])
        assert rc == 0, (rc, out[:2000], err[-2000:])
        exp = expected_state(scenario_rows(3000))
        assert (len(store.users), len(store.msgs), len(store.follows)) == exp
        assert store.order_violations == []
        assert store.latest == 2999, store.latest
        rep = load_json(js)
        assert rep["rows"] == 3000 and rep["requests"] == 3000 and rep["reads"] == 0
        check_report_consistent(rep, out.splitlines())
    finally:
        stop_fake(servers)


def t_concurrency_limit_many_workers():
    store, servers, urls = start_fake(3)
    try:
        rc, out, err = run_sim(["--url", urls[0], "--url", urls[1] + "," + urls[2],
                                "--speedup", "0", "--concurrency", "32", "--limit", "6000"])
        assert rc == 0, (rc, out[:2000], err[-2000:])
        exp = expected_state(scenario_rows(6000))
        assert (len(store.users), len(store.msgs), len(store.follows)) == exp
        assert store.order_violations == []
    finally:
        stop_fake(servers)


def t_speedup_sleeps():
    rows = scenario_rows(400)
    expect = sum(int(r[1]) for r in rows) / 1e8 / 20
    store, servers, urls = start_fake(1)
    try:
        js = TMP + ".speed.json"
        t0 = time.time()
        rc, out, err = run_sim(["--url", urls[0], "--speedup", "20", "--limit", "400",
                                "--json", js])
        took = time.time() - t0
        assert rc == 0, (rc, err)
        rep = load_json(js)
        assert expect * 0.95 <= rep["duration_s"] <= expect + 3, (expect, rep["duration_s"])
        assert took >= expect * 0.95
    finally:
        stop_fake(servers)


def t_faults_500_and_timeouts():
    store, servers, urls = start_fake(1)
    store.fail_every = 97
    store.slow_every = 89
    store.slow_s = 0.4
    try:
        js = TMP + ".faults.json"
        rc, out, err = run_sim(["--url", urls[0], "--speedup", "0", "--concurrency", "8",
                                "--limit", "2000", "--timeout", "0.2", "--json", js])
        assert rc == 1, (rc, err[-2000:])
        lines = out.splitlines()
        rep = load_json(js)
        check_report_consistent(rep, lines)
        kinds = rep["errors_by_kind"]
        assert kinds.get("500", 0) > 5 and kinds.get("ReadTimeout", 0) > 5, kinds
        assert any(l.split(",")[3] == "500" for l in lines)
        assert any(l.split(",")[3] == "ReadTimeout" for l in lines)
        for l in lines:
            f = l.split(",")
            assert f[1] == urls[0] and f[4] in ("register", "tweet", "follow", "unfollow")
        assert rep["latency_ms"]["all"]["max"] >= 190
    finally:
        stop_fake(servers)


def t_bad_reads():
    store, servers, urls = start_fake(1)
    store.bad_read_every = 5
    try:
        js = TMP + ".bad.json"
        rc, out, err = run_sim(["--url", urls[0], "--speedup", "100", "--limit", "2000",
                                "--reads", "200", "--json", js])
        assert rc == 1, (rc, err[-2000:])
        rep = load_json(js)
        check_report_consistent(rep, out.splitlines())
        assert rep["errors_by_kind"].get("bad-response", 0) > 0, rep["errors_by_kind"]
        assert set(rep["errors_by_kind"]) == {"bad-response"}, rep["errors_by_kind"]
        for l in out.splitlines():
            f = l.split(",")
            assert f[2] == "-1" and f[4].startswith("read-"), l
    finally:
        stop_fake(servers)


def t_connection_refused():
    store, servers, urls = start_fake(1)
    stop_fake(servers)        # the port is now closed
    js = TMP + ".refused.json"
    rc, out, err = run_sim(["--url", urls[0], "--speedup", "0", "--limit", "50",
                            "--json", js])
    assert rc == 1, rc
    lines = out.splitlines()
    assert len(lines) == 50 and all(",ConnectionError," in l for l in lines), lines[:3]
    assert lines[0].split(",")[2] == "0" and lines[-1].split(",")[2] == "49"
    rep = load_json(js)
    check_report_consistent(rep, lines)


def t_sigterm_writes_report():
    store, servers, urls = start_fake(1)
    try:
        js = TMP + ".term.json"
        p = subprocess.Popen([sys.executable, SIMULATE, "--no-progress", "--url", urls[0],
                              "--speedup", "1", "--reads", "20", "--json", js],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        assert p.returncode == 143, (p.returncode, err)
        rep = load_json(js)
        assert rep["interrupted"] is True and 0 < rep["rows"] < len(scenario_rows()), rep["rows"]
        assert "interrupted" in err
        check_report_consistent(rep, out.splitlines())
    finally:
        stop_fake(servers)


TESTS = [t_usage_errors, t_full_two_urls_reads, t_sequential_single_url_limit,
         t_concurrency_limit_many_workers, t_speedup_sleeps, t_faults_500_and_timeouts,
         t_bad_reads, t_connection_refused, t_sigterm_writes_report]


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        store = Store()
        servers = []
        for port in sys.argv[2:]:
            s = Server(("127.0.0.1", int(port)), Handler)
            s.store = store
            threading.Thread(target=s.serve_forever, daemon=True).start()
            servers.append(s)
        try:
            while True:
                time.sleep(5)
                print("users %d msgs %d follows %d latest %d violations %d" % (
                    len(store.users), len(store.msgs), len(store.follows), store.latest,
                    len(store.order_violations)), flush=True)
        except KeyboardInterrupt:
            return 0
    verbose = "-v" in sys.argv
    passed = failed = 0
    for t in TESTS:
        t0 = time.time()
        try:
            t()
            passed += 1
            print("ok   %s (%.1fs)" % (t.__name__, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.1fs)" % (t.__name__, time.time() - t0), flush=True)
            tb = traceback.format_exc()
            print(tb if verbose else tb[-3000:], flush=True)
    for suffix in ("full", "limit", "speed", "faults", "bad", "refused", "term"):
        try:
            os.unlink("%s.%s.json" % (TMP, suffix))
        except OSError:
            pass
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
