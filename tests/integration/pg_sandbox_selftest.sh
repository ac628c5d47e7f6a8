#!/usr/bin/env bash
# Self-test of scripts/pg-sandbox: two clusters started in parallel, queried
# through their DSNs, restarted, stopped. Cleans up after itself, also on failure.
# Last line: "N passed, M failed"; exit status non-zero if anything failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../.." && pwd -P)
SB=$repo/scripts/pg-sandbox
A=selftest-$$-a
B=selftest-$$-b
C=selftest-$$-pw
tmp=$(mktemp -d)

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $1"; [ -z "${2:-}" ] || printf '       %s\n' "$2"; }
check() { # check DESC CMD...: passes if CMD succeeds
	local d=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else not_ok "$d" "$(tail -n 5 "$tmp/out")"; fi
}
check_eq() { # check_eq DESC EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi
}
check_rc() { # check_rc DESC RC CMD...: passes if CMD exits with RC
	local d=$1 want=$2 rc=0; shift 2
	"$@" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then ok "$d"; else not_ok "$d" "exit $rc, wanted $want: $(tail -n 3 "$tmp/out")"; fi
}

cleanup() {
	local n
	for n in "$A" "$B" "$C"; do "$SB" stop "$n" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_bin=
for p in "${PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)"; do
	[ -n "$p" ] && [ -x "$p/psql" ] && { psql_bin=$p/psql; break; }
done
[ -n "$psql_bin" ] || psql_bin=$(command -v psql || true)
if [ -z "$psql_bin" ]; then
	echo "psql not found (run scripts/install-deps)"
	echo "0 passed, 1 failed"
	exit 1
fi
q() { # q DSN SQL: one value
	PGCONNECT_TIMEOUT=5 "$psql_bin" -X -At -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# ---- usage -----------------------------------------------------------------
check_rc "no arguments is a usage error (2)" 2 "$SB"
check_rc "unknown command is a usage error (2)" 2 "$SB" frobnicate
check_rc "bad cluster name is a usage error (2)" 2 "$SB" start ../x
check "--help exits 0" "$SB" --help
check_rc "status of a missing cluster exits 3" 3 "$SB" status "$A"
check_rc "stop of a missing cluster exits 0" 0 "$SB" stop "$A"

# ---- two clusters at once ---------------------------------------------------------
"$SB" start "$A" >"$tmp/a.dsn" 2>"$tmp/a.err" &
pa=$!
"$SB" start "$B" >"$tmp/b.dsn" 2>"$tmp/b.err" &
pb=$!
rca=0; wait "$pa" || rca=$?
rcb=0; wait "$pb" || rcb=$?
check_eq "start $A (parallel)" 0 "$rca"
[ "$rca" = 0 ] || cat "$tmp/a.err"
check_eq "start $B (parallel)" 0 "$rcb"
[ "$rcb" = 0 ] || cat "$tmp/b.err"
dsn_a=$(cat "$tmp/a.dsn")
dsn_b=$(cat "$tmp/b.dsn")
port_a=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$dsn_a")
port_b=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$dsn_b")

check "DSN has the documented form" \
	grep -Eqx 'host=127\.0\.0\.1 port=[0-9]+ dbname=minitwit user=minitwit' <<<"$dsn_a"
if [ -n "$port_a" ] && [ -n "$port_b" ] && [ "$port_a" != "$port_b" ]; then
	ok "the two clusters have different ports ($port_a, $port_b)"
else
	not_ok "the two clusters have different ports" "'$port_a' vs '$port_b'"
fi
check_eq "select 1 via the DSN of $A" 1 "$(q "$dsn_a" 'select 1' 2>&1)"
check_eq "select 1 via the DSN of $B" 1 "$(q "$dsn_b" 'select 1' 2>&1)"
check_eq "wal_level is logical" logical "$(q "$dsn_a" 'show wal_level' 2>&1)"
check_eq "fsync is off" off "$(q "$dsn_a" 'show fsync' 2>&1)"
check_eq "listens on loopback only" 127.0.0.1 "$(q "$dsn_a" 'show listen_addresses' 2>&1)"
check_eq "role minitwit is a superuser" t \
	"$(q "$dsn_a" "select rolsuper from pg_roles where rolname = current_user" 2>&1)"
check_eq "database minitwit is owned by minitwit" minitwit \
	"$(q "$dsn_a" "select pg_get_userbyid(datdba) from pg_database where datname = current_database()" 2>&1)"
check_eq "postgres_fdw is available" 1 \
	"$(q "$dsn_a" "select count(*) from pg_available_extensions where name = 'postgres_fdw'" 2>&1)"

check_eq "dsn prints the same DSN" "$dsn_a" "$("$SB" dsn "$A" 2>&1)"
check_eq "start again is idempotent (same DSN)" "$dsn_a" "$("$SB" start "$A" 2>/dev/null)"
check_eq "status of a running cluster" "running on port $port_a" "$("$SB" status "$A" 2>&1)"
check_rc "status of a running cluster exits 0" 0 "$SB" status "$A"
check "list shows both clusters" bash -c "'$SB' list | grep -q '^$A .*running' && '$SB' list | grep -q '^$B .*running'"
check_eq "pg-sandbox psql runs against the cluster" minitwit \
	"$("$SB" psql "$A" -X -At -c 'select current_database()' 2>&1)"

# ---- restart keeps data and port ----------------------------------------------------
check "create a table" q "$dsn_a" "create table selftest(x int); insert into selftest values (42)"
check "restart $A" "$SB" restart "$A"
check_eq "the data survived the restart" 42 "$(q "$dsn_a" 'select x from selftest' 2>&1)"
check_eq "the port survived the restart" "$dsn_a" "$("$SB" dsn "$A" 2>&1)"

# ---- stop --keep, start again --------------------------------------------------------
check "stop --keep $A" "$SB" stop "$A" --keep
check_rc "status of a stopped cluster exits 3" 3 "$SB" status "$A"
check_eq "start a kept cluster again" "$dsn_a" "$("$SB" start "$A" 2>/dev/null)"
check_eq "the data survived stop --keep" 42 "$(q "$dsn_a" 'select x from selftest' 2>&1)"

# ---- stop removes ----------------------------------------------------------------------
sbdir=${PG_SANDBOX_DIR:-$repo/var/pg}
check "stop $B" "$SB" stop "$B"
check_rc "status after stop exits 3" 3 "$SB" status "$B"
if [ -e "$sbdir/$B" ] || [ -L "$sbdir/$B" ]; then
	not_ok "stop removes the cluster directory" "$sbdir/$B still exists"
else
	ok "stop removes the cluster directory"
fi
check_rc "the stopped server refuses connections" 2 q "$dsn_b" 'select 1'
check_rc "dsn of a removed cluster fails (1)" 1 "$SB" dsn "$B"
check_rc "stop again is fine" 0 "$SB" stop "$B"

# ---- with a password -------------------------------------------------------------------
dsn_c=$(PG_SANDBOX_PASSWORD='se cr'\''et' "$SB" start "$C" 2>"$tmp/c.err")
check_eq "start with PG_SANDBOX_PASSWORD" 0 "$?"
check "the DSN holds no password" bash -c "! grep -q 'password\|se cr' <<<'$dsn_c'"
check_rc "TCP without the password is refused" 2 env PGPASSWORD= PGPASSFILE=/dev/null \
	"$psql_bin" -X -w -At "$dsn_c" -c 'select 1'
check_eq "TCP with the password works" 1 \
	"$(PGPASSWORD='se cr'\''et' "$psql_bin" -X -w -At "$dsn_c" -c 'select 1' 2>&1)"
check "stop $C" "$SB" stop "$C"

check "stop $A" "$SB" stop "$A"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
