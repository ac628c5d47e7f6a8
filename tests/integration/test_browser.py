#!/usr/bin/env python3
"""The web UI in a real browser: runs tests/browser/web.test.js (Debian's
chromium, headless, driven by playwright-core) against a minitwitd on a
throwaway cluster.  Screenshots go to $TEST_OUT/browser/ (build/test-out by
default).

A missing chromium, node or playwright-core fails this suite: it never
skips.  playwright-core is installed from tests/browser/package-lock.json
(`npm ci`) when tests/browser/node_modules lacks it.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, Cluster, Server, api, run_tests, test  # noqa: E402

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


@test
def test_browser_flow(c):
    other = "Browser Friend"
    st, _, _ = api(c.srv.url, "POST", "/register",
                   {"username": other, "email": "friend@example.com", "pwd": "pw"})
    assert st == 204, st
    st, _, _ = api(c.srv.url, "POST", "/msgs/Browser%20Friend", {"content": f"message from {other}"})
    assert st == 204, st
    shutil.rmtree(OUT, ignore_errors=True)
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "web.test.js"), c.srv.url, OUT, other],
                       capture_output=True, text=True, timeout=300)
    sys.stdout.write("".join("  " + line + "\n" for line in r.stdout.splitlines()))
    if r.stderr.strip():
        sys.stdout.write("  stderr: " + r.stderr[-3000:] + "\n")
    assert r.returncode == 0, f"browser test failed (status {r.returncode})"
    shots = sorted(f for f in os.listdir(OUT) if f.endswith(".png"))
    assert len(shots) >= 7, shots
    print(f"  screenshots: {OUT}")


if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
