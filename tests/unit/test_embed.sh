#!/usr/bin/env bash
# tools/embed -q, the named queries of sql/hop/queries: every block has a
# name, no two share one, and what the build cannot compile is refused.
#   tests/unit/test_embed.sh path/to/embed
# Ends with "N passed, M failed", as the integration suites do.
set -uo pipefail
embed=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAILED: $1"; failed=$((failed + 1)); }

# refused WHAT MESSAGE FILE-CONTENT...: the generator fails, says MESSAGE, writes nothing
refused() {
	local what=$1 msg=$2
	shift 2
	rm -rf "$tmp/case" && mkdir -p "$tmp/case"
	local files=() i=0
	for content in "$@"; do
		i=$((i + 1))
		mkdir -p "$tmp/case/d$i"	# each m1.sql: its names start with m1_
		printf '%s' "$content" > "$tmp/case/d$i/m1.sql"
		files+=("$tmp/case/d$i/m1.sql")
	done
	if "$embed" -q hq "$tmp/case/out" "${files[@]}" 2> "$tmp/case/err"; then
		fail "$what: accepted"
	elif ! grep -qF -- "$msg" "$tmp/case/err"; then
		fail "$what: said $(cat "$tmp/case/err"), not \"$msg\""
	elif [ -e "$tmp/case/out.c" ] || [ -e "$tmp/case/out.h" ]; then
		fail "$what: wrote output anyway"
	else
		ok "$what"
	fi
}

# a good file: each block's SQL, without its comments, as a C constant
mkdir -p "$tmp/good"
cat > "$tmp/good/m1.sql" <<'EOF'
-- m1: a test file
--
-- name: m1_two_lines
-- explains the query
-- over two lines

SELECT 'a "quoted" \ value', '??(' -- a comment in the SQL stays
  FROM t

-- a trailing comment goes
-- name: m1_one
SELECT 1
EOF
cat > "$tmp/good/main.c" <<'EOF'
#include <stdio.h>
#include "out.h"
int main(void)
{
	printf("[%s]\n[%s]\n", hq_m1_two_lines, hq_m1_one);
	return 0;
}
EOF
printf '%s\n' "[SELECT 'a \"quoted\" \\ value', '??(' -- a comment in the SQL stays" "  FROM t]" \
	"[SELECT 1]" > "$tmp/good/want"
if "$embed" -q hq "$tmp/good/out" "$tmp/good/m1.sql" &&
   cc -std=c11 -Wall -Werror -I"$tmp/good" -o "$tmp/good/main" "$tmp/good/main.c" "$tmp/good/out.c" &&
   "$tmp/good/main" > "$tmp/good/got" && cmp -s "$tmp/good/got" "$tmp/good/want"; then
	ok "a block's SQL compiles to its text, byte for byte"
else
	fail "a block's SQL compiles to its text, byte for byte"
	diff "$tmp/good/want" "$tmp/good/got"
fi

# a misspelt name fails the build
cat > "$tmp/good/typo.c" <<'EOF'
#include "out.h"
const char *f(void);
const char *f(void) { return hq_m1_too_lines; }
EOF
if cc -std=c11 -I"$tmp/good" -c -o "$tmp/good/typo.o" "$tmp/good/typo.c" 2>/dev/null; then
	fail "a misspelt query name compiles"
else
	ok "a misspelt query name does not compile"
fi

refused "SQL before the first name" "every query needs a name" \
	$'-- header\nSELECT 1\n-- name: m1_x\nSELECT 2\n'
refused "a name line without a name" "without a name" $'-- name:\nSELECT 1\n'
refused "a name used twice in a file" 'query name "m1_x" used twice' \
	$'-- name: m1_x\nSELECT 1\n-- name: m1_x\nSELECT 2\n'
refused "a name used twice across files" 'used twice' \
	$'-- name: m1_x\nSELECT 1\n' $'-- name: m1_x\nSELECT 2\n'
refused "a name without the file's prefix" 'does not start with "m1_"' $'-- name: other_x\nSELECT 1\n'
refused "a name that is no C identifier" "lower-case C identifier" $'-- name: m1_x-y\nSELECT 1\n'
refused "a block without SQL" 'query "m1_x" has no SQL' $'-- name: m1_x\n-- only words\n\n-- name: m1_y\nSELECT 1\n'
refused "a name line misspelt" 'write a query' $'-- name: m1_x\nSELECT 1\n--name: m1_y\nSELECT 2\n'

# the tree's own queries: every "-- name:" line is one constant, none lost
mkdir -p "$tmp/tree"
if "$embed" -q hq "$tmp/tree/out" "$repo"/sql/hop/queries/*.sql; then
	lines=$(cat "$repo"/sql/hop/queries/*.sql | grep -c '^-- name: ')
	consts=$(grep -c '^extern const char hq_' "$tmp/tree/out.h")
	if [ "$lines" -gt 0 ] && [ "$lines" -eq "$consts" ]; then
		ok "sql/hop/queries: $consts named queries, each name once"
	else
		fail "sql/hop/queries: $lines name lines but $consts constants"
	fi
else
	fail "sql/hop/queries: refused"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
