#!/bin/sh
# bench_h2_smoke.sh WSV H2_LOAD ROOT - bench/h2_load end to end over
# loopback against `wsv serve --cert --key --no-deflate`: HTTP/1.1 (one
# TCP connection per WebSocket, ALPN http/1.1), HTTP/2 with the
# WebSockets shared as streams of few connections (cfg.share: 6 on 2) and
# one per connection (ALPN h2), text and binary, each with verified
# echoes, no errors and both CPU figures; then the cases that must fail:
# --http 2 against `wsv serve --no-h2-websocket` (exit 1, a connection
# error, no figure), a server that corrupts its echoes (exit 1,
# verification errors), bad arguments (exit 2).  Last, ROOT/bench/h2.sh
# with these binaries and tiny runs: exit 0 and a table with all five
# rows.  Small numbers, no timing thresholds (benchmarks live in bench/).
set -u
wsv=$1
gen=$2
root=$3
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
fails=0
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
check() { # check DESCRIPTION COMMAND...
  desc=$1
  shift
  if "$@"; then echo "ok   $desc"; else echo "FAIL $desc"; fails=$((fails + 1)); fi
}
# json_ok FILE EXPR: the JSON object in FILE satisfies the Python EXPR (j).
json_ok() {
  "$py" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
# serve NAME ARGS...: start `wsv serve ARGS` on a free port; sets $port
# and $pid (empty when it printed no URL).
serve() {
  name=$1
  shift
  "$wsv" serve --host 127.0.0.1 --port 0 --quiet "$@" >"$tmp/$name.log" 2>&1 &
  pid=$!
  pids="$pids $pid"
  port=
  for _ in $(seq 1 50); do
    port=$(sed -n 's|.*WebSocket: wss\{0,1\}://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/$name.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >"$tmp/openssl.log" 2>&1
check "a self-signed certificate made" test -s "$tmp/cert.pem"

serve tls --cert "$tmp/cert.pem" --key "$tmp/key.pem" --no-deflate
check "wsv serve --cert --key printed its wss:// URL" test -n "$port"
url="wss://127.0.0.1:$port/"
srv=$pid
# --min-messages: a loaded machine (ASan) still measures something.
short="--duration 0.5 --warmup 0.2 --min-messages 4 --json -q --pid $srv"

# shellcheck disable=SC2086 # $short is words
"$gen" "$url" --http 1 --ws 4 --inflight 4 --size 64 $short >"$tmp/h1.json" 2>"$tmp/h1.err"
check "HTTP/1.1 text exits 0" test $? -eq 0
check "HTTP/1.1: 4 WebSockets on 4 TCP connections, ALPN http/1.1, verified echoes, both CPU figures" \
  json_ok "$tmp/h1.json" \
  'j["http"] == "http/1.1" and j["opened"] == 4 and j["tcp_connections"] == 4 and j["tls"]["alpn"] == "http/1.1" and j["tls"]["version"] in ("TLSv1.3", "TLSv1.2") and j["messages"] > 0 and j["msgs_per_s"] > 0 and j["mb_per_s"] > 0 and j["latency_us"]["p99"] >= j["latency_us"]["p50"] and j["generator_cpu_s"] > 0 and "server_cpu" in j and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0 and j["error"] == ""'

# shellcheck disable=SC2086
"$gen" "$url" --http 2 --ws 6 --streams 3 --inflight 4 --size 32 $short >"$tmp/h2s.json" 2>"$tmp/h2s.err"
check "HTTP/2 shared exits 0" test $? -eq 0
check "HTTP/2 shared: 6 WebSockets as streams of 2 TCP connections, ALPN h2, verified echoes" \
  json_ok "$tmp/h2s.json" \
  'j["http"] == "h2" and j["opened"] == 6 and j["streams"] == 3 and j["tcp_connections"] == 2 and j["tls"]["alpn"] == "h2" and j["messages"] > 0 and j["wrong_http"] == 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'

# shellcheck disable=SC2086
"$gen" "$url" --http 2 --ws 2 --inflight 1 --size 200K --binary $short >"$tmp/h2b.json" 2>"$tmp/h2b.err"
check "HTTP/2 binary 200K, one stream per connection exits 0" test $? -eq 0
check "HTTP/2 binary: 2 TCP connections, ALPN h2, verified echoes" \
  json_ok "$tmp/h2b.json" \
  'j["http"] == "h2" and j["binary"] and j["size"] == 204800 and j["tcp_connections"] == 2 and j["tls"]["alpn"] == "h2" and j["messages"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0'

# Without TLS: h2c with prior knowledge on a plain port.
serve plain --no-deflate
plain_port=$port
# shellcheck disable=SC2086
"$gen" "ws://127.0.0.1:$plain_port/" --http 2 --ws 4 --streams 4 --size 32 \
  --duration 0.3 --warmup 0 --setup 5 --min-messages 4 --json -q >"$tmp/h2c.json" 2>"$tmp/h2c.err"
check "h2c (ws://, prior knowledge) shared exits 0" test $? -eq 0
check "h2c: 4 streams on 1 connection, no TLS, verified echoes" json_ok "$tmp/h2c.json" \
  'j["tcp_connections"] == 1 and j["tls"] is None and j["messages"] > 0 and j["verify_errors"] == 0'

# A server that takes HTTP/2 but not WebSockets over it: --http 2 must fail,
# not fall back to HTTP/1.1 and measure that.
serve noh2ws --cert "$tmp/cert.pem" --key "$tmp/key.pem" --no-deflate --no-h2-websocket
"$gen" "wss://127.0.0.1:$port/" --http 2 --ws 2 --duration 0.3 --warmup 0 --json -q \
  >"$tmp/noh2.json" 2>"$tmp/noh2.err"
check "--http 2 against --no-h2-websocket exits 1" test $? -eq 1
check "--http 2 against --no-h2-websocket: a connection error, no echo, a reason" \
  json_ok "$tmp/noh2.json" \
  'j["conn_errors"] > 0 and j["messages"] == 0 and j["error"].startswith("connect")'
"$gen" "wss://127.0.0.1:$port/" --http 1 --ws 2 --duration 0.3 --warmup 0 --json -q \
  >"$tmp/noh2h1.json" 2>"$tmp/noh2h1.err"
check "--http 1 against --no-h2-websocket exits 0" test $? -eq 0

# A server that corrupts its echoes (from the third message of each
# connection on): verification must fail.
"$py" "$here/bench/corrupt_echo.py" "$tmp/bad.port" &
pids="$pids $!"
for _ in $(seq 1 50); do
  [ -s "$tmp/bad.port" ] && break
  sleep 0.1
done
"$gen" "ws://127.0.0.1:$(cat "$tmp/bad.port")/" --http 1 --ws 2 --inflight 2 \
  --size 64 --duration 0.5 --warmup 0 --json -q >"$tmp/bad.json" 2>"$tmp/bad.err"
check "against a corrupting server exits 1" test $? -eq 1
check "against a corrupting server: verification errors counted" json_ok "$tmp/bad.json" \
  'j["verify_errors"] > 0 and "differs" in j["error"]'

"$gen" "$url" --size 10 >"$tmp/arg1" 2>&1
check "--size below 24 exits 2" test $? -eq 2
"$gen" "$url" --http 1 --streams 2 >"$tmp/arg2" 2>&1
check "--streams without --http 2 exits 2" test $? -eq 2
"$gen" "$url" --http 3 >"$tmp/arg3" 2>&1
check "--http 3 exits 2" test $? -eq 2

# The script the benchmark table comes from, on these binaries.
bash "$root/bench/h2.sh" --wsv "$wsv" --gen "$gen" --reps 1 --duration 0.3 \
  --warmup 0 --min-messages 2 --out "$tmp/h2sh" >"$tmp/h2sh.out" 2>"$tmp/h2sh.err"
check "bench/h2.sh exits 0" test $? -eq 0
check "bench/h2.sh: five rows of figures, three ratios, its command line" \
  "$py" -c '
import sys
t = open(sys.argv[1]).read()
rows = [[c.strip() for c in l.split("|")[1:-1]]
        for l in t.splitlines() if l.startswith("| ") and "HTTP/" in l]
# figure, over, conns, msg/s, MB/s, p50, p99, server CPU, h2_load CPU, h2 / h1
ok = (len(rows) == 5 and all(len(r) == 10 and r[3] != "—" and "failed" not in r[3] for r in rows)
      and [r[9] != "—" for r in rows] == [False, True, True, False, True]
      and [r[2] for r in rows] == ["100", "1", "100", "4", "4"]
      and "Produced by `bench/h2.sh" in t and "ALPN h2" in t and "ALPN http/1.1" in t)
sys.exit(0 if ok else 1)' "$tmp/h2sh/h2.md"

echo "$fails failed"
if [ "$fails" -ne 0 ]; then
  for f in "$tmp"/*.err "$tmp"/*.log "$tmp/h2sh/h2.md" "$tmp/h2sh/h2/h2_load.err"; do
    [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }
  done
fi
[ "$fails" -eq 0 ]
