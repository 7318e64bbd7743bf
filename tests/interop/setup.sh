#!/usr/bin/env bash
# tests/interop/setup.sh - install the real peers the interop tests run against.
#
#   Debian packages : chromium (headless browser), python3-websockets (10.4,
#                     run with /usr/bin/python3), nodejs + npm only when `node`
#                     or `npm` is missing from PATH
#   npm (here)      : ws and playwright-core, pinned in package-lock.json,
#                     installed into tests/interop/node_modules with
#                     `npm ci --ignore-scripts` (no browser download)
#
# As root it installs whatever is missing (apt-get update runs only when
# something has to be installed).  As non-root it installs nothing from
# Debian: it names what is missing and exits 1.  The npm step needs no root.
# Idempotent: a second run with everything present does no network access.
#
# Exit 0 when every peer is present afterwards, 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1

# Debian packages we need, and the file that proves each one is installed.
want_pkgs=()
check() { # check PKG TEST-COMMAND...
  local pkg=$1
  shift
  if ! "$@" >/dev/null 2>&1; then want_pkgs+=("$pkg"); fi
}
check chromium test -x /usr/bin/chromium
check python3-websockets /usr/bin/python3 -c 'import websockets'
check openssl command -v openssl   # test certificates are made at run time
check libnss3-tools command -v certutil   # Chromium's NSS database trusts the test CA (chromium_h2.js)
if ! command -v node >/dev/null 2>&1; then want_pkgs+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then want_pkgs+=(npm); fi

if [ ${#want_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "interop setup: missing Debian packages: ${want_pkgs[*]}" >&2
    echo "interop setup: run as root, or: sudo apt-get install -y ${want_pkgs[*]}" >&2
    exit 1
  fi
  echo "interop setup: installing ${want_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -qq; then
    echo "interop setup: apt-get update failed" >&2
    exit 1
  fi
  if ! apt-get install -y -qq --no-install-recommends "${want_pkgs[@]}"; then
    # chromium needs its recommended fonts on some images; retry with them.
    if ! apt-get install -y -qq "${want_pkgs[@]}"; then
      echo "interop setup: apt-get install ${want_pkgs[*]} failed" >&2
      exit 1
    fi
  fi
fi

# npm modules, into tests/interop/node_modules.  Skip when the installed tree
# already matches the lock (npm writes node_modules/.package-lock.json).
need_npm=1
if [ -f node_modules/.package-lock.json ] && [ -f node_modules/ws/package.json ] &&
   [ -f node_modules/playwright-core/package.json ]; then
  lock_ws=$(node -e 'const l=require("./package-lock.json");console.log(l.packages["node_modules/ws"].version+" "+l.packages["node_modules/playwright-core"].version)' 2>/dev/null)
  have_ws=$(node -e 'console.log(require("ws/package.json").version+" "+require("playwright-core/package.json").version)' 2>/dev/null)
  if [ -n "$lock_ws" ] && [ "$lock_ws" = "$have_ws" ]; then need_npm=0; fi
fi
if [ $need_npm -eq 1 ] && [ -L node_modules ]; then
  # npm ci empties node_modules first, through a symlink too: another
  # checkout's modules (a worktree sharing them) would vanish under it.
  echo "interop setup: node_modules is a symlink ($(readlink node_modules))" \
    "and does not match package-lock.json; install in the checkout it" \
    "points to, or remove the link" >&2
  exit 1
fi
if [ $need_npm -eq 1 ]; then
  echo "interop setup: npm ci in $here"
  if [ -f package-lock.json ]; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error || {
      echo "interop setup: npm ci failed" >&2
      exit 1
    }
  else
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error || {
      echo "interop setup: npm install failed" >&2
      exit 1
    }
  fi
fi

# Final check: everything the tests use is there.
missing=()
[ -x /usr/bin/chromium ] || missing+=("/usr/bin/chromium (Debian chromium)")
command -v certutil >/dev/null 2>&1 || missing+=("certutil (Debian libnss3-tools)")
/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 ||
  missing+=("python3-websockets for /usr/bin/python3")
# (a module that is there but refuses this Node, as playwright-core >= 1.62
# does on Node 18, fails here too: its first error line is shown)
if ! node_err=$(node -e 'require("ws");require("playwright-core")' 2>&1 >/dev/null); then
  missing+=("node modules ws + playwright-core in $here/node_modules, loadable by node $(node --version 2>/dev/null): $(echo "$node_err" | grep -m1 -E '^[A-Za-z]*Error' || echo "$node_err" | head -1)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  printf 'interop setup: still missing: %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "interop setup: ok (chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), python websockets $(/usr/bin/python3 -c 'import websockets;print(websockets.__version__)'), node $(node --version), ws $(node -e 'console.log(require("ws/package.json").version)'), playwright-core $(node -e 'console.log(require("playwright-core/package.json").version)'))"
