#!/usr/bin/env python3
"""A hop the way a managed PostgreSQL service (RDS, Cloud SQL, DigitalOcean)
allows it, on real clusters.

The clusters play the provider: scripts/pg-sandbox starts them with
PG_SANDBOX_PASSWORD, so every TCP login is scram-sha-256.  A superuser (the
provider's admin) only sets them up: an ordinary role "shop" owning the
database, CREATE EXTENSION postgres_fdw and GRANT USAGE ON FOREIGN DATA
WRAPPER postgres_fdw to the role.  Everything after that runs as "shop",
with passwords from a pgpass file (PGPASSFILE), never in a DSN.

The C capture extension is installed system-wide on the test machine, and
it is trusted, so an ordinary database owner could create it.  A managed
service does not have it: the provider's event trigger below refuses to
create it in both databases.  That is stronger than only configuring
capture.function: plpgsql: migrate runs with the default (auto), really
tries, is refused, and must capture with PL/pgSQL; the test then checks the
extension is absent from both hosts.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, MINITWITD, Cluster, log_messages, psql, run_tests, scenario, test, wait_until  # noqa: E402
from pgsession import PsqlSession  # noqa: E402

MIGRATE = os.environ.get("MIGRATE", os.path.join(REPO, "bin", "migrate"))
SYNC = os.environ.get("SYNC_FDW", os.path.join(REPO, "bin", "sync-fdw"))
ADMIN_PW = "provider-admin-pw"
ROLE_PW = "shop-role-pw"

# the provider's refusal of the C capture extension (see the docstring)
REFUSE_EXT = """
CREATE FUNCTION provider_refuse_ext() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF r.object_type = 'extension' AND r.object_identity = 'sync_fdw_capture' THEN
      RAISE EXCEPTION 'extension "sync_fdw_capture" is not supported by this provider';
    END IF;
  END LOOP;
END $$;
CREATE EVENT TRIGGER provider_refuse_ext ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
  EXECUTE FUNCTION provider_refuse_ext();
"""


msgs = log_messages


class Ctx:
    pass


def write_pgpass(path, entries):
    with open(path, "w") as f:
        for user, pw in entries:
            f.write(f"127.0.0.1:*:*:{user}:{pw}\n")
    os.chmod(path, 0o600)


def setup():
    c = Ctx()
    os.environ.pop("PGPASSWORD", None)
    os.environ["PG_SANDBOX_PASSWORD"] = ADMIN_PW
    c.pgpass = tempfile.NamedTemporaryFile(prefix="pgpass-", delete=False).name
    write_pgpass(c.pgpass, [("minitwit", ADMIN_PW), ("shop", ROLE_PW)])
    os.environ["PGPASSFILE"] = c.pgpass
    c.a, c.b = Cluster("managed-a"), Cluster("managed-b")
    for cl in (c.a, c.b):
        assert "password" not in cl.dsn
        psql(cl.dsn, f"CREATE ROLE shop LOGIN PASSWORD '{ROLE_PW}'")
    return c


def provider_db(cluster, name, fdw=True, grant=True, owner="shop"):
    """A database as the provider hands it out; returns (admin DSN, role DSN)."""
    psql(cluster.dsn, f"CREATE DATABASE {name} OWNER {owner}")
    admin = cluster.dsn.replace("dbname=minitwit", f"dbname={name}")
    if fdw:
        psql(admin, "CREATE EXTENSION postgres_fdw")
    if fdw and grant:
        psql(admin, "GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO shop")
    psql(admin, REFUSE_EXT)
    return admin, admin.replace("user=minitwit", "user=shop")


def config(src, tgt, server="managed"):
    path = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False).name
    with open(path, "w") as f:
        f.write(f'source: {{ dsn: "{src}" }}\ntarget: {{ dsn: "{tgt}" }}\n'
                f'link: {{ server: "{server}", schema: "staging" }}\n'
                'sync: { batch_size: 500, interval: 20ms }\n'
                'cutover: { servers: [] }\n'
                'tables:\n'
                '  user:              { key: user_id, offset: auto }\n'
                '  message:           { key: message_id, offset: auto, refs: { author_id: user } }\n'
                '  follower:          { refs: { who_id: user, whom_id: user } }\n'
                '  latest:            { conflict: replace }\n'
                '  schema_migrations: { conflict: replace }\n'
                '  web_session:       { refs: { user_id: user } }\n')
    return path


def run(prog, cfg, *args, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([prog, "--config", cfg] + list(args), capture_output=True, text=True,
                          env=e, timeout=timeout)


class Writer(threading.Thread):
    """The application: inserts messages one by one through its own psql
    session as the ordinary role, remembering which committed."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.session = PsqlSession(dsn)
        self.committed, self.failed = [], []
        self.stop = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            text = f"live-{i}"
            out = self.session.run("INSERT INTO message (author_id, text, pub_date, flagged)"
                                   f" VALUES (7, '{text}', {i}, 0)")
            errors = [line for line in out if line.startswith("ERROR") or "ERROR:" in line]
            (self.failed if errors else self.committed).append((text, errors))

    def finish(self):
        self.stop.set()
        self.join(timeout=30)
        self.session.close()


@test
def test_link_check_names_each_missing_piece(c):
    # no postgres_fdw in the target's database
    src_admin, src = provider_db(c.a, "chk_src")
    subprocess.run([MINITWITD, "--migrate-only"], env=dict(os.environ, MINITWIT_DATABASE_DSN=src), check=True,
                   capture_output=True)
    _, bare = provider_db(c.b, "chk_bare", fdw=False)
    r = run(SYNC, config(src, bare), "link", "--check")
    assert r.returncode == 1, r.stdout
    assert "MISSING  postgres_fdw is installed in the target's database" in r.stdout, r.stdout
    assert 'connected to database "chk_bare": CREATE EXTENSION postgres_fdw' in r.stdout, r.stdout
    assert "MISSING  the target's user may use postgres_fdw (USAGE ON FOREIGN DATA WRAPPER" in r.stdout
    # the link itself is not tried by --check (it would send the password)
    assert "note     the target reaching the source through postgres_fdw is tried by link" in r.stdout, r.stdout
    # installed, USAGE not granted: said as such, not as a network problem
    _, nogrant = provider_db(c.b, "chk_nogrant", grant=False)
    r = run(SYNC, config(src, nogrant), "link", "--check", "--json")
    checks = {x["check"]: x for x in json.loads(r.stdout)}
    assert r.returncode == 1
    usage = checks["the target's user may use postgres_fdw (USAGE ON FOREIGN DATA WRAPPER postgres_fdw)"]
    assert not usage["ok"] and usage["hint"].endswith('GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO "shop"')
    assert checks["postgres_fdw is installed in the target's database"]["ok"]
    assert not any("reach" in k for k in checks), checks
    assert [k for k, x in checks.items() if x["ok"] is False] == [usage["check"]], checks
    # no CREATE on a database the role does not own
    _, foreign = provider_db(c.b, "chk_notmine", owner="minitwit")
    psql(c.b.dsn.replace("dbname=minitwit", "dbname=chk_notmine"), "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    r = run(SYNC, config(src, foreign), "link", "--check")
    assert ("MISSING  the target's user can create schemas (CREATE on the target's database)\n"
            "         hint: the database's owner or an administrator must run: GRANT CREATE ON DATABASE"
            ' "chk_notmine" TO "shop"') in r.stdout, r.stdout
    # a source reached without a password (the unix socket is trusted): the
    # user mapping of a non-superuser would have none
    sockdir = psql(src_admin, "SHOW unix_socket_directories")[0][0].split(",")[0].strip()
    port = psql(src_admin, "SHOW port")[0][0]
    _, tgt = provider_db(c.b, "chk_tgt")
    r = run(SYNC, config(f"host={sockdir} port={port} dbname=chk_src user=shop", tgt), "link", "--check")
    assert "MISSING  a password for the source's user, for the user mapping" in r.stdout, r.stdout
    assert "PGPASSFILE" in r.stdout
    # everything in place: all ok
    r = run(SYNC, config(src, tgt), "link", "--check")
    assert r.returncode == 0 and "MISSING" not in r.stdout, r.stdout
    assert psql(tgt, "SELECT count(*) FROM pg_foreign_server")[0][0] == "0"   # nothing was created


@test
def test_whole_hop_as_ordinary_role_with_live_writes(c):
    src_admin, src = provider_db(c.a, "shop_src")
    tgt_admin, tgt = provider_db(c.b, "shop_tgt")
    for dsn in (src, tgt):
        assert "password" not in dsn and psql(dsn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [["f"]]
    r = subprocess.run([MINITWITD, "--migrate-only"], env=dict(os.environ, MINITWIT_DATABASE_DSN=src),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([os.path.join(REPO, "scripts", "import-legacy"), scenario.legacy_db(), src],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg = config(src, tgt)
    r = run(SYNC, cfg, "link", "--check")
    assert r.returncode == 0, r.stdout
    w = Writer(src)
    w.start()
    try:
        wait_until(lambda: len(w.committed) >= 20, what="the application's first writes")
        r = run(MIGRATE, cfg, "run")
        assert r.returncode == 0, f"{r.stdout[-2000:]}\n{msgs(r.stderr)[-3000:]}"
        # the application kept writing: its writes failed from the fence on,
        # and after the switch its session's error names the new host
        n = len(w.failed)
        wait_until(lambda: len(w.failed) > n, what="a write refused after the switch")
    finally:
        w.finish()
    log = msgs(r.stderr)
    assert "could not create the extension sync_fdw_capture" in log and "PL/pgSQL" in log, log
    assert "fence only" in r.stdout, r.stdout
    # from the fence to the switch the writes fail as moved (cutover in
    # progress); from the switch on the error names the new host
    assert all(any("has moved to" in e for e in errs) for _, errs in w.failed), w.failed
    assert any("has moved to" in e and "dbname=shop_tgt" in e for e in w.failed[-1][1]), w.failed[-1]
    # a session opened after the fence is read-only; the new host is in
    # minitwit_fence.moved_to, without a password
    s = PsqlSession(src)
    try:
        out = s.run("INSERT INTO message (author_id, text, pub_date, flagged) VALUES (7, 'too late', 1, 0)")
        assert any("read-only transaction" in e for e in out), out
        moved = s.run("SELECT dsn FROM minitwit_fence.moved_to ORDER BY at DESC LIMIT 1")
    finally:
        s.close()
    assert moved == [tgt], moved
    for dsn in (src_admin, tgt_admin):
        assert psql(dsn, "SELECT count(*) FROM pg_extension WHERE extname = 'sync_fdw_capture'")[0][0] == "0"
    # exact data: every committed write is there once, nothing else
    live = sorted(t for t, _ in w.committed)
    assert len(live) > 20
    got = [row[0] for row in psql(tgt, "SELECT text FROM message WHERE text LIKE 'live-%' ORDER BY text")]
    assert got == live, (len(got), len(live))
    for q in ("SELECT count(*) FROM \"user\"", "SELECT count(*) FROM follower",
              "SELECT md5(string_agg(text || author_id, '|' ORDER BY text)) FROM message WHERE text NOT LIKE 'live-%'"):
        assert psql(tgt, q) == psql(src, q), q
    moved = scenario.counts(scenario.read_rows(scenario.default_scenario()))["messages"]
    assert psql(tgt, "SELECT count(*) FROM message")[0][0] == str(moved + len(live))
    st = run(MIGRATE, cfg, "status")
    assert st.returncode == 0 and "stage:       switched" in st.stdout, st.stdout
    r = run(MIGRATE, cfg, "finish")
    assert r.returncode == 0, msgs(r.stderr)


@test
def test_refused_login_is_final(c):
    _, src = provider_db(c.a, "auth_src")
    _, tgt = provider_db(c.b, "auth_tgt")
    wrong = tempfile.NamedTemporaryFile(prefix="pgpass-", delete=False).name
    write_pgpass(wrong, [("shop", "not-the-password")])
    cfg = config(src, tgt)
    r = run(MIGRATE, cfg, "status", env={"PGPASSFILE": wrong, "MINITWIT_SYNC_CONNECT_ATTEMPTS": "50"})
    assert r.returncode == 5
    # (an info line names the MINITWIT_* overrides)
    lines = [x for x in (json.loads(ln) for ln in r.stderr.splitlines()) if x["level"] != "info"]
    assert [x["level"] for x in lines] == ["error"], lines      # no "retrying" warnings
    assert "password authentication failed" in lines[0]["msg"] and "login was refused" in lines[0]["hint"], lines
    assert "not-the-password" not in r.stderr
    r = run(SYNC, cfg, "run", "--once", env={"PGPASSFILE": wrong, "MINITWIT_SYNC_CONNECT_ATTEMPTS": "50"})
    assert r.returncode == 5 and "retrying in" not in r.stderr and "attempt" not in r.stderr, r.stderr
    # the source refuses the link's login (its password changed after the
    # link): postgres_fdw relays it as a connection failure, which is final too
    subprocess.run([MINITWITD, "--migrate-only"], env=dict(os.environ, MINITWIT_DATABASE_DSN=src), check=True,
                   capture_output=True)
    r = run(MIGRATE, cfg, "copy")
    assert r.returncode == 0, msgs(r.stderr)
    psql(src.replace("user=shop", "user=minitwit"), "ALTER ROLE shop PASSWORD 'changed-pw'")
    try:
        port = src.split("port=")[1].split()[0]
        changed = tempfile.NamedTemporaryFile(prefix="pgpass-", delete=False).name
        with open(changed, "w") as f:
            f.write(f"127.0.0.1:{port}:*:shop:changed-pw\n127.0.0.1:*:*:shop:{ROLE_PW}\n")
        os.chmod(changed, 0o600)
        r = run(SYNC, cfg, "run", "--once", env={"PGPASSFILE": changed, "MINITWIT_SYNC_CONNECT_ATTEMPTS": "50"})
        assert r.returncode != 0 and "retrying in" not in r.stderr, msgs(r.stderr)
        assert "password authentication failed" in msgs(r.stderr), msgs(r.stderr)
    finally:
        psql(src.replace("user=shop", "user=minitwit"), f"ALTER ROLE shop PASSWORD '{ROLE_PW}'")


if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
