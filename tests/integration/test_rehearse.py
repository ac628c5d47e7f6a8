#!/usr/bin/env python3
"""The migration rehearsal end to end: `scripts/rehearse --quick` (three
clusters, two minitwitd instances under simulator load, two hops, every
check), then its report: report.json holds the figures, and report.html,
opened in headless Chromium (Debian's chromium driven by playwright-core, as
tests/integration/test_browser.py does) with every network request refused,
shows the timeline charts with the hold windows, a table per hop, the ledger
and the checks.  The screenshot goes to $TEST_OUT/rehearsal/ (build/test-out
by default).

A missing chromium, node or playwright-core fails this suite: it never skips.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, SANITIZER_MARKERS, run_tests, test  # noqa: E402

REHEARSE = os.path.join(REPO, "scripts", "rehearse")
REPORT = os.path.join(REPO, "scripts", "report")
BROWSER_DIR = os.path.join(REPO, "tests", "browser")
TEST_OUT = os.environ.get("TEST_OUT", os.path.join(REPO, "build", "test-out"))
OUT = os.path.join(TEST_OUT, "rehearsal")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# Opens the report from file://, refuses any other request (the page must
# read offline), checks what is on it and saves a full-page screenshot.
# Prints one JSON object.
BROWSER_JS = r"""
const { chromium } = require('playwright-core');
const fs = require('fs'); const os = require('os'); const path = require('path');
const [page_path, shot, exe] = process.argv.slice(1);
(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rehearsal-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe, headless: true, viewport: { width: 1200, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const external = [];
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith('file:')) return route.continue();
    external.push(u);
    return route.abort();
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto('file://' + page_path, { waitUntil: 'load' });
  const r = await page.evaluate(() => {
    const box = (el) => { const b = el.getBoundingClientRect(); return [b.width, b.height]; };
    const svgs = [...document.querySelectorAll('svg.timeline')];
    return {
      title: document.title,
      h1: document.querySelector('h1').innerText,
      timeline: svgs.map((s) => ({ panel: s.dataset.panel, size: box(s),
        polylines: s.querySelectorAll('polyline').length,
        points: [...s.querySelectorAll('polyline')].reduce((n, p) => n + p.points.numberOfItems, 0),
        holds: s.querySelectorAll('rect.hold-window').length,
        hop_spans: s.querySelectorAll('rect.hop-span').length,
        finish_spans: s.querySelectorAll('rect.finish-span').length })),
      hold_labels: [...document.querySelectorAll('svg.timeline text')].map((t) => t.textContent)
        .filter((t) => t.startsWith('hold ')),
      holdcharts: document.querySelectorAll('svg.holdchart').length,
      hop_headings: [...document.querySelectorAll('h3[id^=hop]')].map((h) => h.innerText),
      hop_tables: [...document.querySelectorAll('table.hop')].map((t) => t.innerText),
      hop_table_rows: [...document.querySelectorAll('table.hop-tables')].map((t) => t.rows.length),
      ledger_rows: [...document.querySelectorAll('table.ledger tr')].map((tr) => tr.innerText),
      checks: [...document.querySelectorAll('table.checks tr')].slice(1).map((tr) => tr.cells[0].innerText),
      scripts: document.querySelectorAll('script').length,
    };
  });
  await page.screenshot({ path: shot, fullPage: true });
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
  r.external = external; r.errors = errors;
  console.log(JSON.stringify(r));
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e && e.stack || e) })); process.exit(1); });
"""


class Ctx:
    pass


def setup():
    c = Ctx()
    c.out = OUT
    c.result = None
    return c


@test
def test_rehearse_quick(c):
    shutil.rmtree(c.out, ignore_errors=True)
    t0 = time.monotonic()
    r = subprocess.run([REHEARSE, "--quick", "--out", c.out], capture_output=True, text=True,
                       timeout=600)
    c.seconds = time.monotonic() - t0
    sys.stdout.write("".join("  " + line + "\n" for line in r.stderr.splitlines()[-45:]))
    assert r.returncode == 0, f"scripts/rehearse --quick exited {r.returncode}"
    assert c.seconds < 120, f"the quick rehearsal took {c.seconds:.0f} s (budget: under 2 minutes)"
    for f in ("report.json", "report.html", "simulate.json", "hop1-run.log", "hop2-run.log",
              "minitwitd-1.log", "minitwitd-2.log"):
        assert os.path.getsize(os.path.join(c.out, f)) > 0, f"{f} missing or empty"
    with open(os.path.join(c.out, "report.json"), encoding="utf-8") as f:
        c.result = json.load(f)
    # nothing left behind: the clusters are stopped and removed, the servers gone
    for role, name in c.result["sandbox_names"].items():
        st = subprocess.run([os.path.join(REPO, "scripts", "pg-sandbox"), "status", name],
                            capture_output=True, text=True)
        assert st.returncode == 3, f"cluster {role} ({name}) is still running: {st.stdout}"
    for s in c.result["servers"]:
        port = int(s["url"].rsplit(":", 1)[1])
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"{s['server']} still listens"
    # a sanitizer finding in a server (make test-sanitize runs this suite with
    # the ASan+UBSan minitwitd through $MINITWITD) fails the run
    for i in (1, 2):
        with open(os.path.join(c.out, f"minitwitd-{i}.log"), encoding="utf-8", errors="replace") as f:
            text = f.read()
        assert not any(m in text for m in SANITIZER_MARKERS), f"sanitizer report in minitwitd-{i}.log:\n{text[-4000:]}"
    print(f"  quick rehearsal: {c.seconds:.1f} s")


@test
def test_report_json_figures(c):
    rep = c.result
    assert rep, "no report.json (the rehearsal failed)"
    assert rep["ok"] is True and rep["failure"] is None, rep.get("failure")
    assert rep["checks"] and all(ch["ok"] for ch in rep["checks"]), \
        [ch for ch in rep["checks"] if not ch["ok"]]
    names = " | ".join(ch["name"] for ch in rep["checks"])
    for must in ("zero errors", "messages", "follower rows", "message text", "old refuses writes",
                 "new refuses writes", "ledger shows both hops", "minitwitd-1 serves from newer",
                 "minitwitd-2 serves from newer", "offsets"):
        assert must in names, f"no check about {must!r}: {names}"
    sim = rep["simulate"]
    assert sim["errors"] == 0 and sim["requests"] > 0 and len(sim["timeline"]) >= 10
    assert all(rep["final"]["counts"][k] == v for k, v in rep["expected"].items()), \
        (rep["expected"], rep["final"]["counts"])
    assert len(rep["hops"]) == 2
    for h, offs in zip(rep["hops"], ({"user": 0, "message": 0}, {"user": 5000, "message": 50000})):
        assert h["exit_code"] == 0 and h["verification_match"] is True, h["name"]
        assert h["offsets"]["user"] == offs["user"] and h["offsets"]["message"] == offs["message"], h["offsets"]
        assert h["rows_copied_total"] > 0 and h["copy_seconds"] is not None
        assert h["changes_synced"] is not None and h["drained_changes"] is not None
        assert isinstance(h["hold_ms"], (int, float)) and h["hold_ms"] > 0
        assert len(h["servers"]) == 2 and all(s["switched"] for s in h["servers"]), h["servers"]
        assert all(isinstance(s["held_ms"], int) for s in h["servers"])
        w = h["hold_window"]
        assert w and sim["started_at"] < w["start"] <= w["end"] < sim["finished_at"], \
            f"{h['name']}: hold window {w} not inside the load"
        print(f"  {h['name']}: {h['rows_copied_total']} rows copied in {h['copy_seconds']} s, "
              f"{h['changes_synced']} changes synced, hold {h['hold_ms']} ms "
              f"({', '.join(str(s['held_ms']) for s in h['servers'])} ms per server)")
    hops = sorted({x["hop"] for x in rep["ledger"]})
    assert hops == [1, 2], rep["ledger"]
    # the HTML is re-made from the JSON alone
    r = subprocess.run([sys.executable, REPORT, os.path.join(c.out, "report.json")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("<!DOCTYPE html>"), r.stderr
    assert "<script" not in r.stdout and "http://" not in r.stdout.split("<main>")[0]


@test
def test_report_in_browser(c):
    assert os.access(CHROMIUM, os.X_OK), \
        f"no chromium at {CHROMIUM}: run scripts/install-deps (it installs Debian's chromium)"
    assert shutil.which("node"), "node not found: run scripts/install-deps"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        assert shutil.which("npm"), "npm not found: run scripts/install-deps"
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"npm ci in tests/browser failed:\n{r.stderr[-2000:]}"
    page = os.path.join(c.out, "report.html")
    assert os.path.exists(page), "no report.html"
    shot = os.path.join(c.out, "report.png")
    env = dict(os.environ, NODE_PATH=os.path.join(BROWSER_DIR, "node_modules"))
    r = subprocess.run(["node", "-e", BROWSER_JS, page, shot, CHROMIUM], capture_output=True,
                       text=True, timeout=180, env=env)
    assert r.returncode == 0, f"browser failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert "fatal" not in got, got.get("fatal")
    assert not got["external"], f"the page asked the network for {got['external']}"
    assert not got["errors"], got["errors"]
    assert got["scripts"] == 0, "the report must work without JavaScript"
    assert "PASSED" in got["h1"], got["h1"]
    panels = {p["panel"]: p for p in got["timeline"]}
    assert set(panels) == {"req/s", "errors/s", "ms"}, panels
    for p in got["timeline"]:
        assert p["size"][0] > 600 and p["size"][1] > 60, p
        assert p["holds"] == 2 and p["hop_spans"] == 2 and p["finish_spans"] == 2, \
            f"hops, holds or finishes not marked: {p}"
    assert panels["req/s"]["polylines"] >= 3 and panels["req/s"]["points"] >= 30, panels["req/s"]
    assert panels["ms"]["polylines"] >= 2, panels["ms"]
    assert len(got["hold_labels"]) == 2, got["hold_labels"]
    assert got["holdcharts"] == 2
    assert len(got["hop_headings"]) == 2 and len(got["hop_tables"]) == 2, got["hop_headings"]
    for t in got["hop_tables"]:
        for label in ("rows copied", "copy time", "changes synced", "sync lag", "writes held",
                      "held on minitwitd-1", "held on minitwitd-2", "verification"):
            assert label in t, f"{label!r} not in the hop table:\n{t}"
        assert "matched" in t
    assert all(n >= 6 for n in got["hop_table_rows"]), got["hop_table_rows"]
    assert len(got["ledger_rows"]) >= 1 + 2 * 6, got["ledger_rows"]
    assert any(row.startswith("1\t") for row in got["ledger_rows"]) and \
        any(row.startswith("2\t") for row in got["ledger_rows"]), got["ledger_rows"]
    assert got["checks"] and all("pass" in x for x in got["checks"]), got["checks"]
    assert os.path.getsize(shot) > 20000, "screenshot too small"
    print(f"  screenshot: {shot}")


@test
def test_rehearse_via_pgbouncer(c):
    """--via pgbouncer: an application that is not minitwitd writes through
    PgBouncer during both hops; zero failed statements, every acknowledged
    write on newer once, its hold next to minitwitd's in the report."""
    out = c.out + "-pgbouncer"
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run([REHEARSE, "--quick", "--via", "pgbouncer", "--out", out], capture_output=True,
                       text=True, timeout=600)
    sys.stdout.write("".join("  " + line + "\n" for line in r.stderr.splitlines()[-12:]))
    assert r.returncode == 0, f"scripts/rehearse --quick --via pgbouncer exited {r.returncode}"
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        rep = json.load(f)
    assert rep["ok"] and all(ch["ok"] for ch in rep["checks"])
    app = rep["app"]
    assert app["via"] == "pgbouncer" and app["errors"] == 0 and app["acked"] > 1000, app
    names = " | ".join(ch["name"] for ch in rep["checks"])
    assert "the application through PgBouncer saw zero failed statements" in names
    assert "newer holds every acknowledged write of the application exactly once" in names
    assert "PgBouncer points at newer" in names
    for hop in rep["hops"]:
        kinds = sorted(s["kind"] for s in hop["servers"])
        assert kinds == ["minitwitd", "minitwitd", "pgbouncer"], hop["servers"]
        pgb = next(s for s in hop["servers"] if s["kind"] == "pgbouncer")
        assert pgb["switched"] and pgb["held_ms"] >= 0, pgb
    with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
        html = f.read()
    assert "application via PgBouncer: failed statements" in html and "pgbouncer (appdb" in html
    print(f"  via pgbouncer: held {[next(s['held_ms'] for s in h['servers'] if s['kind'] == 'pgbouncer') for h in rep['hops']]} ms "
          f"per hop, longest statement {app['max_ms']} ms, {app['acked']} transactions, 0 failed")


if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
