#!/usr/bin/env bash
# make install with PREFIX and DESTDIR puts the programs and man pages where
# packagers expect them; every program answers --help and --version.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
no() { echo "FAIL $1"; fail=$((fail + 1)); }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if make -s -C "$repo" install DESTDIR="$dest" PREFIX=/opt/mt >/dev/null; then ok "make install"; else no "make install"; fi
for p in minitwitd sync-fdw migrate; do
	[ -x "$dest/opt/mt/bin/$p" ] && ok "bin/$p installed" || no "bin/$p installed"
	[ -f "$dest/opt/mt/share/man/man1/$p.1" ] && ok "man page $p.1 installed" || no "man page $p.1 installed"
	if command -v groff >/dev/null 2>&1; then
		groff -man -Tutf8 -ww "$dest/opt/mt/share/man/man1/$p.1" >/dev/null 2>"$dest/groff.err" &&
			[ ! -s "$dest/groff.err" ] && ok "$p.1 formats cleanly" || no "$p.1 formats cleanly"
	fi
	"$dest/opt/mt/bin/$p" --help | grep -q "^Usage: $p" && ok "$p --help" || no "$p --help"
	"$dest/opt/mt/bin/$p" --version | grep -q "^$p " && ok "$p --version" || no "$p --version"
	"$dest/opt/mt/bin/$p" --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok "$p --bogus exits 2" || no "$p --bogus exits 2"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
