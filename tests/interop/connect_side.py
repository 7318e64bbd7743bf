#!/usr/bin/python3
"""`wsv connect` with the habits of wscat and websocat, against real peers.

Peers written here (loopback, random ports, threads): an HTTP CONNECT proxy
(with and without Basic auth, one answering garbage), a SOCKS5 proxy (no
auth, RFC 1929 user/password, resolving names itself), a raw WebSocket
server recording frames (pings, pongs, Close code and reason) and answering
redirects; and Python websockets 10.4 (a server recording request headers
and the chosen subprotocol) and `wsv serve` as targets.

  --wait S        `echo hi | wsv connect --wait 1` prints Python websockets'
                  echo (without it the Close races the echo)
  -H / --auth / --origin / user:pass@   seen by the server; CR/LF in -H, a bad
                  name, a handshake header -> usage error (exit 2)
  --subprotocol   the server's choice shown by -v, recorded by the server
  -n / --json / -P / --ping-interval / --no-close
  terminal        /ping, /pong, //literal, /close CODE REASON, /quit through
                  a pseudo-terminal (pty)
  exit codes      0, 1, 2; --exit-code close (4001 -> 31, 1001 -> 11, 3000 -> 3)
  redirects       301/302/307/308, relative and absolute, http -> ws; a loop
                  stops; too many hops stop; without -L: error naming Location
  proxies         CONNECT (+auth, 407, garbage), SOCKS5 (+auth, bad login,
                  refused target), HTTP_PROXY / HTTPS_PROXY / ALL_PROXY /
                  NO_PROXY / --no-proxy, wss:// through CONNECT (TLS inside)

usage: /usr/bin/python3 connect_side.py WSV
"""

import asyncio
import base64
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

rep = T.Report("interop wsv connect (wscat/websocat habits)")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
if not T.require_peers(rep, python_websockets=True):
    rep.finish()
import websockets  # noqa: E402

RUN_TIMEOUT = 15


def run(args, stdin=b"", env=None, timeout=RUN_TIMEOUT):
    """Run `wsv connect ARGS`; (rc, stdout, stderr) ; rc None on timeout."""
    e = T.child_env()
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY"):
        e.pop(k, None)
    if env:
        e.update(env)
    p = T.Proc([WSV, "connect", *args], stdin=subprocess.PIPE if stdin is not None else
               subprocess.DEVNULL, env=e)
    if stdin is not None:
        try:
            p.write(stdin)
        except OSError:
            pass
        p.close_stdin()
    rc = p.wait(timeout)
    if rc is None:
        p.kill()
    return rc, bytes(p.out), bytes(p.err)


def desc(rc, out, err):
    return f"exit={rc} stdout={T.short(out, 300)} stderr={T.short(err, 500)}"


# ---------------------------------------------------------------- relays and servers


def relay(a, b, limit_s=20):
    """Copy bytes both ways until either side closes."""
    deadline = time.monotonic() + limit_s
    socks = [a, b]
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select(socks, [], [], 0.2)
            for s in r:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    return
                (b if s is a else a).sendall(d)
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


class ThreadedServer:
    """Accepts on 127.0.0.1:0; each connection runs self.serve(sock) in a thread."""

    def __init__(self):
        self.ls = T.free_port_listener()
        self.port = self.ls.getsockname()[1]
        self.stop = False
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        self.ls.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        try:
            c.settimeout(10)
            self.serve(c)
        except (OSError, ValueError, EOFError, TimeoutError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


def read_head(c, limit=16384):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(4096)
        if not d:
            raise EOFError("eof")
        data += d
        if len(data) > limit:
            raise ValueError("too long")
    i = data.index(b"\r\n\r\n") + 4
    return data[:i], data[i:]


def head_fields(head):
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            fields.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], fields


class ConnectProxy(ThreadedServer):
    """HTTP CONNECT proxy; mode 'ok', 'auth' (needs user:pass) or 'garbage'."""

    def __init__(self, mode="ok", cred="alice:wonder"):
        self.mode = mode
        self.cred = cred
        self.seen = []  # (request line, Proxy-Authorization or None)
        super().__init__()

    def serve(self, c):
        head, rest = read_head(c)
        line, f = head_fields(head)
        auth = f.get("proxy-authorization", [None])[0]
        with self.lock:
            self.seen.append((line, auth))
        if self.mode == "garbage":
            c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
            return
        if self.mode == "auth":
            want = "Basic " + base64.b64encode(self.cred.encode()).decode()
            if auth != want:
                c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                          b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                return
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "CONNECT":
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = parts[1].rsplit(":", 1)
        host = host.strip("[]")
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            up.sendall(rest)
        relay(c, up)


class Socks5Proxy(ThreadedServer):
    """SOCKS5 (RFC 1928) CONNECT; with cred, RFC 1929 user/password required.
    Names are resolved here (remote DNS)."""

    def __init__(self, cred=None):
        self.cred = cred
        self.seen = []  # (methods offered, atyp, host, port, login or None)
        super().__init__()

    def _recv(self, c, n):
        b = b""
        while len(b) < n:
            d = c.recv(n - len(b))
            if not d:
                raise EOFError("eof")
            b += d
        return b

    def serve(self, c):
        ver, nm = self._recv(c, 2)
        methods = self._recv(c, nm)
        if ver != 5:
            return
        login = None
        if self.cred is not None:
            if 2 not in methods:
                c.sendall(b"\x05\xff")
                return
            c.sendall(b"\x05\x02")
            _v, ul = self._recv(c, 2)
            user = self._recv(c, ul)
            (pl,) = self._recv(c, 1)
            pw = self._recv(c, pl)
            login = (user + b":" + pw).decode()
            if login != self.cred:
                c.sendall(b"\x01\x01")
                with self.lock:
                    self.seen.append((bytes(methods), None, None, None, login))
                return
            c.sendall(b"\x01\x00")
        else:
            c.sendall(b"\x05\x00")
        v, cmd, _rsv, atyp = self._recv(c, 4)
        if atyp == 1:
            host = socket.inet_ntoa(self._recv(c, 4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, self._recv(c, 16))
        else:
            (n,) = self._recv(c, 1)
            host = self._recv(c, n).decode()
        (port,) = struct.unpack("!H", self._recv(c, 2))
        with self.lock:
            self.seen.append((bytes(methods), atyp, host, port, login))
        try:
            up = socket.create_connection((host, port), timeout=5)
        except OSError:
            c.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")  # refused
            return
        c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38")
        relay(c, up)


class RawWs(ThreadedServer):
    """A WebSocket server written out: records every client frame; answers
    pings; echoes text; echoes the Close.  Per path:
      /redir/...        routes[path] = (status, location) answers
      /ping-first       sends a ping "srv-ping", then text "done"
      /close/CODE       closes at once with CODE "bye"
      /hold             holds the connection for 2 s, then closes 1000
      anything else     sends "path=PATH" on open"""

    def __init__(self):
        self.routes = {}
        self.events = []  # (path, kind, data)
        self.paths = []
        self.heads = {}  # path -> its request's fields (the last one)
        super().__init__()

    def ev(self, path, kind, data):
        with self.lock:
            self.events.append((path, kind, data))

    def serve(self, c):
        head, rest = read_head(c)
        line, f = head_fields(head)
        path = line.split(" ")[1]
        with self.lock:
            self.paths.append(path)
            self.heads[path] = f
        if path in self.routes:
            st, loc = self.routes[path]
            c.sendall(f"HTTP/1.1 {st} Moved\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n".encode())
            return
        key = f["sec-websocket-key"][0]
        c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: " + T.accept_for(key) +
                   "\r\n\r\n").encode())
        rd = T.FrameReader(c, rest)
        if path == "/ping-first":
            c.sendall(T.frame(0x9, b"srv-ping", mask=False))
            c.sendall(T.frame(0x1, b"done", mask=False))
        elif path.startswith("/close/"):
            code = int(path.split("/")[2])
            c.sendall(T.frame(0x8, struct.pack("!H", code) + b"bye", mask=False))
        elif path == "/hold":
            pass
        else:
            c.sendall(T.frame(0x1, f"path={path}".encode(), mask=False))
        deadline = time.monotonic() + (2.0 if path == "/hold" else 10.0)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                c.sendall(T.frame(0x8, struct.pack("!H", 1000), mask=False))
                deadline = time.monotonic() + 3
                continue
            try:
                fin, op, p, masked = rd.next(left)
            except TimeoutError:
                continue
            except EOFError:
                self.ev(path, "eof", b"")
                return
            self.ev(path, {1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}.get(op, op), p)
            if op == 9:
                c.sendall(T.frame(0xA, p, mask=False))
            elif op == 1:
                c.sendall(T.frame(0x1, p, mask=False))
            elif op == 8:
                try:
                    c.sendall(T.frame(0x8, p, mask=False))
                except OSError:
                    pass
                return

    def of(self, path, kind=None):
        with self.lock:
            return [(k, d) for (p, k, d) in self.events if p == path and (kind is None or k == kind)]


class PyServer:
    """Python websockets 10.4 in its own thread: echo, records request
    headers and the chosen subprotocol per connection.  Paths: /five sends
    five messages; /mixed sends a text and a binary message, then closes."""

    def __init__(self):
        self.conns = []  # (path, headers dict lower->value list, subprotocol)
        self.port = None
        self.ready = threading.Event()
        threading.Thread(target=self._thread, daemon=True).start()
        self.ready.wait(10)

    async def handler(self, ws, path):
        h = {}
        for k, v in ws.request_headers.raw_items():
            h.setdefault(k.lower(), []).append(v)
        self.conns.append((path, h, ws.subprotocol))
        if path == "/five":
            for i in range(5):
                await ws.send(f"msg{i}")
            await asyncio.sleep(5)
            return
        if path == "/mixed":
            await ws.send('h\u00e9llo "q"\n\\')
            await ws.send(b"\x00\x01\xff")
            await ws.close(1000)
            return
        try:
            async for m in ws:
                await ws.send(m)
        except websockets.ConnectionClosed:
            pass

    def _thread(self):
        async def main():
            srv = await websockets.serve(self.handler, "127.0.0.1", 0,
                                         subprotocols=["chat", "superchat"])
            self.port = srv.sockets[0].getsockname()[1]
            self.ready.set()
            await asyncio.sleep(3600)
        try:
            asyncio.run(main())
        except Exception as e:  # noqa: BLE001
            print(f"python websockets server: {e!r}")
            self.ready.set()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/"


# ---------------------------------------------------------------- the cases

py = PyServer()
if py.port is None:
    rep.fail("python websockets server starts", "a port", "none")
    rep.finish()
raw = RawWs()
RAW = f"ws://127.0.0.1:{raw.port}"


def case_wait():
    rc, out, err = run(["--wait", "1", py.url], b"hi\n")
    rep.check("--wait 1: echo hi against Python websockets prints the echo, exit 0",
              rc == 0 and out == b"hi\n", "exit 0, stdout 'hi\\n'", desc(rc, out, err))
    rc, out, err = run(["--wait", "x", py.url], b"")
    rep.check("--wait x: usage error", rc == 2 and b"--wait" in err, "exit 2 naming --wait",
              desc(rc, out, err))


def case_headers():
    n0 = len(py.conns)
    rc, out, err = run(["-H", "X-Test: one", "-H", "X-Other:   two  ", "--auth", "alice:s3cr:et",
                        "--origin", "http://example.test", "--wait", "0.5", py.url + "hdr"], b"x\n")
    got = py.conns[n0:] if len(py.conns) > n0 else []
    h = got[0][1] if got else {}
    want_auth = "Basic " + base64.b64encode(b"alice:s3cr:et").decode()
    rep.check("-H, --auth, --origin: the server sees X-Test, X-Other (trimmed), Authorization, Origin",
              rc == 0 and h.get("x-test") == ["one"] and h.get("x-other") == ["two"] and
              h.get("authorization") == [want_auth] and h.get("origin") == ["http://example.test"],
              f"exit 0; X-Test one, X-Other two, Authorization {want_auth}, Origin",
              f"{desc(rc, out, err)} headers={h}")
    n0 = len(py.conns)
    url = f"ws://bob:p%40ss@127.0.0.1:{py.port}/ui"
    rc, out, err = run(["--wait", "0.3", url], b"y\n")
    got = py.conns[n0:] if len(py.conns) > n0 else []
    h = got[0][1] if got else {}
    want = "Basic " + base64.b64encode(b"bob:p@ss").decode()
    rc2, out2, err2 = run(["-v", "--auth", "zed:topsecret", "--wait", "0.3", py.url], b"y\n")
    b64 = base64.b64encode(b"zed:topsecret")
    rep.check("-v shows 'Authorization: (hidden)', never the credentials",
              rc2 == 0 and b"> Authorization: (hidden)" in err2 and b64 not in err2,
              "the line hidden", desc(rc2, out2, err2))
    rep.check("ws://bob:p%40ss@host/: Authorization Basic bob:p@ss (decoded), not in Host",
              rc == 0 and h.get("authorization") == [want] and
              all("@" not in v for v in h.get("host", [])),
              f"Authorization {want}", f"{desc(rc, out, err)} headers={h}")
    for label, hv, why in (("CR/LF in the value", "X-Bad: a\r\nInjected: 1", b"CR or LF"),
                           ("LF in the value", "X-Bad: a\nb", b"CR or LF"),
                           ("a space in the name", "Bad Name: v", b"not an HTTP token"),
                           ("no colon", "NoColon", b"Name: value"),
                           ("Host (the handshake's)", "Host: evil", b"belongs to the handshake"),
                           ("Sec-WebSocket-Key", "Sec-WebSocket-Key: x", b"belongs to the handshake")):
        n0 = len(py.conns)
        rc, out, err = run(["-H", hv, py.url], b"")
        rep.check(f"-H with {label}: usage error (exit 2), nothing sent",
                  rc == 2 and why in err and len(py.conns) == n0,
                  f"exit 2, stderr mentions {why!r}, no connection", desc(rc, out, err))
    rc, out, err = run(["--auth", "nocolon", py.url], b"")
    rep.check("--auth without ':': usage error", rc == 2, "exit 2", desc(rc, out, err))


def case_subprotocol():
    n0 = len(py.conns)
    rc, out, err = run(["-v", "--subprotocol", "nope", "--subprotocol", "superchat", "--wait", "0.3",
                        py.url], b"z\n")
    got = py.conns[n0:] if len(py.conns) > n0 else []
    sp = got[0][2] if got else None
    offered = got[0][1].get("sec-websocket-protocol") if got else None
    rep.check("--subprotocol nope --subprotocol superchat: server picks superchat, -v shows it",
              rc == 0 and sp == "superchat" and b"* subprotocol: superchat" in err,
              "exit 0, server's choice superchat, '* subprotocol: superchat'",
              f"{desc(rc, out, err)} chosen={sp} offered={offered}")
    rc, out, err = run(["--subprotocol", "bad name", py.url], b"")
    rep.check("--subprotocol with a space: usage error", rc == 2, "exit 2", desc(rc, out, err))


def case_count_json():
    rc, out, err = run(["-n", "2", "--no-close", py.url + "five"], None)
    rep.check("-n 2 --no-close against 5 messages: prints 2, exits 0 at once",
              rc == 0 and out == b"msg0\nmsg1\n", "exit 0, stdout 'msg0\\nmsg1\\n'", desc(rc, out, err))
    rc, out, err = run(["--json", "--no-close", py.url + "mixed"], None)
    objs = []
    try:
        objs = [json.loads(ln) for ln in out.decode().splitlines()]
    except ValueError as e:
        objs = [repr(e)]
    want = [{"type": "text", "length": len('h\u00e9llo "q"\n\\'.encode()), "text": 'h\u00e9llo "q"\n\\'},
            {"type": "binary", "length": 3, "base64": base64.b64encode(b"\x00\x01\xff").decode()}]
    rep.check("--json: one parseable object per message (text with escapes, binary as base64)",
              rc == 0 and objs == want, f"exit 0, {want}", f"{desc(rc, out, err)} parsed={objs}")


def case_control():
    rc, out, err = run(["-P", "-n", "1", "--no-close", RAW + "/ping-first"], None)
    pongs = raw.of("/ping-first", "pong")
    rep.check("-P: the server's ping shown ('< ping: srv-ping'), our Close ('> close 1000') and "
              "the server's ('< close 1000')",
              rc == 0 and out == b"done\n" and b"< ping: srv-ping" in err and
              b"> close 1000" in err and b"< close 1000" in err and pongs == [("pong", b"srv-ping")],
              "exit 0, those lines on stderr, the pong answered", f"{desc(rc, out, err)} pongs={pongs}")
    rc, out, err = run(["--ping-interval", "0.3", "--no-close", RAW + "/hold"], None)
    pings = raw.of("/hold", "ping")
    rep.check("--ping-interval 0.3 --no-close: pings every ~0.3 s while the server is quiet, exit 0 "
              "at the server's Close",
              rc == 0 and len(pings) >= 3, ">= 3 pings in 2 s, exit 0", f"{desc(rc, out, err)} pings={len(pings)}")
    rc, out, err = run(["--ping-interval", "-1", RAW + "/hold"], None)
    rep.check("--ping-interval -1: usage error", rc == 2, "exit 2", desc(rc, out, err))


def case_exit_codes():
    for code, default_rc, close_rc in ((4001, 1, 31), (1001, 1, 11), (3000, 1, 3), (1000, 0, 0)):
        rc, out, err = run(["--no-close", f"{RAW}/close/{code}"], None)
        rep.check(f"server closes with {code}: exit {default_rc}", rc == default_rc,
                  f"exit {default_rc}", desc(rc, out, err))
        rc, out, err = run(["--no-close", "--exit-code", "close", f"{RAW}/close/{code}"], None)
        rep.check(f"server closes with {code}, --exit-code close: exit {close_rc}", rc == close_rc,
                  f"exit {close_rc}", desc(rc, out, err))
    rc, out, err = run(["--exit-code", "sometimes", RAW + "/"], None)
    rep.check("--exit-code sometimes: usage error", rc == 2, "exit 2", desc(rc, out, err))
    rc, out, err = run(["ws://127.0.0.1:1/"], b"")
    rep.check("connection refused: exit 1 with the reason", rc == 1 and b"refused" in err,
              "exit 1, 'refused'", desc(rc, out, err))


def case_tty():
    """The terminal commands through a pseudo-terminal."""
    def session(path, lines, extra=()):
        master, slave = pty.openpty()
        e = T.child_env()
        p = subprocess.Popen([WSV, "connect", *extra, RAW + path], stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        T._children.append(p)
        os.close(slave)
        time.sleep(0.5)
        for ln in lines:
            os.write(master, ln.encode() + b"\n")
            time.sleep(0.2)
        try:
            out, err = p.communicate(timeout=10)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            rc = None
        os.close(master)
        return rc, out, err
    rc, out, err = session("/tty1", ["/ping abc", "/pong beat", "hello", "//slash", "/bogus",
                                     "/close 4001 bye now"], ["--exit-code", "close", "-P"])
    ev = raw.of("/tty1")
    want = [("text", b"path=/tty1")] and [("ping", b"abc"), ("pong", b"beat"), ("text", b"hello"),
                                          ("text", b"/slash"), ("close", struct.pack("!H", 4001) + b"bye now")]
    rep.check("pty: /ping abc, /pong beat, hello, //slash, /close 4001 bye now reach the server "
              "as ping, pong, text, text '/slash', Close 4001 'bye now'; /bogus is refused, not sent; "
              "--exit-code close gives 31",
              ev == want and rc == 31 and b"unknown command '/bogus'" in err,
              f"events {want}, exit 31", f"exit={rc} events={ev} stderr={T.short(err, 400)}")
    rc, out, err = session("/hold", ["/quit"])
    rep.check("pty: /quit drops the connection at once, exit 0", rc == 0, "exit 0",
              f"exit={rc} stderr={T.short(err, 300)}")
    rc, out, err = session("/tty3", ["/close 1005"])
    rep.check("pty: /close 1005 (not sendable) is refused with a message, the session goes on",
              b"not a close code" in err, "a message naming the bad code",
              f"exit={rc} stderr={T.short(err, 300)}")


def case_redirects():
    raw.routes.update({
        "/r301": (301, "/final"),
        "/r302": (302, f"ws://127.0.0.1:{raw.port}/final2"),
        "/r307": (307, f"http://127.0.0.1:{raw.port}/final3"),
        "/dir/r308": (308, "final4?x=1"),
        "/loop1": (302, "/loop2"),
        "/loop2": (302, "/loop1"),
        "/r303": (303, "https://127.0.0.1:1/"),
        "/ftp": (301, "ftp://example.test/"),
    })
    for i in range(12):
        raw.routes[f"/h{i}"] = (302, f"/h{i + 1}")
    for src, dst in (("/r301", "/final"), ("/r302", "/final2"), ("/r307", "/final3"),
                     ("/dir/r308", "/dir/final4?x=1")):
        rc, out, err = run(["-L", "-n", "1", "--no-close", RAW + src], None)
        rep.check(f"-L: {src} ({raw.routes[src][0]} to {raw.routes[src][1]}) reaches {dst}",
                  rc == 0 and out == f"path={dst}\n".encode(), f"exit 0, 'path={dst}'", desc(rc, out, err))
    raw.routes["/xhost"] = (302, f"ws://localhost:{raw.port}/landing")
    raw.routes["/samehost"] = (302, "/landing2")
    rc1, out1, err1 = run(["-L", "--auth", "a:b", "-n", "1", "--no-close", RAW + "/xhost"], None)
    rc2, out2, err2 = run(["-L", "--auth", "a:b", "-n", "1", "--no-close", RAW + "/samehost"], None)
    want = "Basic " + base64.b64encode(b"a:b").decode()
    h0 = raw.heads.get("/xhost", {}).get("authorization")
    h1 = raw.heads.get("/landing", {}).get("authorization")
    h2 = raw.heads.get("/landing2", {}).get("authorization")
    rep.check("-L --auth: Authorization goes to the same host after a redirect, not to another "
              "(127.0.0.1 -> localhost)",
              rc1 == 0 and rc2 == 0 and h0 == [want] and h1 is None and h2 == [want],
              f"first {want}, other host none, same host {want}",
              f"first={h0} other={h1} same={h2} {desc(rc1, out1, err1)} {desc(rc2, out2, err2)}")
    rc, out, err = run(["-n", "1", "--no-close", RAW + "/r301"], None)
    rep.check("no -L: a 301 is an error naming the Location and -L", rc == 1 and b"/final" in err and
              b"-L" in err, "exit 1, '/final' and '-L' on stderr", desc(rc, out, err))
    n0 = len(raw.paths)
    rc, out, err = run(["-L", RAW + "/loop1"], None)
    rep.check("-L: a redirect loop stops with a clear error", rc == 1 and b"loop" in err and
              len(raw.paths) - n0 <= 3, "exit 1, 'loop', at most 3 requests",
              f"{desc(rc, out, err)} requests={len(raw.paths) - n0}")
    rc, out, err = run(["-L", RAW + "/h0"], None)
    rep.check("-L: 12 hops are more than the default 10", rc == 1 and b"too many redirects" in err,
              "exit 1, 'too many redirects'", desc(rc, out, err))
    rc, out, err = run(["--max-redirects", "2", RAW + "/h9"], None)
    rep.check("--max-redirects 2: /h9 -> /h10 -> /h11 -> /h12 is one too many",
              rc == 1 and b"too many redirects" in err, "exit 1", desc(rc, out, err))
    rc, out, err = run(["--max-redirects", "3", "-n", "1", "--no-close", RAW + "/h9"], None)
    rep.check("--max-redirects 3: /h9 reaches /h12", rc == 0 and out == b"path=/h12\n", "exit 0",
              desc(rc, out, err))
    rc, out, err = run(["-L", RAW + "/ftp"], None)
    rep.check("-L: a Location with another scheme (ftp) is refused", rc == 1 and b"ftp" in err,
              "exit 1 naming ftp", desc(rc, out, err))
    rc, out, err = run(["-L", RAW + "/r303"], None)
    rep.check("-L: https:// Location becomes wss:// (then refused at port 1)",
              rc == 1 and b"refused" in err, "exit 1, connection refused", desc(rc, out, err))


def case_proxies(pki):
    srv = T.start_server(rep, WSV, ())
    if srv is None:
        return
    target = f"ws://127.0.0.1:{srv.port}/"
    hp = ConnectProxy("ok")
    rc, out, err = run(["--wait", "0.5", "--proxy", f"http://127.0.0.1:{hp.port}", target], b"via http\n")
    rep.check("--proxy http://: CONNECT to wsv serve, echo comes back",
              rc == 0 and out == b"via http\n" and hp.seen and
              hp.seen[0][0] == f"CONNECT 127.0.0.1:{srv.port} HTTP/1.1" and hp.seen[0][1] is None,
              "exit 0, echo, one CONNECT without Proxy-Authorization", f"{desc(rc, out, err)} seen={hp.seen}")
    ap = ConnectProxy("auth", "alice:wonder")
    rc, out, err = run(["--wait", "0.5", "--proxy", f"http://alice:wonder@127.0.0.1:{ap.port}", target],
                       b"auth ok\n")
    rep.check("--proxy http://user:pass@: Proxy-Authorization Basic accepted, echo",
              rc == 0 and out == b"auth ok\n", "exit 0, echo", f"{desc(rc, out, err)} seen={ap.seen}")
    rc, out, err = run(["--proxy", f"http://127.0.0.1:{ap.port}", target], b"x\n")
    rep.check("--proxy answering 407: exit 1, the error names 407 and the proxy",
              rc == 1 and b"407" in err and f"127.0.0.1:{ap.port}".encode() in err,
              "exit 1, '407', the proxy's address", desc(rc, out, err))
    rc, out, err = run(["--proxy", f"http://alice:wrong@127.0.0.1:{ap.port}", target], b"x\n")
    rep.check("--proxy with a wrong password: 407, exit 1", rc == 1 and b"407" in err, "exit 1, 407",
              desc(rc, out, err))
    gp = ConnectProxy("garbage")
    rc, out, err = run(["--proxy", f"http://127.0.0.1:{gp.port}", target], b"x\n")
    rep.check("--proxy answering garbage: exit 1, 'not HTTP' with what it sent",
              rc == 1 and b"not HTTP" in err and b"SSH-2.0" in err, "exit 1, 'not HTTP', 'SSH-2.0'",
              desc(rc, out, err))
    rc, out, err = run(["--proxy", "ftp://127.0.0.1:1", target], b"")
    rep.check("--proxy ftp://: refused with a reason, exit 1", rc == 1 and b"socks5" in err, "exit 1",
              desc(rc, out, err))
    # the environment
    n0 = len(hp.seen)
    rc, out, err = run(["--wait", "0.3", target], b"env\n", env={"HTTP_PROXY": f"http://127.0.0.1:{hp.port}"})
    rep.check("HTTP_PROXY is used for ws://", rc == 0 and out == b"env\n" and len(hp.seen) == n0 + 1,
              "exit 0 through the proxy", f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    n0 = len(hp.seen)
    rc, out, err = run(["--wait", "0.3", target], b"env\n", env={"ALL_PROXY": f"127.0.0.1:{hp.port}"})
    rep.check("ALL_PROXY without a scheme means http://", rc == 0 and len(hp.seen) == n0 + 1,
              "through the proxy", f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    n0 = len(hp.seen)
    rc, out, err = run(["--wait", "0.3", target], b"env\n",
                       env={"HTTP_PROXY": f"http://127.0.0.1:{hp.port}", "NO_PROXY": "example.com,127.0.0.1"})
    rep.check("NO_PROXY listing the host: direct", rc == 0 and out == b"env\n" and len(hp.seen) == n0,
              "exit 0, no CONNECT", f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    rc, out, err = run(["--wait", "0.3", target], b"env\n",
                       env={"http_proxy": f"http://127.0.0.1:{hp.port}", "no_proxy": "*"})
    rep.check("no_proxy=* (lower case): direct", rc == 0 and len(hp.seen) == n0, "no CONNECT",
              f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    rc, out, err = run(["--wait", "0.3", "--proxy", f"http://127.0.0.1:{hp.port}", target], b"env\n",
                       env={"NO_PROXY": "*"})
    rep.check("--proxy ignores NO_PROXY", rc == 0 and out == b"env\n" and len(hp.seen) == n0 + 1,
              "one CONNECT", f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    n0 = len(hp.seen)
    rc, out, err = run(["--no-proxy", "--wait", "0.3", target], b"env\n",
                       env={"ALL_PROXY": f"http://127.0.0.1:{hp.port}"})
    rep.check("--no-proxy beats ALL_PROXY", rc == 0 and len(hp.seen) == n0, "no CONNECT",
              f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    n0 = len(hp.seen)
    rc, out, err = run(["--wait", "0.3", target], b"env\n",
                       env={"HTTPS_PROXY": f"http://127.0.0.1:{hp.port}"})
    rep.check("HTTPS_PROXY is not used for ws://", rc == 0 and len(hp.seen) == n0, "no CONNECT",
              f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
    # SOCKS5
    sp = Socks5Proxy()
    rc, out, err = run(["--wait", "0.5", "--proxy", f"socks5://127.0.0.1:{sp.port}",
                        f"ws://localhost:{py.port}/"], b"via socks\n")
    rep.check("--proxy socks5://: Python websockets through SOCKS5, the name 'localhost' resolved "
              "by the proxy (ATYP 3)",
              rc == 0 and out == b"via socks\n" and sp.seen and sp.seen[0][1] == 3 and
              sp.seen[0][2] == "localhost" and sp.seen[0][3] == py.port and sp.seen[0][0] == b"\x00",
              "exit 0, echo, atyp 3 'localhost', only method 00 offered", f"{desc(rc, out, err)} seen={sp.seen}")
    rc, out, err = run(["--wait", "0.5", "--proxy", f"socks5h://127.0.0.1:{sp.port}", target], b"ip\n")
    rep.check("--proxy socks5h:// to an IPv4 literal: ATYP 1, echo from wsv serve",
              rc == 0 and out == b"ip\n" and sp.seen[-1][1] == 1, "exit 0, atyp 1",
              f"{desc(rc, out, err)} seen={sp.seen[-1:]}")
    rc, out, err = run(["--proxy", f"socks5://127.0.0.1:{sp.port}", "ws://127.0.0.1:1/"], b"")
    rep.check("SOCKS5 reply 'connection refused': exit 1, named", rc == 1 and b"connection refused" in err,
              "exit 1, 'connection refused'", desc(rc, out, err))
    sa = Socks5Proxy("carol:pw")
    rc, out, err = run(["--wait", "0.5", target], b"socks auth\n",
                       env={"ALL_PROXY": f"socks5://carol:pw@127.0.0.1:{sa.port}"})
    rep.check("ALL_PROXY=socks5://user:pass@: RFC 1929 login, echo",
              rc == 0 and out == b"socks auth\n" and sa.seen and sa.seen[-1][4] == "carol:pw",
              "exit 0, login carol:pw", f"{desc(rc, out, err)} seen={sa.seen}")
    rc, out, err = run(["--proxy", f"socks5://carol:nope@127.0.0.1:{sa.port}", target], b"x\n")
    rep.check("SOCKS5 wrong password: exit 1, 'refused our user and password'",
              rc == 1 and b"refused our user and password" in err, "exit 1", desc(rc, out, err))
    rc, out, err = run(["--proxy", f"socks5://127.0.0.1:{sa.port}", target], b"x\n")
    rep.check("SOCKS5 needing a login we lack: exit 1, 'none of our methods'",
              rc == 1 and b"none of our methods" in err, "exit 1", desc(rc, out, err))
    T.stop_server(rep, srv, "wsv serve (proxy target)")
    old = T.start_server(rep, WSV, ("--versions", "8"))
    if old is not None:
        n0 = len(hp.seen)
        rc, out, err = run(["--wait", "0.5", "--proxy", f"http://127.0.0.1:{hp.port}",
                            f"ws://127.0.0.1:{old.port}/"], b"v8\n")
        rep.check("through a proxy, the version retry (a server speaking 8) makes a second tunnel",
                  rc == 0 and out == b"v8\n" and len(hp.seen) == n0 + 2, "exit 0, echo, 2 CONNECTs",
                  f"{desc(rc, out, err)} proxied={len(hp.seen) - n0}")
        T.stop_server(rep, old, "wsv serve --versions 8 (proxy target)")
    if pki is None:
        return
    tls = T.start_server(rep, WSV, ("--cert", pki["cert"], "--key", pki["key"]))
    if tls is None:
        return
    n0 = len(hp.seen)
    rc, out, err = run(["--wait", "0.5", "--cacert", pki["ca"], f"wss://localhost:{tls.port}/"],
                       b"secret\n", env={"HTTPS_PROXY": f"http://127.0.0.1:{hp.port}",
                                         "HTTP_PROXY": "http://127.0.0.1:1"})
    rep.check("wss:// through HTTPS_PROXY: TLS inside the tunnel, the certificate checked for "
              "localhost, echo",
              rc == 0 and out == b"secret\n" and len(hp.seen) == n0 + 1 and
              hp.seen[-1][0] == f"CONNECT localhost:{tls.port} HTTP/1.1",
              "exit 0, echo, CONNECT localhost:PORT", f"{desc(rc, out, err)} seen={hp.seen[n0:]}")
    T.stop_server(rep, tls, "wsv serve --cert (proxy target)")


case_wait()
case_headers()
case_subprotocol()
case_count_json()
case_control()
case_exit_codes()
case_tty()
case_redirects()
case_proxies(T.make_pki(rep))
rep.finish()
