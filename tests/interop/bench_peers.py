"""bench_peers.py WSV ROOT [NODE] - the peers of bench/run do what its
tables say they do (so a figure measured on them means something).  No
timing thresholds: small loads, every case judged on content.

  raw_echo --xor       (bench/raw_echo.c, built here with cc) echoes
                       bytes unchanged: `wsv bench echo tcp://` 1 MiB
                       binary verifies every echo;
  raw_echo --xor-key   the XOR pass really runs: a stream sent in odd
                       chunks comes back XORed with the key at each byte's
                       stream position; `wsv bench echo` against it must
                       exit 1 with verification errors;
  py_chat.py,          chat semantics of `wsv serve --chat`: two clients
  ws_chat.js           on /a and one on /b, a message from the first
                       reaches both on /a (the sender too) and not /b;
                       `wsv bench fanout` (20 subscribers) exits 0 with
                       deliveries and no loss; against py_echo.py (an
                       echo, not a chat) it must exit 1;
  ws_echo.js --tls     echoes text and 1 MiB binary over wss:// with the
                       test CA; a plain ws:// client gets no 101.
Node ws comes from tests/interop/node_modules (NODE_PATH)."""
import asyncio
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import wsvtest as W

rep = W.Report("bench_peers")
WSV, ROOT = sys.argv[1], sys.argv[2]
NODE = sys.argv[3] if len(sys.argv) > 3 else "/usr/bin/node"
PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_ENV = dict(os.environ, NODE_PATH=os.path.join(HERE, "node_modules"))
W.require_peers(rep, python_websockets=True)
import websockets  # noqa: E402

LISTEN_RE = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


def start(argv, case, env=None):
    """Start a bench peer that prints "...: listening on 127.0.0.1:PORT";
    returns (Proc, port) or (None, None) after reporting the failure."""
    p = W.Proc(argv, env=env)
    m = p.wait_output(lambda o, e: LISTEN_RE.search(o), 15)
    if not m:
        p.stop()
        rep.fail(f"{case}: starts", "a 'listening on 127.0.0.1:PORT' line within 15 s", p.text())
        return None, None
    return p, int(m.group(1))


def bench(*args, timeout=60):
    """wsv bench ARGS --json -q: (exit code, the JSON result or {})."""
    r = subprocess.run([WSV, "bench", *args, "--json", "-q"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=W.child_env())
    try:
        res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {}
    return r.returncode, res, r.stderr.decode(errors="replace")[-300:]


# ---- raw_echo --xor ------------------------------------------------------------
tmp = tempfile.mkdtemp(prefix="wsv-bench-peers-")
raw = os.path.join(tmp, "raw_echo")
cc = subprocess.run(["cc", "-O2", "-o", raw, os.path.join(ROOT, "bench/raw_echo.c")],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
rep.check("bench/raw_echo.c builds with cc -O2", cc.returncode == 0, "exit 0",
          cc.stdout.decode(errors="replace")[-300:])

if cc.returncode == 0:
    p, port = start([raw, "--xor", "0"], "raw_echo --xor")
    if p:
        rc, res, err = bench("echo", f"tcp://127.0.0.1:{port}", "--conns", "2", "--inflight", "1",
                             "--size", "1M", "--binary", "--warmup", "0.2", "--duration", "0.5")
        rep.check("raw_echo --xor: wsv bench echo tcp:// 1 MiB verifies every echo",
                  rc == 0 and res.get("verify_errors") == 0 and res.get("mb_per_s", 0) > 0,
                  "exit 0, verify_errors 0, mb_per_s > 0", f"exit={rc} {res} {err}")
        p.stop()

    key = bytes([0x5a, 0x01, 0xc3, 0x7e])
    p, port = start([raw, "--xor-key", key.hex(), "0"], "raw_echo --xor-key")
    if p:
        rnd = random.Random(14)
        data = bytes(rnd.getrandbits(8) for _ in range(200_000))
        want = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        got = bytearray()
        off = 0
        while off < len(data):  # odd chunks, each read back before the next
            n = rnd.choice((1, 3, 7, 4099, 65537))
            s.sendall(data[off:off + n])
            off += n
            while len(got) < min(off, len(data)):
                b = s.recv(1 << 20)
                if not b:
                    break
                got += b
        s.close()
        first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
        rep.check("raw_echo --xor-key: every byte comes back XORed with the key at its stream position",
                  bytes(got) == want, f"{len(want)} bytes, data[i] ^ key[i % 4]",
                  f"{len(got)} bytes, first difference at {first}")
        rc, res, err = bench("echo", f"tcp://127.0.0.1:{port}", "--conns", "1", "--size", "64",
                             "--warmup", "0", "--duration", "0.3")
        rep.check("raw_echo --xor-key: wsv bench echo sees the altered bytes (exit 1, verify_errors > 0)",
                  rc == 1 and res.get("verify_errors", 0) > 0, "exit 1, verify_errors > 0",
                  f"exit={rc} {res} {err}")
        p.stop()


# ---- the chat peers ---------------------------------------------------------------
async def chat_semantics(port):
    """Two clients on /a and one on /b; a1 sends; who hears what."""
    url = f"ws://127.0.0.1:{port}"
    a1 = await websockets.connect(url + "/a", compression=None)
    a2 = await websockets.connect(url + "/a", compression=None)
    b = await websockets.connect(url + "/b", compression=None)
    await asyncio.sleep(0.2)  # every subscription in place
    await a1.send("hello /a")
    await a1.send(b"\x00\x01binary")
    heard = {}
    for name, ws in (("a1", a1), ("a2", a2)):
        heard[name] = [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]
    try:
        heard["b"] = [await asyncio.wait_for(b.recv(), 0.5)]
    except asyncio.TimeoutError:
        heard["b"] = []
    for ws in (a1, a2, b):
        await ws.close()
    return heard


CHATS = (("py_chat.py", [PY, os.path.join(ROOT, "bench/py_chat.py"), "0"], None),
         ("ws_chat.js", [NODE, os.path.join(ROOT, "bench/ws_chat.js"), "0"], NODE_ENV))
for name, argv, env in CHATS:
    p, port = start(argv, name, env)
    if not p:
        continue
    try:
        heard = asyncio.run(chat_semantics(port))
    except Exception as e:  # noqa: BLE001 - reported as the case's failure
        heard = repr(e)
    want = {"a1": ["hello /a", b"\x00\x01binary"], "a2": ["hello /a", b"\x00\x01binary"], "b": []}
    rep.check(f"{name}: a message reaches every subscriber of its path (the sender too), "
              "as it came, and no other path", heard == want, want, heard)
    rc, res, err = bench("fanout", f"ws://127.0.0.1:{port}/fan", "--subs", "20", "--inflight", "8",
                         "--warmup", "0.2", "--duration", "0.5")
    rep.check(f"{name}: wsv bench fanout, 20 subscribers: exit 0, deliveries, no loss",
              rc == 0 and res.get("deliveries", 0) > 0 and res.get("losses") == 0
              and res.get("verify_errors") == 0 and res.get("subs_open") == 20,
              "exit 0, deliveries > 0, losses 0, verify_errors 0, 20 subscribers open",
              f"exit={rc} {res} {err}")
    p.stop()

ls = W.free_port_listener()  # py_echo.py prints the port it is given
free = ls.getsockname()[1]
ls.close()
p, port = start([PY, os.path.join(ROOT, "bench/py_echo.py"), str(free)], "py_echo.py")
if p:
    rc, res, err = bench("fanout", f"ws://127.0.0.1:{port}/fan", "--subs", "5",
                         "--warmup", "0.2", "--duration", "0.3")
    rep.check("an echo server is not a chat: wsv bench fanout against py_echo.py exits 1",
              rc == 1, "exit 1", f"exit={rc} {res} {err}")
    p.stop()


# ---- ws_echo.js --tls -------------------------------------------------------------
async def wss_echo(port, ca):
    async with websockets.connect(f"wss://localhost:{port}/", ssl=W.client_ssl(ca),
                                  compression=None, max_size=None) as ws:
        out = []
        for m in ("hello over TLS", random.Random(7).randbytes(1 << 20)):
            await ws.send(m)
            out.append(await asyncio.wait_for(ws.recv(), 10) == m)
        return out


pki = W.make_pki(rep)
if pki:
    p, port = start([NODE, os.path.join(ROOT, "bench/ws_echo.js"), "0", "--tls", pki["cert"],
                     pki["key"]], "ws_echo.js --tls", NODE_ENV)
    if p:
        try:
            got = asyncio.run(wss_echo(port, pki["ca"]))
        except Exception as e:  # noqa: BLE001
            got = repr(e)
        rep.check("ws_echo.js --tls: text and 1 MiB binary echoed over wss://", got == [True, True],
                  [True, True], got)
        try:
            s = W.connect_raw(port)
            s.sendall(W.upgrade_request(port)[0])
            s.settimeout(3)
            try:
                head = s.recv(4096)
            except OSError:
                head = b""
            s.close()
        except OSError as e:
            head = repr(e).encode()
        rep.check("ws_echo.js --tls: a plain ws:// request gets no 101", b" 101 " not in head,
                  "no 101", W.short(head))
        p.stop()

shutil.rmtree(tmp, ignore_errors=True)
rep.finish()
