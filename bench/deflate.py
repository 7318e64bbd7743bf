"""bench/deflate.py - what permessage-deflate costs a server, per setting:
memory per connection after activity and the compression ratio on a
realistic corpus, for wsv serve beside Python websockets and Node ws with
compression on, in the same run (issue 14's "deflate a server can afford").

usage: /usr/bin/python3 bench/deflate.py [--wsv PATH] [--conns N]
           [--msgs M] [--only NAME,NAME] [--json FILE]

Servers (echo, each started here on a free loopback port, stopped by PID):
  wsv-max     wsv serve --deflate max (15-bit windows, memLevel 8, per conn)
  wsv-on      wsv serve --deflate on (the default: 11-bit deflater per
              conn, large messages through a shared 15-bit one, clients
              held to 13 bits, inflater trimmed between messages)
  wsv-lean    wsv serve --deflate lean (no context takeover)
  wsv-off     wsv serve --no-deflate (the reference for memory)
  python      bench/py_echo.py --deflate: websockets 10.4, compression="deflate"
              (its defaults: 12-bit windows, memLevel 5)
  python-off  the same without compression
  node        bench/ws_echo.js --deflate: ws with perMessageDeflate: true
              (its defaults: threshold 1024 B, zlib's windows and memLevel)
  node-off    the same without compression
The client is Python websockets 10.4 (compression on: it offers
permessage-deflate with client_max_window_bits, as browsers do), through
a counting TCP relay, so the bytes on the wire are measured, not guessed.

Corpus:
  chat  every connection sends M JSON chat messages (about 120-400 B each,
        from a seeded generator: user names, rooms, timestamps, ids and
        text made of English words) and reads each echo;
  text  one connection sends a 1 MiB text message (Debian's Python 3.11
        standard library sources, sorted, concatenated) three times.
Figures per server: memory per connection (VmRSS after N connections have
each sent their messages, minus VmRSS before, divided by N; `idle`: the
same after 5 s of quiet: past wsv's park_after_ms (2 s), when idle
connections are parked or, at `on`, give back their compressor, and past
the 2 s after which the loop's allocator returns freed chunks; `-off` rows
give the part that is not compression), and the ratio (bytes on the wire
after the handshake / payload bytes) both ways: client to server (the
client compresses; the server inflates) and server to client (the
server compresses).  Prints a markdown table and the command line.
"""
import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# ---- the corpus -------------------------------------------------------------

def words():
    text = open("/usr/share/common-licenses/GPL-3").read()
    ws = sorted({w.strip('.,;:()"').lower() for w in text.split()
                 if w.isascii() and w.strip('.,;:()"').isalpha()})
    return ws


def chat_messages(conn, count, vocab):
    rnd = random.Random(1000 + conn)
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace",
             "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent"]
    rooms = ["general", "random", "support", "dev", "ops", "design"]
    out = []
    ts = 1733212345000 + conn * 7919
    for i in range(count):
        ts += rnd.randint(50, 5000)
        text = " ".join(rnd.choice(vocab) for _ in range(rnd.randint(5, 50)))
        msg = {"type": "message", "room": rnd.choice(rooms),
               "user": rnd.choice(users), "id": f"{conn:04x}-{i:06x}",
               "ts": ts, "text": text.capitalize() + "."}
        if rnd.random() < 0.2:
            msg["reply_to"] = f"{conn:04x}-{rnd.randint(0, max(i, 1)):06x}"
        out.append(json.dumps(msg, separators=(",", ":")))
    return out


def big_text(limit=1 << 20):
    base = "/usr/lib/python3.11"
    parts = []
    total = 0
    for name in sorted(os.listdir(base)):
        if not name.endswith(".py"):
            continue
        data = open(os.path.join(base, name), encoding="utf-8",
                    errors="replace").read()
        parts.append(data)
        total += len(data.encode())
        if total >= limit:
            break
    return "".join(parts).encode()[:limit].decode("utf-8", "ignore")


# ---- a counting relay ---------------------------------------------------------

class Relay:
    """Loopback TCP relay to the server's port; counts bytes per
    connection in each direction."""

    def __init__(self, target_port):
        self.target = target_port
        self.conns = {}  # local port of the client -> [c2s, s2c]

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, cr, cw):
        peer = cw.get_extra_info("peername")[1]
        counts = self.conns.setdefault(peer, [0, 0])
        sr, sw = await asyncio.open_connection("127.0.0.1", self.target)

        async def pipe(r, w, k):
            try:
                while True:
                    b = await r.read(65536)
                    if not b:
                        break
                    counts[k] += len(b)
                    w.write(b)
                    await w.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                try:
                    w.close()
                except Exception:
                    pass

        await asyncio.gather(pipe(cr, sw, 0), pipe(sr, cw, 1))

    def close(self):
        self.server.close()


# ---- the servers --------------------------------------------------------------

def server_cmd(name, wsv, port):
    py = "/usr/bin/python3"
    node = shutil.which("node") or "node"
    table = {
        "wsv-on": [wsv, "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--quiet", "--deflate", "on", "--max-message", "16777216"],
        "wsv-max": [wsv, "serve", "--host", "127.0.0.1", "--port",
                    str(port), "--quiet", "--deflate", "max",
                    "--max-message", "16777216"],
        "wsv-lean": [wsv, "serve", "--host", "127.0.0.1", "--port",
                     str(port), "--quiet", "--deflate", "lean"],
        "wsv-off": [wsv, "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--quiet", "--no-deflate"],
        "python": [py, os.path.join(ROOT, "bench/py_echo.py"), str(port),
                   "--deflate"],
        "python-off": [py, os.path.join(ROOT, "bench/py_echo.py"),
                       str(port)],
        "node": [node, os.path.join(ROOT, "bench/ws_echo.js"), str(port),
                 "--deflate"],
        "node-off": [node, os.path.join(ROOT, "bench/ws_echo.js"),
                     str(port)],
    }
    return table[name]


def wait_port(port, proc, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


async def run_load(port, conns, msgs, vocab, text):
    relay = Relay(port)
    await relay.start()
    url = f"ws://127.0.0.1:{relay.port}/"
    raw = [0, 0]
    wire = [0, 0]
    clients = []
    # Open every connection, then let each send its chat messages.
    for _ in range(conns):
        ws = await websockets.connect(url, max_size=32 << 20,
                                      ping_interval=None)
        await asyncio.sleep(0)
        port_local = ws.transport.get_extra_info("sockname")[1]
        clients.append((ws, port_local))
    await asyncio.sleep(0.2)
    start = {p: list(relay.conns.get(p, [0, 0])) for _, p in clients}

    async def chat(i, ws):
        for m in chat_messages(i, msgs, vocab):
            await ws.send(m)
            back = await ws.recv()
            if back != m:
                raise RuntimeError("echo differs")
            raw[0] += len(m.encode())
            raw[1] += len(m.encode())

    await asyncio.gather(*(chat(i, ws) for i, (ws, _) in enumerate(clients)))
    await asyncio.sleep(0.3)
    for _, p in clients:
        c = relay.conns.get(p, [0, 0])
        wire[0] += c[0] - start[p][0]
        wire[1] += c[1] - start[p][1]
    # The big text on the first connection (after the memory figure).
    return relay, clients, raw, wire


async def run_text(relay, ws, p, text, reps=3):
    before = list(relay.conns[p])
    for _ in range(reps):
        await ws.send(text)
        back = await ws.recv()
        if back != text:
            raise RuntimeError("text echo differs")
    await asyncio.sleep(0.3)
    after = relay.conns[p]
    n = len(text.encode()) * reps
    return (after[0] - before[0]) / n, (after[1] - before[1]) / n


def measure(name, wsv, conns, msgs, vocab, text):
    port = free_port()
    env = dict(os.environ)
    for mods in ("build/bench/npm/node_modules", "tests/interop/node_modules"):
        if os.path.isdir(os.path.join(ROOT, mods, "ws")):
            env["NODE_PATH"] = os.path.join(ROOT, mods)
            break
    proc = subprocess.Popen(server_cmd(name, wsv, port), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_port(port, proc):
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            return {"name": name, "error": f"did not start {err.strip()[:200]}"}
        time.sleep(0.3)
        rss0 = rss_bytes(proc.pid)

        async def go():
            relay, clients, raw, wire = await run_load(port, conns, msgs,
                                                       vocab, text)
            rss1 = rss_bytes(proc.pid)
            # Quiet for longer than wsv's park_after_ms (2 s).
            await asyncio.sleep(5)
            rss_idle = rss_bytes(proc.pid)
            ws0, p0 = clients[0]
            text_c2s, text_s2c = await run_text(relay, ws0, p0, text)
            for ws, _ in clients:
                await ws.close()
            relay.close()
            return rss1, rss_idle, raw, wire, text_c2s, text_s2c

        rss1, rss_idle, raw, wire, tc, ts = asyncio.run(go())
        return {"name": name, "per_conn": (rss1 - rss0) / conns,
                "idle": (rss_idle - rss0) / conns,
                "chat_c2s": wire[0] / raw[0], "chat_s2c": wire[1] / raw[1],
                "text_c2s": tc, "text_s2c": ts, "conns": conns,
                "msgs": msgs}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wsv", default=os.path.join(ROOT, "build/wsv"))
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--msgs", type=int, default=20)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    names = ["wsv-max", "wsv-on", "wsv-lean", "wsv-off", "python", "python-off", "node",
             "node-off"]
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    vocab = words()
    text = big_text()
    rows = []
    for n in names:
        r = measure(n, a.wsv, a.conns, a.msgs, vocab, text)
        rows.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    cmd = "/usr/bin/python3 bench/deflate.py " + " ".join(sys.argv[1:])
    print(f"`{cmd.strip()}` — {a.conns} connections x {a.msgs} chat "
          f"messages, then 3 x 1 MiB text on one; ratio = wire bytes / "
          f"payload bytes (lower is better)\n")
    print("| server | memory/conn | idle (5 s) | chat c->s | chat s->c | text c->s | text s->c |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['name']} | {r['error']} | | | | | |")
            continue
        print(f"| {r['name']} | {r['per_conn'] / 1024:.1f} KB | "
              f"{r['idle'] / 1024:.1f} KB | "
              f"{r['chat_c2s']:.3f} | {r['chat_s2c']:.3f} | "
              f"{r['text_c2s']:.3f} | {r['text_s2c']:.3f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
