#!/usr/bin/env python3
"""Self-test of scripts/make-scenario and scripts/scenario.py: the generated
scenario is deterministic for a seed, differs for another, has the course
file's shape and the content the tests rely on, and is in its format.

Usage: tests/integration/scenario_selftest.py  (TEST_ONLY=substring: some)
Prints "N passed, M failed" last; exits non-zero on any failure.
"""

import csv
import hashlib
import io
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)
from harness import REPO as ROOT, run_tests, scenario, test  # noqa: E402

MAKE = os.path.join(ROOT, "scripts", "make-scenario")

GEN = scenario.generator()
_rows = None


def default_rows():
    global _rows
    if _rows is None:
        _rows = GEN.generate(GEN.DEFAULT_SEED)
    return _rows


def text_of(rows):
    f = io.StringIO()
    GEN.write(rows, f)
    return f.getvalue()


def tweets(rows):
    return [r[5] for r in rows if r[3] == "tweet"]


# ---------------------------------------------------------------------------

@test
def t_deterministic_for_a_seed():
    a = subprocess.run([sys.executable, MAKE, "--seed", "7"], capture_output=True, check=True).stdout
    b = subprocess.run([sys.executable, MAKE, "--seed", "7"], capture_output=True, check=True).stdout
    assert a == b and len(a) > 1000000
    assert text_of(default_rows()).encode() == text_of(GEN.generate(GEN.DEFAULT_SEED)).encode()


@test
def t_another_seed_differs():
    a, b = GEN.generate(1), GEN.generate(2)
    assert text_of(a) != text_of(b)
    assert [r[4] for r in a if r[3] == "register"] != [r[4] for r in b if r[3] == "register"]
    assert tweets(a) != tweets(b)


@test
def t_format():
    rows = default_rows()
    ts = None
    for i, r in enumerate(rows):
        assert r[0] == str(i), (i, r[:4])
        assert len(r) == (7 if r[3] == "register" else 6), r
        assert r[3] in ("register", "tweet", "follow", "unfollow"), r
        for field in r:
            assert field and not any(c in field for c in "\t\n\r"), r
        d, t = int(r[1]), int(r[2])
        assert d >= 0 and (ts is None and d == 0 or t == ts + d), r[:3]
        ts = t
    # the file reads back as written, with simulate's own reader too
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".csv", delete=False) as f:
        GEN.write(rows, f)
    try:
        assert scenario.read_rows(f.name) == rows
        assert open(f.name, "rb").read().decode("utf-8").count("\n") == len(rows)
    finally:
        os.unlink(f.name)


@test
def t_every_action_after_its_users_register():
    users = set()
    for r in default_rows():
        if r[3] == "register":
            assert r[4] not in users, r
            users.add(r[4])
            continue
        assert r[4] in users, r
        if r[3] in ("follow", "unfollow"):
            assert r[5] in users and r[5] != r[4], r


@test
def t_shape_like_the_course_file():
    s = scenario.shape(default_rows())
    ranges = {
        "rows": (25000, 27000), "register": (200, 200), "tweet": (10500, 12000),
        "follow": (9000, 10500), "unfollow": (4000, 5200),
        "follows of followed pairs": (50, 600), "unfollows of pairs not followed": (600, 2000),
        "users tweeting before their first follow": (150, 200), "non-ASCII tweets": (3500, 7000),
        "tweets with 4-byte UTF-8": (100, 3000), "tweets starting with U+FEFF": (1, 1),
        'passwords with " or \\': (10, 40), "simulator seconds (delay_ms / 1e8)": (55, 65),
    }
    for k, (lo, hi) in ranges.items():
        assert lo <= s[k] <= hi, (k, s[k])
    users, messages, followers = s["end state"]
    assert users == 200 and 10500 <= messages <= 12000 and 5500 <= followers <= 6800, s["end state"]
    # the write rate grows: the last tenth of the time holds the most rows
    rows = default_rows()
    total = sum(int(r[1]) for r in rows)
    late = sum(1 for r in rows if int(r[2]) - int(rows[0][2]) > 0.9 * total)
    early = sum(1 for r in rows if int(r[2]) - int(rows[0][2]) < 0.1 * total)
    assert late > 0.25 * len(rows) and early < 0.02 * len(rows), (early, late)


@test
def t_texts_hold_every_kind():
    ts = tweets(default_rows())
    for t in ts:
        assert 0 < len(t) <= 140 and len(t.encode("utf-8")) <= 150, t
    kinds = {
        'ASCII double quote': lambda t: '"' in t, "apostrophe": lambda t: "'" in t,
        "typographic quotes": lambda t: "“" in t or "’" in t, "backslash": lambda t: "\\" in t,
        "<b>": lambda t: "<b>" in t, "&amp;": lambda t: "&amp;" in t, "<script>": lambda t: "<script>" in t,
        "2-byte UTF-8": lambda t: any(0x80 <= ord(c) <= 0x7FF for c in t),
        "3-byte UTF-8": lambda t: any(0x800 <= ord(c) <= 0xFFFF and c != "\ufeff" for c in t),
        "4-byte UTF-8 (emoji)": lambda t: any(0x1F300 <= ord(c) <= 0x1FAFF for c in t),
        "near the character limit": lambda t: len(t) >= 135,
        "near the byte limit": lambda t: len(t.encode("utf-8")) >= 146,
    }
    for name, has in kinds.items():
        assert any(has(t) for t in ts), name
    bom = [t for t in ts if "\ufeff" in t]
    assert len(bom) == 1 and bom[0].startswith("\ufeff"), bom
    pwds = [r[6] for r in default_rows() if r[3] == "register"]
    assert any('"' in p for p in pwds) and any("\\" in p for p in pwds)
    assert all(" " in r[4] for r in default_rows() if r[3] == "register")


@test
def t_end_state_as_minitwitd_keeps_it():
    rows = [r.split(",") for r in (
        "0,0,1,register,a b,e,p", "1,0,2,tweet,a b,hi", "2,0,3,register,c d,f,q",
        "3,0,4,follow,a b,c d", "4,0,5,follow,a b,c d", "5,0,6,unfollow,c d,a b",
        "6,0,7,tweet,x y,nobody", "7,0,8,follow,c d,x y", "8,0,9,register,a b,e2,p2",
        "9,0,10,unfollow,a b,c d", "10,0,11,follow,c d,a b")]
    st = scenario.end_state(rows)
    assert list(st["users"]) == ["a b", "c d"] and st["users"]["a b"] == ("e", "p")
    assert st["tweets"] == [("a b", "hi", 2)] and st["follows"] == [("c d", "a b")]
    assert scenario.counts(rows) == {"users": 2, "messages": 1, "followers": 1}


@test
def t_default_scenario_is_generated_and_overridable():
    saved = os.environ.pop(scenario.ENV, None)
    try:
        path = scenario.default_scenario()
        assert path == os.path.join(ROOT, "build", "scenario", "scenario.csv")
        assert open(path, encoding="utf-8", newline="").read() == text_of(default_rows())
        # a stale stamp (make-scenario changed) makes it write the file again
        with open(path + ".stamp", "w") as f:
            f.write("stale\n")
        # written anew means a new file renamed into place: a new inode
        # (no wait for the clock's next tick)
        before = os.stat(path).st_ino
        assert scenario.default_scenario() == path and os.stat(path).st_ino != before
        os.environ[scenario.ENV] = path
        assert scenario.default_scenario() == path
        os.environ[scenario.ENV] = "/nonexistent/scenario.csv"
        try:
            scenario.default_scenario()
            raise AssertionError("a missing MINITWIT_SCENARIO file was accepted")
        except FileNotFoundError:
            pass
    finally:
        os.environ.pop(scenario.ENV, None)
        if saved is not None:
            os.environ[scenario.ENV] = saved
    assert not scenario.is_course_file(path)


@test
def t_legacy_export():
    rows = default_rows()[:3000]
    st = scenario.end_state(rows)
    with tempfile.TemporaryDirectory() as d:
        scenario.write_legacy_db(rows, d)
        users = list(csv.DictReader(open(os.path.join(d, "user.csv"), encoding="utf-8", newline="")))
        msgs = list(csv.DictReader(open(os.path.join(d, "message.csv"), encoding="utf-8", newline="")))
        fol = list(csv.DictReader(open(os.path.join(d, "follower.csv"), encoding="utf-8", newline="")))
    assert [u["username"] for u in users] == list(st["users"])
    assert [m["text"] for m in msgs] == [t for _, t, _ in st["tweets"]]
    assert len(fol) == len(st["follows"])
    name, (_, pwd) = next(iter(st["users"].items()))
    method, salt, hexdigest = users[0]["pw_hash"].split("$")
    assert method == "pbkdf2:sha256:50000"
    assert hashlib.pbkdf2_hmac("sha256", pwd.encode(), salt.encode(), 50000).hex() == hexdigest


if __name__ == "__main__":
    sys.exit(run_tests())
