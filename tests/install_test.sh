#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR [C_FLAGS] - install wsv into a
# temporary prefix, then build examples/ against the installed copy with
# find_package(wsv) and with pkg-config, and run them: an echo server and
# a chat server answer the example client.  Loopback only; every server
# is stopped by PID.
set -u
build=$1
src=$2
cflags=${3:-}
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL cmake --install"; exit 1; }
for f in include/wsv.h include/wsv/rt.h include/wsv/conn.h bin/wsv \
         share/man/man1/wsv.1; do
  [ -e "$prefix/$f" ] && ok "installed $f" || bad "installed $f"
done
for f in libwsv.a libwsv.so libwsv_rt.a libwsv_rt.so pkgconfig/wsv.pc \
         cmake/wsv/wsvConfig.cmake cmake/wsv/wsvConfigVersion.cmake; do
  found=$(find "$prefix" -path "*/$f" | head -1)
  [ -n "$found" ] && ok "installed $f" || bad "installed $f"
done
libdir=$(dirname "$(find "$prefix" -name libwsv.so | head -1)")

# start_server BIN ARGS...: start it, wait for its "listening on" line,
# set $port.
start_server() {
  out=$tmp/server.$$.$(date +%s%N)
  "$@" >"$out" 2>&1 &
  pids="$pids $!"
  last_pid=$!
  port=""
  i=0
  while [ $i -lt 50 ] && [ -z "$port" ]; do
    port=$(sed -n 's|.*ws://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out" | head -1)
    [ -z "$port" ] && sleep 0.1
    i=$((i + 1))
  done
}

# stop_server: SIGTERM and expect exit 0 within 5 s.
stop_server() {
  kill -TERM "$last_pid"
  i=0
  while kill -0 "$last_pid" 2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  wait "$last_pid"
}

# --- find_package(wsv) ---------------------------------------------------
if cmake -S "$src/examples" -B "$tmp/ex" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_C_FLAGS="$cflags" >"$tmp/ex.log" 2>&1 &&
   cmake --build "$tmp/ex" >>"$tmp/ex.log" 2>&1; then
  ok "examples build with find_package(wsv)"
  export LD_LIBRARY_PATH="$libdir"
  start_server "$tmp/ex/echo_server" 0
  if [ -n "$port" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/" "hello wsv" 2>&1)
    rc=$?
    echo "$out" | grep -q "^received: hello wsv$" && [ $rc -eq 0 ] &&
      ok "echo_server echoes to client" || { echo "$out"; bad "echo_server echoes to client"; }
    stop_server && ok "echo_server exits 0 on SIGTERM" || bad "echo_server exits 0 on SIGTERM"
  else
    bad "echo_server printed its port"
  fi
  start_server "$tmp/ex/chat_server" 0 2
  if [ -n "$port" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/room" "hi all" 2>&1)
    echo "$out" | grep -q "^received: hi all$" &&
      ok "chat_server publishes to the sender's topic" || { echo "$out"; bad "chat_server publishes"; }
    stop_server && ok "chat_server exits 0 on SIGTERM" || bad "chat_server exits 0 on SIGTERM"
  else
    bad "chat_server printed its port"
  fi
  out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:1/" x 2>&1)
  [ $? -ne 0 ] && ok "client fails on a refused connection" || bad "client fails on a refused connection"
else
  cat "$tmp/ex.log"
  bad "examples build with find_package(wsv)"
fi

# --- pkg-config ------------------------------------------------------------
pc_flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs wsv)
if cc -std=c11 $cflags "$src/examples/echo_server.c" -o "$tmp/echo_pc" $pc_flags \
     2>"$tmp/pc.log"; then
  ok "echo_server builds with pkg-config ($pc_flags)"
  LD_LIBRARY_PATH="$libdir" start_server "$tmp/echo_pc" 0
  if [ -n "$port" ] && [ -x "$tmp/ex/client" ]; then
    out=$(timeout 10 "$tmp/ex/client" "ws://127.0.0.1:$port/" pc 2>&1)
    echo "$out" | grep -q "^received: pc$" && ok "pkg-config build echoes" || bad "pkg-config build echoes"
    stop_server
  fi
else
  cat "$tmp/pc.log"
  bad "echo_server builds with pkg-config"
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
