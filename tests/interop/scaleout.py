#!/usr/bin/python3
"""Scale-out through Redis: several `wsv serve --chat --broker redis://...`
behind nginx, against real redis-server processes on loopback.

  setup   : redis-server on a random port (config written here, no
            persistence, its own temporary dir), three instances
            `wsv serve --chat --broker redis://127.0.0.1:P -v`, and nginx
            (examples/scale-out's settings, config written here: one process,
            in the foreground, logs in the temporary dir) on a random port
            with the three as its upstream.
  chat    : Python websockets and Node ws clients, connected straight to each
            instance and through nginx, plus headless Chromium on the demo
            page through nginx: every client gets every message of every
            sender exactly once, in order per sender; binary and 1 MiB
            messages cross with their bytes and type.
  restart : Redis stopped for 3 s and restarted on the same port: chat on one
            instance goes on meanwhile, messages cross again within 10 s of
            the restart, the -v stats line shows dropped > 0, reconnects >= 1.
  stop    : Redis paused (SIGSTOP) while a publisher floods 4,000 x 4 KiB:
            the instances' VmRSS stays bounded, a bystander on another path
            keeps its round trips, and after SIGCONT messages cross again.
  kill    : one instance killed (SIGKILL): the clients of the others still
            get everything; a new connection through nginx still works.
  cluster : a 3-node Redis Cluster on loopback; instances given all three
            nodes; the node they use killed: they move on, messages cross.
  examples: examples/scale-out/nginx.conf and haproxy.cfg as in the tree,
            only the ports changed: the page and chat through each.
  bad     : --broker http://x and redis://h:99999 -> exit 2, one stderr line;
            a wrong password (requirepass) -> the server runs, local chat
            works, the AUTH failure is logged once; the right one from
            --broker-password-file -> connected.

usage: /usr/bin/python3 scaleout.py WSV
"""

import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

rep = T.Report("interop scaleout")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
SAN = T.is_sanitized(WSV)
MIB = 1 << 20
NODE = os.environ.get("WSV_NODE") or "/usr/bin/node"
REDIS = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
NGINX = "/usr/sbin/nginx"
HAPROXY = "/usr/sbin/haproxy"
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "scale-out")
TMP = tempfile.mkdtemp(prefix="wsv-interop-scaleout-")
T._tmpdirs.append(TMP)
CONNECTED = re.compile(rb"broker: redis 127\.0\.0\.1:(\d+): connected")
STATS = re.compile(rb"broker: links (\d+)/(\d+) up, channels (\d+), published (\d+), "
                   rb"received (\d+), dropped (\d+), echoes (\d+), (?:unrouted (\d+), )?"
                   rb"reconnects (\d+)")

try:
    import websockets
except ImportError:
    websockets = None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cluster_port():
    """A free port P whose cluster bus port P + 10000 is free too."""
    for _ in range(200):
        p = free_port()
        if p + 10000 > 65535:
            continue
        try:
            b = socket.socket()
            b.bind(("127.0.0.1", p + 10000))
            b.close()
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_for(pred, timeout, step=0.05):
    """Poll pred() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def pseudo_random(n, seed):
    """n bytes of SHA-256 in counter mode (scaleout_peers.js makes the same)."""
    out = bytearray()
    c = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{c}".encode()).digest()
        c += 1
    return bytes(out[:n])


def bin_record(b):
    return f"bin:{len(b)}:{hashlib.sha1(b).hexdigest()}"


def text_record(t):
    """Texts over 1000 characters are recorded as text:BYTES:SHA1."""
    if len(t) <= 1000:
        return t
    b = t.encode()
    return f"text:{len(b)}:{hashlib.sha1(b).hexdigest()}"


# ---------------------------------------------------------------- Redis


class Redis(T.Proc):
    """redis-server on 127.0.0.1:port from a config file written here."""

    def __init__(self, port, extra="", name=None):
        self.port = port
        d = os.path.join(TMP, name or f"redis-{port}")
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "redis.conf")
        with open(conf, "w") as f:
            f.write(f"port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\n"
                    f"dir {d}\ndaemonize no\nlogfile \"\"\n{extra}")
        super().__init__([REDIS, conf])
        self.ready = bool(self.wait_output(lambda o, e: b"Ready to accept connections" in o, 10))

    def cli(self, *args, timeout=5):
        r = subprocess.run([REDIS_CLI, "-p", str(self.port), *args], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return r.stdout.decode(errors="replace")


def start_redis(case, port=None, extra=""):
    r = Redis(port or free_port(), extra)
    if not rep.check(f"{case}: redis-server starts on 127.0.0.1:{r.port}", r.ready,
                     "'Ready to accept connections' within 10 s", r.text()):
        r.stop()
        return None
    return r


def numsub(redis, channel):
    out = redis.cli("PUBSUB", "NUMSUB", channel).split()
    try:
        return int(out[-1])
    except (ValueError, IndexError):
        return -1


# ---------------------------------------------------------------- nginx


NGINX_CONF = """# written by tests/interop/scaleout.py (examples/scale-out/nginx.conf's settings)
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream wsv {{
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://wsv;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 90s;
            proxy_send_timeout 90s;
            proxy_buffering off;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


class Nginx(T.Proc):
    def __init__(self, upstream_ports):
        self.port = free_port()
        self.dir = os.path.join(TMP, f"nginx-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;"
                            for p in upstream_ports)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=self.dir, port=self.port, servers=servers))
        super().__init__([NGINX, "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "error.log")])
        self.ready = wait_for(lambda: not self.alive() or port_open(self.port), 10) and self.alive()

    def log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()[-600:]
        except OSError:
            return ""


# ---------------------------------------------------------------- wsv instances


def start_instance(case, nodes, extra=(), env=None, wait_connected=True):
    args = ["--chat", "--broker", nodes, "-v", *extra]
    if env:
        os.environ.update(env)
    try:
        srv = T.start_server(rep, WSV, args, f"{case}: wsv serve starts")
    finally:
        for k in env or {}:
            os.environ.pop(k, None)
    if srv is None:
        return None
    if wait_connected:
        m = srv.wait_output(lambda o, e: CONNECTED.search(e) or CONNECTED.search(o), 10)
        rep.check(f"{case}: instance :{srv.port} logs 'broker: redis ...: connected'", m,
                  "within 10 s", srv.text())
    return srv


def stats_lines(srv):
    return [m for m in STATS.finditer(bytes(srv.err) + bytes(srv.out))]


def stats_after(srv, n_before, timeout=13):
    """The first stats line after the n_before-th (the -v line every 10 s)."""
    ok = srv.wait_output(lambda o, e: len(list(STATS.finditer(e + o))) > n_before, timeout)
    if not ok:
        return None
    return stats_lines(srv)[n_before:]


# ---------------------------------------------------------------- Python websockets clients


class Loop:
    """An asyncio loop in a thread, for Python websockets clients."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


LOOP = Loop()


class PyClient:
    """A websockets client recording what it receives (binary as
    bin:LEN:SHA1, long texts as text:LEN:SHA1)."""

    def __init__(self, url):
        self.url = url
        self.got = []
        self.closed = None
        self.ws = LOOP.run(self._open(), 10)

    async def _open(self):
        ws = await asyncio.wait_for(websockets.connect(self.url, max_size=None, ping_interval=None), 6)
        asyncio.ensure_future(self._read(ws))
        return ws

    async def _read(self, ws):
        try:
            async for m in ws:
                self.got.append(text_record(m) if isinstance(m, str) else bin_record(m))
        except Exception as e:  # noqa: BLE001
            self.closed = repr(e)
        if self.closed is None:
            self.closed = f"closed {ws.close_code}"

    def send(self, m, timeout=10):
        LOOP.run(self.ws.send(m), timeout)

    def burst(self, prefix, n, timeout=20):
        async def go():
            for k in range(n):
                await self.ws.send(f"{prefix}:{k}")
        LOOP.run(go(), timeout)

    def close(self):
        try:
            LOOP.run(self.ws.close(), 5)
        except Exception:  # noqa: BLE001
            pass


class NodePeers(T.Proc):
    """scaleout_peers.js: Node ws clients and a Chromium page."""

    def __init__(self):
        super().__init__([NODE, os.path.join(HERE, "scaleout_peers.js")], stdin=subprocess.PIPE,
                         env=T.child_env())

    def call(self, timeout=20, **cmd):
        self.write((json.dumps(cmd) + "\n").encode())

        def pred(o, e):
            i = o.find(b"\n")
            return i >= 0 and o[:i]
        line = self.wait_output(pred, timeout)
        if not line:
            raise TimeoutError(f"node {cmd.get('cmd')}: no answer in {timeout} s ({self.text()})")
        with self.cv:  # answers are read once: keep the buffer small
            del self.out[:len(line) + 1]
        a = json.loads(line)
        if not a.get("ok"):
            raise RuntimeError(f"node {cmd.get('cmd')}: {a.get('error')}")
        return a


# ---------------------------------------------------------------- checks


def check_exactly_once(case, got, senders, n, own=None):
    """got: one client's messages; senders: prefixes each sending
    PREFIX:0..n-1.  Every sender's messages exactly once, in order.  own:
    this client's own prefix (its own messages come back too: --chat
    publishes to the sender's own connection as well)."""
    bad = []
    for s in senders:
        seq = [m for m in got if isinstance(m, str) and m.startswith(s + ":")]
        want = [f"{s}:{k}" for k in range(n)]
        if seq != want:
            missing = len(set(want) - set(seq))
            dup = len(seq) - len(set(seq))
            bad.append(f"{s}: {len(seq)} got, {missing} missing, {dup} duplicated, "
                       f"in order={seq == sorted(seq, key=lambda x: int(x.rsplit(':', 1)[1]))}")
    return rep.check(case, not bad, f"{n} messages of each of {len(senders)} senders, once, in order",
                     "; ".join(bad)[:600])


def settle(clients_lists, total, timeout=10):
    """Wait until every client list holds at least `total` entries."""
    return wait_for(lambda: all(len(g()) >= total for g in clients_lists), timeout)


# ---------------------------------------------------------------- cases


def chat_case(redis, insts, ng, node):
    case = "chat"
    direct = [PyClient(f"ws://127.0.0.1:{s.port}/room") for s in insts]
    via = [PyClient(f"ws://127.0.0.1:{ng.port}/room") for _ in range(3)]
    node.call(cmd="open", urls=[f"ws://127.0.0.1:{s.port}/room" for s in insts] +
              [f"ws://127.0.0.1:{ng.port}/room"] * 2)
    # one subscription per instance (1 thread: one link each)
    n = wait_for(lambda: numsub(redis, "wsv:/room") == len(insts), 10) and numsub(redis, "wsv:/room")
    rep.check(f"{case}: Redis has {len(insts)} subscribers of wsv:/room (one per instance)",
              n == len(insts), len(insts), numsub(redis, "wsv:/room"))
    spread = [sum(1 for _ in re.finditer(rb"open 127\.0\.0\.1:\d+ /room", bytes(s.err))) for s in insts]
    rep.check(f"{case}: nginx spread connections over the instances (opens per instance {spread})",
              sum(1 for x in spread if x > 2) >= 2,
              "beyond the 2 direct clients each, nginx's on at least two instances", spread)

    N = 40
    py_senders = [f"py{i}" for i in range(len(direct + via))]
    node_senders = [f"node{i}" for i in range(5)]
    for c, p in zip(direct + via, py_senders):
        c.burst(p, N)
    for i, p in enumerate(node_senders):
        node.call(cmd="burst", i=i, prefix=p, n=N)
    total = N * (len(py_senders) + len(node_senders))
    node_got = lambda: node.call(cmd="dump")["clients"]  # noqa: E731
    settle([lambda c=c: c.got for c in direct + via], total, 15)
    wait_for(lambda: all(len(g) >= total for g in node_got()), 15, 0.2)
    allsenders = py_senders + node_senders
    for i, c in enumerate(direct + via):
        where = f"instance {i + 1}" if i < len(direct) else "via nginx"
        check_exactly_once(f"{case}: python client {i} ({where}) gets all {total} messages once, in order per sender",
                           c.got, allsenders, N)
    for i, g in enumerate(node_got()):
        check_exactly_once(f"{case}: node ws client {i} gets all {total} messages once, in order per sender",
                           g, allsenders, N)

    # binary and 1 MiB, from each instance's direct client
    for c in direct + via:
        c.got.clear()
    base = len(node_got()[0])
    sent = []
    for i, c in enumerate(direct):
        for size in (1, 70000, MIB):
            b = pseudo_random(size, f"bin-{i}-{size}")
            c.send(b, 20)
            sent.append(bin_record(b))
    c = direct[0]
    big_text = ("é" * (MIB // 2))
    c.send(big_text, 20)
    sent.append(text_record(big_text))
    node.call(cmd="sendbin", i=1, len=MIB, seed="node-1M")
    sent.append(bin_record(pseudo_random(MIB, "node-1M")))
    settle([lambda c=c: c.got for c in direct + via], len(sent), 20)
    for i, cl in enumerate(direct + via):
        rep.check(f"{case}: binary 1 B/70 KB/1 MiB and 1 MiB text cross to python client {i}",
                  sorted(cl.got) == sorted(sent), f"{len(sent)} messages, same bytes and type",
                  f"{len(cl.got)} got; missing {len(set(sent) - set(cl.got))}")
    wait_for(lambda: all(len(g) - base >= len(sent) for g in node_got()), 20, 0.2)
    for i, g in enumerate(node_got()):
        rep.check(f"{case}: binary and 1 MiB messages cross to node client {i}",
                  sorted(g[base:]) == sorted(sent), f"{len(sent)} messages",
                  f"{len(g) - base} got, missing {len(set(sent) - set(g[base:]))}")

    # Chromium on the demo page through nginx
    try:
        node.call(cmd="page", url=f"http://127.0.0.1:{ng.port}/#/room", timeout=60)
        rep.check(f"{case}: chromium demo page through nginx: #status open", True)
        direct[2].send("to the browser from instance 3")
        ok = wait_for(lambda: "to the browser from instance 3" in " ".join(node.call(cmd="pagelog")["in"]), 10, 0.2)
        rep.check(f"{case}: chromium page sees a message sent on instance 3", ok, "in #log .in",
                  node.call(cmd="pagelog"))
        for cl in direct:
            cl.got.clear()
        node.call(cmd="pagesend", text="hello from chromium")
        ok = wait_for(lambda: all("hello from chromium" in cl.got for cl in direct), 10)
        rep.check(f"{case}: the page's message reaches a client on every instance", ok,
                  "on all three", [cl.got[-3:] for cl in direct])
        time.sleep(0.3)
        rep.check(f"{case}: ... exactly once each", all(cl.got.count("hello from chromium") == 1 for cl in direct),
                  "once", [cl.got.count("hello from chromium") for cl in direct])
    except Exception as e:  # noqa: BLE001
        rep.fail(f"{case}: chromium demo page through nginx", "page open, messages cross", repr(e)[:400])
    return direct, via


def cross(sender, receivers, tag, timeout=10):
    """Send `tag-k` from sender every 200 ms until every receiver has one;
    returns the seconds it took or None."""
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < timeout:
        m = f"{tag}-{k}"
        try:
            sender.send(m, 5)
        except Exception:  # noqa: BLE001
            return None
        k += 1
        if wait_for(lambda: all(any(x.startswith(tag + "-") for x in r.got if isinstance(x, str))
                                for r in receivers), 0.2):
            return time.monotonic() - t0
    return None


def restart_case(redis, insts, direct):
    case = "restart"
    a1 = direct[0]
    b1 = PyClient(f"ws://127.0.0.1:{insts[0].port}/room")  # a second one on instance 1
    nstats = [len(stats_lines(s)) for s in insts]
    rc = redis.stop(signal.SIGTERM, 5)
    rep.check(f"{case}: redis-server stopped (SIGTERM)", rc is not None, "exit within 5 s", rc)
    t_down = time.monotonic()
    down = wait_for(lambda: all(re.search(rb"broker: redis 127\.0\.0\.1:%d: (?!connected)" % redis.port,
                                          bytes(s.err)) for s in insts), 5)
    rep.check(f"{case}: every instance logs the lost link", down, "a 'broker: redis ...: REASON' line",
              [bytes(s.err)[-200:] for s in insts])
    # local delivery during the outage (and publishes that are dropped)
    for c in direct + [b1]:
        c.got.clear()
    for k in range(20):
        a1.send(f"outage:{k}")
    ok = wait_for(lambda: b1.got[-1:] == ["outage:19"], 5)
    rep.check(f"{case}: during the outage chat on one instance goes on", ok and b1.got == [f"outage:{k}" for k in range(20)],
              "20 messages on instance 1's other client", T.short(str(b1.got)))
    time.sleep(0.5)
    rep.check(f"{case}: ... and does not reach the other instances", not direct[1].got and not direct[2].got,
              "nothing on instances 2 and 3", [direct[1].got[:3], direct[2].got[:3]])
    time.sleep(max(0, 3 - (time.monotonic() - t_down)))
    r2 = Redis(redis.port, name=f"redis-{redis.port}-again")
    if not rep.check(f"{case}: redis-server restarted on the same port {redis.port}", r2.ready,
                     "ready within 10 s", r2.text()):
        return None
    dt = cross(a1, direct[1:], "after-restart", 12)
    rep.check(f"{case}: messages cross again after the restart (within 10 s of backoff)", dt is not None,
              "instances 2 and 3 get one", f"{[d.got[-2:] for d in direct[1:]]}")
    if dt is not None:
        print(f"     crossed {dt:.1f} s after the restart")
    dt = cross(direct[2], [a1, direct[1]], "back-from-3", 12)
    rep.check(f"{case}: and the other way (instance 3 -> 1, 2)", dt is not None, "received", "nothing")
    s1 = stats_after(insts[0], nstats[0], 13)
    last = s1[-1] if s1 else None
    rep.check(f"{case}: instance 1's -v stats line shows dropped > 0 and reconnects >= 1",
              last is not None and int(last.group(6)) > 0 and int(last.group(9)) >= 1 and last.group(1) == b"1",
              "links 1/1 up, dropped > 0, reconnects >= 1", last.group(0) if last else bytes(insts[0].err)[-300:])
    b1.close()
    return r2


def flood_case(redis, insts):
    case = "stop"
    pub = PyClient(f"ws://127.0.0.1:{insts[0].port}/flood")
    subs = [PyClient(f"ws://127.0.0.1:{s.port}/flood") for s in insts[1:]]
    wait_for(lambda: numsub(redis, "wsv:/flood") == len(insts), 10)
    rep.check(f"{case}: subscribed", numsub(redis, "wsv:/flood") == len(insts), len(insts),
              numsub(redis, "wsv:/flood"))
    bys = T.EchoBystander(insts[0].port, "/bystander", limit=60)
    bys.start()
    rss0 = [s.rss_kib() for s in insts]
    samples = [[] for _ in insts]
    stop = threading.Event()
    for s, out in zip(insts, samples):
        threading.Thread(target=T.rss_sampler, args=(s, out, stop), daemon=True).start()
    time.sleep(0.5)
    os.kill(redis.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        msg = "x" * 4096
        n = 4000

        async def flood():
            for k in range(n):
                await pub.ws.send(f"{k}:{msg}")
        LOOP.run(flood(), 60)
        print(f"     {n} x 4 KiB sent on instance 1 in {time.monotonic() - t0:.1f} s with Redis stopped")
        # (4 KiB texts are recorded as text:LEN:SHA1; --chat sends them back
        # to the publisher too, from its own instance)
        got = wait_for(lambda: len(pub.got) >= n, 10) and len(pub.got)
        rep.check(f"{case}: the publisher's own instance delivers all {n} locally with Redis stopped",
                  got == n, n, len(pub.got))
        time.sleep(1.5)
        worst_during = bys.worst
    finally:
        os.kill(redis.pid, signal.SIGCONT)
    stop.set()
    grow = [max(x) - r0 for x, r0 in zip(samples, rss0) if x]
    bound = (8 + 40) * 1024 * (2 if SAN else 1)
    rep.check(f"{case}: VmRSS growth of every instance under {bound // 1024} MiB while Redis is stopped",
              grow and max(grow) < bound, f"< {bound} KiB", f"{grow} KiB")
    print(f"     VmRSS growth (KiB) while stopped: {grow}")
    rep.check(f"{case}: the bystander keeps echoing during the flood (worst round trip < 1 s)",
              not bys.errors and bys.n > 20 and worst_during < 1.0, "no errors, worst < 1 s",
              f"n={bys.n} worst={worst_during:.3f} s errors={bys.errors[:2]}")
    for c in subs:
        c.got.clear()
    dt = cross(pub, subs, "after-cont", 15)
    rep.check(f"{case}: after SIGCONT messages cross again", dt is not None, "within 15 s",
              [c.got[-1:] for c in subs])
    nst = len(stats_lines(insts[0]))
    st = stats_after(insts[0], nst, 13)
    if st:
        print(f"     instance 1 after SIGCONT: {st[-1].group(0).decode()}")
    bys.stop.set()
    bys.join(10)
    rep.check(f"{case}: the bystander never failed", not bys.errors, "no errors", bys.errors[:2])
    for s in insts:
        rep.check(f"{case}: instance :{s.port} still runs", s.alive(), "alive", s.text())
    for c in subs + [pub]:
        c.close()


def kill_case(redis, insts, ng, direct, via):
    case = "kill"
    victim = insts[2]
    victim.kill()
    rep.check(f"{case}: instance 3 killed (SIGKILL)", not victim.alive(), "gone", "alive")
    time.sleep(0.5)
    for c in direct + via:
        c.got.clear()
    alive = [direct[0], direct[1]] + [c for c in via if c.closed is None]
    dropped = [c for c in via if c.closed is not None]
    print(f"     {len(dropped)} of the nginx clients were on instance 3 and were closed")
    N = 30
    for i, c in enumerate(direct[:2]):
        c.burst(f"k{i}", N)
    settle([lambda c=c: c.got for c in alive], 2 * N, 10)
    for i, c in enumerate(alive):
        check_exactly_once(f"{case}: client {i} on the surviving instances gets both senders' messages",
                           c.got, ["k0", "k1"], N)
    try:
        nc = PyClient(f"ws://127.0.0.1:{ng.port}/room")
        direct[0].send("to a new nginx client")
        ok = wait_for(lambda: "to a new nginx client" in nc.got, 5)
        rep.check(f"{case}: a new connection through nginx works and gets messages", ok, "received", nc.got)
        nc.close()
    except Exception as e:  # noqa: BLE001
        rep.fail(f"{case}: a new connection through nginx works", "open", repr(e))
    for i, s in enumerate(insts[:2]):
        rep.check(f"{case}: instance {i + 1} still runs", s.alive(), "alive", s.text())


def cluster_case():
    case = "cluster"
    ports = []
    while len(ports) < 3:
        p = cluster_port()
        if all(abs(p - q) != 10000 and p != q for q in ports):
            ports.append(p)
    nodes = []
    for p in ports:
        r = Redis(p, f"cluster-enabled yes\ncluster-config-file {TMP}/nodes-{p}.conf\n"
                     "cluster-node-timeout 2000\ncluster-require-full-coverage no\n", name=f"cluster-{p}")
        if not rep.check(f"{case}: cluster node 127.0.0.1:{p} starts", r.ready, "ready", r.text()):
            return
        nodes.append(r)
    r = subprocess.run([REDIS_CLI, "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                        "--cluster-replicas", "0", "--cluster-yes"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode(errors="replace")
    ok = wait_for(lambda: all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in nodes), 15, 0.2)
    if not rep.check(f"{case}: redis-cli --cluster create: cluster_state:ok on all 3", r.returncode == 0 and ok,
                     "exit 0 and ok", out[-400:]):
        return
    url = "redis://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    insts = [start_instance(case, url) for _ in range(2)]
    if None in insts:
        return
    used = [int(CONNECTED.search(bytes(s.err)).group(1)) for s in insts]
    rep.check(f"{case}: instances connect to the first node", used == [ports[0]] * 2, ports[0], used)
    cl = [PyClient(f"ws://127.0.0.1:{s.port}/room") for s in insts]
    dt = cross(cl[0], [cl[1]], "cluster-before", 10)
    rep.check(f"{case}: messages cross through the cluster", dt is not None, "received", cl[1].got[-2:])
    victim = nodes[[n.port for n in nodes].index(used[0])]
    clients_on = victim.cli("CLIENT", "LIST").count("cmd=")
    print(f"     node {victim.port} has {clients_on} clients; killing it")
    victim.kill()
    moved = wait_for(lambda: all(len(CONNECTED.findall(bytes(s.err))) >= 2 for s in insts), 15)
    rep.check(f"{case}: both instances connect to another node after the kill", moved,
              "a second 'connected' line", [bytes(s.err)[-300:] for s in insts])
    if moved:
        now = [int(CONNECTED.findall(bytes(s.err))[-1]) for s in insts]
        rep.check(f"{case}: ... a live one", all(p in ports and p != victim.port for p in now), ports[1:], now)
    for c in cl:
        c.got.clear()
    dt = cross(cl[0], [cl[1]], "cluster-after", 15)
    rep.check(f"{case}: messages cross again after the node is gone", dt is not None, "received within 15 s",
              cl[1].got[-2:])
    dt = cross(cl[1], [cl[0]], "cluster-back", 10)
    rep.check(f"{case}: and the other way", dt is not None, "received", cl[0].got[-2:])
    for c in cl:
        c.close()
    for s in insts:
        T.stop_server(rep, s, f"{case}: instance :{s.port}")
    for n in nodes:
        n.stop()


def http_status(port, timeout=5):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data, _ = T.read_until_eof(s, timeout)
        s.close()
        h = T.parse_http_head(data)
        return h[0] if h else data[:80]
    except OSError as e:
        return repr(e)


def examples_case():
    """examples/scale-out/nginx.conf and haproxy.cfg as they are in the tree,
    only their ports changed: the page and chat across instances through
    each (HAProxy's health checks must see the instances up first)."""
    case = "examples"
    redis = start_redis(case)
    if redis is None:
        return
    insts = [start_instance(case, f"redis://127.0.0.1:{redis.port}") for _ in range(3)]
    if None in insts:
        return
    procs = []
    for name, conf_name, front in (("nginx", "nginx.conf", "8080"), ("haproxy", "haproxy.cfg", "8081")):
        with open(os.path.join(EXAMPLES, conf_name)) as f:
            conf = f.read()
        port = free_port()
        conf = conf.replace(f"127.0.0.1:{front}", f"127.0.0.1:{port}")
        for i, srv in enumerate(insts):
            conf = conf.replace(f"127.0.0.1:900{i + 1}", f"127.0.0.1:{srv.port}")
        d = os.path.join(TMP, f"example-{name}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, conf_name)
        with open(path, "w") as f:
            f.write(conf)
        if name == "nginx":
            argv = [NGINX, "-p", d, "-c", path, "-e", "stderr"]
        else:
            argv = [HAPROXY, "-f", path, "-db"]
        p = T.Proc(argv)
        procs.append(p)
        up = wait_for(lambda: not p.alive() or port_open(port), 10) and p.alive()
        if not rep.check(f"{case}: examples/scale-out/{conf_name} starts (ports changed only)", up,
                         f"listening on {port}", p.text()):
            continue
        if name == "haproxy":  # its first health checks, 2 s apart at most
            wait_for(lambda: http_status(port, 2) == 200, 6, 0.3)
        st = http_status(port)
        rep.check(f"{case}: {name}: GET / -> 200 (wsv's page)", st == 200, 200, st)
        try:
            a = PyClient(f"ws://127.0.0.1:{port}/room")
            b = PyClient(f"ws://127.0.0.1:{port}/room")
            c = PyClient(f"ws://127.0.0.1:{insts[2].port}/room")
            wait_for(lambda: numsub(redis, "wsv:/room") >= 2, 5)
            dt = cross(a, [b, c], f"{name}-a", 10)
            rep.check(f"{case}: {name}: chat through it reaches the other clients (one direct)", dt is not None,
                      "received", [b.got[-1:], c.got[-1:]])
            dt = cross(c, [a, b], f"{name}-c", 10)
            rep.check(f"{case}: {name}: and back from a direct client", dt is not None, "received",
                      [a.got[-1:], b.got[-1:]])
            for x in (a, b, c):
                x.close()
        except Exception as e:  # noqa: BLE001
            rep.fail(f"{case}: {name}: chat through it", "no exception", repr(e)[:300])
    for p in procs:
        p.stop()
    for s in insts:
        s.stop()
    redis.stop()


def bad_input_case():
    case = "bad"
    for url in ("http://x", "redis://h:99999", "redis://", "redis://127.0.0.1:6379,"):
        p = subprocess.run([WSV, "serve", "--chat", "--port", "0", "--broker", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, env=T.child_env())
        lines = p.stderr.decode(errors="replace").strip().split("\n")
        rep.check(f"{case}: --broker {url} -> exit 2 with one stderr line", p.returncode == 2 and len(lines) == 1
                  and lines[0] != "", "exit 2, one line", f"exit={p.returncode} stderr={lines}")
    p = subprocess.run([WSV, "serve", "--port", "0", "--broker", "redis://127.0.0.1:6379"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, env=T.child_env())
    rep.check(f"{case}: --broker without --chat -> exit 2", p.returncode == 2, "exit 2",
              f"exit={p.returncode} {p.stderr[-200:]}")
    redis = start_redis(case, extra="requirepass right-password\n")
    if redis is None:
        return
    url = f"redis://127.0.0.1:{redis.port}"
    srv = start_instance(case, url, env={"WSV_BROKER_PASSWORD": "wrong-password"}, wait_connected=False)
    if srv is not None:
        a = PyClient(f"ws://127.0.0.1:{srv.port}/room")
        b = PyClient(f"ws://127.0.0.1:{srv.port}/room")
        a.send("local only")
        rep.check(f"{case}: wrong password: local chat works", wait_for(lambda: "local only" in b.got, 5),
                  "received", b.got)
        time.sleep(4)  # several retries (100 ms doubling)
        err = bytes(srv.err)
        n = len(re.findall(rb"AUTH failed", err))
        rep.check(f"{case}: wrong password: the AUTH failure is logged once", n == 1, "one line",
                  f"{n} lines: {T.short(err[-400:])}")
        rep.check(f"{case}: wrong password: never connected, still running",
                  not CONNECTED.search(err) and srv.alive(), "alive, no 'connected'", srv.text())
        a.close()
        b.close()
        T.stop_server(rep, srv, f"{case}: wrong password")
    pwf = os.path.join(TMP, "broker-password")
    with open(pwf, "w") as f:
        f.write("right-password\n")
    srv = start_instance(f"{case}: --broker-password-file", url, extra=["--broker-password-file", pwf])
    if srv is not None:
        rep.check(f"{case}: the password is not on the command line",
                  "right-password" not in open(f"/proc/{srv.pid}/cmdline").read(), "absent", "present")
        T.stop_server(rep, srv, f"{case}: right password")
    redis.stop()


def main():
    missing = [p for p in (REDIS, REDIS_CLI, NGINX, HAPROXY, NODE) if not os.path.exists(p)]
    if websockets is None:
        missing.append("python3-websockets")
    if missing:
        rep.fail("peers", "redis-server, redis-tools, nginx-light, haproxy, node, python3-websockets "
                 "(scripts/deps, tests/interop/setup.sh)", f"missing: {missing}")
        rep.finish()
    T.raise_nofile(4096)
    redis = start_redis("setup")
    if redis is None:
        rep.finish()
    url = f"redis://127.0.0.1:{redis.port}"
    insts = [start_instance("setup", url) for _ in range(3)]
    if None in insts:
        rep.finish()
    ng = Nginx([s.port for s in insts])
    if not rep.check("setup: nginx starts in front of the three instances", ng.ready,
                     f"listening on 127.0.0.1:{ng.port} within 10 s", f"{ng.text()} {ng.log()}"):
        rep.finish()
    node = NodePeers()
    try:
        direct, via = chat_case(redis, insts, ng, node)
    except Exception as e:  # noqa: BLE001
        rep.fail("chat: cases", "no exception", repr(e)[:400])
        rep.finish()
    try:
        node.call(cmd="quit", timeout=15)
    except Exception:  # noqa: BLE001
        pass
    try:
        r2 = restart_case(redis, insts, direct)
        if r2 is not None:
            redis = r2
    except Exception as e:  # noqa: BLE001
        rep.fail("restart: cases", "no exception", repr(e)[:400])
    try:
        flood_case(redis, insts)
    except Exception as e:  # noqa: BLE001
        rep.fail("stop: cases", "no exception", repr(e)[:400])
    try:
        kill_case(redis, insts, ng, direct, via)
    except Exception as e:  # noqa: BLE001
        rep.fail("kill: cases", "no exception", repr(e)[:400])
    for c in direct + via:
        c.close()
    for i, s in enumerate(insts[:2]):
        T.stop_server(rep, s, f"instance {i + 1}")
    rc = ng.stop()
    rep.check("nginx stops on SIGTERM", rc == 0, "exit 0", f"{rc} {ng.log()}")
    redis.stop()
    for fn in (cluster_case, examples_case, bad_input_case):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            rep.fail(f"{fn.__name__}", "no exception", repr(e)[:400])
    rep.finish()


main()
