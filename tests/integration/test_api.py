#!/usr/bin/env python3
"""Integration tests of minitwitd's simulator API on a real PostgreSQL cluster.

Covers the course's API test sequence, every behaviour the issue lists, the
malformed-input cases, configuration errors, schema checksums, a database
restart under load and a full replay of the scenario (scripts/scenario.py).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import (AUTH, REPO, MINITWITD, Cluster, Server, api, metric, psql, q, sanitized, scenario,  # noqa: E402
                     request, run_tests, test, wait_until)


class Ctx:
    pass


def setup():
    c = Ctx()
    c.db = Cluster("api")
    c.srv = Server(c.db.dsn)
    return c


def uniq(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def register(url, name, latest=None, pwd="pw"):
    path = "/register" + (f"?latest={latest}" if latest is not None else "")
    return api(url, "POST", path, {"username": name, "email": f"{name}@x.dk", "pwd": pwd})


def latest(url):
    st, _, body = request(url, "GET", "/latest")
    assert st == 200, st
    return json.loads(body)["latest"]



# ---- the course's API test sequence (minitwit_sim_api_test.py), in order

@test
def test_course_sequence(c):
    u = c.srv.url
    a, b, cc = uniq("a"), uniq("b"), uniq("c")
    st, _, _ = api(u, "POST", "/register?latest=1337",
                   {"username": uniq("test"), "email": "test@test", "pwd": "foo"})
    assert st == 204 and latest(u) == 1337
    assert register(u, a, 1)[0] == 204 and latest(u) == 1
    assert api(u, "POST", f"/msgs/{q(a)}?latest=2", {"content": "Blub!"})[0] == 204
    assert latest(u) == 2
    st, _, body = api(u, "GET", f"/msgs/{q(a)}?no=20&latest=3")
    assert st == 200 and {"content": "Blub!", "user": a} == {
        k: v for k, v in json.loads(body)[0].items() if k != "pub_date"}
    assert latest(u) == 3
    st, _, body = api(u, "GET", "/msgs?no=20&latest=4")
    assert st == 200 and any(m["content"] == "Blub!" and m["user"] == a for m in json.loads(body))
    assert latest(u) == 4
    assert register(u, b, 5)[0] == 204 and latest(u) == 5
    assert register(u, cc, 6)[0] == 204 and latest(u) == 6
    assert api(u, "POST", f"/fllws/{q(a)}?latest=7", {"follow": b})[0] == 204
    assert api(u, "POST", f"/fllws/{q(a)}?latest=8", {"follow": cc})[0] == 204
    st, _, body = api(u, "GET", f"/fllws/{q(a)}?no=20&latest=9")
    assert st == 200 and set(json.loads(body)["follows"]) == {b, cc}
    assert latest(u) == 9
    assert api(u, "POST", f"/fllws/{q(a)}?latest=10", {"unfollow": b})[0] == 204
    st, _, body = api(u, "GET", f"/fllws/{q(a)}?no=20&latest=11")
    assert st == 200 and b not in json.loads(body)["follows"]
    assert latest(u) == 11


# ---- latest

@test
def test_latest_rules(c):
    u = c.srv.url
    api(u, "GET", "/msgs?latest=500")
    assert latest(u) == 500
    # a rejected request still updates latest, before the auth check
    st, _, _ = api(u, "GET", "/msgs?latest=501", auth=False)
    assert st == 403 and latest(u) == 501
    # -1 and non-integers are ignored
    api(u, "GET", "/msgs?latest=-1")
    api(u, "GET", "/msgs?latest=abc")
    api(u, "GET", "/msgs?latest=")
    assert latest(u) == 501
    # negative values other than -1 are stored, as the reference does
    api(u, "GET", "/msgs?latest=-7")
    assert latest(u) == -7
    api(u, "GET", "/msgs?latest=502")
    # stored in the database: a second server sees it, and it survives restarts
    srv2 = Server(c.db.dsn)
    try:
        assert latest(srv2.url) == 502
    finally:
        srv2.stop()
    assert c.db.scalar("SELECT value FROM latest") == "502"


@test
def test_latest_response_bytes(c):
    api(c.srv.url, "GET", "/msgs?latest=1234")
    st, h, body = request(c.srv.url, "GET", "/latest")
    assert st == 200 and body == b'{"latest":1234}\n', body
    assert h["Content-Type"] == "application/json"


# ---- register

@test
def test_register_errors_in_order(c):
    u = c.srv.url
    cases = [
        ({"username": "", "email": "", "pwd": ""}, "You have to enter a username"),
        ({"username": uniq(), "email": "", "pwd": ""}, "You have to enter a valid email address"),
        ({"username": uniq(), "email": "nope", "pwd": "x"}, "You have to enter a valid email address"),
        ({"username": uniq(), "email": "a@b", "pwd": ""}, "You have to enter a password"),
        ({"email": "a@b", "pwd": "x"}, "You have to enter a username"),
        ({"username": None, "email": "a@b", "pwd": "x"}, "You have to enter a username"),
    ]
    for body, msg in cases:
        st, h, raw = api(u, "POST", "/register", body)
        assert st == 400, (body, st)
        assert json.loads(raw) == {"status": 400, "error_msg": msg}, raw
        assert h["Content-Type"] == "application/json"
    name = uniq()
    assert register(u, name)[0] == 204
    st, _, raw = register(u, name)
    assert st == 400 and json.loads(raw)["error_msg"] == "The username is already taken"
    st, _, raw = api(u, "POST", "/register", {"username": name, "email": "", "pwd": ""})
    assert json.loads(raw)["error_msg"] == "You have to enter a valid email address"


@test
def test_register_needs_no_auth_and_hashes(c):
    name = uniq()
    st, _, body = request(c.srv.url, "POST", "/register",
                          body={"username": name, "email": "e@x", "pwd": "s3cret\"\\"})
    assert st == 204 and body == b""
    h = c.db.scalar(f"SELECT pw_hash FROM \"user\" WHERE username = '{name}'")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,"), h
    assert "s3cret" not in h


@test
def test_register_concurrent_same_name(c):
    name = uniq()
    results = []

    def go():
        results.append(register(c.srv.url, name)[0])
    ts = [threading.Thread(target=go) for _ in range(6)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(results) == [204] + [400] * 5, results
    assert c.db.scalar(f"SELECT count(*) FROM \"user\" WHERE username = '{name}'") == "1"


# ---- auth

@test
def test_auth_required(c):
    u = c.srv.url
    name = uniq()
    register(u, name)
    for method, path, body in [("GET", "/msgs", None), ("GET", f"/msgs/{q(name)}", None),
                               ("POST", f"/msgs/{q(name)}", {"content": "x"}),
                               ("GET", f"/fllws/{q(name)}", None),
                               ("POST", f"/fllws/{q(name)}", {"follow": name})]:
        for hdr in [{}, {"Authorization": "Basic wrong"}, {"Authorization": AUTH + " "},
                    {"Authorization": AUTH.lower()}]:
            st, _, raw = request(u, method, path, body=body, headers=hdr)
            assert st == 403, (method, path, hdr, st)
            assert raw == (b'{"error_msg":"You are not authorized to use this resource!",'
                           b'"status":403}\n'), raw
    assert c.db.scalar(f"SELECT count(*) FROM message m JOIN \"user\" u ON u.user_id = m.author_id "
                       f"WHERE u.username = '{name}'") == "0"


# ---- messages

@test
def test_msgs_order_limit_and_shape(c):
    u = c.srv.url
    name = uniq()
    register(u, name)
    for i in range(5):
        assert api(u, "POST", f"/msgs/{q(name)}", {"content": f"m{i}"})[0] == 204
    # same-second messages: newest (highest id) first
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}?no=3")
    msgs = json.loads(raw)
    assert st == 200 and [m["content"] for m in msgs] == ["m4", "m3", "m2"], msgs
    for m in msgs:
        assert set(m) == {"content", "pub_date", "user"} and isinstance(m["pub_date"], int)
        assert abs(m["pub_date"] - time.time()) < 120
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}")
    assert len(json.loads(raw)) == 5
    st, _, raw = api(u, "GET", "/msgs?no=2")
    assert st == 200 and len(json.loads(raw)) == 2
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}?no=0")
    assert st == 200 and raw == b"[]\n"
    # flagged messages are hidden
    c.db.psql(f"UPDATE message SET flagged = 1 WHERE text = 'm4' AND author_id = "
              f"(SELECT user_id FROM \"user\" WHERE username = '{name}')")
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}?no=1")
    assert json.loads(raw)[0]["content"] == "m3"


@test
def test_msgs_default_no_is_100(c):
    u = c.srv.url
    name = uniq()
    register(u, name)
    c.db.psql(f"INSERT INTO message (author_id, text, pub_date, flagged) SELECT user_id, 'bulk', 1, 0 "
              f"FROM \"user\", generate_series(1, 120) WHERE username = '{name}'")
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}")
    assert st == 200 and len(json.loads(raw)) == 100
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}?no=110")
    assert len(json.loads(raw)) == 110


@test
def test_user_without_messages(c):
    name = uniq()
    register(c.srv.url, name)
    st, _, raw = api(c.srv.url, "GET", f"/msgs/{q(name)}")
    assert st == 200 and raw == b"[]\n"


@test
def test_unknown_users_404(c):
    u = c.srv.url
    known = uniq()
    register(u, known)
    for method, path, body in [("GET", "/msgs/nobody-here", None),
                               ("POST", "/msgs/nobody-here", {"content": "x"}),
                               ("GET", "/fllws/nobody-here", None),
                               ("POST", "/fllws/nobody-here", {"follow": known}),
                               ("POST", f"/fllws/{q(known)}", {"follow": "nobody-here"}),
                               ("POST", f"/fllws/{q(known)}", {"unfollow": "nobody-here"})]:
        st, _, raw = api(u, method, path, body)
        assert st == 404, (method, path, st)
        assert json.loads(raw)["status"] == 404
    assert c.db.scalar("SELECT count(*) FROM message WHERE text = 'x' AND author_id IS NULL") == "0"


@test
def test_unicode_and_percent_encoding(c):
    u = c.srv.url
    name = "Ærø Ñandú " + uniq()
    assert register(u, name)[0] == 204
    text = "smile 😀 \"quoted\" \\ back ü \u2028 tab\t<b>"
    # json.dumps sends \uXXXX escapes with a surrogate pair for the emoji
    raw_body = json.dumps({"content": text}).encode()
    assert b"\\ud83d\\ude00" in raw_body
    st, _, _ = api(u, "POST", f"/msgs/{q(name)}", raw_body=raw_body,
                   headers={"Content-Type": "application/json"})
    assert st == 204
    stored = c.db.scalar(f"SELECT text FROM message WHERE author_id = (SELECT user_id FROM \"user\" "
                         f"WHERE username = '{name.replace(chr(39), chr(39) * 2)}')")
    assert stored == text, stored
    st, _, raw = api(u, "GET", f"/msgs/{q(name)}")
    got = json.loads(raw)[0]
    assert got["content"] == text and got["user"] == name
    # written as Flask does: ASCII only, \u escapes, surrogate pairs
    assert raw.isascii() and b"\\ud83d\\ude00" in raw
    # raw UTF-8 in the body is fine too
    st, _, _ = api(u, "POST", f"/msgs/{q(name)}", raw_body=json.dumps(
        {"content": "raw ø"}, ensure_ascii=False).encode())
    assert st == 204


@test
def test_follow_semantics(c):
    u = c.srv.url
    a, b = uniq(), uniq()
    register(u, a)
    register(u, b)
    assert api(u, "POST", f"/fllws/{q(a)}", {"follow": b})[0] == 204
    assert api(u, "POST", f"/fllws/{q(a)}", {"follow": b})[0] == 204
    assert c.db.scalar(f"SELECT count(*) FROM follower f JOIN \"user\" x ON x.user_id = f.who_id "
                       f"WHERE x.username = '{a}'") == "1"
    # unfollowing a pair that is not followed answers 204
    assert api(u, "POST", f"/fllws/{q(b)}", {"unfollow": a})[0] == 204
    assert api(u, "POST", f"/fllws/{q(a)}", {"unfollow": b})[0] == 204
    assert api(u, "POST", f"/fllws/{q(a)}", {"unfollow": b})[0] == 204
    st, _, raw = api(u, "GET", f"/fllws/{q(a)}")
    assert st == 200 and raw == b'{"follows":[]}\n'
    # no= limits the list
    others = [uniq() for _ in range(3)]
    for o in others:
        register(u, o)
        api(u, "POST", f"/fllws/{q(a)}", {"follow": o})
    st, _, raw = api(u, "GET", f"/fllws/{q(a)}?no=2")
    assert len(json.loads(raw)["follows"]) == 2
    st, _, raw = api(u, "GET", f"/fllws/{q(a)}")
    assert set(json.loads(raw)["follows"]) == set(others)


@test
def test_follows_order(c):
    """GET /fllws/<user> lists the followed users by name in byte order
    (README: Compatibility with the course's reference), whatever the order
    they registered or were followed in, and ?no= takes the first ones."""
    u = c.srv.url
    tag = uniq()
    who = "who-" + tag
    register(u, who)
    names = [f"{p}-{tag}" for p in ("m", "B", "z", "a", "Ä", "b", "_")]
    for n in names:
        register(u, n)
    for n in [names[i] for i in (3, 0, 6, 2, 5, 1, 4)]:
        assert api(u, "POST", f"/fllws/{q(who)}", {"follow": n})[0] == 204
    want = sorted(names, key=lambda s: s.encode())
    assert want[:3] == [f"B-{tag}", f"_-{tag}", f"a-{tag}"], want
    st, _, raw = api(u, "GET", f"/fllws/{q(who)}")
    assert st == 200 and json.loads(raw)["follows"] == want, raw
    st, _, raw = api(u, "GET", f"/fllws/{q(who)}?no=3")
    assert json.loads(raw)["follows"] == want[:3], raw
    # the same after unfollowing and following again (a new row, same place)
    api(u, "POST", f"/fllws/{q(who)}", {"unfollow": want[0]})
    api(u, "POST", f"/fllws/{q(who)}", {"follow": want[0]})
    st, _, raw = api(u, "GET", f"/fllws/{q(who)}")
    assert json.loads(raw)["follows"] == want, raw


# ---- malformed input: a 4xx with the JSON error shape, never a crash or 500

@test
def test_malformed_bodies(c):
    u = c.srv.url
    name = uniq()
    register(u, name)
    bad = [b"", b"{", b"not json", b"[]", b"\"str\"", b"{\"content\": 5}",
           b"{\"content\": null}", b"{\"content\": [\"x\"]}", b"{}",
           b"{\"content\": \"a\\u0000b\"}", b"{\"content\": \"\\ud800\"}",
           b"{\"content\": \"\xff\xfe\"}", b"{\"content\": \"x\", \"content\": \"y\"}",
           b"\xc3\x28"]
    for body in bad:
        st, h, raw = api(u, "POST", f"/msgs/{q(name)}", raw_body=body,
                         headers={"Content-Type": "application/json"})
        assert st == 400, (body, st, raw)
        j = json.loads(raw)
        assert j["status"] == 400 and j["error_msg"], raw
    for body in [b"{\"follow\": 3}", b"{\"nothing\": \"x\"}", b"{\"unfollow\": null}", b"[1]"]:
        st, _, raw = api(u, "POST", f"/fllws/{q(name)}", raw_body=body)
        assert st == 400, (body, st)
    for body in [b"{\"username\": 1, \"email\": \"a@b\", \"pwd\": \"x\"}", b"nope"]:
        st, _, raw = api(u, "POST", "/register", raw_body=body)
        assert st == 400 and json.loads(raw)["status"] == 400
    assert c.db.scalar(f"SELECT count(*) FROM message m JOIN \"user\" x ON x.user_id = m.author_id "
                       f"WHERE x.username = '{name}'") == "0"


@test
def test_oversized_body_413(c):
    u = c.srv.url
    name = uniq()
    register(u, name)
    big = json.dumps({"content": "x" * 70000}).encode()
    st, _, raw = api(u, "POST", f"/msgs/{q(name)}", raw_body=big)
    assert st == 413 and json.loads(raw)["status"] == 413
    # chunked, no Content-Length: still refused
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", c.srv.port, timeout=5)
    conn.putrequest("POST", f"/msgs/{q(name)}")
    conn.putheader("Authorization", AUTH)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for _ in range(20):
        chunk = b"x" * 8192
        conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    assert r.status == 413, r.status
    conn.close()
    # the server is fine afterwards
    assert api(u, "POST", f"/msgs/{q(name)}", {"content": "ok"})[0] == 204


@test
def test_bad_no_and_targets(c):
    u = c.srv.url
    for path in ["/msgs?no=abc", "/msgs?no=-5", "/msgs?no=1.5", "/fllws/x?no=zz"]:
        st, _, raw = api(u, "GET", path)
        assert st == 400 and json.loads(raw)["status"] == 400, (path, st)
    for path in ["/msgs/a%ff", "/msgs/a%zz", "/msgs/a%", "/msgs/a%00b", "/msgs?x=%ff"]:
        st, _, raw = api(u, "GET", path)
        assert st == 400 and json.loads(raw)["status"] == 400, (path, st, raw)
    st, _, raw = api(u, "GET", "/msgs?no=" + "9" * 30)
    assert st == 400


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_get(port, target, timeout=5.0):
    """One GET with a target http.client would not send; returns the status
    line's code, or None when the connection closed without an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else None


@test
def test_thousands_of_query_args_answered_without_leak(c):
    # more `&`-separated arguments than libmicrohttpd's per-connection pool
    # holds: each request is answered (414), and the server's memory stays
    # flat (before the fix: no answer, and ~17 KiB leaked per request)
    srv = Server(c.db.dsn)
    target = "/msgs?" + "a&" * 8000
    assert raw_get(srv.port, target) == 414
    before = rss_kib(srv.proc.pid)
    codes = {}
    for _ in range(2000):
        st = raw_get(srv.port, target)
        codes[st] = codes.get(st, 0) + 1
    assert codes == {414: 2000}, codes
    grown = rss_kib(srv.proc.pid) - before
    if not sanitized(MINITWITD):
        assert grown < 8 * 1024, f"RSS grew by {grown} KiB over 2000 requests"
    # the JSON error names the cause, and the server still serves
    st, _, raw = api(srv.url, "GET", "/msgs?" + "&".join(f"k{i}=1" for i in range(40)))
    assert st == 414 and json.loads(raw)["error_msg"] == "too many query parameters", (st, raw)
    assert api(srv.url, "GET", "/msgs?no=1&latest=7")[0] == 200
    assert srv.stop() == 0


def raw_exchange(port, head, body_chunks=(), timeout=5.0):
    """Send a hand-made request head, then body chunks until the server stops
    reading; returns (status or None, bytes of body sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except ConnectionResetError:
            pass
    return (int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else None), sent


@test
def test_http_framing_refused(c):
    u = c.srv.url
    port = c.srv.port
    name = uniq()
    assert register(u, name)[0] == 204
    auth = f"Authorization: {AUTH}\r\nContent-Type: application/json\r\n"
    post = f"POST /msgs/{q(name)} HTTP/1.1\r\nHost: x\r\n{auth}"
    body = b'{"content": "smuggled"}'
    # Content-Length and Transfer-Encoding together; two different lengths
    st, _ = raw_exchange(port, (post + f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n"
                                "Connection: close\r\n\r\n").encode() + b"0\r\n\r\n")
    assert st == 400, st
    st, _ = raw_exchange(port, (post + f"Content-Length: {len(body)}\r\nContent-Length: 2\r\n"
                                "Connection: close\r\n\r\n").encode() + body)
    assert st == 400, st
    # HTTP/1.1 without Host
    st, _ = raw_exchange(port, f"POST /msgs/{q(name)} HTTP/1.1\r\n{auth}Content-Length: {len(body)}\r\n"
                         "Connection: close\r\n\r\n".encode() + body)
    assert st == 400, st
    assert raw_exchange(port, b"GET /latest HTTP/1.1\r\nConnection: close\r\n\r\n")[0] == 400
    assert raw_exchange(port, b"GET /latest HTTP/1.0\r\n\r\n")[0] == 200
    # a chunked body past http.max_body: the server stops reading long
    # after 1 MiB past the limit, long before 10 MB (libmicrohttpd cannot
    # answer mid-upload: it closes)
    chunk = b"x" * 65536
    chunks = (b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(160))
    st, sent = raw_exchange(port, (post + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode(),
                            chunks)
    print(f"      chunked: {sent} bytes accepted before the server closed")
    assert st is None and sent < 8 * 1024 * 1024, (st, sent)
    # nothing of it was stored, and the server still serves
    assert psql(c.db.dsn, f"select count(*) from message m join \"user\" u on u.user_id = m.author_id "
                      f"where u.username = '{name}'") == [["0"]]
    assert api(u, "POST", f"/msgs/{q(name)}", {"content": "ok"})[0] == 204


@test
def test_unknown_routes_and_methods(c):
    u = c.srv.url
    # "/" and "/nothing" belong to the web UI now (tests/integration/test_web.py)
    for path in ["/msgs/a/b", "/msgs/", "/fllws/"]:
        st, _, raw = api(u, "GET", path)
        assert st == 404 and json.loads(raw)["status"] == 404, (path, st)
    st, h, raw = api(u, "DELETE", "/msgs")
    assert st == 405 and "GET" in h["Allow"]
    st, h, raw = api(u, "POST", "/latest")
    assert st == 405 and h["Allow"] == "GET"
    st, h, raw = api(u, "PUT", "/msgs/x", {"content": "y"})
    assert st == 405


@test
def test_healthz_and_metrics(c):
    u = c.srv.url
    st, _, raw = request(u, "GET", "/healthz")
    assert st == 200 and json.loads(raw)["database"] == "ok"
    api(u, "GET", "/msgs?no=1")
    st, h, raw = request(u, "GET", "/metrics")
    text = raw.decode()
    assert st == 200 and h["Content-Type"].startswith("text/plain")
    assert 'minitwit_requests_total{route="GET /msgs",status="200"}' in text
    assert 'minitwit_request_duration_seconds_bucket{route="GET /msgs",le="+Inf"}' in text
    assert "minitwit_db_pool_connections{state=\"in_use\"}" in text
    assert "minitwit_db_pool_waiting" in text


# ---- configuration and start-up

def run_minitwitd(args, env=None, timeout=20):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([MINITWITD] + args, capture_output=True, text=True, env=e,
                          timeout=timeout)


@test
def test_cli_help_version_bad_option(c):
    r = run_minitwitd(["--help"])
    assert r.returncode == 0 and "--config" in r.stdout and "MINITWIT_DATABASE_DSN" in r.stdout
    r = run_minitwitd(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("minitwitd ")
    r = run_minitwitd(["--bogus"])
    assert r.returncode == 2 and 'Try "minitwitd --help"' in r.stderr
    r = run_minitwitd(["extra"])
    assert r.returncode == 2


@test
def test_config_errors(c):
    import tempfile
    cases = [
        ("http:\n  listen: 127.0.0.1:1\n  lisen: x\n", ":3:3:", "unknown key"),
        ("http:\n  threads: lots\n", ":2:12:", "http.threads"),
        ("http:\n  threads: 0\n", ":2:12:", "between"),
        ("nosuch:\n  a: b\n", ":1:1:", "unknown section"),
        ("http: [\n", ":", ""),
    ]
    for text, where, what in cases:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        r = run_minitwitd(["--config", f.name, "--print-config"])
        os.unlink(f.name)
        assert r.returncode == 3, (text, r.returncode, r.stderr)
        assert f.name + where in r.stderr and what in r.stderr, (text, r.stderr)
    r = run_minitwitd(["--config", "/nonexistent.yaml"])
    assert r.returncode == 3 and "/nonexistent.yaml" in r.stderr
    r = run_minitwitd(["--print-config"], env={"MINITWIT_HTTP_THREADS": "x"})
    assert r.returncode == 3 and "MINITWIT_HTTP_THREADS" in r.stderr


@test
def test_print_config_masks_secrets(c):
    r = run_minitwitd(["--config", os.path.join(REPO, "config", "minitwitd.yaml"),
                       "--print-config"],
                      env={"MINITWIT_DATABASE_DSN": "host=h dbname=d user=u password=hunter2",
                           "MINITWIT_HTTP_LISTEN": "127.0.0.1:9999"})
    assert r.returncode == 0, r.stderr
    assert "hunter2" not in r.stdout and "hunter2" not in r.stderr
    assert "127.0.0.1:9999" in r.stdout
    assert "c2ltdWxhdG9yOnN1cGVyX3NhZmUh" not in r.stdout  # api.authorization is a secret


@test
def test_password_never_logged(c):
    # a DSN with a password for a server that is not there: the error names
    # the DSN, masked
    for dsn in ("host=127.0.0.1 port=1 dbname=x user=y password=hunter2",
                "host=127.0.0.1 port=1 dbname=x password=hun\\ ter2",
                "host=127.0.0.1 port=1 dbname=x password='hun\\'ter2'",
                "postgresql://y:hunter2@127.0.0.1:1/x",
                "postgresql://127.0.0.1:1/x?%70assword=hunter2",
                "postgres://127.0.0.1:1/x?sslmode=disable&sslpassword=hunter2"):
        r = run_minitwitd([], env={"MINITWIT_DATABASE_DSN": dsn,
                                   "MINITWIT_DATABASE_STARTUP_ATTEMPTS": "2"})
        assert r.returncode != 0
        assert "ter2" not in r.stderr and "********" in r.stderr, (dsn, r.stderr)
        for line in r.stderr.splitlines():
            json.loads(line)   # every log line is JSON
        # the variables that overrode the file are named at start, not their values
        m = re.search(r"settings from the environment, over the file: ([A-Z_, ]+)", r.stderr)
        assert m and {"MINITWIT_DATABASE_DSN", "MINITWIT_DATABASE_STARTUP_ATTEMPTS"} <= \
            set(m.group(1).split(", ")), r.stderr


@test
def test_schema_checksum_refused(c):
    c.db.psql("CREATE DATABASE chk")
    dsn = c.db.dsn.replace("dbname=minitwit", "dbname=chk")
    r = run_minitwitd(["--migrate-only"], env={"MINITWIT_DATABASE_DSN": dsn})
    assert r.returncode == 0, r.stderr
    # applying again is a no-op
    r = run_minitwitd(["--migrate-only"], env={"MINITWIT_DATABASE_DSN": dsn})
    assert r.returncode == 0 and "up to date" in r.stderr
    subprocess.run(["psql", dsn, "-Xqc", "UPDATE schema_migrations SET checksum = 'x'"], check=True)
    r = run_minitwitd(["--migrate-only"], env={"MINITWIT_DATABASE_DSN": dsn})
    assert r.returncode != 0 and "was changed after it was applied" in r.stderr, r.stderr
    subprocess.run(["psql", dsn, "-Xqc", "INSERT INTO schema_migrations VALUES (999, '999_x.sql', 'y')"],
                   check=True)
    subprocess.run(["psql", dsn, "-Xqc", "DELETE FROM schema_migrations WHERE version < 999"],
                   check=True)
    r = run_minitwitd(["--migrate-only"], env={"MINITWIT_DATABASE_DSN": dsn})
    assert r.returncode != 0 and "does not know" in r.stderr, r.stderr


@test
def test_database_search_path_not_used(c):
    """minitwitd's sessions search pg_catalog, then public, whatever the
    database's default path: a schema first in it holding a table named
    like MiniTwit's is neither migrated into nor read or written; and they
    say "minitwitd" in pg_stat_activity."""
    c.db.psql("CREATE DATABASE path")
    dsn = c.db.dsn.replace("dbname=minitwit", "dbname=path")
    psql(dsn, "CREATE SCHEMA evil; CREATE TABLE evil.latest (id integer PRIMARY KEY, value bigint NOT NULL);"
              "INSERT INTO evil.latest VALUES (1, 666); ALTER DATABASE path SET search_path = evil, public")
    srv = Server(dsn)
    try:
        assert register(srv.url, uniq(), 77)[0] == 204 and latest(srv.url) == 77
        assert psql(dsn, "SELECT value FROM public.latest") == [["77"]]
        assert psql(dsn, "SELECT value FROM evil.latest") == [["666"]]
        apps = psql(dsn, "SELECT DISTINCT application_name FROM pg_stat_activity"
                         " WHERE datname = 'path' AND pid <> pg_backend_pid()")
        assert apps == [["minitwitd"]], apps
    finally:
        srv.stop()
    # an application_name the DSN gives wins
    srv = Server(dsn + " application_name=shop")
    try:
        assert latest(srv.url) == 77
        # (the first server's backends may take a moment to go)
        wait_until(lambda: psql(dsn, "SELECT DISTINCT application_name FROM pg_stat_activity"
                                     " WHERE datname = 'path' AND pid <> pg_backend_pid()") == [["shop"]],
                   what="only the second server's sessions, named shop")
    finally:
        srv.stop()


@test
def test_concurrent_startups_migrate_once(c):
    c.db.psql("CREATE DATABASE race")
    dsn = c.db.dsn.replace("dbname=minitwit", "dbname=race")
    procs = [subprocess.Popen([MINITWITD, "--migrate-only"], env=dict(os.environ, MINITWIT_DATABASE_DSN=dsn),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    codes = [p.wait(timeout=60) for p in procs]
    assert codes == [0, 0, 0, 0], codes
    files = len([f for f in os.listdir(os.path.join(REPO, "sql", "schema")) if f.endswith(".sql")])
    assert subprocess.run(["psql", dsn, "-XAtc", "SELECT count(*) FROM schema_migrations"],
                          capture_output=True, text=True).stdout.strip() == str(files)


@test
def test_sigterm_graceful_and_sighup(c):
    srv = Server(c.db.dsn, extra_env={"MINITWIT_LOG_LEVEL": "info"})
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in srv.logtext(), what="reload")
    assert request(srv.url, "GET", "/latest")[0] == 200
    assert srv.stop() == 0
    assert '"stopped"' in srv.logtext()


@test
def test_sighup_reload_all_or_nothing(c):
    """SIGHUP applies a configuration whole or not at all: one that changes
    a reloadable key (api.max_no) and one that is not (http.threads) changes
    nothing and names the latter; so does an invalid one; the reloadable
    change alone then applies."""
    name = uniq()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "minitwitd.yaml")

        def write(max_no, threads, level="info"):
            with open(path, "w") as f:
                f.write(f"api:\n  max_no: {max_no}\nhttp:\n  threads: {threads}\n"
                        f"log:\n  level: {level}\n")

        def shown():
            st, _, raw = api(srv.url, "GET", f"/msgs/{q(name)}?no=10")
            assert st == 200, raw
            return len(json.loads(raw))

        def hup(what, n):
            srv.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: srv.logtext().count(what) == n, what=what)

        write(1000, 2)
        srv = Server(c.db.dsn, config=path)
        register(srv.url, name)
        for i in range(3):
            assert api(srv.url, "POST", f"/msgs/{q(name)}", {"content": f"r{i}"})[0] == 204
        assert shown() == 3
        write(1, 3)
        hup("configuration not reloaded", 1)
        refused = [line for line in srv.logtext().splitlines() if "not reloaded" in line][-1]
        assert "http.threads" in refused and "only on restart" in refused, refused
        assert "api.max_no" not in refused, refused
        assert shown() == 3                 # api.max_no was not applied either
        write(1, 2, level="loud")           # invalid: nothing applies
        hup("configuration not reloaded", 2)
        assert "log.level" in srv.logtext()
        assert shown() == 3
        write(1, 2)
        hup("configuration reloaded", 1)
        assert shown() == 1
        assert srv.stop() == 0


# ---- database outage

@test
def test_database_restart_under_load(c):
    """PostgreSQL restarts mid-load: requests get 503 (never 500, never a
    hang), the server recovers by itself, and every acknowledged write is
    there exactly once."""
    db = Cluster("restart")
    srv = Server(db.dsn, extra_env={"MINITWIT_DATABASE_CONNECT_TIMEOUT": "1s"})
    name = uniq()
    assert register(srv.url, name)[0] == 204
    acked, statuses, stop = [], {}, threading.Event()
    lock = threading.Lock()

    def writer(wid):
        i = 0
        while not stop.is_set():
            text = f"w{wid}-{i}"
            i += 1
            t0 = time.monotonic()
            try:
                st = api(srv.url, "POST", f"/msgs/{q(name)}", {"content": text}, timeout=10)[0]
            except OSError as e:
                st = type(e).__name__
            dt = time.monotonic() - t0
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
                if st == 204:
                    acked.append(text)
                assert dt < 8, f"request took {dt:.1f}s"
    ts = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    [t.start() for t in ts]
    try:
        wait_until(lambda: len(acked) > 50, what="load to start")
        db.restart()
        n0 = len(acked)
        wait_until(lambda: len(acked) > n0 + 50, timeout=30, what="recovery after restart")
    finally:
        stop.set()
        [t.join() for t in ts]
    assert set(statuses) <= {204, 503}, statuses
    rows = db.psql(f"SELECT text, count(*) FROM message GROUP BY text")
    counts = {t: int(n) for t, n in rows}
    missing = [t for t in acked if t not in counts]
    doubled = [t for t, n in counts.items() if n > 1]
    assert not missing and not doubled, (missing[:5], doubled[:5])
    srv.stop()


@test
def test_database_down_gives_503_then_recovers(c):
    db = Cluster("down")
    srv = Server(db.dsn, extra_env={"MINITWIT_DATABASE_CONNECT_TIMEOUT": "1s"})
    subprocess.run([os.path.join(REPO, "scripts", "pg-sandbox"), "stop", db.name, "--keep"],
                   check=True, capture_output=True)
    t0 = time.monotonic()
    st, h, raw = api(srv.url, "GET", "/msgs", timeout=10)
    assert st == 503 and json.loads(raw)["status"] == 503 and h.get("Retry-After") == "1"
    assert time.monotonic() - t0 < 5
    st, _, _ = request(srv.url, "GET", "/healthz")
    assert st == 503
    subprocess.run([os.path.join(REPO, "scripts", "pg-sandbox"), "start", db.name],
                   check=True, capture_output=True)
    wait_until(lambda: api(srv.url, "GET", "/msgs")[0] == 200, timeout=30, what="recovery")
    srv.stop()


# ---- the whole scenario (the generated one, or $MINITWIT_SCENARIO)

@test
def test_full_scenario_replay(c):
    # A flood (every row at once, ~1,300 requests/s) checks that the end
    # state is exact and nothing errs; its timeout is 2 s because this VM's
    # loopback stalls for up to a second now and then under such a flood.
    # The simulator's own 0.3 s is held by the rehearsal and test_cutover,
    # which send at the scenario's pace.
    c.db.psql("CREATE DATABASE replay")
    dsn = c.db.dsn.replace("dbname=minitwit", "dbname=replay")
    s1 = Server(dsn)
    s2 = Server(dsn)
    out = os.path.join(os.environ.get("TEST_OUT", "/tmp"), "replay.json")
    path = scenario.default_scenario()
    rows = scenario.read_rows(path)
    want = scenario.end_state(rows)
    r = subprocess.run([os.path.join(REPO, "scripts", "simulate"), "--scenario", path,
                        "--url", s1.url, "--url", s2.url,
                        "--speedup", "0", "--concurrency", "2", "--timeout", "2", "--json", out],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    report = json.load(open(out))
    assert report["errors"] == 0 and report["requests"] >= len(rows), report["requests"]
    counts = psql(dsn, "SELECT (SELECT count(*) FROM \"user\"), (SELECT count(*) FROM message),"
                       " (SELECT count(*) FROM follower)")
    assert counts == [[str(len(want["users"])), str(len(want["tweets"])), str(len(want["follows"]))]], counts
    if scenario.is_course_file(path):
        assert counts == [[str(v) for v in scenario.COURSE_END_STATE.values()]], counts
    # every message text intact, byte for byte as the scenario sent it, by its author
    got = sorted(tuple(r) for r in psql(dsn, 'SELECT u.username, m.text FROM message m '
                                             'JOIN "user" u ON u.user_id = m.author_id'))
    assert got == sorted((u, t) for u, t, _ in want["tweets"]), "message texts differ from the scenario's tweets"
    fol = sorted(tuple(r) for r in psql(dsn, 'SELECT a.username, b.username FROM follower f '
                                             'JOIN "user" a ON a.user_id = f.who_id JOIN "user" b ON b.user_id = f.whom_id'))
    assert fol == sorted(want["follows"]), "follower rows differ from the scenario's follows"
    s1.stop()
    s2.stop()



@test
def test_register_overlong_fields_refused_before_hashing(c):
    """A user name too long for the unique index used to cost a hash and
    then a 500; now it is a 400 with a message, and nothing is hashed."""
    u = c.srv.url
    before = metric(u, "minitwit_password_hashes_total")
    cases = [
        ({"username": "x" * 5000, "email": "a@b", "pwd": "pw"},
         "The username is too long (at most 100 characters)"),
        ({"username": "é" * 101, "email": "a@b", "pwd": "pw"},
         "The username is too long (at most 100 characters)"),
        ({"username": uniq(), "email": "a@" + "b" * 300, "pwd": "pw"},
         "The email address is too long (at most 254 characters)"),
        ({"username": uniq(), "email": "a@b", "pwd": "p" * 1025},
         "The password is too long (at most 1024 bytes)"),
    ]
    for body, msg in cases:
        st, _, raw = api(u, "POST", "/register", body)
        assert st == 400 and json.loads(raw) == {"status": 400, "error_msg": msg}, (st, raw[:200])
    assert metric(u, "minitwit_password_hashes_total") == before
    # 100 characters (not bytes) is still a name
    name = "é" * 90 + uuid.uuid4().hex[:10]
    assert register(u, name)[0] == 204
    assert metric(u, "minitwit_password_hashes_total") == before + 1


@test
def test_metrics_on_their_own_listener(c):
    """metrics.listen moves /metrics off the public listener (which then
    answers 404) to a listener that serves nothing else."""
    srv = Server(c.db.dsn, extra_env={"MINITWIT_METRICS_LISTEN": "127.0.0.1:0"})
    try:
        m = wait_until(lambda: re.search(r"metrics listening on 127\.0\.0\.1:0 \(port (\d+)\)",
                                         srv.logtext()), timeout=10, what="metrics port in log")
        murl = f"http://127.0.0.1:{m.group(1)}"
        assert request(srv.url, "GET", "/latest")[0] == 200
        st, h, body = request(murl, "GET", "/metrics")
        assert st == 200 and h["Content-Type"].startswith("text/plain; version=0.0.4"), (st, h)
        assert 'minitwit_requests_total{route="GET /latest",status="200"} 1' in body.decode()
        assert metric(murl, "minitwit_writes_paused") == 0
        st, _, body = request(srv.url, "GET", "/metrics")
        assert st == 404 and json.loads(body)["status"] == 404, (st, body)
        for path in ("/latest", "/healthz", "/metrics/x"):
            assert request(murl, "GET", path)[0] == 404, path
        assert request(murl, "POST", "/metrics", raw_body=b"")[0] == 405
    finally:
        srv.stop()
    # the default: on the public listener
    assert metric(c.srv.url, "minitwit_writes_paused") == 0


@test
def test_register_hashes_off_the_workers_with_a_bounded_queue(c):
    """Registers are hashed on hash threads while their connection waits
    suspended: reads are served meanwhile, even by a single worker; past
    password.hash_queue waiting sign-ups the answer is 503 with Retry-After."""
    srv = Server(c.db.dsn, extra_env={"MINITWIT_HTTP_THREADS": "1", "MINITWIT_PASSWORD_HASH_THREADS": "1",
                                      "MINITWIT_PASSWORD_HASH_QUEUE": "2",
                                      "MINITWIT_PASSWORD_OPSLIMIT": "60"})
    try:
        names = [uniq("burst") for _ in range(6)]
        calls = []
        for n in names:
            calls.append(threading.Thread(target=lambda n=n: results.append(
                (n,) + api(srv.url, "POST", "/register", {"username": n, "email": "a@b", "pwd": "pw"},
                           timeout=120)[:2])))
        results = []
        for t in calls:
            t.start()
        # one hashing, two waiting: the single worker still answers reads
        wait_until(lambda: metric(srv.url, "minitwit_hash_queue_waiting") == 2, timeout=60,
                   what="two sign-ups waiting for the hash thread")
        assert request(srv.url, "GET", "/latest")[0] == 200
        assert api(srv.url, "GET", "/msgs?no=1")[0] == 200
        for t in calls:
            t.join(120)
        by_status = {}
        for n, st, h in results:
            by_status.setdefault(st, []).append((n, h))
        assert sorted(by_status) == [204, 503], {k: len(v) for k, v in by_status.items()}
        assert len(by_status[204]) == 3, len(by_status[204])
        assert all(h.get("Retry-After") == "1" for _, h in by_status[503])
        assert metric(srv.url, "minitwit_hash_queue_refused_total") == 3
        assert metric(srv.url, "minitwit_hash_queue_hashed_total") == 3
        for n, _ in by_status[204]:
            h = psql(c.db.dsn, f"SELECT pw_hash FROM \"user\" WHERE username = '{n}'")
            assert len(h) == 1 and h[0][0].startswith("$argon2id$"), h
        for n, _ in by_status[503]:
            assert psql(c.db.dsn, f"SELECT count(*) FROM \"user\" WHERE username = '{n}'") == [["0"]]
    finally:
        srv.stop()


@test
def test_sigterm_answers_sign_ups_waiting_for_a_hash(c):
    """Stopping with sign-ups queued for a hash answers each (the one being
    hashed finishes, the waiting ones get 503) and leaves nothing suspended."""
    srv = Server(c.db.dsn, extra_env={"MINITWIT_PASSWORD_HASH_THREADS": "1",
                                      "MINITWIT_PASSWORD_OPSLIMIT": "60"})
    results = []

    def reg():
        try:
            results.append(api(srv.url, "POST", "/register",
                               {"username": uniq("stop"), "email": "a@b", "pwd": "pw"},
                               timeout=120)[0])
        except OSError as e:
            results.append(e)
    calls = [threading.Thread(target=reg) for _ in range(4)]
    for t in calls:
        t.start()
    wait_until(lambda: metric(srv.url, "minitwit_hash_queue_waiting") == 3, timeout=60,
               what="three sign-ups waiting")
    assert srv.stop() == 0
    for t in calls:
        t.join(60)
    assert sorted(results) == [204, 503, 503, 503], results
    assert "answering the 3 sign-ups waiting for a hash 503" in srv.logtext()

if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
