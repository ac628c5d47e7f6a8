#!/usr/bin/env python3
"""The web UI in a real browser: runs tests/browser/web.test.js (Debian's
chromium, headless, driven by playwright-core) against a minitwitd on a
throwaway cluster.  Screenshots go to $TEST_OUT/browser/ (build/test-out by
default).

While signed in, the browser also opens pages of another origin (a tiny
http.server on 127.0.0.2) that auto-submit forms to minitwitd or open its
follow link: each must be refused (docs/cross-origin.md) and change nothing.

A missing chromium, node or playwright-core fails this suite: it never
skips.  playwright-core is installed from tests/browser/package-lock.json
(`npm ci`) when tests/browser/node_modules lacks it.
"""
import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, Cluster, Server, api, q, request, run_tests, test  # noqa: E402

BROWSER_DIR = os.path.join(REPO, "tests", "browser")
OUT = os.path.join(os.environ.get("TEST_OUT", os.path.join(REPO, "build", "test-out")), "browser")


class Ctx:
    pass


def setup():
    c = Ctx()
    c.db = Cluster("browser")
    c.srv = Server(c.db.dsn)
    return c


@test
def test_tools_present(c):
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    assert os.access(chromium, os.X_OK), \
        f"no chromium at {chromium}: run scripts/install-deps (it installs Debian's chromium)"
    assert shutil.which("node"), "node not found: run scripts/install-deps"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        assert shutil.which("npm"), "npm not found: run scripts/install-deps"
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"npm ci in tests/browser failed:\n{r.stderr[-2000:]}"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def attacker_site(target, other):
    """Serve, from another loopback origin (127.0.0.2: another site), pages
    that make a visitor's browser send requests to target; returns
    (base URL, stop function)."""
    root = tempfile.mkdtemp(prefix="minitwit-forge-")
    t = html.escape(target, quote=True)

    def autopost(action, fields):
        inputs = "".join(f'<input name="{k}" value="{html.escape(v, quote=True)}">'
                         for k, v in fields.items())
        return (f'<!doctype html><link rel="icon" href="data:,"><title>win a prize</title>'
                f'<form id="f" method="post" action="{t}{action}">{inputs}</form>'
                f'<script>document.getElementById("f").submit()</script>')

    pages = {
        "post.html": autopost("/add_message", {"text": "forged by another site"}),
        "register.html": autopost("/register", {"username": "forged-by-another-site",
                                                "email": "x@evil.example", "password": "p",
                                                "password2": "p"}),
        "follow.html": (f'<!doctype html><link rel="icon" href="data:,"><title>cute cats</title>'
                        f'<script>location.href = "{t}/{q(other)}/follow"</script>'),
    }
    for name, text in pages.items():
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.write(text)
    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.2", 0), functools.partial(QuietHandler, directory=root))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()

    def stop():
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(root, ignore_errors=True)
    return f"http://127.0.0.2:{srv.server_address[1]}", stop


@test
def test_browser_flow(c):
    other = "Browser Friend"
    st, _, _ = api(c.srv.url, "POST", "/register",
                   {"username": other, "email": "friend@example.com", "pwd": "pw"})
    assert st == 204, st
    st, _, _ = api(c.srv.url, "POST", "/msgs/Browser%20Friend", {"content": f"message from {other}"})
    assert st == 204, st
    shutil.rmtree(OUT, ignore_errors=True)
    forge, stop_forge = attacker_site(c.srv.url, other)
    try:
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, "web.test.js"), c.srv.url, OUT,
                            other, forge], capture_output=True, text=True, timeout=300)
    finally:
        stop_forge()
    sys.stdout.write("".join("  " + line + "\n" for line in r.stdout.splitlines()))
    if r.stderr.strip():
        sys.stdout.write("  stderr: " + r.stderr[-3000:] + "\n")
    assert r.returncode == 0, f"browser test failed (status {r.returncode})"
    shots = sorted(f for f in os.listdir(OUT) if f.endswith(".png"))
    assert len(shots) >= 10, shots
    # the forged requests changed nothing
    assert c.db.scalar("SELECT count(*) FROM message WHERE text = 'forged by another site'") == "0"
    assert c.db.scalar("SELECT count(*) FROM \"user\" "
                       "WHERE username = 'forged-by-another-site'") == "0"
    assert c.db.scalar("SELECT count(*) FROM follower") == "0"
    # each refused by its Sec-Fetch-Site (playwright does not show that header)
    _, _, body = request(c.srv.url, "GET", "/metrics")
    reasons = dict(re.findall(r'^minitwit_web_refused_total\{reason="([a-z-]+)"\} (\d+)$',
                              body.decode(), re.M))
    forged = {k: int(v) for k, v in reasons.items() if not k.startswith("login") and int(v)}
    assert forged == {"cross-site": 3}, reasons
    print(f"  screenshots: {OUT}")


if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
