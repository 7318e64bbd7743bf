#!/usr/bin/env bash
# bench/h2.sh - WebSockets over HTTP/2 (RFC 8441) beside WebSockets over
# HTTP/1.1, on one `wsv serve --cert --key --no-deflate` (one process, one
# certificate, the same TLS settings for every row), measured with
# bench/h2_load (wsv's own runtime client, one epoll loop, every echo
# checked byte for byte); prints a markdown table for the HTTP/2 section
# of docs/benchmarks.md, with the command that produced it.
#
#   bench/h2.sh [--reps N] [--duration S] [--warmup S] [--plain]
#               [--wsv PATH --gen PATH] [--out DIR] [--min-messages N]
#
# Rows (the server pinned to CPU 0, h2_load to CPU 1, when there are two):
#   echo 32 B, 100 WebSockets x 8 in flight, text:
#     HTTP/1.1                        100 TLS connections
#     HTTP/2, 100 streams on 1        1 TLS connection (cfg.share)
#     HTTP/2, 1 stream per connection 100 TLS connections
#   echo 1 MiB, 4 WebSockets x 1 in flight, binary:
#     HTTP/1.1, HTTP/2                4 TLS connections
# Each figure is the median of --reps runs (default 3) of --duration
# seconds (default 5) after --warmup seconds (default 1).  The rows take
# turns (run 1 of every row, then run 2, ...) so drift hits them alike.
# Ratios are HTTP/2 over HTTP/1.1 of the same size.  The CPU shares are
# over the measured time: the server's from /proc, h2_load's own from
# getrusage (near 100 %: the generator, not the server, was the limit).
# --plain: ws:// (HTTP/2 as h2c with prior knowledge) instead of wss://.
# --wsv and --gen: use these binaries instead of building wsv and h2_load
# (Release, -O2) in build/bench.  --out DIR (default build/bench): where
# h2.md (the table) and h2.jsonl (every run) go.  --min-messages N (smoke
# tests only, never for figures): each measured time lasts until N echoes.
# Exit status 1 when a run failed (it still appears in the table,
# marked).  Loopback only; the server it starts is stopped by PID.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
PY=/usr/bin/python3
cmdline="bench/h2.sh${*:+ $*}"

reps=3
duration=5
warmup=1
plain=0
WSV=""
GEN=""
OUT=$ROOT/build/bench
min_messages=0
while [ $# -gt 0 ]; do
  case $1 in
  --reps | --duration | --warmup | --wsv | --gen | --out | --min-messages)
    if [ $# -lt 2 ]; then
      echo "bench/h2.sh: $1 wants a value" >&2
      exit 2
    fi ;;
  esac
  case $1 in
  --reps) reps=$2; shift ;;
  --duration) duration=$2; shift ;;
  --warmup) warmup=$2; shift ;;
  --plain) plain=1 ;;
  --wsv) WSV=$2; shift ;;
  --gen) GEN=$2; shift ;;
  --out) OUT=$2; shift ;;
  --min-messages) min_messages=$2; shift ;;
  -h | --help) # the header comment, up to its first non-comment line
    sed -n '2,/^[^#]/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
  *) echo "bench/h2.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ $reps =~ ^[1-9][0-9]*$ ]]; then
  echo "bench/h2.sh: --reps wants a positive whole number" >&2
  exit 2
fi
if { [ -n "$WSV" ] && [ -z "$GEN" ]; } || { [ -z "$WSV" ] && [ -n "$GEN" ]; }; then
  echo "bench/h2.sh: --wsv and --gen go together" >&2
  exit 2
fi
mkdir -p "$OUT/h2"
say() { echo "== $*" >&2; }

if [ -z "$WSV" ]; then
  say "building wsv and h2_load (Release, -O2) in build/bench"
  if ! cmake -S "$ROOT" -B "$OUT" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DWSV_TESTS=OFF >"$OUT/h2/build.log" 2>&1 ||
     ! ninja -C "$OUT" wsv h2_load >>"$OUT/h2/build.log" 2>&1; then
    cat "$OUT/h2/build.log" >&2
    exit 1
  fi
  WSV=$OUT/wsv
  GEN=$OUT/h2_load
fi

# One self-signed P-256 certificate for 127.0.0.1 (h2_load does not verify
# it: tls_insecure; the handshake is the same either way).
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
     -keyout "$OUT/h2/key.pem" -out "$OUT/h2/cert.pem" -days 2 \
     -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
     >"$OUT/h2/openssl.log" 2>&1; then
  cat "$OUT/h2/openssl.log" >&2
  exit 1
fi

pin_srv=()
pin_gen=()
pinning="none (fewer than 2 CPUs)"
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  pin_srv=(taskset -c 0)
  pin_gen=(taskset -c 1)
  pinning="server on CPU 0, h2_load on CPU 1 (taskset)"
fi

srv_pid=""
stop_server() {
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    srv_pid=""
  fi
}
trap stop_server EXIT

tls_flags=(--cert "$OUT/h2/cert.pem" --key "$OUT/h2/key.pem")
scheme=wss
if [ "$plain" = 1 ]; then
  tls_flags=()
  scheme=ws
fi
srv_cmd=("$WSV" serve --host 127.0.0.1 --port 0 "${tls_flags[@]}" --no-deflate --quiet)
say "server: ${srv_cmd[*]}"
"${pin_srv[@]}" "${srv_cmd[@]}" >"$OUT/h2/serve.log" 2>&1 &
srv_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*WebSocket: wss\{0,1\}://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$OUT/h2/serve.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$srv_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  say "wsv serve did not start (see $OUT/h2/serve.log)"
  cat "$OUT/h2/serve.log" >&2
  exit 1
fi
url="$scheme://127.0.0.1:$port/"

# name|h2_load arguments
rows=(
  "echo32-h1|--http 1 --ws 100 --inflight 8 --size 32"
  "echo32-h2shared|--http 2 --ws 100 --streams 100 --inflight 8 --size 32"
  "echo32-h2|--http 2 --ws 100 --streams 1 --inflight 8 --size 32"
  "echo1M-h1|--http 1 --ws 4 --inflight 1 --size 1M --binary"
  "echo1M-h2|--http 2 --ws 4 --streams 1 --inflight 1 --size 1M --binary"
)
runs=$OUT/h2.jsonl
: >"$runs"
failed=0
for r in $(seq 1 "$reps"); do
  for row in "${rows[@]}"; do
    name=${row%%|*}
    # shellcheck disable=SC2206 # the arguments are words
    args=(${row#*|})
    say "$name run $r"
    "${pin_gen[@]}" "$GEN" "$url" "${args[@]}" --duration "$duration" \
      --warmup "$warmup" --min-messages "$min_messages" --pid "$srv_pid" --json -q >"$OUT/h2/run.json" \
      2>>"$OUT/h2/h2_load.err"
    rc=$?
    line=$(cat "$OUT/h2/run.json")
    [ -n "$line" ] || line='{}'
    [ "$rc" = 0 ] || failed=1
    echo "{\"row\":\"$name\",\"rep\":$r,\"exit\":$rc,\"result\":$line}" >>"$runs"
  done
done
stop_server

{
  echo "Produced by \`$cmdline\` ($(date -u '+%Y-%m-%d %H:%M UTC'))."
  echo
  echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; kernel $(uname -sr)"
  echo "- wsv $("$WSV" --version | cut -d' ' -f2) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); OpenSSL $(openssl version | cut -d' ' -f2); nghttp2 $(pkg-config --modversion libnghttp2 2>/dev/null || echo -)"
  echo "- server: \`wsv serve --host 127.0.0.1 --port 0 ${tls_flags:+--cert C --key K }--no-deflate --quiet\`; generator: bench/h2_load ($url)"
  echo "- pinning: $pinning; $reps run(s) of $duration s after $warmup s warm-up, median"
} >"$OUT/h2/head.md"
$PY - "$runs" "$OUT/h2/head.md" >"$OUT/h2.md" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [
    ("echo32-h1", "echo 32 B, 100 WebSockets x 8 in flight", "HTTP/1.1", None),
    ("echo32-h2shared", "", "HTTP/2, 100 streams on 1 connection", "echo32-h1"),
    ("echo32-h2", "", "HTTP/2, 1 stream per connection", "echo32-h1"),
    ("echo1M-h1", "echo 1 MiB, 4 WebSockets x 1 in flight", "HTTP/1.1", None),
    ("echo1M-h2", "", "HTTP/2, 1 stream per connection", "echo1M-h1"),
]
by = {}
for r in runs:
    by.setdefault(r["row"], []).append(r)
def good(r):
    return r["exit"] == 0 and r["result"].get("messages", 0) > 0
def med(name, field):
    v = [r["result"][field] for r in by.get(name, []) if good(r) and field in r["result"]]
    return statistics.median(v) if v else None
def medlat(name, q):
    v = [r["result"]["latency_us"][q] for r in by.get(name, []) if good(r)]
    return statistics.median(v) if v else None
def rate(x):
    return "—" if x is None else (f"{x/1000:.0f} k" if x < 1e6 else f"{x/1e6:.2f} M") if x >= 10000 else f"{x:.0f}"
def num(x, f="{:.0f}"):
    return "—" if x is None else f.format(x)
def pct(x):
    return "—" if x is None else f"{100*x:.0f} %"
print(open(sys.argv[2]).read())
tls = sorted({(r["result"]["tls"]["version"], r["result"]["tls"]["cipher"], r["result"]["tls"]["alpn"])
              for r in runs if r["result"].get("tls")})
if tls:
    print("- TLS: " + "; ".join(f"{v} {c} ALPN {a}" for v, c, a in tls))
    print()
print("| figure | WebSockets over | TCP conns | msg/s | MB/s | p50 µs | p99 µs | server CPU | h2_load CPU | h2 / h1 |")
print("|---|---|---|---|---|---|---|---|---|---|")
bound = []
for name, fig, label, base in rows:
    rs = by.get(name, [])
    bad = sum(1 for r in rs if not good(r) or r["result"].get("verify_errors") or r["result"].get("conn_errors"))
    conns = sorted({r["result"].get("tcp_connections") for r in rs if good(r)})
    m, b = med(name, "msgs_per_s"), med(name, "mb_per_s")
    g = med(name, "generator_cpu")
    if g is not None and g >= 0.9:
        bound.append(label if not fig else f"{label} ({fig.split(',')[0]})")
    ratio = "—"
    if base:
        o = med(base, "msgs_per_s")
        if m is not None and o:
            ratio = f"{m / o:.2f}"
    cell = rate(m) + (f" ({bad} of {len(rs)} run(s) failed)" if bad else "")
    print(f"| {fig} | {label} | {', '.join(str(c) for c in conns) or '—'} | {cell} | {num(b, '{:.1f}')} "
          f"| {num(medlat(name, 'p50'))} | {num(medlat(name, 'p99'))} | {pct(med(name, 'server_cpu'))} "
          f"| {pct(g)} | {ratio} |")
print()
if bound:
    print("h2_load used 90 % or more of its CPU in: " + "; ".join(bound) +
          " — there the generator, not the server, set the figure.")
else:
    print("h2_load stayed below 90 % of its CPU in every row.")
EOF
cat "$OUT/h2.md"
echo
echo "(markdown in $OUT/h2.md, every run in $OUT/h2.jsonl)"
exit "$failed"
