#!/usr/bin/env python3
"""Cutover drivers for applications that are not minitwitd (hop/driver*.c)
on real processes: a PgBouncer in front of the source with an application
writing through it (tests/integration/pgwriter.c, several connections,
several hundred transactions a second) moved by `migrate run` with zero
failed statements; PgBouncer unreachable, PAUSE timing out, a read-only
databases file and session pooling refused or rolled back; admin_dns with
minitwitd replicas on 127.0.0.2, .3, .4 behind one name (MIGRATE_HOSTS_FILE),
one appearing and one vanishing during the pause; command hooks recording
their calls, and a failing switch rolling every other driver back."""
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Cluster, PgBouncer, Server, Writer, free_port, hop_yaml, psql, request,  # noqa: E402
                     run_migrate, run_tests, test, wait_until)
from pgsession import PsqlSession  # noqa: E402

TOKEN = secrets.token_hex(16)
APP_TABLE = ("CREATE TABLE app_item (id bigserial PRIMARY KEY, writer int NOT NULL, seq int NOT NULL, "
             "UNIQUE (writer, seq))")


def port_of(dsn):
    return dict(kv.split("=", 1) for kv in dsn.split())["port"]


def write_config(src, tgt, server, servers_yaml, max_hold=2000):
    return hop_yaml(src, tgt, server, f'cutover:\n  max_hold_ms: {max_hold}\n  max_lag: 5s\n  servers:\n{servers_yaml}')


def pgb_entry(pgb, db="appdb"):
    return (f'    - pgbouncer: "{pgb.admin_dsn}"\n      database: {db}\n'
            f'      databases_file: {pgb.databases_file}\n')


def migrate(cfg, *args, env=None, check=True):
    return run_migrate(cfg, args, env=dict({"MINITWIT_ADMIN_TOKEN": TOKEN}, **(env or {})), check=check)


def writable(dsn):
    r = subprocess.run(["psql", dsn, "-Xqc", "INSERT INTO app_item (writer, seq) SELECT -1, coalesce(min(seq), 0) - 1 "
                        "FROM app_item WHERE writer = -1"],
                       capture_output=True, text=True)
    return r.returncode == 0


def source_with_pgbouncer(name, pool_mode=None):
    a, b = Cluster(f"{name}-a"), Cluster(f"{name}-b")
    psql(a.dsn, APP_TABLE)
    conn = f"host=127.0.0.1 port={port_of(a.dsn)} dbname=minitwit user=minitwit"
    if pool_mode:
        conn += f" pool_mode={pool_mode}"
    pgb = PgBouncer({"appdb": conn, "other": "host=127.0.0.1 port=1 dbname=elsewhere"})
    return a, b, pgb


def file_text(path):
    with open(path) as f:
        return f.read()


@test
def test_pgbouncer_run_under_load():
    a, b, pgb = source_with_pgbouncer("pb")
    before = file_text(pgb.databases_file)
    w = Writer(pgb.dsn("appdb"), nconn=4, rate=400)
    try:
        wait_until(lambda: int(psql(a.dsn, "SELECT count(*) FROM app_item")[0][0]) > 300, timeout=60,
                   what="the application to write through PgBouncer")
        cfg = write_config(a.dsn, b.dsn, "hoppb", pgb_entry(pgb))
        r = migrate(cfg, "run", "--json")
        # the application keeps writing, now on the target
        n = int(psql(b.dsn, "SELECT count(*) FROM app_item")[0][0])
        wait_until(lambda: int(psql(b.dsn, "SELECT count(*) FROM app_item")[0][0]) > n + 600, timeout=60,
                   what="writes to reach the target through PgBouncer")
    finally:
        summary, acked = w.finish()
    assert summary["errors"] == 0, summary["stderr"][-3000:]
    # > 300 before the run, then > n + 600 more on the target (n >= 301)
    assert summary["acked"] > 900 and summary["tps"] > 200, summary
    report = json.loads(psql(b.dsn, "SELECT report FROM sync_fdw.hop")[0][0])
    assert report["ok"], r.stdout
    (srv,) = report["servers"]
    assert srv["kind"] == "pgbouncer" and srv["switched"] and srv["resumed"], srv
    print(f"pgbouncer: writes held {srv['held_ms']:.0f} ms by the cutover, the application's longest "
          f"statement {summary['max_ms']:.0f} ms, {summary['tps']:.0f} tx/s, 0 errors", flush=True)
    # every acknowledged write on the target exactly once
    rows = psql(b.dsn, "SELECT writer, seq FROM app_item WHERE writer > 0")
    got = [(int(x), int(y)) for x, y in rows]
    assert len(got) == len(set(got))
    missing = set(acked) - set(got)
    assert not missing, sorted(missing)[:10]
    # PgBouncer points at the target; only that line of the file changed
    db = pgb.show_databases()["appdb"]
    assert db["port"] == port_of(b.dsn) and db["paused"] == "0", db
    after = file_text(pgb.databases_file)
    assert after.splitlines()[0] == before.splitlines()[0] and after.splitlines()[2:] == before.splitlines()[2:]
    assert f"port={port_of(b.dsn)}" in after.splitlines()[1] and "user=minitwit" in after.splitlines()[1]
    assert "password" not in after
    assert stat.S_IMODE(os.stat(pgb.databases_file).st_mode) == 0o644
    # the old host is fenced
    assert not writable(a.dsn)


@test
def test_pgbouncer_unreachable_refused_before_the_fence():
    a, b, pgb = source_with_pgbouncer("pu")
    cfg = write_config(a.dsn, b.dsn, "hoppu", pgb_entry(pgb))
    migrate(cfg, "copy")
    pgb.stop()
    # plan (and so copy and run) says so before anything is written
    r = migrate(cfg, "plan", check=False)
    assert r.returncode == 3 and "PgBouncer's admin console" in r.stdout + r.stderr, r.stdout + r.stderr
    r = migrate(cfg, "cutover", check=False)
    assert r.returncode != 0 and "preflight" in r.stdout and "FAILED" in r.stdout, r.stdout
    assert "admin console" in r.stdout + r.stderr
    assert writable(a.dsn)   # never fenced


@test
def test_pgbouncer_pause_timeout_rolls_back():
    a, b, pgb = source_with_pgbouncer("pt")
    before = file_text(pgb.databases_file)
    cfg = write_config(a.dsn, b.dsn, "hoppt", pgb_entry(pgb), max_hold=500)
    migrate(cfg, "copy")
    # a transaction left open through PgBouncer: PAUSE waits for it
    s = PsqlSession(pgb.dsn("appdb"))
    try:
        s.run("BEGIN")
        s.run("INSERT INTO app_item (writer, seq) VALUES (0, 1)")
        r = migrate(cfg, "cutover", check=False)
        assert r.returncode != 0 and "pause servers" in r.stdout and "rolled back" in r.stdout, r.stdout
        assert "did not return within 500 ms" in r.stderr, r.stderr
        s.run("COMMIT")
    finally:
        s.close()
    assert file_text(pgb.databases_file) == before
    db = pgb.show_databases()["appdb"]
    assert db["port"] == port_of(a.dsn) and db["paused"] == "0", db
    # the application goes on writing to the source through PgBouncer
    assert writable(a.dsn) and writable(pgb.dsn("appdb"))
    assert psql(a.dsn, "SELECT count(*) FROM app_item WHERE writer = 0")[0][0] == "1"
    assert psql(b.dsn, "SELECT stage FROM sync_fdw.hop")[0][0] != "switched"


def cutover_with_hook(name, hook):
    """A copied hop through PgBouncer and a cutover run with hook (a test
    hook's environment); (source, target, pgbouncer, config, result)."""
    a, b, pgb = source_with_pgbouncer(name)
    cfg = write_config(a.dsn, b.dsn, f"hop{name}", pgb_entry(pgb))
    migrate(cfg, "copy")
    return a, b, pgb, cfg, migrate(cfg, "cutover", env=hook, check=False)


def on_target_and_resumed(a, b, pgb):
    db = pgb.show_databases()["appdb"]
    assert db["port"] == port_of(b.dsn) and db["paused"] == "0", db
    assert writable(pgb.dsn("appdb")) and not writable(a.dsn)


@test
def test_pgbouncer_killed_cutover_finishes_on_rerun():
    # PgBouncer has no pause timeout: a cutover killed while it holds writes
    # leaves it paused, and the re-run must finish (and resume it)
    a, b, pgb, cfg, r = cutover_with_hook("pk", {"MIGRATE_TEST_KILL_CUTOVER_AT": "fenced"})
    assert r.returncode == -signal.SIGKILL
    assert pgb.show_databases()["appdb"]["paused"] == "1"
    r = migrate(cfg, "cutover")
    assert "paused already" in r.stderr
    on_target_and_resumed(a, b, pgb)


@test
def test_failure_after_the_point_of_no_return_still_resumes():
    # past the pointed fence nothing rolls back; PgBouncer, which never
    # resumes by itself, must still be released (on the target)
    a, b, pgb, cfg, r = cutover_with_hook("pn", {"MIGRATE_TEST_FAIL_CUTOVER_AT": "pointed"})
    assert r.returncode != 0 and "switch servers" in r.stdout and "FAILED" in r.stdout, r.stdout
    on_target_and_resumed(a, b, pgb)


@test
def test_pgbouncer_preflight_refusals():
    a, b, pgb = source_with_pgbouncer("pr")
    cfg = write_config(a.dsn, b.dsn, "hoppr", pgb_entry(pgb))
    migrate(cfg, "copy")
    # a read-only databases file
    os.chmod(pgb.databases_file, 0o444)
    r = migrate(cfg, "cutover", check=False)
    assert r.returncode != 0 and "preflight" in r.stdout and "is not writable" in r.stdout, r.stdout
    os.chmod(pgb.databases_file, 0o644)
    # an entry PgBouncer does not know
    cfg2 = write_config(a.dsn, b.dsn, "hoppr", pgb_entry(pgb, db="nosuch"))
    r = migrate(cfg2, "cutover", check=False)
    assert r.returncode != 0 and 'has no database "nosuch"' in r.stdout, r.stdout
    # two lines for the entry
    text = file_text(pgb.databases_file)
    with open(pgb.databases_file, "a") as f:
        f.write(text.splitlines()[1] + "\n")
    r = migrate(cfg, "cutover", check=False)
    assert r.returncode != 0 and "holds 2 lines" in r.stdout, r.stdout
    # a password on the entry's line: never written again
    with open(pgb.databases_file, "w") as f:
        f.write(text.replace("user=minitwit", "user=minitwit password='se cret'"))
    r = migrate(cfg, "cutover", check=False)
    assert r.returncode != 0 and "carries a password" in r.stdout and "se cret" not in r.stdout + r.stderr, r.stdout
    with open(pgb.databases_file, "w") as f:
        f.write(text)
    assert writable(a.dsn)
    # session pooling: refused with the reason
    a2, b2, pgs = source_with_pgbouncer("ps", pool_mode="session")
    cfg3 = write_config(a2.dsn, b2.dsn, "hopps", pgb_entry(pgs))
    r = migrate(cfg3, "copy", check=False)   # refused by the plan: nothing written
    assert r.returncode == 3 and "uses pool_mode session" in r.stdout + r.stderr, r.stdout + r.stderr
    assert psql(b2.dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [["0"]]
    assert writable(a2.dsn)


def hook_script(log, fail_switch=False, extra_pause=""):
    path = tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False).name
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f'echo "$1 target=$MIGRATE_TARGET_DSN source=$MIGRATE_SOURCE_DSN" >> {log}\n'
                + (f'[ "$1" = pause ] && {{ {extra_pause} }}\n' if extra_pause else "")
                + ('[ "$1" = switch ] && [ "$MIGRATE_TARGET_DSN" != "$MIGRATE_SOURCE_DSN" ] && exit 3\n'
                   if fail_switch else "")
                + "exit 0\n")
    os.chmod(path, 0o755)
    return path


def command_entry(script):
    return (f'    - command:\n        pause: "{script} pause"\n        switch: "{script} switch"\n'
            f'        resume: "{script} resume"\n')


def admin_status(url):
    st, _, body = request(url, "GET", "/admin/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert st == 200, (st, body)
    return json.loads(body)


@test
def test_command_hooks_record_their_calls():
    a, b = Cluster("cm-a"), Cluster("cm-b")
    psql(a.dsn, APP_TABLE)
    log = tempfile.NamedTemporaryFile(suffix=".log", delete=False).name
    # (a DSN with a password is refused by the plan: test_migrate.py)
    cfg = write_config(a.dsn, b.dsn, "hopcm", command_entry(hook_script(log)))
    migrate(cfg, "run")
    calls = [ln.split(" ", 1) for ln in file_text(log).splitlines()]
    assert [c[0] for c in calls] == ["pause", "switch", "resume"], calls
    for step, env in calls:
        assert f"port={port_of(b.dsn)}" in env.split(" source=")[0], calls   # MIGRATE_TARGET_DSN
        assert f"port='{port_of(a.dsn)}'" in env.split(" source=")[1], calls  # MIGRATE_SOURCE_DSN
        assert "password" not in env
    assert not writable(a.dsn)


@test
def test_failing_switch_rolls_back_every_driver():
    a, b, pgb = source_with_pgbouncer("fs")
    before = file_text(pgb.databases_file)
    aport = free_port()
    mt = Server(a.dsn, extra_env={"MINITWIT_ADMIN_TOKEN": TOKEN, "MINITWIT_ADMIN_LISTEN": f"127.0.0.1:{aport}"})
    admin = f"http://127.0.0.1:{aport}"
    log = tempfile.NamedTemporaryFile(suffix=".log", delete=False).name
    servers = (f'    - admin_url: "{admin}"\n' + pgb_entry(pgb) + command_entry(hook_script(log, fail_switch=True)))
    cfg = write_config(a.dsn, b.dsn, "hopfs", servers)
    migrate(cfg, "copy")
    r = migrate(cfg, "cutover", check=False)
    assert r.returncode != 0 and "switch servers" in r.stdout and "rolled back" in r.stdout, r.stdout
    assert "the switch command" in r.stderr and "exit status 3" in r.stderr, r.stderr
    # every driver back where it was: minitwitd resumed on the source,
    # PgBouncer's file as before and resumed there, the hook's resume called
    st = admin_status(admin)
    assert not st["paused"] and port_of(a.dsn) in st["database"], st
    assert file_text(pgb.databases_file) == before
    db = pgb.show_databases()["appdb"]
    assert db["port"] == port_of(a.dsn) and db["paused"] == "0", db
    steps = [ln.split(" ", 1)[0] for ln in file_text(log).splitlines()]
    assert steps == ["pause", "switch", "resume"], steps
    assert f"port='{port_of(a.dsn)}'" in file_text(log).splitlines()[2].split(" source=")[0]
    assert writable(a.dsn) and writable(pgb.dsn("appdb"))
    mt.stop()


@test
def test_admin_url_secrets_never_shown():
    """An admin_url may carry a secret in its user info or query: the
    cutover's report and its log lines show it masked."""
    a, b = Cluster("us-a"), Cluster("us-b")
    psql(a.dsn, APP_TABLE)
    dead = free_port()
    secret = "S3cr3t" + secrets.token_hex(4)
    servers = f'    - admin_url: "http://ops:{secret}@127.0.0.1:{dead}/?key={secret}"\n'
    cfg = write_config(a.dsn, b.dsn, "hopus", servers)
    r = migrate(cfg, "plan", check=False)
    assert r.returncode == 3, r.stdout + r.stderr   # refused: nobody listens there
    r2 = migrate(cfg, "cutover", check=False)
    assert r2.returncode != 0 and "FAILED" in r2.stdout, r2.stdout + r2.stderr
    out = r.stdout + r.stderr + r2.stdout + r2.stderr
    assert f"127.0.0.1:{dead}" in out, out    # the server is named...
    assert secret not in out, out             # ...without its secret
    assert writable(a.dsn)


@test
def test_admin_dns_replica_caught_before_the_switch():
    a, b = Cluster("dn-a"), Cluster("dn-b")
    psql(a.dsn, APP_TABLE)
    port = free_port()
    replicas = {}
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        replicas[ip] = Server(a.dsn, extra_env={"MINITWIT_ADMIN_TOKEN": TOKEN,
                                                "MINITWIT_ADMIN_LISTEN": f"{ip}:{port}"})
    url = {ip: f"http://{ip}:{port}" for ip in replicas}
    hosts = tempfile.NamedTemporaryFile("w", suffix=".hosts", delete=False).name
    with open(hosts, "w") as f:
        f.write("# the service's tasks\n127.0.0.2 tasks.minitwitd\n127.0.0.3 tasks.minitwitd other\n")
    # during the pause (once .2 and .3 hold writes) .4 joins the name and .3
    # leaves it: polled by the pause hook, bounded by max_hold_ms
    log = tempfile.NamedTemporaryFile(suffix=".log", delete=False).name
    paused = " && ".join(f"curl -sf -H 'Authorization: Bearer {TOKEN}' {url[ip]}/admin/status | "
                         "grep -q '\"paused\": *true'" for ip in ("127.0.0.2", "127.0.0.3"))
    extra = (f"i=0; until {paused}; do i=$((i+1)); [ $i -gt 400 ] && exit 1; sleep 0.005; done; "
             f"printf '127.0.0.2 tasks.minitwitd\\n127.0.0.4 tasks.minitwitd\\n' > {hosts}.new && "
             f"mv {hosts}.new {hosts};")
    servers = f'    - admin_dns: "tasks.minitwitd:{port}"\n' + command_entry(hook_script(log, extra_pause=extra))
    cfg = write_config(a.dsn, b.dsn, "hopdn", servers, max_hold=3000)
    migrate(cfg, "copy", env={"MIGRATE_HOSTS_FILE": hosts})
    # preflight: every address answers; nothing paused
    migrate(cfg, "cutover", "--dry-run", env={"MIGRATE_HOSTS_FILE": hosts})
    assert not any(admin_status(u)["paused"] for u in url.values())
    r = migrate(cfg, "cutover", "--json", env={"MIGRATE_HOSTS_FILE": hosts})
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["ok"], report
    by = {s["name"]: s for s in report["servers"] if s["kind"] == "minitwitd"}
    assert set(by) == set(url.values()), by
    assert by[url["127.0.0.4"]]["added_during_pause"] and by[url["127.0.0.4"]]["switched"], by
    assert by[url["127.0.0.3"]]["vanished"] and not by[url["127.0.0.3"]]["switched"], by
    assert by[url["127.0.0.2"]]["switched"] and not by[url["127.0.0.2"]]["added_during_pause"], by
    assert "vanished during the pause" in r.stderr
    for ip in ("127.0.0.2", "127.0.0.4"):
        st = admin_status(url[ip])
        assert port_of(b.dsn) in st["database"] and not st["paused"], (ip, st)
    # the vanished one resumes by itself and meets the fence (it follows it)
    wait_until(lambda: not admin_status(url["127.0.0.3"])["paused"], timeout=15,
               what="the vanished replica to resume after max_hold_ms")
    assert not writable(a.dsn)
    for s in replicas.values():
        s.stop()


if __name__ == "__main__":
    sys.exit(run_tests())
