"""The scenario the scripts, tests and benches replay, in one place.

    import scenario                     # with scripts/ on sys.path
    path = scenario.default_scenario()  # $MINITWIT_SCENARIO, else the generated one
    rows = scenario.read_rows(path)     # lists of str: id, delay_ms, ts_ms, cmd, user, arg[, pwd]
    st = scenario.end_state(rows)       # users, tweets, follows after a replay

The default is the project's own scenario, written by scripts/make-scenario
(default seed) to build/scenario/scenario.csv and rewritten when missing or
when make-scenario has changed.  MINITWIT_SCENARIO=FILE (or a script's
--scenario FILE) runs another file in the same format, e.g. the course's
minitwit_scenario.csv.

From a shell:  python3 scripts/scenario.py            prints the default's path
               python3 scripts/scenario.py --legacy-db [FILE]
                   prints the directory of FILE's end state as a legacy
                   MiniTwit export (for scripts/import-legacy), made once.
"""

import csv
import hashlib
import importlib.machinery
import importlib.util
import os
import random
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(HERE)
MAKE_SCENARIO = os.path.join(HERE, "make-scenario")
BUILD_DIR = os.path.join(REPO, "build", "scenario")
ENV = "MINITWIT_SCENARIO"

# The course's minitwit_scenario.csv, recognised by its digest: its end
# state is published with it, so a replay of it is also checked against that.
COURSE_SHA256 = "064cfcd1cfcb46b0a51e3d5416d5573739e42127c122b725ad5c92be5cbfb0ec"
COURSE_END_STATE = {"users": 200, "messages": 11306, "followers": 6265}


def generator():
    """scripts/make-scenario as a module."""
    loader = importlib.machinery.SourceFileLoader("minitwit_make_scenario", MAKE_SCENARIO)
    spec = importlib.util.spec_from_loader("minitwit_make_scenario", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomically(path, write):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def generated_scenario():
    """build/scenario/scenario.csv, (re)written when missing or when
    scripts/make-scenario differs from the one that wrote it."""
    path = os.path.join(BUILD_DIR, "scenario.csv")
    stamp_path = path + ".stamp"
    mod = None
    with open(MAKE_SCENARIO, "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()
    try:
        with open(stamp_path) as f:
            current = f.read().strip() == stamp and os.path.exists(path)
    except OSError:
        current = False
    if not current:
        mod = generator()
        rows = mod.generate(mod.DEFAULT_SEED)

        def write(tmp):
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                mod.write(rows, f)
        _write_atomically(path, write)

        def write_stamp(tmp):
            with open(tmp, "w") as f:
                f.write(stamp + "\n")
        _write_atomically(stamp_path, write_stamp)
    return path


def default_scenario():
    """$MINITWIT_SCENARIO when set, else the generated scenario."""
    env = os.environ.get(ENV)
    if env:
        if not os.path.isfile(env):
            raise FileNotFoundError(f"{ENV}={env}: no such file")
        return os.path.abspath(env)
    return generated_scenario()


def read_rows(path, limit=None):
    """The rows as lists of strings.  Lines are split on "\\n" only (a text
    may hold characters str.splitlines() would split on)."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    rows = []
    for line in text.split("\n"):
        if limit is not None and len(rows) >= limit:
            break
        if line.endswith("\r"):
            line = line[:-1]
        if line:
            rows.append(line.split("\t"))
    return rows


def end_state(rows):
    """What a replay leaves, as minitwitd's API behaves: a taken username is
    refused, a tweet or follow by or of an unknown user is refused,
    following twice keeps one row, unfollowing a pair that is not followed
    changes nothing.  users: {name: (email, pwd)} in register order;
    tweets: [(user, text, ts_ms)] in order; follows: [(who, whom)] in the
    order the remaining pairs were made."""
    users, tweets, follows = {}, [], {}
    made = 0
    for r in rows:
        cmd, user, arg = r[3], r[4], r[5]
        if cmd == "register":
            users.setdefault(user, (arg, r[6] if len(r) > 6 else ""))
        elif user not in users:
            continue
        elif cmd == "tweet":
            tweets.append((user, arg, int(r[2])))
        elif cmd == "follow" and arg in users and arg != user:
            made += 1
            follows.setdefault((user, arg), made)
        elif cmd == "unfollow":
            follows.pop((user, arg), None)
    return {"users": users, "tweets": tweets,
            "follows": sorted(follows, key=follows.get)}


def counts(rows):
    """{"users", "messages", "followers"} after a replay of rows."""
    st = end_state(rows)
    return {"users": len(st["users"]), "messages": len(st["tweets"]),
            "followers": len(st["follows"])}


def is_course_file(path):
    return _digest(path) == COURSE_SHA256


def shape(rows):
    """The figures that describe a scenario (make-scenario --stats, the
    selftest)."""
    cmds = {}
    for r in rows:
        cmds[r[3]] = cmds.get(r[3], 0) + 1
    followed, users = set(), set()
    unfollow_absent = follow_again = 0
    for r in rows:
        cmd, pair = r[3], (r[4], r[5])
        if cmd == "register":
            users.add(r[4])
        elif cmd == "follow":
            follow_again += pair in followed
            followed.add(pair)
        elif cmd == "unfollow":
            unfollow_absent += pair not in followed
            followed.discard(pair)
    tweets = [r[5] for r in rows if r[3] == "tweet"]
    pwds = [r[6] for r in rows if r[3] == "register" and len(r) > 6]
    first = {}
    for r in rows:
        if r[3] in ("tweet", "follow"):
            first.setdefault(r[4], r[3])
    st = counts(rows)
    return {
        "rows": len(rows),
        "register": cmds.get("register", 0), "tweet": cmds.get("tweet", 0),
        "follow": cmds.get("follow", 0), "unfollow": cmds.get("unfollow", 0),
        "follows of followed pairs": follow_again,
        "unfollows of pairs not followed": unfollow_absent,
        "users tweeting before their first follow": sum(1 for v in first.values() if v == "tweet"),
        "non-ASCII tweets": sum(1 for t in tweets if any(ord(c) > 127 for c in t)),
        "tweets with 4-byte UTF-8": sum(1 for t in tweets if any(ord(c) > 0xFFFF for c in t)),
        "tweets starting with U+FEFF": sum(1 for t in tweets if t.startswith("\ufeff")),
        "longest tweet (chars, bytes)": (max((len(t) for t in tweets), default=0),
                                         max((len(t.encode()) for t in tweets), default=0)),
        'passwords with " or \\': sum(1 for p in pwds if '"' in p or "\\" in p),
        "end state": (st["users"], st["messages"], st["followers"]),
        "simulator seconds (delay_ms / 1e8)": round(sum(int(r[1]) for r in rows) / 1e8, 1),
    }


def write_legacy_db(rows, out_dir):
    """The end state of rows as the legacy MiniTwit's tables exported to CSV
    (what scripts/import-legacy reads): user.csv, message.csv, follower.csv,
    sqlite_sequence.csv, ids in the order of the scenario, Werkzeug
    pbkdf2:sha256 password hashes with salts from a fixed seed."""
    st = end_state(rows)
    rng = random.Random(0)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    ids = {}
    os.makedirs(out_dir, exist_ok=True)

    def table(name, header, records):
        def write(tmp):
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(header)
                w.writerows(records)
        _write_atomically(os.path.join(out_dir, name), write)

    users = []
    for i, (name, (email, pwd)) in enumerate(st["users"].items(), 1):
        ids[name] = i
        salt = "".join(rng.choice(alphabet) for _ in range(8))
        dk = hashlib.pbkdf2_hmac("sha256", pwd.encode(), salt.encode(), 50000)
        users.append([i, name, email, f"pbkdf2:sha256:50000${salt}${dk.hex()}"])
    table("user.csv", ["user_id", "username", "email", "pw_hash"], users)
    table("message.csv", ["message_id", "author_id", "text", "pub_date", "flagged"],
          [[i, ids[u], text, ts // 1000, 0] for i, (u, text, ts) in enumerate(st["tweets"], 1)])
    table("follower.csv", ["who_id", "whom_id"], [[ids[a], ids[b]] for a, b in st["follows"]])
    table("sqlite_sequence.csv", ["name", "seq"],
          [["user", len(users)], ["message", len(st["tweets"])]])


def legacy_db(path=None):
    """The directory holding path's (default: the default scenario's) end
    state as a legacy export, written once per scenario content."""
    path = path or default_scenario()
    out = os.path.join(BUILD_DIR, "legacy-" + _digest(path)[:16])
    if not os.path.exists(os.path.join(out, "sqlite_sequence.csv")):
        write_legacy_db(read_rows(path), out)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--legacy-db"]:
        print(legacy_db(args[1] if len(args) > 1 else None))
    elif not args:
        print(default_scenario())
    else:
        sys.exit("usage: scenario.py [--legacy-db [FILE]]")
