#!/usr/bin/env python3
"""The cutover with real minitwitd servers under simulator load: two
servers on the old host, scripts/simulate replaying the scenario
(scripts/scenario.py) through both, `migrate run` moving the service (and a second hop with
non-zero offsets) while the load runs.  Zero simulator errors, every
acknowledged write on the final host exactly once, the old hosts refusing
writes, the hold reported; and a cutover killed midway with paused servers."""
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (REPO, MINITWITD, Cluster, Server, free_port, hop_yaml, psql, request,  # noqa: E402
                     run_migrate, run_tests, scenario, test, wait_until)

TOKEN = secrets.token_hex(16)
TABLES = """tables:
  user:              { key: user_id, offset: %(user)s }
  message:           { key: message_id, offset: %(message)s, refs: { author_id: user } }
  follower:          { refs: { who_id: user, whom_id: user } }
  latest:            { conflict: replace }
  schema_migrations: { conflict: replace }
  web_session:       { refs: { user_id: user } }
"""


def expected_state(limit):
    """Users, tweets and follower pairs after the first `limit` scenario rows."""
    st = scenario.end_state(scenario.read_rows(scenario.default_scenario(), limit))
    return set(st["users"]), sorted(t for _, t, _ in st["tweets"]), set(st["follows"])


def final_state(dsn):
    users = {r[0] for r in psql(dsn, 'SELECT username FROM "user"')}
    tweets = sorted(r[0] for r in psql(dsn, "SELECT text FROM message"))
    pairs = psql(dsn, 'SELECT a.username, b.username FROM follower f JOIN "user" a ON a.user_id = f.who_id '
                      'JOIN "user" b ON b.user_id = f.whom_id')
    return users, tweets, [tuple(p) for p in pairs]


class Service:
    """Two minitwitd servers with admin APIs on one database."""

    def __init__(self, dsn):
        self.servers = []
        for _ in range(2):
            port = free_port()
            self.servers.append(Server(dsn, extra_env={"MINITWIT_ADMIN_TOKEN": TOKEN,
                                                        "MINITWIT_ADMIN_LISTEN": f"127.0.0.1:{port}"}))
            self.servers[-1].admin = f"http://127.0.0.1:{port}"

    def admin_status(self, s):
        st, _, body = request(s.admin, "GET", "/admin/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert st == 200, (st, body)
        return json.loads(body)

    def stop(self):
        for s in self.servers:
            s.stop()


def hop_config(src, tgt, service, server, offsets, max_hold=2000):
    off = {"user": "auto", "message": "auto"}
    off.update(offsets or {})
    servers = ", ".join(f'{{ admin_url: "{s.admin}" }}' for s in service.servers)
    return hop_yaml(src, tgt, server, f'cutover: {{ servers: [ {servers} ], max_hold_ms: {max_hold}, max_lag: 5s }}\n'
                    + (TABLES % off))


def migrate(cfg, *args, env=None, check=True):
    return run_migrate(cfg, args, env=dict({"MINITWIT_ADMIN_TOKEN": TOKEN}, **(env or {})), check=check)


@test
def test_two_hops_under_load():
    # every request must succeed across both cutovers; the timeout is 1 s
    # (this VM's loopback stalls now and then for longer than the
    # simulator's 0.3 s, hops or not), the rehearsal keeps the 0.3 s
    a, b, cl = Cluster("co-a"), Cluster("co-b"), Cluster("co-c")
    for c in (b, cl):   # the new hosts are empty databases: migrate creates the tables
        assert psql(c.dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [["0"]]
    svc = Service(a.dsn)
    limit = 9000
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    sim = subprocess.Popen([os.path.join(REPO, "scripts", "simulate"), "--scenario", scenario.default_scenario(),
                            "--url", svc.servers[0].url,
                            "--url", svc.servers[1].url, "--limit", str(limit), "--speedup", "2",
                            "--concurrency", "1", "--reads", "20", "--timeout", "1", "--json", out, "--no-progress"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: int(psql(a.dsn, "SELECT count(*) FROM message")[0][0]) > 200, timeout=60,
                   what="the load to write")
        cfg1 = hop_config(a.dsn, b.dsn, svc, "hop1", {})
        migrate(cfg1, "run", "--json")
        migrate(cfg1, "finish")
        assert all(svc.admin_status(s)["database"].find(b.dsn.split()[1]) >= 0 for s in svc.servers)
        report1 = json.loads(psql(b.dsn, "SELECT report FROM sync_fdw.hop")[0][0])
        assert report1["ok"] and len(report1["servers"]) == 2
        print(f"hop 1: writes held {[s['held_ms'] for s in report1['servers']]} ms, "
              f"{report1['drained_changes']} changes drained", flush=True)
        assert all(s["switched"] and 0 <= s["held_ms"] < 2000 for s in report1["servers"]), report1
        assert sim.poll() is None, "the load ended before hop 2: make it longer"
        cfg2 = hop_config(b.dsn, cl.dsn, svc, "hop2", {"user": "5000", "message": "100000"})
        migrate(cfg2, "run")
        migrate(cfg2, "finish")
        stdout, stderr = sim.communicate(timeout=600)
    finally:
        if sim.poll() is None:
            sim.kill()
    assert sim.returncode == 0, (stdout[-3000:], stderr[-2000:])
    rep = json.load(open(out))
    assert rep["errors"] == 0 and rep["rows"] == limit, rep["errors_by_command"]
    # every acknowledged write exactly once on the last host
    users, tweets, follows = expected_state(limit)
    got_users, got_tweets, got_pairs = final_state(cl.dsn)
    assert got_users == users
    assert got_tweets == tweets, (len(got_tweets), len(tweets))
    assert sorted(got_pairs) == sorted(follows) and len(got_pairs) == len(set(got_pairs))
    assert psql(cl.dsn, 'SELECT min(user_id) FROM "user"')[0][0] == "5001"
    # the old hosts refuse writes; the servers serve from the last one
    for dsn in (a.dsn, b.dsn):
        r = subprocess.run(["psql", dsn, "-Xqc", "INSERT INTO follower VALUES (1, 2)"], capture_output=True, text=True)
        assert r.returncode != 0
    for s in svc.servers:
        assert cl.dsn.split()[1] in svc.admin_status(s)["database"]
    # latest answers from the last host: the id of the last row replayed
    # (every row carries ?latest=<row id>, reads none; one at a time, in order)
    last_id = int(scenario.read_rows(scenario.default_scenario(), limit)[-1][0])
    assert psql(cl.dsn, "SELECT value FROM latest") == [[str(last_id)]]
    for s in svc.servers:
        st, _, body = request(s.url, "GET", "/latest")
        assert st == 200 and json.loads(body) == {"latest": last_id}, body
    ledger = psql(cl.dsn, "SELECT hop, table_name, \"offset\" FROM sync_fdw.ledger WHERE table_name = 'user' ORDER BY hop")
    assert ledger == [["1", "user", "0"], ["2", "user", "5000"]], ledger
    svc.stop()


@test
def test_killed_cutover_resumes_servers_then_finishes():
    a, b = Cluster("kc-a"), Cluster("kc-b")
    svc = Service(a.dsn)
    cfg = hop_config(a.dsn, b.dsn, svc, "hopk", {}, max_hold=800)
    migrate(cfg, "copy")
    r = migrate(cfg, "cutover", env={"MIGRATE_TEST_KILL_CUTOVER_AT": "fenced"}, check=False)
    assert r.returncode == -signal.SIGKILL
    # paused servers resume by themselves: never a fenced source with paused servers
    wait_until(lambda: all(not svc.admin_status(s)["paused"] for s in svc.servers), timeout=10,
               what="the servers to resume after max_hold_ms")
    st, _, _ = request(svc.servers[0].url, "GET", "/msgs", headers={"Authorization": "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"})
    assert st == 200
    migrate(cfg, "cutover")
    for s in svc.servers:
        assert b.dsn.split()[1] in svc.admin_status(s)["database"]
    st, _, _ = request(svc.servers[1].url, "POST", "/register",
                       body={"username": "after", "email": "a@b", "pwd": "x"})
    assert st == 204
    assert psql(b.dsn, "SELECT count(*) FROM \"user\" WHERE username = 'after'")[0][0] == "1"
    svc.stop()


@test
def test_wrong_token_changes_nothing():
    a, b = Cluster("wt-a"), Cluster("wt-b")
    svc = Service(a.dsn)
    cfg = hop_config(a.dsn, b.dsn, svc, "hopw", {})
    migrate(cfg, "copy")
    r = migrate(cfg, "cutover", env={"MINITWIT_ADMIN_TOKEN": "wrong"}, check=False)
    assert r.returncode == 1 and "preflight" in r.stdout and "FAILED" in r.stdout
    for s in svc.servers:
        st = svc.admin_status(s)
        assert not st["paused"] and a.dsn.split()[1] in st["database"]
    r = subprocess.run(["psql", a.dsn, "-Xqc", "INSERT INTO follower VALUES (1, 2)"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr   # not fenced
    svc.stop()


if __name__ == "__main__":
    sys.exit(run_tests())
