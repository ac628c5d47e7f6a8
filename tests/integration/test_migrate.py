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
from harness import REPO, MINITWITD, SHARED, Cluster, log_messages, psql, run_tests, test  # noqa: E402
from pgsession import PsqlSession  # noqa: E402

MIGRATE = os.environ.get("MIGRATE", os.path.join(REPO, "bin", "migrate"))
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
                            os.path.join(SHARED, "reference-db"), dsn], capture_output=True, text=True)
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
    assert t["message"]["rows"] == 11306 and t["message"]["source_ids"] == [1, 11306]
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
    assert counts(tgt) == ["200", "11306", "6265"]
    assert psql(tgt, "SELECT value FROM latest") == [["4242"]]
    assert psql(tgt, "SELECT count(*) FROM schema_migrations")[0][0] == psql(src, "SELECT count(*) FROM schema_migrations")[0][0]
    # texts byte for byte, indexes rebuilt, sequences above every id
    assert psql(tgt, "SELECT md5(string_agg(text, '|' ORDER BY message_id)) FROM message") == \
        psql(src, "SELECT md5(string_agg(text, '|' ORDER BY message_id)) FROM message")
    assert psql(tgt, "SELECT count(*) FROM pg_indexes WHERE tablename = 'message'")[0][0] == "3"
    psql(tgt, "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (1, 'fresh', 1, 0)")
    assert psql(tgt, "SELECT message_id FROM message WHERE text = 'fresh'") == [["11307"]]
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
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["pieces_skipped"] == done and last["pieces"] > 0 and last["workers"] == 2, last
    assert psql(tgt, "SELECT count(*) FROM sync_fdw.copy_index")[0][0] == "0"
    q = ("SELECT conrelid::regclass::text, conname, contype FROM pg_constraint"
         " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2")
    assert psql(tgt, q) == psql(src, q)
    assert counts(tgt) == ["200", "11306", "6265"]
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
        h.run("copy")
        held.run("COMMIT")
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
    psql(b, "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (200, 'written on b', 9, 0)")
    h2.run("run")
    assert counts(cdb) == ["200", "11307", "6265"]
    assert psql(cdb, "SELECT min(user_id), max(user_id) FROM \"user\"") == [["5001", "5200"]]
    assert psql(cdb, "SELECT message_id, author_id FROM message WHERE text = 'written on b'") == [["10307", "5200"]]
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
    psql(src, "INSERT INTO follower VALUES (1, 3)")   # the source still takes writes
    # killed right after fencing: a re-run finishes the cutover
    open(h.cfg, "w").write(text.replace('[ { admin_url: "http://127.0.0.1:9" } ]', "[]"))
    r = h.run("cutover", env={"MIGRATE_TEST_KILL_CUTOVER_AT": "fenced"}, check=False)
    assert r.returncode == -signal.SIGKILL
    r = subprocess.run(["psql", src, "-Xqc", "INSERT INTO follower VALUES (1, 4)"], capture_output=True, text=True)
    assert r.returncode != 0   # fenced meanwhile: nothing can be lost there
    h.run("cutover")
    assert psql(tgt, "SELECT count(*) FROM follower WHERE who_id = 1 AND whom_id = 3")[0][0] == "1"
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
    there = Hop(c, a, b, offsets={"user": "1000", "message": "50000"}, server="there")
    there.run("run")
    psql(b, "INSERT INTO message (author_id, text, pub_date, flagged) VALUES (1001, 'written after the move', 5, 0);"
            "UPDATE latest SET value = 31337; DELETE FROM follower WHERE who_id = 1018;"
            "INSERT INTO follower VALUES (1001, 1002)")
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
    assert psql(a, "SELECT message_id, author_id FROM message WHERE text = 'written after the move'") == [["11307", "1"]]
    assert psql(a, "SELECT value FROM latest") == [["31337"]]
    assert psql(a, "SELECT count(*) FROM follower WHERE who_id = 18")[0][0] == "0"
    assert psql(a, "SELECT count(*) FROM follower WHERE who_id = 1 AND whom_id = 2")[0][0] == "1"
    r = subprocess.run(["psql", a, "-Xqc", "INSERT INTO follower VALUES (5, 6)"], capture_output=True, text=True)
    assert r.returncode != 0
    # moving back: the old host is unfenced, the new one fenced
    back.run("cutover")
    psql(a, "INSERT INTO follower VALUES (5, 6)")
    r = subprocess.run(["psql", b, "-Xqc", "INSERT INTO follower VALUES (1005, 1006)"], capture_output=True, text=True)
    assert r.returncode != 0
    assert counts(a) == ["200", "11307", psql(b, "SELECT count(*) + 1 FROM follower")[0][0]]


@test
def test_target_unreachable(c):
    src = new_db(c.a, "unreach_src", legacy=True)
    h = Hop(c, src, "host=127.0.0.1 port=1 dbname=x user=y")
    r = h.run("cutover", check=False)
    assert r.returncode == 5 and "could not connect to target" in msgs(r.stderr), (r.returncode, r.stderr)


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
