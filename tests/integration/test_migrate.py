#!/usr/bin/env python3
"""Integration tests of migrate on real PostgreSQL clusters: plan, target
schema, resumable copy consistent with the capture, verify (also under live
load and against tampering), cutover and its failure paths, a second hop
with non-zero offsets.  Tests with minitwitd servers under simulator load
are in test_cutover.py."""
import json
import os
import pty
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import REPO, MINITWITD, Cluster, log_messages, psql, run_tests, scenario, test  # noqa: E402
from pgsession import PsqlSession  # noqa: E402

MIGRATE = os.environ.get("MIGRATE", os.path.join(REPO, "bin", "migrate"))
SYNC_FDW = os.environ.get("SYNC_FDW", os.path.join(REPO, "bin", "sync-fdw"))
# the legacy database the tests start from: the scenario's end state
# (scripts/scenario.py), U users, M messages, F follower rows
LEGACY_DIR = scenario.legacy_db()
_n = scenario.counts(scenario.read_rows(scenario.default_scenario()))
U, M, F = _n["users"], _n["messages"], _n["followers"]
LEGACY_COUNTS = [str(U), str(M), str(F)]
TABLES = """tables:
  user:              { key: user_id, offset: %(user)s }
  message:           { key: message_id, offset: %(message)s, refs: { author_id: user } }
  follower:          { refs: { who_id: user, whom_id: user } }
  latest:            { conflict: replace }
  schema_migrations: { conflict: replace }
  web_session:       { refs: { user_id: user } }
"""


msgs = log_messages


class Ctx:
    pass


def setup():
    c = Ctx()
    c.a, c.b, c.c = Cluster("mig-a"), Cluster("mig-b"), Cluster("mig-c")
    c.n = 0
    return c


def new_db(cluster, name, schema=True, legacy=False):
    psql(cluster.dsn, f"CREATE DATABASE {name}")
    dsn = cluster.dsn.replace("dbname=minitwit", f"dbname={name}")
    if schema:
        r = subprocess.run([MINITWITD, "--migrate-only"], env=dict(os.environ, MINITWIT_DATABASE_DSN=dsn),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    if legacy:
        r = subprocess.run([os.path.join(REPO, "scripts", "import-legacy"),
                            LEGACY_DIR, dsn], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return dsn


class Hop:
    def __init__(self, c, src, tgt, offsets=None, extra="", batch_rows=1000000, server="hop"):
        off = {"user": "auto", "message": "auto"}
        off.update(offsets or {})
        self.src, self.tgt = src, tgt
        self.cfg = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False).name
        with open(self.cfg, "w") as f:
            f.write(f'source: {{ dsn: "{src}" }}\ntarget: {{ dsn: "{tgt}" }}\n'
                    f'link: {{ server: "{server}", schema: "staging" }}\n'
                    f'sync: {{ batch_size: 500, interval: 20ms }}\ncopy: {{ batch_rows: {batch_rows} }}\n'
                    f'cutover: {{ servers: [] }}\n' + (TABLES % off) + extra)

    def run(self, *args, env=None, check=True, timeout=300):
        e = dict(os.environ)
        e.update(env or {})
        r = subprocess.run([MIGRATE, "--config", self.cfg] + list(args), capture_output=True, text=True,
                           env=e, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"migrate {' '.join(args)} exited {r.returncode}:\n{r.stdout[-2000:]}\n"
                                 f"{msgs(r.stderr)[-3000:]}")
        return r


def unfollowed_pairs(dsn, n):
    """n (who_id, whom_id) pairs the legacy data does not hold (follower has
    no key: a second row of a pair would count)."""
    return [tuple(map(int, r)) for r in psql(
        dsn, 'SELECT x.user_id, y.user_id FROM "user" x, "user" y WHERE x.user_id < y.user_id AND NOT EXISTS '
             '(SELECT FROM follower f WHERE f.who_id = x.user_id AND f.whom_id = y.user_id) '
             f'ORDER BY 1, 2 LIMIT {n}')]


def counts(dsn):
    return psql(dsn, "SELECT (SELECT count(*) FROM \"user\"), (SELECT count(*) FROM message),"
                     " (SELECT count(*) FROM follower)")[0]


@test
def test_help_and_usage(c):
    r = subprocess.run([MIGRATE, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("plan", "schema", "copy", "verify", "cutover", "finish", "run", "status"):
        assert cmd in r.stdout
        h = subprocess.run([MIGRATE, cmd, "--help"], capture_output=True, text=True)
        assert h.returncode == 0 and h.stdout.startswith(f"Usage: migrate [--config FILE] {cmd}"), cmd
        assert "--json" in h.stdout, cmd
    r = subprocess.run([MIGRATE, "copy", "--frobnicate"], capture_output=True, text=True)
    assert r.returncode == 2 and 'Try "migrate copy --help"' in r.stderr
    r = subprocess.run([MIGRATE, "bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown command" in r.stderr
    r = subprocess.run([MIGRATE], capture_output=True, text=True)
    assert r.returncode == 2


@test
def test_plan_reports_without_writing(c):
    src = new_db(c.a, "plan_src", legacy=True)
    tgt = new_db(c.b, "plan_tgt", schema=False)
    h = Hop(c, src, tgt)
    r = h.run("plan", "--json")
    plan = json.loads(r.stdout)
    t = {x["name"]: x for x in plan["tables"]}
    assert t["message"]["rows"] == M and t["message"]["source_ids"] == [1, M]
    assert t["message"]["refs"][0] == {"column": "author_id", "table": "user", "from": "refs"}
    assert t["follower"]["key"] is None and t["follower"]["identity"] == ["who_id", "whom_id"]
    assert not t["user"]["target_has_table"] and plan["problems"] == []
    r = h.run("plan")
    assert "migrate creates it" in r.stdout
    assert psql(tgt, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == "0"


@test
def test_run_moves_everything_exactly(c):
    src = new_db(c.a, "run_src", legacy=True)
    tgt = new_db(c.b, "run_tgt", schema=False)
    psql(src, "UPDATE latest SET value = 4242")
    h = Hop(c, src, tgt, batch_rows=3000)
    r = h.run("run", "--json")
    assert counts(tgt) == LEGACY_COUNTS
    assert psql(tgt, "SELECT value FROM latest") == [["4242"]]
    assert psql(tgt, "SELECT count(*) FROM schema_migrations")[0][0] == psql(src, "SELECT count(*) FROM schema_migrations")[0][0]
    # texts byte for byte, indexes rebuilt, sequences above every id
    assert psql(tgt, "SELECT md5(string_agg(text, '|' ORDER BY message_id)) FROM message") == \
        psql(src, "SELECT md5(string_agg(text, '|' ORDER BY message_id)) FROM message")
    assert psql(tgt, "SELECT count(*) FROM pg_indexes WHERE tablename = 'message'")[0][0] == "3"
    psql(tgt, "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (1, 'fresh', 1, 0)")
    assert psql(tgt, "SELECT message_id FROM message WHERE text = 'fresh'") == [[str(M + 1)]]
    # the old host refuses writes, naming the new one
    r2 = subprocess.run(["psql", src, "-Xqc", "INSERT INTO follower VALUES (1, 2)"], capture_output=True, text=True)
    assert r2.returncode != 0 and "read-only" in r2.stderr
    s = PsqlSession(src)
    try:
        out = s.run("BEGIN READ WRITE; INSERT INTO follower VALUES (1, 2)")
        assert any("MT001" in line or "has moved to" in line for line in out), out
    finally:
        s.close()
    st = json.loads(h.run("status", "--json").stdout.splitlines()[0])
    assert st["stage"] == "switched" and st["report"]["ok"] and st["copied"]["message"]["pieces"] == 4
    v = json.loads(h.run("verify", "--json").stdout)
    assert v["match"] and v["as_of_cutover"]


@test
def test_copy_killed_resumes_without_doubles(c):
    src = new_db(c.a, "kill_src", legacy=True)
    tgt = new_db(c.b, "kill_tgt", schema=False)
    h = Hop(c, src, tgt, batch_rows=1000)
    r = h.run("copy", env={"SYNC_FDW_TEST_KILL_COPY_AT": "5"}, check=False)
    assert r.returncode == -signal.SIGKILL, r.returncode
    done = int(psql(tgt, "SELECT count(*) FROM sync_fdw.copied")[0][0])
    # two workers: the other one may have committed its piece just before the kill
    assert done in (5, 6), done
    # the copy dropped the primary keys too; the plan accepts that meanwhile
    assert psql(tgt, "SELECT tbl FROM sync_fdw.copy_index WHERE kind = 'p' AND tbl = 'message'") == [["message"]]
    assert psql(tgt, "SELECT count(*) FROM pg_constraint WHERE conname = 'message_pkey'")[0][0] == "0"
    h.run("plan")
    # the indexes the copy dropped come back even after the kill
    r = h.run("copy", "--json")
    events = [json.loads(line) for line in r.stdout.strip().splitlines()]
    last = events[-1]
    assert last["pieces_skipped"] == done and last["pieces"] > 0 and last["workers"] == 2, last
    # progress: JSON lines on stdout, each table's last one "done"
    finals = [e for e in events if e.get("event") == "copy" and e["done"]]
    assert finals and all(isinstance(e["rows_per_s"], int) and e["rows"] <= e["total"] for e in finals), events
    assert psql(tgt, "SELECT count(*) FROM sync_fdw.copy_index")[0][0] == "0"
    q = ("SELECT conrelid::regclass::text, conname, contype FROM pg_constraint"
         " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2")
    assert psql(tgt, q) == psql(src, q)
    assert counts(tgt) == LEGACY_COUNTS
    assert psql(tgt, "SELECT count(*) FROM (SELECT message_id FROM message GROUP BY 1 HAVING count(*) > 1) d")[0][0] == "0"
    q = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    assert psql(tgt, q) == psql(src, q)


@test
def test_unlink_warns_of_indexes_a_killed_copy_dropped(c):
    src = new_db(c.a, "drop_src", legacy=True)
    tgt = new_db(c.b, "drop_tgt", schema=False)
    h = Hop(c, src, tgt, batch_rows=1000)
    r = h.run("copy", env={"SYNC_FDW_TEST_KILL_COPY_AT": "1"}, check=False)
    assert r.returncode == -signal.SIGKILL, r.returncode
    r = subprocess.run([os.path.join(REPO, "bin", "sync-fdw"), "--config", h.cfg, "unlink"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "dropped indexes and keys it has not rebuilt" in r.stderr and "message_pkey" in r.stderr, r.stderr


@test
def test_copy_any_schema(c):
    """Not MiniTwit: a user-defined enum and an array (copied in COPY's text
    format, the binary one elsewhere), unique and foreign-key constraints
    (kept, and one worker so that parents go first), a quoted table name,
    and a "replace" table that already has rows on the target (merged)."""
    ddl = ("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
           "CREATE TABLE \"Parent\" (id serial PRIMARY KEY, name text UNIQUE NOT NULL, m mood, tags text[]);"
           "CREATE TABLE child (id bigserial PRIMARY KEY, parent_id int NOT NULL REFERENCES \"Parent\" (id),"
           " note text, at timestamptz DEFAULT now());"
           "CREATE INDEX child_parent ON child (parent_id, at DESC);"
           "CREATE TABLE setting (k text PRIMARY KEY, v integer)")
    src = new_db(c.a, "any_src", schema=False)
    tgt = new_db(c.b, "any_tgt", schema=False)
    psql(src, ddl)
    psql(tgt, ddl)
    psql(src, "INSERT INTO \"Parent\" (name, m, tags) SELECT 'p' || g, (ARRAY['sad','ok','happy'])[g % 3 + 1]::mood,"
              " ARRAY['a' || g, NULL, 'x,\"y'] FROM generate_series(1, 2500) g;"
              "INSERT INTO child (parent_id, note) SELECT g % 2500 + 1, CASE WHEN g % 7 = 0 THEN NULL"
              " ELSE E'tab\\there ' || g END FROM generate_series(1, 4000) g;"
              "INSERT INTO setting VALUES ('a', 1), ('b', 2)")
    psql(tgt, "INSERT INTO setting VALUES ('b', 20), ('c', 30)")
    h = Hop(c, src, tgt, batch_rows=1000)
    with open(h.cfg) as f:
        text = f.read()
    with open(h.cfg, "w") as f:
        f.write(text.split("tables:")[0] + "tables:\n  Parent: { key: id, offset: 0 }\n"
                "  child: { key: id, offset: 100 }\n  setting: { conflict: replace }\n")
    r = h.run("copy", "--json")
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["workers"] == 1 and last["rows"] == 2500 + 4000 + 2, last
    q = "SELECT id, name, m, tags FROM \"Parent\" ORDER BY id"
    assert psql(tgt, q) == psql(src, q)
    assert psql(tgt, "SELECT id - 100, parent_id, note FROM child ORDER BY id") == \
        psql(src, "SELECT id, parent_id, note FROM child ORDER BY id")
    assert psql(tgt, "SELECT k, v FROM setting ORDER BY k") == [["a", "1"], ["b", "2"], ["c", "30"]]
    q = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    assert psql(tgt, q) == psql(src, q)
    q = "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
    assert psql(tgt, q) == psql(src, q)


@test
def test_sessions_named_migrate_with_the_hop_settings(c):
    """migrate's sessions say "migrate" (not "sync-fdw") and have the hop's
    settings whatever the database's defaults: a trigger on the target
    records those of the session copying into it."""
    src = new_db(c.a, "name_src")
    tgt = new_db(c.b, "name_tgt")
    psql(src, "INSERT INTO \"user\" (username, email, pw_hash) SELECT 'u' || g, 'e', 'h' FROM generate_series(1, 3) g")
    psql(tgt, "CREATE TABLE public.seen (app text, path text, datestyle text, efd text);"
              "CREATE FUNCTION public.record_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
              " INSERT INTO public.seen VALUES (pg_catalog.current_setting('application_name'),"
              " pg_catalog.current_setting('search_path'), pg_catalog.current_setting('DateStyle'),"
              " pg_catalog.current_setting('extra_float_digits')); RETURN NULL; END $$;"
              "CREATE TRIGGER record_session AFTER INSERT ON public.\"user\""
              " FOR EACH STATEMENT EXECUTE FUNCTION public.record_session();"
              "ALTER DATABASE name_tgt SET DateStyle = 'SQL, DMY'; ALTER DATABASE name_tgt SET extra_float_digits = -3;"
              "ALTER DATABASE name_tgt SET search_path = public, pg_catalog")
    h = Hop(c, src, tgt, offsets={"user": "0", "message": "0"})
    h.run("copy")
    assert psql(tgt, "SELECT count(*) FROM \"user\"") == [["3"]]
    seen = psql(tgt, "SELECT DISTINCT app, path, datestyle, efd FROM public.seen")
    assert seen == [["migrate", "", "ISO, MDY", "3"]], seen


@test
def test_copy_meets_the_change_log_exactly(c):
    """Writes during and between copy pieces, including updates that move a
    row to another piece and a transaction held open across the copy: after
    catching up, the target equals the remapped source."""
    src = new_db(c.a, "meet_src", legacy=True)
    tgt = new_db(c.b, "meet_tgt")
    psql(tgt, "INSERT INTO \"user\" (username, email, pw_hash) VALUES ('local', 'e', 'h')")
    h = Hop(c, src, tgt, batch_rows=2000)
    h.run("schema")
    subprocess.run([os.path.join(REPO, "bin", "sync-fdw"), "--config", h.cfg, "link"], check=True,
                   capture_output=True)
    subprocess.run([os.path.join(REPO, "bin", "sync-fdw"), "--config", h.cfg, "capture", "install"],
                   check=True, capture_output=True)
    held = PsqlSession(src)
    try:
        held.run("BEGIN")
        held.run("INSERT INTO message (author_id, text, pub_date, flagged) VALUES (3, 'held open', 1, 0)")
        held.run("UPDATE message SET text = text || ' (edited in a long transaction)' WHERE message_id = 9000")
        psql(src, "UPDATE message SET message_id = message_id + 20000 WHERE message_id IN (10, 5500);"
                  "DELETE FROM message WHERE message_id = 7;"
                  "INSERT INTO follower SELECT who_id, whom_id FROM follower LIMIT 3;"
                  "UPDATE latest SET value = 7")
        r = h.run("copy", env={"SYNC_FDW_TEST_KILL_COPY_AT": "3"}, check=False)
        assert r.returncode == -signal.SIGKILL
        psql(src, "UPDATE message SET message_id = message_id + 30000 WHERE message_id IN (100, 11000);"
                  "DELETE FROM follower WHERE ctid IN (SELECT ctid FROM follower LIMIT 2);"
                  "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (2, 'between pieces', 1, 0)")
        r = h.run("copy")
        held.run("COMMIT")
        # stderr is no terminal: progress is the final figures as log
        # lines, and every line of stderr is JSON (no bare progress text)
        lines = [json.loads(line) for line in r.stderr.splitlines()]
        assert any(j["msg"].startswith("copy message ") and " rows/s " in j["msg"] for j in lines), lines
    finally:
        held.close()
    subprocess.run([os.path.join(REPO, "bin", "sync-fdw"), "--config", h.cfg, "run", "--once"], check=True,
                   capture_output=True)
    v = h.run("verify", check=False)
    assert v.returncode == 0, v.stdout
    assert "MISMATCH" not in v.stdout


@test
def test_verify_detects_tampering(c):
    src = new_db(c.a, "tamper_src", legacy=True)
    tgt = new_db(c.b, "tamper_tgt", schema=False)
    h = Hop(c, src, tgt)
    h.run("run")
    psql(tgt, "SET session_replication_role = replica; UPDATE message SET text = 'changed behind its back' "
              "WHERE message_id = 1234")
    r = h.run("verify", check=False)
    assert r.returncode == 6, r.returncode
    assert "1234: differs" in r.stdout and "MISMATCH" in r.stdout
    v = json.loads(h.run("verify", "--json", check=False).stdout)
    m = next(t for t in v["tables"] if t["table"] == "message")
    assert not m["match"] and m["differences"] == ["1234: differs"]


@test
def test_second_hop_with_offsets_and_ledger(c):
    a = new_db(c.a, "chain_a", legacy=True)
    b = new_db(c.b, "chain_b", schema=False)
    h1 = Hop(c, a, b, server="hop1")
    h1.run("run")
    h1.run("finish")
    # finish drops the server and with it the mapping holding the password
    assert psql(b, "SELECT count(*) FROM pg_user_mappings WHERE srvname = 'hop1'") == [["0"]]
    assert psql(b, "SELECT count(*) FROM pg_foreign_server WHERE srvname = 'hop1'") == [["0"]]
    # after finish: status is readable text, JSON with --json; sync-fdw says finished
    st = h1.run("status").stdout
    assert st.startswith("hop:         hop1\n") and "stage:       finished" in st, st
    assert "ledger:\n" in st and "\n  hop 1  message " in st and not st.lstrip().startswith("{"), st
    assert json.loads(h1.run("status", "--json").stdout.splitlines()[0])["stage"] == "finished"
    sync = os.environ.get("SYNC_FDW", os.path.join(REPO, "bin", "sync-fdw"))
    r = subprocess.run([sync, "--config", h1.cfg, "status"], capture_output=True, text=True)
    assert r.returncode == 0 and "finished" in r.stdout and "does not exist" not in r.stderr, (r.stdout, r.stderr)
    r = subprocess.run([sync, "--config", h1.cfg, "status", "--json"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["finished"] is True, r.stdout
    times_b = psql(b, "SELECT table_name, recorded_at, target_before_min, target_before_max FROM sync_fdw.ledger"
                      " WHERE hop = 1 ORDER BY table_name")
    cdb = new_db(c.c, "chain_c", schema=False)
    h2 = Hop(c, b, cdb, offsets={"user": "5000", "message": "-1000"}, server="hop2")
    psql(b, f"INSERT INTO message (author_id, text, pub_date, flagged) VALUES ({U}, 'written on b', 9, 0)")
    h2.run("run")
    assert counts(cdb) == [str(U), str(M + 1), str(F)]
    assert psql(cdb, "SELECT min(user_id), max(user_id) FROM \"user\"") == [["5001", str(5000 + U)]]
    assert psql(cdb, "SELECT message_id, author_id FROM message WHERE text = 'written on b'") == \
        [[str(M + 1 - 1000), str(5000 + U)]]
    assert psql(cdb, "SELECT count(*) FROM follower WHERE who_id <= 5000 OR whom_id <= 5000")[0][0] == "0"
    # new rows on the third host get fresh ids
    psql(cdb, "INSERT INTO \"user\" (username, email, pw_hash) VALUES ('newcomer', 'e', 'h')")
    assert psql(cdb, "SELECT user_id FROM \"user\" WHERE username = 'newcomer'") == [["5201"]]
    ledger = psql(cdb, "SELECT hop, server, table_name, \"offset\", carried FROM sync_fdw.ledger "
                       "WHERE table_name IN ('user', 'message') ORDER BY hop, table_name")
    assert ledger == [["1", "hop1", "message", "0", "t"], ["1", "hop1", "user", "0", "t"],
                      ["2", "hop2", "message", "-1000", "f"], ["2", "hop2", "user", "5000", "f"]], ledger
    # a carried hop keeps the times and ranges it was recorded with
    assert psql(cdb, "SELECT table_name, recorded_at, target_before_min, target_before_max FROM sync_fdw.ledger"
                     " WHERE hop = 1 ORDER BY table_name") == times_b
    # both old hosts are fenced
    for dsn in (a, b):
        r = subprocess.run(["psql", dsn, "-Xqc", "INSERT INTO follower VALUES (1, 2)"], capture_output=True, text=True)
        assert r.returncode != 0


@test
def test_cutover_failures_roll_back(c):
    src = new_db(c.a, "fail_src", legacy=True)
    tgt = new_db(c.b, "fail_tgt", schema=False)
    h = Hop(c, src, tgt, extra="")
    h.run("copy")
    # an admin API that does not answer: the preflight refuses, nothing changes
    text = open(h.cfg).read().replace("cutover: { servers: [] }",
                                      'cutover: { servers: [ { admin_url: "http://127.0.0.1:9" } ], max_hold_ms: 500 }')
    open(h.cfg, "w").write(text)
    r = h.run("cutover", env={"MINITWIT_ADMIN_TOKEN": "t"}, check=False)
    assert r.returncode == 1 and "preflight" in r.stdout and "FAILED" in r.stdout, r.stdout
    assert "admin API does not answer" in r.stdout
    # no token: refused before any call
    r = h.run("cutover", env={"MINITWIT_ADMIN_TOKEN": ""}, check=False)
    assert r.returncode == 1 and "MINITWIT_ADMIN_TOKEN" in r.stdout, r.stdout
    # a target DSN with a secret would be written to moved_to: refused, not shown
    for secret in (" sslpassword=hunter2x", " password='hunter2x'"):
        r = h.run("cutover", env={"MINITWIT_TARGET_DSN": tgt + secret}, check=False)
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "password" in out and "hunter2x" not in out, out
    assert psql(src, "SELECT to_regclass('minitwit_fence.moved_to') IS NULL") == [["t"]]   # not fenced
    who, whom = unfollowed_pairs(src, 1)[0]
    psql(src, f"INSERT INTO follower VALUES ({who}, {whom})")   # the source still takes writes
    # killed right after fencing: a re-run finishes the cutover
    open(h.cfg, "w").write(text.replace('[ { admin_url: "http://127.0.0.1:9" } ]', "[]"))
    r = h.run("cutover", env={"MIGRATE_TEST_KILL_CUTOVER_AT": "fenced"}, check=False)
    assert r.returncode == -signal.SIGKILL
    r = subprocess.run(["psql", src, "-Xqc", "INSERT INTO follower VALUES (1, 4)"], capture_output=True, text=True)
    assert r.returncode != 0   # fenced meanwhile: nothing can be lost there
    h.run("cutover")
    assert psql(tgt, f"SELECT count(*) FROM follower WHERE who_id = {who} AND whom_id = {whom}")[0][0] == "1"
    assert h.run("verify").returncode == 0
    # a second cutover is a no-op
    r = h.run("cutover")
    assert "already switched" in r.stdout


@test
def test_move_back_within_the_rollback_window(c):
    """After a cutover, the old host follows the new one (the reverse
    direction) until finish, so the service can move back without losing
    what was written after the cutover."""
    a = new_db(c.a, "back_a", legacy=True)
    b = new_db(c.b, "back_b", schema=False)
    (p1, p2), (q1, q2) = unfollowed_pairs(a, 2)
    there = Hop(c, a, b, offsets={"user": "1000", "message": "50000"}, server="there")
    there.run("run")
    psql(b, "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (1001, 'written after the move', 5, 0);"
            "UPDATE latest SET value = 31337; DELETE FROM follower WHERE who_id = 1018;"
            f"INSERT INTO follower VALUES ({p1 + 1000}, {p2 + 1000})")
    tables = TABLES.replace("user:              { key: user_id, offset: %(user)s }",
                            "user:              { key: user_id, offset: %(user)s, conflict: replace }")
    tables = tables.replace("refs: { author_id: user } }", "refs: { author_id: user }, conflict: replace }")
    back = Hop(c, b, a, offsets={"user": "-1000", "message": "-50000"}, server="back")
    text = open(back.cfg).read()
    open(back.cfg, "w").write(text[:text.index("tables:")] + tables % {"user": "-1000", "message": "-50000"})
    sync = os.path.join(REPO, "bin", "sync-fdw")
    subprocess.run([sync, "--config", back.cfg, "link"], check=True, capture_output=True)
    r = subprocess.run([sync, "--config", back.cfg, "run", "--once"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the old host followed, ids mapped back, while still refusing the application's writes
    assert psql(a, "SELECT message_id, author_id FROM message WHERE text = 'written after the move'") == [[str(M + 1), "1"]]
    assert psql(a, "SELECT value FROM latest") == [["31337"]]
    assert psql(a, "SELECT count(*) FROM follower WHERE who_id = 18")[0][0] == "0"
    assert psql(a, f"SELECT count(*) FROM follower WHERE who_id = {p1} AND whom_id = {p2}")[0][0] == "1"
    r = subprocess.run(["psql", a, "-Xqc", f"INSERT INTO follower VALUES ({q1}, {q2})"], capture_output=True,
                       text=True)
    assert r.returncode != 0
    # moving back: the old host is unfenced, the new one fenced
    back.run("cutover")
    psql(a, f"INSERT INTO follower VALUES ({q1}, {q2})")
    r = subprocess.run(["psql", b, "-Xqc", f"INSERT INTO follower VALUES ({q1 + 1000}, {q2 + 1000})"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert counts(a) == [str(U), str(M + 1), psql(b, "SELECT count(*) + 1 FROM follower")[0][0]]


@test
def test_target_unreachable(c):
    src = new_db(c.a, "unreach_src", legacy=True)
    h = Hop(c, src, "host=127.0.0.1 port=1 dbname=x user=y")
    r = h.run("cutover", check=False)
    assert r.returncode == 5 and "could not connect to target" in msgs(r.stderr), (r.returncode, r.stderr)



def untouched(*dsns):
    """Neither database holds anything of a hop: no sync_fdw schema, no
    foreign server."""
    for dsn in dsns:
        assert psql(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'sync_fdw%' OR "
                         "nspname LIKE 'staging%'") == [["0"]], dsn
        assert psql(dsn, "SELECT count(*) FROM pg_foreign_server") == [["0"]], dsn


def refused(h, commands, wants, forbidden=()):
    """Each command exits 3 naming every problem of wants, printing none of
    forbidden."""
    for cmd in commands:
        r = h.run(cmd, check=False)
        out = r.stdout + msgs(r.stderr)
        assert r.returncode == 3, (cmd, r.returncode, out[-3000:])
        for want in wants:
            assert want in out, (cmd, want, out[-3000:])
        for word in forbidden:
            assert word not in out, (cmd, word)


def with_tables(h, tables):
    with open(h.cfg) as f:
        text = f.read()
    with open(h.cfg, "w") as f:
        f.write(text.split("tables:")[0] + "tables:\n" + tables)


def refused_with(h, tables, commands, wants, forbidden=()):
    """refused(), with tables: as given; then neither database holds a hop."""
    with_tables(h, tables)
    refused(h, commands, wants, forbidden)
    untouched(h.src, h.tgt)


@test
def test_plan_refuses_a_nullable_or_not_unique_key(c):
    """A key: column that may be NULL (the copy reads key ranges: such rows
    were silently left behind) or is not declared unique is refused by plan,
    run, copy and link alike, before either database is written."""
    src = new_db(c.a, "keynull_src", schema=False)
    tgt = new_db(c.b, "keynull_tgt", schema=False)
    psql(src, "CREATE TABLE tag (id integer, name text); "
              "INSERT INTO tag VALUES (1, 'a'), (2, 'b'), (NULL, 'lost'), (3, 'c')")
    h = Hop(c, src, tgt)
    with_tables(h, "  tag: { key: id, offset: 0 }\n")
    refused(h, ("plan", "run", "copy"),
            ['table "tag": key column "id" may be NULL: rows whose key is NULL would not be copied',
             "SET NOT NULL",
             'table "tag": key column "id" is not unique: rows sharing an id would collide on the target',
             'CREATE UNIQUE INDEX ON public."tag" ("id")'])
    untouched(src, tgt)
    assert psql(tgt, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [["0"]]
    # NOT NULL alone is not enough, a unique index alone neither
    psql(src, "UPDATE tag SET id = 4 WHERE id IS NULL; ALTER TABLE tag ALTER COLUMN id SET NOT NULL")
    refused(h, ("plan",), ['key column "id" is not unique'], ['may be NULL'])
    psql(src, "ALTER TABLE tag ALTER COLUMN id DROP NOT NULL; CREATE UNIQUE INDEX ON tag (id)")
    refused(h, ("plan",), ['key column "id" may be NULL'], ['is not unique'])
    untouched(src, tgt)
    # what the hints say: then every row moves
    psql(src, "ALTER TABLE tag ALTER COLUMN id SET NOT NULL")
    h.run("plan")
    h.run("copy")
    assert psql(tgt, "SELECT id, name FROM tag ORDER BY id") == psql(src, "SELECT id, name FROM tag ORDER BY id")


@test
def test_plan_refuses_passwords_in_the_dsns(c):
    """A password in source.dsn or target.dsn is refused by plan (it was
    found only at the cutover, after the whole copy), never printed."""
    src = new_db(c.a, "pw_src")
    tgt = new_db(c.b, "pw_tgt")
    psql(src, "INSERT INTO \"user\" (username, email, pw_hash) VALUES ('a', 'e', 'h')")
    h = Hop(c, src, tgt)
    clean = open(h.cfg).read()
    host, port = tgt.split("host=")[1].split()[0], tgt.split("port=")[1].split()[0]
    uri = f"postgresql://{os.environ.get('USER', 'postgres')}:hunter2@{host}:{port}/pw_tgt"
    for source, target, wants in (
            (src + " password=hunter2", tgt, ["source.dsn holds a password"]),
            (src, uri, ["target.dsn holds a password, which the cutover would send to every server"]),
            (src + " password='hunter 2'", uri, ["source.dsn holds a password", "target.dsn holds a password"])):
        with open(h.cfg, "w") as f:
            f.write(clean.replace(f'dsn: "{src}"', f'dsn: "{source}"').replace(f'dsn: "{tgt}"', f'dsn: "{target}"'))
        refused(h, ("plan", "copy", "run"), wants + ["hint: remove it from the DSN and give it in a pgpass file"],
                forbidden=("hunter",))
        untouched(src, tgt)
        assert psql(tgt, "SELECT count(*) FROM \"user\"") == [["0"]]


@test
def test_plan_refuses_keyless_rows_already_on_the_target(c):
    """A table without a primary key whose target table holds rows: the
    copy would append to them (only verify noticed).  Refused, unless
    conflict: append says to keep them."""
    src = new_db(c.a, "append_src")
    tgt = new_db(c.b, "append_tgt")
    psql(src, "INSERT INTO \"user\" (username, email, pw_hash) SELECT 'u' || g, 'e', 'h' FROM generate_series(1, 3) g;"
              "INSERT INTO follower VALUES (1, 2), (2, 3), (1, 2)")
    psql(tgt, "INSERT INTO follower VALUES (7, 7)")
    h = Hop(c, src, tgt, offsets={"user": "100"})
    refused(h, ("plan", "run", "copy"),
            ['table "follower" has no primary key and the target\'s table already holds 1 rows: the copy '
             'would add the source\'s rows to them, duplicates and all',
             'hint: empty it first (TRUNCATE public."follower" on the target), or set conflict: append'])
    untouched(src, tgt)
    assert psql(tgt, "SELECT count(*) FROM follower") == [["1"]]
    assert psql(tgt, "SELECT count(*) FROM \"user\"") == [["0"]]
    # append on a keyed table makes no sense
    text = open(h.cfg).read()
    with open(h.cfg, "w") as f:
        f.write(text.replace("latest:            { conflict: replace }", "latest:            { conflict: append }"))
    refused(h, ("plan",), ['table "latest": conflict: append is for tables without a primary key'])
    # what the hint says: the target's row stays, the source's come beside it
    with open(h.cfg, "w") as f:
        f.write(text.replace("follower:          { refs:", "follower:          { conflict: append, refs:"))
    plan = json.loads(h.run("plan", "--json").stdout)
    assert next(t for t in plan["tables"] if t["name"] == "follower")["conflict"] == "append"
    h.run("copy")
    assert psql(tgt, "SELECT who_id, whom_id FROM follower ORDER BY 1, 2") == \
        [["7", "7"], ["101", "102"], ["101", "102"], ["102", "103"]]
    h.run("plan")   # linked: the rows on the target are the hop's own now



def copied_hop(c, name):
    """A hop of five users, copied (and so linked and captured), not cut
    over: (source DSN, target DSN, Hop)."""
    src = new_db(c.a, f"{name}_src")
    tgt = new_db(c.b, f"{name}_tgt", schema=False)
    psql(src, "INSERT INTO \"user\" (username, email, pw_hash) SELECT 'u' || g, 'e', 'h' FROM generate_series(1, 5) g")
    h = Hop(c, src, tgt)
    h.run("copy")
    return src, tgt, h


@test
def test_finish_refuses_a_hop_never_cut_over(c):
    """finish before the cutover would remove the capture and leave the
    target behind: refused, changing nothing; --abandon removes link and
    capture and records the hop as abandoned, never as finished."""
    src, tgt, h = copied_hop(c, "fin")
    stage = "SELECT stage FROM sync_fdw.hop WHERE server = 'hop'"
    before = psql(tgt, stage)
    triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sync_fdw%'"
    n_triggers = psql(src, triggers)
    assert n_triggers != [["0"]]
    r = h.run("finish", check=False)
    m = msgs(r.stderr)
    assert r.returncode == 1, (r.returncode, m)
    assert f'hop "hop" was never cut over (stage "{before[0][0]}")' in m and "migrate finish --abandon" in m, m
    assert psql(tgt, stage) == before and psql(src, triggers) == n_triggers
    assert psql(src, "SELECT count(*) FROM pg_namespace WHERE nspname = 'sync_fdw_src'") == [["1"]]
    assert psql(tgt, "SELECT count(*) FROM pg_foreign_server") == [["1"]]
    assert psql(tgt, "SELECT count(*) FROM \"user\"") == [["5"]]
    r = h.run("finish", "--abandon", "--json")
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"abandoned": True}, r.stdout
    assert psql(tgt, stage) == [["abandoned"]]
    assert psql(src, triggers) == [["0"]]
    untouched(src)
    assert psql(tgt, "SELECT count(*) FROM pg_foreign_server") == [["0"]]
    assert json.loads(h.run("status", "--json").stdout.splitlines()[0])["stage"] == "abandoned"
    # run again, with or without --abandon: it stays abandoned
    h.run("finish")
    assert psql(tgt, stage) == [["abandoned"]]



@test
def test_capture_lookup_error_is_not_absence(c):
    """Whether the source has capture is read from its catalog; when that
    read fails (here: a source role without USAGE on sync_fdw_src), migrate
    says so and stops: it does not take the error for "no capture" and
    install capture over the existing one."""
    src, tgt, _ = copied_hop(c, "capq")
    role = "capq_mover"
    psql(src, f"CREATE ROLE {role} LOGIN NOSUPERUSER; GRANT USAGE ON SCHEMA public TO {role}; "
              f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; "
              f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    assert "user=minitwit" in src, src
    capture = ("SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sync_fdw%'),"
               " (SELECT value FROM sync_fdw_src.settings WHERE key = 'capture_epoch')")
    before = psql(src, capture)
    h2 = Hop(c, src.replace("user=minitwit", f"user={role}"), tgt)
    r = h2.run("copy", check=False)
    m = msgs(r.stderr)
    assert r.returncode != 0, m
    assert "look for capture on the source failed: permission denied for schema sync_fdw_src" in m, m
    assert "capture not installed" not in m and "capture installed" not in m, m
    assert psql(src, capture) == before


@test
def test_no_copy_into_a_hop_cut_over(c):
    """The stage machine refuses a move it does not allow: a copy after the
    cutover used to put the switched hop back to "copying" (and a later run
    would have cut it over again); now it is refused, changing nothing."""
    src, tgt, h = copied_hop(c, "stg")
    h.run("cutover")
    state = "SELECT stage, copy_finished_at, cutover_at FROM sync_fdw.hop WHERE server = 'hop'"
    before = psql(tgt, state)
    assert before[0][0] == "switched", before
    r = h.run("copy", check=False)
    m = msgs(r.stderr)
    assert r.returncode != 0, m
    assert 'hop "hop" is at stage "switched": it cannot move to stage "copying"' in m, m
    assert 'from "switched" a hop moves to "finished"' in m, m
    assert psql(tgt, state) == before
    h.run("finish")
    assert psql(tgt, "SELECT stage FROM sync_fdw.hop WHERE server = 'hop'") == [["finished"]]


class AdminStub:
    """A stand-in for minitwitd's admin API: GET /admin/status answers 200
    to the right token, 401 to another."""

    def __init__(self, token):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = self.headers.get("Authorization") == f"Bearer {token}"
                body = b'{"paused":false}' if ok else b'{"error":"bad token"}'
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@test
def test_plan_refuses_replacing_different_target_rows(c):
    """A natural key's conflict defaults to replace: target rows the source
    would overwrite with different content (whole rows compared, in
    batches, whatever the sessions' time zones) are counted and refused
    unless conflict: replace is written for the table; identical rows and
    rows only the target holds are no conflict."""
    src = new_db(c.a, "repl_src", schema=False)
    tgt = new_db(c.b, "repl_tgt", schema=False)
    ddl = "CREATE TABLE setting (name text PRIMARY KEY, value text, changed timestamptz NOT NULL);"
    rows = ("INSERT INTO setting SELECT 'k' || g, 'v' || g, '2026-01-01 12:00+00'::timestamptz + g * interval '1s' "
            "FROM generate_series(1, 12000) g;")
    psql(src, ddl + rows)
    psql(tgt, ddl + rows + "UPDATE setting SET value = 'theirs' WHERE name IN (SELECT 'k' || g FROM "
                           "generate_series(1, 12000, 285) g);"
                           "INSERT INTO setting SELECT 'own' || g, 'o', now() FROM generate_series(1, 10) g")
    psql(tgt, "ALTER DATABASE repl_tgt SET timezone = 'Asia/Tokyo'")
    h = Hop(c, src, tgt)
    refused_with(h, "  setting:\n", ("plan", "run", "copy"),
                 ['table "setting": 43 target rows would be replaced: the source holds rows with the same key '
                  '(name) and different content',
                  'hint: write conflict: replace for table "setting" if the source\'s rows should overwrite the '
                  "target's with the same name"])
    assert psql(tgt, "SELECT count(*) FROM setting WHERE value = 'theirs'") == [["43"]]
    psql(tgt, "UPDATE setting SET value = 'v1' WHERE name = 'k1'")
    refused(h, ("plan",), ['table "setting": 42 target rows would be replaced'])
    # identical rows are no conflict: the default replace stands
    psql(tgt, "UPDATE setting SET value = substr(name, 2) WHERE value = 'theirs'; "
              "UPDATE setting SET value = 'v' || value WHERE name LIKE 'k%' AND value NOT LIKE 'v%'")
    plan = json.loads(h.run("plan", "--json").stdout)
    assert plan["problems"] == [] and plan["tables"][0]["conflict"] == "replace", plan
    # written explicitly, the source's rows overwrite the target's
    psql(tgt, "UPDATE setting SET value = 'theirs' WHERE name = 'k7'")
    refused(h, ("plan",), ['table "setting": 1 target row would be replaced'])
    with_tables(h, "  setting: { conflict: replace }\n")
    h.run("copy")
    assert psql(tgt, "SELECT name, value, extract(epoch FROM changed) FROM setting WHERE name LIKE 'k%' "
                     "ORDER BY name") == psql(src, "SELECT name, value, extract(epoch FROM changed) FROM setting "
                                                   "ORDER BY name")
    assert psql(tgt, "SELECT count(*) FROM setting WHERE name LIKE 'own%'") == [["10"]]


@test
def test_plan_judges_explicit_offsets_by_headroom(c):
    """An explicit offset: present shifted ids meeting target ids are
    refused with the actual overlap; otherwise what counts is how many new
    ids the source may hand out before a shifted one meets a target id
    (tables.<name>.min_headroom, 1000000 by default).  Negated ids onto a
    target holding its own positive ids are accepted and moved."""
    src = new_db(c.a, "room_src", schema=False)
    tgt = new_db(c.b, "room_tgt", schema=False)
    ddl = "CREATE TABLE item (id serial PRIMARY KEY, v text NOT NULL); CREATE TABLE note (id serial PRIMARY KEY);"
    psql(src, ddl + "INSERT INTO item (v) SELECT 's' || g FROM generate_series(1, 100) g")
    psql(tgt, ddl + "INSERT INTO item (v) SELECT 't' || g FROM generate_series(1, 50) g;"
                    "INSERT INTO note SELECT FROM generate_series(1, 100)")
    h = Hop(c, src, tgt)
    # present ids meet the target's: the overlap is named; a source
    # without rows collides with nothing yet, but has no room either
    refused_with(h, "  item: { offset: 30 }\n  note: { offset: 0 }\n", ("plan", "run", "copy"),
                 ['table "item": source ids 1..100 shifted by 30 collide with ids 31..50 the target already holds '
                  '(20 target ids within the shifted range 31..130)',
                  'table "note": offset 0 leaves room for only 0 new source ids (min_headroom 1000000): source '
                  'id 1, shifted, would meet id 1 the target already holds'],
                 forbidden=("1..1 ",))
    # negated ids too close to the target's: 1000 new ids, then id 1
    refused_with(h, "  item: { offset: -1100 }\n", ("plan", "copy"),
                 ['table "item": offset -1100 leaves room for only 1000 new source ids (min_headroom 1000000): '
                  'source id 1101, shifted, would meet id 1 the target already holds',
                  'or set tables.item.min_headroom below 1001'])
    with_tables(h, "  item: { offset: -1100, min_headroom: 1000 }\n")
    plan = json.loads(h.run("plan", "--json").stdout)
    assert plan["problems"] == [] and plan["tables"][0]["headroom"] == 1000, plan
    # far enough: accepted, its headroom in the plan, and moved
    with_tables(h, "  item: { offset: -2000100 }\n")
    plan = json.loads(h.run("plan", "--json").stdout)
    t = plan["tables"][0]
    assert plan["problems"] == [] and t["headroom"] == 2000000 and t["headroom_until"] == "target id", plan
    assert t["ids_after"] == [-2000099, -2000000], t
    assert "headroom 2000000 before a target id" in h.run("plan").stdout
    h.run("run")
    assert psql(tgt, "SELECT id + 2000100, v FROM item WHERE id < 0 ORDER BY id") == \
        psql(src, "SELECT id, v FROM item ORDER BY id")
    assert psql(tgt, "SELECT count(*), min(id), max(id) FROM item WHERE id > 0 AND v LIKE 't%'") == [["50", "1", "50"]]


@test
def test_plan_refuses_servers_without_token_or_answer(c):
    """cutover.servers are checked by plan (and so copy and run) before
    anything is written: the token variable must be set and every admin
    API answer; they were found only by the cutover, after the copy."""
    src = new_db(c.a, "srv_src")
    tgt = new_db(c.b, "srv_tgt", schema=False)
    psql(src, "INSERT INTO \"user\" (username, email, pw_hash) VALUES ('a', 'e', 'h')")
    stub = AdminStub("s3cret")
    import socket
    with socket.socket() as sk:     # a port nothing listens on
        sk.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sk.getsockname()[1]}"
    h = Hop(c, src, tgt)
    text = open(h.cfg).read()
    with open(h.cfg, "w") as f:
        f.write(text.replace("cutover: { servers: [] }",
                             f'cutover: {{ servers: [ {{ admin_url: "{stub.url}" }}, {{ admin_url: "{dead}" }} ] }}'))
    try:
        env = {k: v for k, v in os.environ.items() if k != "MINITWIT_ADMIN_TOKEN"}
        for cmd in ("plan", "copy", "run"):
            r = subprocess.run([MIGRATE, "--config", h.cfg, cmd], capture_output=True, text=True, env=env)
            out = r.stdout + msgs(r.stderr)
            assert r.returncode == 3, (cmd, r.returncode, out)
            assert "cutover.servers lists 2 servers, but the admin token variable MINITWIT_ADMIN_TOKEN is " \
                   "not set" in out and "hint: export MINITWIT_ADMIN_TOKEN" in out, out
        untouched(src, tgt)
        for cmd in ("plan", "copy", "run"):
            r = h.run(cmd, env={"MINITWIT_ADMIN_TOKEN": "wrong"}, check=False)
            out = r.stdout + msgs(r.stderr)
            assert r.returncode == 3, (cmd, r.returncode, out)
            assert "cutover.servers would fail at the cutover" in out, out
            assert f'GET /admin/status on "{stub.url}" failed: HTTP status 401' in out, out
            assert f'GET /admin/status on "{dead}" failed' in out, out
            assert "start each server listed" in out and "check the admin token" in out, out
        untouched(src, tgt)
        assert psql(tgt, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [["0"]]
        # both answering: the plan has no problem
        with open(h.cfg, "w") as f:
            f.write(text.replace("cutover: { servers: [] }", f'cutover: {{ servers: [ {{ admin_url: "{stub.url}" }} ] }}'))
        h.run("plan", env={"MINITWIT_ADMIN_TOKEN": "s3cret"})
    finally:
        stub.stop()



@test
def test_run_refuses_a_capture_installed_for_another_table_list(c):
    """migrate resumes with the capture it finds: reordered tables: since it
    was installed are refused by plan, copy and run before anything more is
    written or applied."""
    src = new_db(c.a, "order_src")
    tgt = new_db(c.b, "order_tgt", schema=False)
    psql(src, "INSERT INTO \"user\" (username, email, pw_hash) SELECT 'u' || g, 'e', 'h' FROM generate_series(1, 5) g")
    h = Hop(c, src, tgt)
    h.run("copy")
    psql(src, "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (1, 'pending', 1, 0);"
              "INSERT INTO follower VALUES (1, 2)")
    text = open(h.cfg).read()
    lines = text.split("tables:\n")[1].splitlines()
    lines[1], lines[2] = lines[2], lines[1]     # message and follower swapped
    with open(h.cfg, "w") as f:
        f.write(text.split("tables:\n")[0] + "tables:\n" + "\n".join(lines) + "\n")
    before = counts(tgt), psql(tgt, "SELECT stage, pos FROM sync_fdw.hop")
    refused(h, ("plan", "copy", "run"),
            ['the capture on the source was installed for another table list: table 2 is "public"."message" '
             'there but "public"."follower" in the configuration',
             'hint: run "sync-fdw capture install" again with this configuration'])
    assert (counts(tgt), psql(tgt, "SELECT stage, pos FROM sync_fdw.hop")) == before
    with open(h.cfg, "w") as f:
        f.write(text)
    h.run("run")
    assert counts(tgt) == ["5", "1", "1"]
@test
def test_print_config_masks_every_secret(c):
    """--print-config (both programs): the settings in effect, the file's and
    the environment's, with every secret masked; it runs no command."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write('source:\n  dsn: "postgresql://u:hunter2@db/x"\n'
                'cutover:\n  servers:\n'
                '    - admin_url: "http://ops:hunter3@10.0.0.1:8081/?token=hunter4"\n')
    env = dict(os.environ, MINITWIT_COPY_WORKERS="3")
    for prog in (MIGRATE, SYNC_FDW):
        r = subprocess.run([prog, "--config", f.name, "--print-config"], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert "hunter" not in r.stdout + r.stderr, r.stdout
        assert "password=********" in r.stdout and "ops:********@10.0.0.1:8081/?token=********" in r.stdout
        assert "workers: 3" in r.stdout, r.stdout
        r = subprocess.run([prog, "--config", f.name, "--print-config", "status"], capture_output=True, text=True)
        assert r.returncode == 2 and "takes no command" in r.stderr, r.stderr
    os.unlink(f.name)


@test
def test_log_format_text_and_json(c):
    """stderr is a pipe here: JSON lines by default, with the hint in its own
    field; --log-format text gives lines a person reads, one hint form."""
    src = new_db(c.a, "logfmt_src", legacy=True)
    tgt = new_db(c.b, "logfmt_tgt", schema=False)
    h = Hop(c, src, tgt)
    r = h.run("status", check=False)      # nothing recorded yet: error and hint
    assert r.returncode == 5
    j = [json.loads(line) for line in r.stderr.splitlines()]
    err = next(x for x in j if x["level"] == "error")
    assert err["msg"] == 'no hop "hop" recorded on the target' and "migrate run" in err["hint"], err
    r = subprocess.run([MIGRATE, "--log-format", "text", "--config", h.cfg, "status"], capture_output=True, text=True)
    assert r.returncode == 5
    assert r.stderr == ('migrate: error: no hop "hop" recorded on the target\n'
                        'hint: migrate plan, then migrate run\n'), r.stderr
    r = subprocess.run([MIGRATE, "--log-format=json", "--config", h.cfg, "status"], capture_output=True, text=True)
    assert json.loads(r.stderr.splitlines()[0])["hint"]
    # stderr on a terminal: text without being asked
    master, slave = pty.openpty()
    try:
        rc = subprocess.run([MIGRATE, "--config", h.cfg, "status"], stdout=subprocess.DEVNULL, stderr=slave).returncode
        os.close(slave)
        slave = None
        tty = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert rc == 5 and tty.decode().replace("\r\n", "\n") == (
        'migrate: error: no hop "hop" recorded on the target\nhint: migrate plan, then migrate run\n'), tty
    sync = os.environ.get("SYNC_FDW", os.path.join(REPO, "bin", "sync-fdw"))
    r = subprocess.run([sync, "--log-format", "text", "--config", h.cfg, "status"], capture_output=True, text=True)
    assert r.returncode == 5 and r.stderr.startswith("sync-fdw: error: ") and "\nhint: " in r.stderr, r.stderr
    r = subprocess.run([sync, "--log-format", "xml", "status"], capture_output=True, text=True)
    assert r.returncode == 2 and "--log-format must be auto, text or json" in r.stderr
    r = subprocess.run([MIGRATE, "--log-format", "yaml", "status"], capture_output=True, text=True)
    assert r.returncode == 2 and "--log-format must be auto, text or json" in r.stderr
    assert "--log-format" in subprocess.run([MIGRATE, "--help"], capture_output=True, text=True).stdout


@test
def test_dry_run_and_fence_only_cutover(c):
    src = new_db(c.a, "dry_src", legacy=True)
    tgt = new_db(c.b, "dry_tgt", schema=False)
    h = Hop(c, src, tgt)
    h.run("copy")
    r = h.run("cutover", "--dry-run")
    assert "cutover done" not in r.stdout and "would" in r.stdout, r.stdout
    assert "fence only: applications' writes fail from the fence to the switch" in r.stdout, r.stdout
    assert "dry run: the cutover would proceed as above; nothing was changed" in r.stdout, r.stdout
    assert "cutover done" not in msgs(r.stderr), r.stderr
    assert psql(tgt, "SELECT stage FROM sync_fdw.hop") != [["switched"]]
    psql(src, "INSERT INTO follower VALUES (1, 3)")   # not fenced
    r = h.run("cutover")
    assert "pause servers" not in r.stdout and "fence only" in r.stdout, r.stdout
    assert "no servers to pause: applications' writes fail from the fence to the switch" in r.stdout
    assert "cutover done" in r.stdout
    rep = json.loads(h.run("status", "--json").stdout.splitlines()[0])["report"]
    assert [s["step"] for s in rep["steps"]][:3] == ["preflight", "take over the sync", "fence only"], rep


if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
