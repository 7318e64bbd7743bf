#!/bin/sh
# bench_smoke.sh WSV LOAD - `wsv bench` end to end over loopback: echo (text and
# binary), connect and idle against `wsv serve`, each with sane non-zero
# figures and no verification or connection errors; fanout against
# `wsv serve --chat` (every delivery, no loss) and against the plain echo
# server, whose subscribers hear nothing (bench must exit 1, no figure);
# and against a server that corrupts its echoes, where bench must exit 1
# and count the mismatches (and one with a wrong Sec-WebSocket-Accept,
# refused); wss:// against `wsv serve --cert --key`, accepted with --cacert
# and refused without it.  LOAD (bench/load, the yardstick) runs once in each mode against
# `wsv serve` and once against the corrupting server.  Small numbers, no timing thresholds (benchmarks live in
# bench/, not in tests).
set -u
wsv=$1
load=$2
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
fails=0
tmp=$(mktemp -d)
srv_pid=
bad_pid=
acc_pid=
tls_pid=
frag_pid=
rsv_pid=
split_pid=
b101_pid=
chat_pid=
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
  [ -n "$chat_pid" ] && kill "$chat_pid" 2>/dev/null
  [ -n "$bad_pid" ] && kill "$bad_pid" 2>/dev/null
  [ -n "$acc_pid" ] && kill "$acc_pid" 2>/dev/null
  [ -n "$tls_pid" ] && kill "$tls_pid" 2>/dev/null
  [ -n "$frag_pid" ] && kill "$frag_pid" 2>/dev/null
  [ -n "$rsv_pid" ] && kill "$rsv_pid" 2>/dev/null
  [ -n "$split_pid" ] && kill "$split_pid" 2>/dev/null
  [ -n "$b101_pid" ] && kill "$b101_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_port() { # wait_port FILE: at most 5 s for a server to write its port
  for _ in $(seq 1 50); do
    [ -s "$1" ] && return
    sleep 0.1
  done
}
check() { # check DESCRIPTION COMMAND...
  desc=$1
  shift
  if "$@"; then echo "ok   $desc"; else echo "FAIL $desc"; fails=$((fails + 1)); fi
}
# json_ok FILE EXPR: the JSON object in FILE satisfies the Python EXPR (j).
json_ok() {
  "$py" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

"$wsv" serve --port 0 --quiet >"$tmp/serve.out" 2>"$tmp/serve.err" &
srv_pid=$!
port=
for _ in $(seq 1 50); do
  port=$(sed -n 's|.*ws://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/serve.out")
  [ -n "$port" ] && break
  sleep 0.1
done
check "wsv serve printed its port" test -n "$port"
url="ws://127.0.0.1:$port/"

"$wsv" bench --help >"$tmp/help" 2>&1
check "bench --help exits 0" test $? -eq 0
"$wsv" bench frobnicate >"$tmp/help" 2>&1
check "bench with an unknown measurement exits 2" test $? -eq 2

"$wsv" bench echo "$url" --conns 4 --inflight 4 --size 100 --duration 2 \
  --json -q >"$tmp/echo.json" 2>"$tmp/echo.err"
check "echo text exits 0" test $? -eq 0
check "echo text: messages, rates, latency, no errors" json_ok "$tmp/echo.json" \
  'j["messages"] > 0 and j["msgs_per_s"] > 0 and j["mb_per_s"] > 0 and j["latency_us"]["p50"] > 0 and j["latency_us"]["p99"] >= j["latency_us"]["p50"] and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'

"$wsv" bench echo "$url" --conns 2 --inflight 2 --size 200K --binary \
  --messages 40 --threads 2 --json -q >"$tmp/bin.json" 2>"$tmp/bin.err"
check "echo binary 200K, 2 threads, --messages exits 0" test $? -eq 0
check "echo binary: at least 40 verified, no errors" json_ok "$tmp/bin.json" \
  'j["messages"] >= 40 and j["binary"] and j["verify_errors"] == 0 and j["conn_errors"] == 0'

"$wsv" bench echo "$url" --conns 3 --duration 1 >"$tmp/echo.txt" 2>"$tmp/prog.txt"
check "echo prints a summary" grep -q "msg/s" "$tmp/echo.txt"
check "echo prints progress on stderr" grep -q "msg/s" "$tmp/prog.txt"

"$wsv" bench connect "$url" --conns 4 --duration 1 --json -q \
  >"$tmp/conn.json" 2>"$tmp/conn.err"
check "connect exits 0" test $? -eq 0
check "connect: handshakes/s > 0, no errors" json_ok "$tmp/conn.json" \
  'j["handshakes"] > 0 and j["handshakes_per_s"] > 0 and j["conn_errors"] == 0'

"$wsv" bench idle "$url" --conns 200 --pid "$srv_pid" --json -q \
  >"$tmp/idle.json" 2>"$tmp/idle.err"
check "idle exits 0" test $? -eq 0
check "idle: 200 opened, server RSS read" json_ok "$tmp/idle.json" \
  'j["opened"] == 200 and j["server_rss_after"] > 0 and j["conn_errors"] == 0'

# bench/load, the yardstick: each mode once, every echo verified.
"$load" echo "$url" --conns 4 --inflight 4 --size 100 --duration 1 \
  --warmup 0.2 --json >"$tmp/load.json" 2>"$tmp/load.err"
check "load echo text exits 0" test $? -eq 0
check "load echo text: a rate, no errors" json_ok "$tmp/load.json" \
  'j["messages"] > 0 and j["msgs_per_s"] > 0 and j["mb_per_s"] > 0 and j["duration_s"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'
"$load" echo "$url" --conns 2 --inflight 2 --size 300K --binary --duration 1 \
  --warmup 0.2 --json >"$tmp/loadbin.json" 2>"$tmp/loadbin.err"
check "load echo binary 300K exits 0" test $? -eq 0
check "load echo binary: a rate, no errors" json_ok "$tmp/loadbin.json" \
  'j["messages"] > 0 and j["binary"] and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'
"$load" connect "$url" --conns 8 --duration 1 --warmup 0.2 --json \
  >"$tmp/loadconn.json" 2>"$tmp/loadconn.err"
check "load connect exits 0" test $? -eq 0
check "load connect: handshakes/s > 0, no errors" json_ok "$tmp/loadconn.json" \
  'j["handshakes"] > 0 and j["handshakes_per_s"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0'
"$load" echo ws://127.0.0.1:1/ --conns 1 --duration 1 --warmup 0 \
  >"$tmp/loadrefused" 2>&1
check "load against a closed port exits 1" test $? -eq 1

# fanout: a chat server delivers every message to every subscriber.
"$wsv" serve --chat --port 0 --quiet >"$tmp/chat.out" 2>"$tmp/chat.err" &
chat_pid=$!
chat_port=
for _ in $(seq 1 50); do
  chat_port=$(sed -n 's|.*ws://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/chat.out")
  [ -n "$chat_port" ] && break
  sleep 0.1
done
check "wsv serve --chat printed its port" test -n "$chat_port"
chat="ws://127.0.0.1:$chat_port/fan"
"$wsv" bench fanout --subs 20 --duration 1 --json -q "$chat" \
  >"$tmp/fan.json" 2>"$tmp/fan.err"
check "fanout against a chat exits 0" test $? -eq 0
check "fanout: deliveries, no loss, every subscriber heard, no errors" \
  json_ok "$tmp/fan.json" \
  'j["deliveries"] > 0 and j["deliveries_per_s"] > 0 and j["publishes"] > 0 and j["losses"] == 0 and j["silent"] == 0 and j["subs_open"] == 20 and j["latency_us"]["p99"] >= j["latency_us"]["p50"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'
# Two URLs of the same chat, two threads, binary, paced by rate.
"$wsv" bench fanout --subs 30 --threads 2 --binary --size 1000 --rate 200 \
  --duration 1 --json -q "$chat" "ws://127.0.0.1:$chat_port/fan" \
  >"$tmp/fan2.json" 2>"$tmp/fan2.err"
check "fanout 2 threads, --rate, binary exits 0" test $? -eq 0
check "fanout --rate: each message to all 30, no loss" json_ok "$tmp/fan2.json" \
  'j["servers"] == 2 and j["binary"] and j["losses"] == 0 and j["silent"] == 0 and j["deliveries"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0'
# The plain echo server sends the publisher its own message and the
# subscribers nothing: a failure, not a figure.
"$wsv" bench fanout --subs 5 --duration 1 --json -q "ws://127.0.0.1:$port/fan" \
  >"$tmp/fanecho.json" 2>"$tmp/fanecho.err"
check "fanout against an echo server exits 1" test $? -eq 1
check "fanout against an echo server: every subscriber silent, no figure" \
  json_ok "$tmp/fanecho.json" \
  'j["silent"] == 5 and j["deliveries"] == 0 and "received nothing" in j["error"]'

# wss:// against `wsv serve --cert --key` (a self-signed certificate made
# here): accepted with --cacert, refused without it (no CA trusts it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 >"$tmp/openssl.log" 2>&1
check "a self-signed certificate made" test -s "$tmp/cert.pem"
"$wsv" serve --port 0 --quiet --cert "$tmp/cert.pem" --key "$tmp/key.pem" \
  >"$tmp/tls.out" 2>"$tmp/tls.err" &
tls_pid=$!
tls_port=
for _ in $(seq 1 50); do
  tls_port=$(sed -n 's|.*wss://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/tls.out")
  [ -n "$tls_port" ] && break
  sleep 0.1
done
check "wsv serve --cert --key printed its wss:// port" test -n "$tls_port"
wss="wss://127.0.0.1:$tls_port/"
"$wsv" bench echo "$wss" --cacert "$tmp/cert.pem" --conns 3 --inflight 4 \
  --size 100 --duration 1 --json -q >"$tmp/wss.json" 2>"$tmp/wss.err"
check "wss echo with --cacert exits 0" test $? -eq 0
check "wss echo: messages, no errors" json_ok "$tmp/wss.json" \
  'j["tls"] and j["messages"] > 0 and j["msgs_per_s"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'
"$wsv" bench echo "$wss" --cacert "$tmp/cert.pem" --conns 2 --inflight 2 \
  --size 300K --binary --messages 20 --threads 2 --json -q \
  >"$tmp/wssbin.json" 2>"$tmp/wssbin.err"
check "wss echo binary 300K, 2 threads exits 0" test $? -eq 0
check "wss echo binary: at least 20 verified, no errors" json_ok "$tmp/wssbin.json" \
  'j["messages"] >= 20 and j["binary"] and j["verify_errors"] == 0 and j["conn_errors"] == 0'
"$wsv" bench connect "$wss" --cacert "$tmp/cert.pem" --conns 4 --duration 1 \
  --json -q >"$tmp/wssconn.json" 2>"$tmp/wssconn.err"
check "wss connect with --cacert exits 0" test $? -eq 0
check "wss connect: handshakes, no errors" json_ok "$tmp/wssconn.json" \
  'j["tls"] and j["handshakes"] > 0 and j["conn_errors"] == 0'
"$wsv" bench echo "$wss" --conns 2 --duration 1 --json -q \
  >"$tmp/wssno.json" 2>"$tmp/wssno.err"
check "wss echo without --cacert exits 1" test $? -eq 1
check "wss echo without --cacert: the certificate is not trusted" \
  json_ok "$tmp/wssno.json" 'j["messages"] == 0 and j["conn_errors"] > 0 and "not trusted" in j["error"]'
"$wsv" bench connect "$wss" --conns 2 --duration 1 --json -q \
  >"$tmp/wssno2.json" 2>"$tmp/wssno2.err"
check "wss connect without --cacert exits 1" test $? -eq 1
"$wsv" bench connect "$wss" -k --conns 2 --duration 1 --json -q \
  >"$tmp/wssk.json" 2>"$tmp/wssk.err"
check "wss connect -k exits 0" test $? -eq 0
"$wsv" bench echo "$url" --cacert "$tmp/cert.pem" --duration 1 -q \
  >"$tmp/wsca" 2>&1
check "--cacert with ws:// is a usage error" test $? -eq 2
"$wsv" bench fanout "$wss" --duration 1 -q >"$tmp/wssfan" 2>&1
check "wss:// with fanout is a usage error" test $? -eq 2

# Nothing listening: a clear failure, not a hang.
"$wsv" bench echo ws://127.0.0.1:1/ --conns 1 --duration 1 -q >"$tmp/refused" 2>&1
check "echo against a closed port exits 1" test $? -eq 1

# A server that corrupts echoes: verification must fail.
"$py" "$here/bench/corrupt_echo.py" "$tmp/bad.port" &
bad_pid=$!
wait_port "$tmp/bad.port"
"$wsv" bench echo "ws://127.0.0.1:$(cat "$tmp/bad.port")/" --conns 2 \
  --inflight 2 --size 64 --duration 1 --json -q >"$tmp/bad.json" 2>&1
check "echo against a corrupting server exits 1" test $? -eq 1
check "echo against a corrupting server counts verification errors" \
  json_ok "$tmp/bad.json" 'j["verify_errors"] > 0'
"$load" echo "ws://127.0.0.1:$(cat "$tmp/bad.port")/" --conns 2 \
  --inflight 2 --size 64 --duration 1 --warmup 0 --json >"$tmp/loadbad.json" 2>&1
check "load against a corrupting server exits 1" test $? -eq 1
check "load against a corrupting server counts verification errors" \
  json_ok "$tmp/loadbad.json" 'j["verify_errors"] > 0'

# Intact echoes with RSV1 set (no extension agreed): a bad frame, exit 1
# (the small-frame path of wsv bench must not take it).
"$py" "$here/bench/corrupt_echo.py" "$tmp/rsv.port" --rsv1 &
rsv_pid=$!
wait_port "$tmp/rsv.port"
"$wsv" bench echo "ws://127.0.0.1:$(cat "$tmp/rsv.port")/" --conns 2 \
  --inflight 2 --size 32 --duration 1 --json -q >"$tmp/rsv.json" 2>&1
check "echo against a server setting RSV1 exits 1" test $? -eq 1
check "echo against a server setting RSV1: a connection error, named" \
  json_ok "$tmp/rsv.json" 'j["conn_errors"] > 0 and "bad frame" in j.get("error", "")'
kill "$rsv_pid" 2>/dev/null
rsv_pid=

# A 101 in 3-byte pieces, names in odd case, a token list: accepted, and
# every echo verified (wsv bench echo and connect).
"$py" "$here/bench/corrupt_echo.py" "$tmp/split.port" --split-101 &
split_pid=$!
wait_port "$tmp/split.port"
"$wsv" bench echo "ws://127.0.0.1:$(cat "$tmp/split.port")/" --conns 2 \
  --inflight 2 --size 32 --duration 1 --json -q >"$tmp/split.json" 2>&1
check "echo against a 101 in pieces exits 0" test $? -eq 0
check "echo against a 101 in pieces: verified, no errors" json_ok \
  "$tmp/split.json" 'j["messages"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0'
"$wsv" bench connect "ws://127.0.0.1:$(cat "$tmp/split.port")/" --conns 2 \
  --duration 1 --json -q >"$tmp/splitc.json" 2>&1
check "connect against a 101 in pieces exits 0" test $? -eq 0
check "connect against a 101 in pieces: handshakes, no errors" json_ok \
  "$tmp/splitc.json" 'j["handshakes"] > 0 and j["conn_errors"] == 0'
kill "$split_pid" 2>/dev/null
split_pid=

# Echoes in two fragments with a Ping between them: verified whole, every
# Ping answered with its payload (the server drops the connection else).
"$py" "$here/bench/corrupt_echo.py" "$tmp/frag.port" --fragment-ping &
frag_pid=$!
wait_port "$tmp/frag.port"
"$wsv" bench echo "ws://127.0.0.1:$(cat "$tmp/frag.port")/" --conns 2 \
  --inflight 2 --size 300 --duration 1 --json -q >"$tmp/frag.json" 2>&1
check "echo in fragments with pings exits 0" test $? -eq 0
check "echo in fragments with pings: verified, no errors" json_ok \
  "$tmp/frag.json" 'j["messages"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'
"$load" echo "ws://127.0.0.1:$(cat "$tmp/frag.port")/" --conns 2 \
  --inflight 2 --size 300 --duration 1 --warmup 0 --json >"$tmp/loadfrag.json" 2>&1
check "load: echo in fragments with pings exits 0" test $? -eq 0
check "load: echo in fragments with pings: verified, no errors" json_ok \
  "$tmp/loadfrag.json" 'j["messages"] > 0 and j["verify_errors"] == 0 and j["conn_errors"] == 0 and j["unanswered"] == 0'
kill "$frag_pid" 2>/dev/null
frag_pid=

# A server whose Sec-WebSocket-Accept is wrong: wsv bench refuses it.
"$py" "$here/bench/corrupt_echo.py" "$tmp/acc.port" --bad-accept &
acc_pid=$!
wait_port "$tmp/acc.port"
acc_url="ws://127.0.0.1:$(cat "$tmp/acc.port")/"
"$wsv" bench connect "$acc_url" --conns 2 --duration 1 --json -q \
  >"$tmp/acc.json" 2>&1
check "connect against a wrong accept exits 1" test $? -eq 1
check "connect against a wrong accept: refused, no handshake counted" \
  json_ok "$tmp/acc.json" 'j["handshakes"] == 0 and j["conn_errors"] > 0 and "Sec-WebSocket-Accept" in j["error"]'
"$wsv" bench echo "$acc_url" --conns 2 --duration 1 --json -q \
  >"$tmp/acc2.json" 2>&1
check "echo against a wrong accept exits 1" test $? -eq 1

# 101s that must be refused whatever the order of the checks: a line
# without a colon, 0x1a where the Upgrade line's colon goes, an extension
# that was not offered.
for kind in no-colon:colon sub-colon:colon ext:extension; do
  k=${kind%%:*}
  want=${kind#*:}
  rm -f "$tmp/b101.port"
  "$py" "$here/bench/corrupt_echo.py" "$tmp/b101.port" --bad-101 "$k" &
  b101_pid=$!
  wait_port "$tmp/b101.port"
  "$wsv" bench connect "ws://127.0.0.1:$(cat "$tmp/b101.port")/" --conns 2 \
    --duration 1 --json -q >"$tmp/b101.json" 2>&1
  check "connect against a 101 ($k) exits 1" test $? -eq 1
  check "connect against a 101 ($k): refused, named" json_ok "$tmp/b101.json" \
    "j['handshakes'] == 0 and j['conn_errors'] > 0 and '$want' in j['error']"
  kill "$b101_pid" 2>/dev/null
  wait "$b101_pid" 2>/dev/null
done

echo "$fails failed"
[ "$fails" -eq 0 ]
