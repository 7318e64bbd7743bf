#!/bin/sh
# tool_test.sh WSV MANPAGE - the wsv command behaves as its help and man
# page say: exit codes, --version, the demo's negotiation and exchange, and
# every command in `wsv --help` documented in the man page.
set -u
wsv=$1
man=$2
fails=0
check() { # check DESCRIPTION COMMAND...: run, count a failure if it fails
  desc=$1
  shift
  if "$@"; then echo "ok   $desc"; else echo "FAIL $desc"; fails=$((fails + 1)); fi
}
has() { grep -qF -- "$1" "$out"; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$wsv" --help >"$out" 2>&1
check "--help exits 0 and names demo" has "  demo "
"$wsv" --version >"$out" 2>&1
check "--version prints wsv X.Y.Z" grep -qE '^wsv [0-9]+\.[0-9]+\.[0-9]+$' "$out"
"$wsv" nosuchcommand >"$out" 2>&1
check "unknown command exits 2" test $? -eq 2
"$wsv" >"$out" 2>&1
check "no command exits 2" test $? -eq 2
"$wsv" demo --server-versions 9 >"$out" 2>&1
check "demo rejects version 9 with exit 2" test $? -eq 2

"$wsv" demo >"$out" 2>&1
check "demo exits 0" test $? -eq 0
check "demo: first request asks for 8" has "C> Sec-WebSocket-Version: 8"
check "demo: 426 answer" has "S< HTTP/1.1 426 Upgrade Required"
check "demo: 426 lists 13" has "S< Sec-WebSocket-Version: 13"
check "demo: 426 names the Upgrade" has "S< Upgrade: websocket"
check "demo: client retries with 13" has "retrying with 13"
check "demo: 101" has "S< HTTP/1.1 101 Switching Protocols"
check "demo: echo" has 'client got text "Hello, wsv"'
check "demo: fragments reassembled" has 'server got text "fragmented"'
check "demo: pong" has 'client got pong "are you there?"'
check "demo: close" has 'server got close 1000 "bye"'
check "demo: malformed version gets 400" has "S< HTTP/1.1 400 Bad Request"
# The 101 must not carry Sec-WebSocket-Version: the S< lines between the
# 101 and the next blank S< line.
awk '/S< HTTP\/1.1 101/{on=1} on&&/^  S< $/{on=0} on&&/Sec-WebSocket-Version/{bad=1} END{exit bad}' "$out"
check "demo: 101 has no Sec-WebSocket-Version" test $? -eq 0

"$wsv" demo --server-versions 8,7 --client-first 13 >"$out" 2>&1
check "demo against 8,7: exits 0" test $? -eq 0
check "demo against 8,7: list is '8, 7'" has "S< Sec-WebSocket-Version: 8, 7"
check "demo against 8,7: retries with 8" has "retrying with 8"

cmds=$("$wsv" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
check "--help lists at least one command" test -n "$cmds"
missing=""
for cmd in $cmds; do
  grep -q "^\.B $cmd\$" "$man" || missing="$missing $cmd"
done
check "every command in --help is in the man page ($cmds)" test -z "$missing"

# Every long option `wsv connect --help` names is in the man page (written
# there with \- for each dash).
copts=$("$wsv" connect --help | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u)
missing=""
for o in $copts; do
  esc=$(printf '%s' "$o" | sed 's/-/\\-/g')
  grep -qF -- "$esc" "$man" || missing="$missing $o"
done
check "every option in 'wsv connect --help' is in the man page" test -z "$missing"
[ -z "$missing" ] || echo "     missing:$missing"

echo "$fails failed"
[ "$fails" -eq 0 ]
