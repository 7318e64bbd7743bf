#!/usr/bin/python3
"""websockify (Debian's, 0.10) and `wsv serve --to` side by side: the same
bridge checks against both, Python websockets as the WebSocket client and a
small target server written here behind each.

The target (TCP, and an echo on a Unix socket) reads one mode byte first:
  E  echo everything after it; the first 16 bytes name the connection, and
     the target records when that connection's EOF arrives
  C  send b"bye" and close (the target ends the connection)
  R  read a little, then reset (SO_LINGER 0)
  S  do not read until the test says so, then read and check the pattern

Checks (each against both bridges unless it says otherwise):
  binary round trips 1 B .. 4 MiB, byte for byte; no subprotocol and
  "binary"; one 16 MiB message (wsv: back byte for byte; websockify 0.10
  stalls: it writes a message to the target with a blocking send while
  not reading the echo); subprotocol base64 (wsv: base64 text both ways; websockify 0.10
  refuses a base64-only offer with 400: a deliberate difference); a text
  message in binary mode -> 1003 (both); client Close -> the target sees
  EOF; target close -> Close 1000; refused target -> 1011 (wsv's reason
  names the target); target reset (wsv: 1011 naming the reset; websockify's
  answer is reported); back-pressure: a target that does not read while the
  client sends 64 MiB (wsv's RSS stays bounded and the client is held back;
  websockify takes everything from the client) and everything arrives once it reads; a
  Unix socket target; several bridges at once with one broken; the Origin
  default (wsv refuses a cross-origin page with 403 unless --origin;
  websockify accepts every Origin: a deliberate difference); the reverse
  bridge `wsv connect --listen` carrying a TCP client through `wsv serve`
  (echo) and through websockify.

usage: /usr/bin/python3 websockify_side.py WSV
"""

import asyncio
import base64
import hashlib
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

rep = T.Report("interop websockify side by side")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
if not T.require_peers(rep, python_websockets=True):
    rep.finish()
WEBSOCKIFY = shutil.which("websockify") or "/usr/bin/websockify"
if not os.path.exists(WEBSOCKIFY):
    rep.fail("peer: websockify", "/usr/bin/websockify (apt: websockify; scripts/deps)", "missing")
    rep.finish()
import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatusCode  # noqa: E402

MIB = 1 << 20
TMP = tempfile.mkdtemp(prefix="wsv-bridge-")
T._tmpdirs.append(TMP)


def pattern(n, seed=0):
    """n bytes that differ with position and seed (not compressible away)."""
    h = hashlib.sha256(str(seed).encode()).digest()
    block = b"".join(hashlib.sha256(h + i.to_bytes(4, "big")).digest() for i in range(2048))  # 64 KiB
    reps = n // len(block) + 1
    return (block * reps)[:n]


# ============================================================ the target


class Target:
    """The target server on TCP (and, with unix=PATH, an echo on a Unix socket)."""

    def __init__(self, unix=None):
        self.lock = threading.Lock()
        self.eofs = {}       # tag -> time of EOF
        self.stalls = {}     # tag -> [event to start reading, bytes read, ok]
        self.s = T.free_port_listener()
        self.port = self.s.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.s,), daemon=True).start()
        if unix:
            self.u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.u.bind(unix)
            self.u.listen(16)
            threading.Thread(target=self._accept, args=(self.u, b"E"), daemon=True).start()

    def _accept(self, ls, mode=None):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c, mode), daemon=True).start()

    def _recv_exact(self, c, n):
        b = b""
        while len(b) < n:
            d = c.recv(n - len(b))
            if not d:
                return None
            b += d
        return b

    def _serve(self, c, mode):
        try:
            m = mode or self._recv_exact(c, 1)
            if m == b"E":
                tag = b""
                while True:
                    d = c.recv(262144)
                    if not d:
                        break
                    if len(tag) < 16:
                        tag += d[:16 - len(tag)]
                    c.sendall(d)
                with self.lock:
                    self.eofs[tag] = time.monotonic()
            elif m == b"C":
                c.sendall(b"bye")
            elif m == b"R":
                c.recv(16)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif m == b"S":
                tag = self._recv_exact(c, 16)
                st = [threading.Event(), 0, True, threading.Event()]
                with self.lock:
                    self.stalls[tag] = st
                st[0].wait(60)
                want = pattern(64 * MIB, 7)
                got = 0
                while got < len(want):
                    d = c.recv(1 << 20)
                    if not d:
                        break
                    if d != want[got:got + len(d)]:
                        st[2] = False
                    got += len(d)
                    st[1] = got
                st[3].set()
        except OSError:
            pass
        finally:
            c.close()

    def eof_of(self, tag, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if tag in self.eofs:
                    return True
            time.sleep(0.02)
        return False

    def stall_of(self, tag, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if tag in self.stalls:
                    return self.stalls[tag]
            time.sleep(0.02)
        return None


# ============================================================ the bridges


class Bridge:
    """One bridge process: kind 'wsv' or 'websockify', towards a target."""

    def __init__(self, kind, target, extra=()):
        self.kind = kind
        if kind == "wsv":
            self.p = T.Proc([WSV, "serve", "--host", "127.0.0.1", "--port", "0", "--to", target, *extra],
                            env=T.child_env())
            m = self.p.wait_output(lambda o, e: T.PORT_RE.search(o), 10)
            self.port = int(m.group(2)) if m else None
        else:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
            s.close()
            if target.startswith("unix:"):
                argv = [WEBSOCKIFY, "--unix-target=" + target[5:], f"127.0.0.1:{self.port}"]
            else:
                argv = [WEBSOCKIFY, f"127.0.0.1:{self.port}", target.replace("tcp://", "")]
            self.p = T.Proc(argv)
            if not self._wait_port(10):
                self.port = None
        self.url = f"ws://127.0.0.1:{self.port}/" if self.port else None

    def _wait_port(self, t):
        deadline = time.monotonic() + t
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False


async def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 5)
    kw.setdefault("ping_interval", None)
    return await asyncio.wait_for(websockets.connect(url, **kw), 6)


async def recv_bytes(ws, n, timeout=30):
    """Receive messages until n bytes came; returns them (or what came)."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        m = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        buf += m if isinstance(m, (bytes, bytearray)) else m.encode()
    return bytes(buf)


async def closed_with(ws, timeout=5):
    """Wait for the close; returns (code, reason, data received meanwhile)."""
    data = bytearray()
    try:
        while True:
            m = await asyncio.wait_for(ws.recv(), timeout)
            data += m if isinstance(m, (bytes, bytearray)) else m.encode()
    except ConnectionClosed:
        pass
    except asyncio.TimeoutError:
        return None, "no close", bytes(data)
    return ws.close_code, ws.close_reason, bytes(data)


# ============================================================ cases


async def round_trip(ws, sizes, seed, timeout):
    """Send each size as one message and compare what comes back; a list of
    what went wrong (empty: everything came back byte for byte)."""
    bad = []
    for i, n in enumerate(sizes):
        data = pattern(n, seed + i)
        await ws.send(data)
        got = await recv_bytes(ws, n, timeout)
        if got != data:
            bad.append(f"{n} B: got {len(got)} B, equal prefix {len(os.path.commonprefix([got, data]))}")
    return bad


async def case_round_trips(k, b):
    sizes = [1, 2, 125, 126, 65535, 65536, 65537, MIB, 4 * MIB]
    for sub in (None, ["binary"]):
        name = f"{k}: binary round trips 1 B .. 4 MiB (subprotocol {sub[0] if sub else 'none'})"
        try:
            ws = await connect(b.url, subprotocols=sub)
            await ws.send(b"E" + os.urandom(8).hex().encode())
            await recv_bytes(ws, 16, 5)
            bad = await round_trip(ws, sizes, 0, 30)
            rep.check(name, not bad and ws.subprotocol == (sub[0] if sub else None),
                      f"every size back byte for byte, subprotocol {sub}",
                      f"bad={bad} subprotocol={ws.subprotocol}")
            await ws.close()
        except Exception as e:
            rep.fail(name, "round trips", repr(e))
    # One 16 MiB message to the echoing target.  websockify writes to the
    # target with a blocking send() of the whole message while not reading
    # the target's echo, so a message larger than the sockets' buffers
    # deadlocks it (observed with 0.10); wsv queues and reads both ways.
    name = f"{k}: one 16 MiB message through an echoing target"
    try:
        ws = await connect(b.url)
        await ws.send(b"E" + os.urandom(8).hex().encode())
        await recv_bytes(ws, 16, 5)
        try:
            bad = await round_trip(ws, [16 * MIB], 50, 12 if k == "websockify" else 60)
            done = not bad
        except asyncio.TimeoutError:
            done = False
        if k == "wsv":
            rep.check(name + ": back byte for byte", done, "16 MiB back", f"done={done}")
        else:
            rep.check(name + ": websockify stalls (a blocking send to the target; a known difference)",
                      not done, "no echo within 12 s (if this fails, websockify no longer stalls: update the note)",
                      f"done={done}")
        ws.transport.abort() if k == "websockify" else await ws.close()
    except Exception as e:
        rep.fail(name, "16 MiB back (wsv) / a stall (websockify)", repr(e))


async def case_base64(k, b):
    name = f"{k}: subprotocol base64"
    try:
        ws = await connect(b.url, subprotocols=["base64"])
    except InvalidStatusCode as e:
        if k == "websockify":
            rep.check(name + " (websockify 0.10 refuses a base64-only offer: 400; wsv speaks it)",
                      e.status_code == 400, "HTTP 400", f"{e.status_code}")
        else:
            rep.fail(name, "101 with Sec-WebSocket-Protocol: base64", repr(e))
        return
    except Exception as e:
        rep.fail(name, "101 or 400", repr(e))
        return
    if k == "websockify":
        rep.fail(name, "websockify 0.10 answers a base64-only offer with 400 (as observed)",
                 f"101 subprotocol {ws.subprotocol}")
        await ws.close()
        return
    data = pattern(100000, 3)
    await ws.send(base64.b64encode(b"E" + b"b64tag-000000000" + data).decode())
    text = ""
    ok_types = True
    while len(base64.b64decode(text.encode()) if text else b"") < 16 + len(data):
        m = await asyncio.wait_for(ws.recv(), 10)
        ok_types = ok_types and isinstance(m, str)
        # each message is base64 on its own: decode piecewise
        text = base64.b64encode((base64.b64decode(text) if text else b"") + base64.b64decode(m)).decode()
    got = base64.b64decode(text)[16:]
    rep.check(name + " (wsv: base64 text messages both ways)", ws.subprotocol == "base64" and ok_types and got == data,
              "subprotocol base64, text messages, the bytes back", f"sub={ws.subprotocol} text={ok_types} equal={got == data}")
    # binary in base64 mode, and bad base64: closed with 1003 / 1007
    await ws.send("not base64!")
    code, reason, _ = await closed_with(ws)
    rep.check(f"{k}: subprotocol base64, bad base64 -> 1007", code == 1007, "1007", f"{code} {reason!r}")
    ws = await connect(b.url, subprotocols=["base64", "binary"])
    rep.check(f"{k}: offered base64, binary -> binary chosen (websockify 0.10 answers 400 to this order)",
              ws.subprotocol == "binary", "binary", f"{ws.subprotocol}")
    await ws.close()


async def case_text_frames(k, b):
    name = f"{k}: a text message without base64 -> 1003"
    try:
        ws = await connect(b.url)
        await ws.send("hello")
        code, reason, _ = await closed_with(ws)
        rep.check(name, code == 1003, "Close 1003", f"{code} {reason!r}")
    except Exception as e:
        rep.fail(name, "Close 1003", repr(e))


async def case_client_closes(k, b, target):
    name = f"{k}: client Close -> the target sees EOF"
    try:
        ws = await connect(b.url)
        tag = ("cc-" + k + os.urandom(8).hex())[:16].encode()
        await ws.send(b"E" + tag)
        await recv_bytes(ws, 16, 5)
        await ws.close(1000)
        rep.check(name, target.eof_of(tag, 5) and ws.close_code == 1000,
                  "EOF at the target within 5 s, close 1000", f"eof={target.eof_of(tag, 0.1)} code={ws.close_code}")
    except Exception as e:
        rep.fail(name, "EOF at the target", repr(e))


async def case_target_closes(k, b):
    name = f"{k}: the target closes -> Close 1000 after its last bytes"
    try:
        ws = await connect(b.url)
        await ws.send(b"C")
        code, reason, data = await closed_with(ws)
        rep.check(name, code == 1000 and data == b"bye", "b'bye', then Close 1000", f"{data!r} {code} {reason!r}")
    except Exception as e:
        rep.fail(name, "Close 1000", repr(e))


async def case_refused(k, b, dead_port):
    name = f"{k}: a refused target -> Close 1011"
    try:
        ws = await connect(b.url)
        code, reason, _ = await closed_with(ws)
        if k == "wsv":
            rep.check(name + " with a reason naming it", code == 1011 and "refused" in reason and str(dead_port) in reason,
                      f"1011 'cannot connect to 127.0.0.1:{dead_port}: connection refused'", f"{code} {reason!r}")
        else:
            rep.check(name + " (websockify: 'Failed to connect to downstream server')", code == 1011,
                      "1011", f"{code} {reason!r}")
    except Exception as e:
        rep.fail(name, "Close 1011", repr(e))


async def case_reset(k, b):
    name = f"{k}: a target that resets"
    try:
        ws = await connect(b.url)
        await ws.send(b"R" + b"x" * 15)
        code, reason, _ = await closed_with(ws)
        if k == "wsv":
            rep.check(name + " -> 1011 naming the reset", code == 1011 and "reset" in reason,
                      "1011 '... connection reset'", f"{code} {reason!r}")
        else:
            rep.check(name + f" -> websockify closes too (it sent {code} {reason!r})", code is not None,
                      "some close within 5 s", f"{code} {reason!r}")
    except Exception as e:
        rep.fail(name, "a close", repr(e))


async def case_backpressure(k, b, target):
    name = f"{k}: back-pressure, a target that stops reading while 64 MiB are sent"
    try:
        ws = await connect(b.url)
        tag = ("bp-" + k + os.urandom(8).hex())[:16].encode()
        await ws.send(b"S" + tag)
        st = target.stall_of(tag, 5)
        if st is None:
            rep.fail(name, "the target sees the connection", "nothing")
            return
        data = pattern(64 * MIB, 7)
        sent = [0]
        rss0 = b.p.rss_kib()

        async def sender():
            for off in range(0, len(data), 256 * 1024):
                await ws.send(data[off:off + 256 * 1024])
                sent[0] = off + 256 * 1024
        task = asyncio.ensure_future(sender())
        peak = rss0
        for _ in range(30):  # 3 s of not reading
            await asyncio.sleep(0.1)
            peak = max(peak, b.p.rss_kib())
        held = sent[0]
        grew = (peak - rss0) // 1024
        if k == "wsv":
            rep.check(name + ": the client is held back and wsv's RSS stays bounded",
                      held < 48 * MIB and grew < 40, "under 48 MiB taken from the client, RSS growth under 40 MiB",
                      f"taken {held / MIB:.1f} MiB, RSS +{grew} MiB")
        else:
            # websockify reads the client whatever the target does (its
            # per-connection process queues it): the client is not held back.
            rep.check(name + f": websockify takes it all from the client (took {held / MIB:.1f} MiB in 3 s; "
                      f"queued in its per-connection process), wsv holds the client back", held >= 48 * MIB,
                      "at least 48 MiB taken (if this fails, websockify now applies back-pressure: update the note)",
                      f"{held / MIB:.1f} MiB")
        st[0].set()
        await asyncio.wait_for(task, 60)
        st[3].wait(60)
        rep.check(name + ": once it reads, all 64 MiB arrive in order", st[1] == len(data) and st[2],
                  "64 MiB, pattern intact", f"{st[1]} bytes, intact={st[2]}")
        await ws.close()
    except Exception as e:
        rep.fail(name, "bounded, then complete", repr(e))


async def case_unix(k, b):
    # websockify's blocking send stalls a Unix echo already at about 256 KiB
    # (smaller socket buffers): 64 KiB for it, up to 16 MiB for wsv.
    sizes = [1, 65536] if k == "websockify" else [1, 65536, MIB, 16 * MIB]
    name = f"{k}: a Unix socket target: round trips {' '.join(str(n) for n in sizes)} B"
    try:
        ws = await connect(b.url)
        bad = await round_trip(ws, sizes, 20, 30)
        rep.check(name, not bad, "the bytes back", f"{bad}")
        await ws.close()
        rep.check(f"{k}: a Unix socket target: client Close -> clean 1000", ws.close_code == 1000, "1000", f"{ws.close_code}")
    except Exception as e:
        rep.fail(name, "round trip", repr(e))


async def case_many(k, b):
    name = f"{k}: 8 bridges at once, one target resetting: the others unharmed"

    async def one(i):
        ws = await connect(b.url)
        if i == 3:
            await ws.send(b"R" + b"y" * 15)
            code, _, _ = await closed_with(ws)
            return ("broken", code)
        tag = f"many{i:02d}".encode().ljust(16, b"-")
        await ws.send(b"E" + tag)
        data = pattern(256 * 1024, 100 + i)
        for off in range(0, len(data), 32768):
            await ws.send(data[off:off + 32768])
            await asyncio.sleep(0.005)
        got = await recv_bytes(ws, 16 + len(data), 20)
        await ws.close()
        return ("ok", got[16:] == data and got[:16] == tag)
    try:
        res = await asyncio.wait_for(asyncio.gather(*[one(i) for i in range(8)], return_exceptions=True), 40)
        good = [r for r in res if isinstance(r, tuple) and r[0] == "ok" and r[1]]
        broken = [r for r in res if isinstance(r, tuple) and r[0] == "broken"]
        rep.check(name, len(good) == 7 and len(broken) == 1 and broken[0][1] is not None,
                  "7 intact round trips, 1 closed", f"{res}")
    except Exception as e:
        rep.fail(name, "7 round trips", repr(e))


async def case_origin(k, b):
    try:
        ws = await connect(b.url, origin="http://evil.example")
        ok = True
        await ws.close()
    except InvalidStatusCode as e:
        ok = e.status_code
    except Exception as e:
        ok = repr(e)
    if k == "wsv":
        rep.check("wsv: a cross-origin page is refused with 403 by default (websockify accepts it: a deliberate difference)",
                  ok == 403, "HTTP 403", f"{ok}")
    else:
        rep.check("websockify: accepts a page of any Origin (wsv refuses it unless --origin)", ok is True, "101", f"{ok}")


async def case_origin_opt_out(b):
    try:
        ws = await connect(b.url, origin="http://evil.example")
        await ws.send(b"C")
        code, _, data = await closed_with(ws)
        rep.check("wsv --to --origin '*': a cross-origin page is bridged", data == b"bye" and code == 1000,
                  "bridged", f"{data!r} {code}")
    except Exception as e:
        rep.fail("wsv --to --origin '*': a cross-origin page is bridged", "101", repr(e))


async def case_missing_unix(b):
    name = "wsv: a missing Unix socket target with a long UTF-8 path -> 1011, reason cut to valid UTF-8"
    try:
        ws = await connect(b.url)
        code, reason, _ = await closed_with(ws)
        rep.check(name, code == 1011 and reason.startswith("cannot connect to unix:") and
                  len(reason.encode()) <= 123, "1011 'cannot connect to unix:...' within 123 bytes",
                  f"{code} {reason!r}")
    except Exception as e:
        rep.fail(name, "Close 1011", repr(e))


async def case_sigterm_busy(b, target):
    name = "wsv serve --to: SIGTERM with a bridge open"
    try:
        ws = await connect(b.url)
        tag = b"term-" + os.urandom(6).hex().encode()[:11]
        await ws.send(b"E" + tag)
        await recv_bytes(ws, 16, 5)
        b.p.p.send_signal(signal.SIGTERM)
        code, _, _ = await closed_with(ws)
        rc = b.p.wait(6)
        rep.check(name + ": the client gets 1001, the target EOF, exit 0", code == 1001 and target.eof_of(tag, 5)
                  and rc == 0, "1001, EOF, exit 0", f"code={code} eof={target.eof_of(tag, 0.1)} rc={rc} {b.p.text()}")
    except Exception as e:
        rep.fail(name, "1001, EOF, exit 0", repr(e))


def reverse_case(name, url, first=b"", via_target=False):
    """`wsv connect --listen` in front of url: a TCP client's bytes go over a
    WebSocket and come back."""
    p = T.Proc([WSV, "connect", "--listen", "tcp://127.0.0.1:0", url], env=T.child_env())
    import re
    m = p.wait_output(lambda o, e: re.search(rb"listening on tcp://127\.0\.0\.1:(\d+)", o), 10)
    if not m:
        rep.fail(name, "'wsv: listening on tcp://127.0.0.1:PORT'", p.text())
        p.stop()
        return
    port = int(m.group(1))
    try:
        c = socket.create_connection(("127.0.0.1", port), 5)
        c.settimeout(20)
        data = pattern(MIB, 9)
        tag = b"rev-" + os.urandom(6).hex().encode()
        payload = first + tag + data
        threading.Thread(target=c.sendall, args=(payload,), daemon=True).start()
        want = (tag + data)
        got = b""
        while len(got) < len(want):
            d = c.recv(1 << 20)
            if not d:
                break
            got += d
        rep.check(name + ": 1 MiB round trip", got == want, "the bytes back", f"{len(got)} of {len(want)}")
        c.shutdown(socket.SHUT_WR)  # the TCP client's end: the WebSocket closes, EOF comes back
        c.settimeout(5)
        try:
            rest = c.recv(10)
        except OSError as e:
            rest = repr(e)
        rep.check(name + ": the TCP client's end closes the WebSocket and the bridge's socket",
                  rest == b"", "EOF", f"{rest!r}")
        c.close()
        if via_target:  # the target closes: the TCP client sees the bytes, then EOF
            c = socket.create_connection(("127.0.0.1", port), 5)
            c.settimeout(5)
            c.sendall(b"C")
            got = b""
            while True:
                d = c.recv(100)
                if not d:
                    break
                got += d
            rep.check(name + ": the far end's close reaches the TCP client (bytes, then EOF)", got == b"bye",
                      "b'bye' then EOF", f"{got!r}")
            c.close()
        ok = p.wait_output(lambda o, e: b"accepted" in e and b"close 1000" in e, 5)
        rep.check(name + ": each connection logged", bool(ok), "'#1 accepted', '#1 close 1000'", p.text())
    except Exception as e:
        rep.fail(name, "round trip", repr(e) + " " + p.text())
    rc = p.stop(signal.SIGINT, 6)
    rep.check(name + ": SIGINT -> exit 0", rc == 0, "0", f"{rc} {p.text()}")


def reverse_dead(dead_port):
    """`wsv connect --listen` to a URL nothing answers: the TCP client gets
    EOF at once, the failure is logged, and the listener goes on."""
    import re
    name = "wsv connect --listen -> nothing listening"
    p = T.Proc([WSV, "connect", "--listen", "127.0.0.1:0", f"ws://127.0.0.1:{dead_port}/"], env=T.child_env())
    m = p.wait_output(lambda o, e: re.search(rb"listening on tcp://127\.0\.0\.1:(\d+)", o), 10)
    if not m:
        rep.fail(name, "listening", p.text())
        p.stop()
        return
    results = []
    for _ in range(2):
        c = socket.create_connection(("127.0.0.1", int(m.group(1))), 5)
        c.settimeout(5)
        try:
            results.append(c.recv(10))
        except OSError as e:
            results.append(repr(e))
        c.close()
    logged = p.wait_output(lambda o, e: e.count(b"cannot connect to") >= 2 and b"refused" in e, 5)
    rep.check(name + ": each TCP client gets EOF, the failure is logged, the listener goes on",
              results == [b"", b""] and bool(logged), "EOF twice, 'cannot connect ... refused' twice",
              f"{results} {p.text()}")
    rc = p.stop(signal.SIGTERM, 6)
    rep.check(name + ": SIGTERM -> exit 0", rc == 0, "0", f"{rc}")


async def run_kind(k, bridges, target, dead_port):
    b = bridges["tcp"]
    await case_round_trips(k, b)
    await case_base64(k, b)
    await case_text_frames(k, b)
    await case_client_closes(k, b, target)
    await case_target_closes(k, b)
    await case_refused(k, bridges["dead"], dead_port)
    await case_reset(k, b)
    await case_unix(k, bridges["unix"])
    await case_many(k, b)
    await case_origin(k, b)
    await case_backpressure(k, b, target)


def main():
    sock = os.path.join(TMP, "echo.sock")
    target = Target(unix=sock)
    d = socket.socket()
    d.bind(("127.0.0.1", 0))
    dead_port = d.getsockname()[1]
    d.close()  # nothing listens there
    kinds = {}
    for k in ("websockify", "wsv"):
        kinds[k] = {"tcp": Bridge(k, f"tcp://127.0.0.1:{target.port}"),
                    "unix": Bridge(k, "unix:" + sock),
                    "dead": Bridge(k, f"tcp://127.0.0.1:{dead_port}")}
        for n, b in kinds[k].items():
            if not rep.check(f"{k} ({n}) starts", b.port is not None, "listening", b.p.text()):
                rep.finish()
    # wsv's rejected arguments
    for args, why in ((["--to", "ftp://x:1"], "scheme"), (["--to", "127.0.0.1"], "port"),
                      (["--to", "unix:"], "path"), (["--to", "127.0.0.1:1", "--chat"], "mode")):
        p = T.Proc([WSV, "serve", "--port", "0", *args], env=T.child_env())
        rc = p.wait(5)
        rep.check(f"wsv serve {' '.join(args)}: a usage error ({why})", rc == 2 and b"--to" in bytes(p.err),
                  "exit 2 naming --to", f"{rc} {p.text()}")
    for k in ("websockify", "wsv"):
        asyncio.run(run_kind(k, kinds[k], target, dead_port))
    open_b = Bridge("wsv", f"tcp://127.0.0.1:{target.port}", ["--origin", "*"])
    asyncio.run(case_origin_opt_out(open_b))
    # a missing Unix socket whose long UTF-8 name does not fit in a Close
    # reason: 1011, the reason cut to valid UTF-8 (else the client fails 1007)
    long_b = Bridge("wsv", "unix:" + os.path.join(TMP, "\u00e9" * 36 + ".sock"))
    asyncio.run(case_missing_unix(long_b))
    T.stop_server(rep, long_b.p, "wsv serve --to (missing Unix socket)")
    # SIGTERM while bridges are open: 1001 to the client, EOF to the target
    busy = Bridge("wsv", f"tcp://127.0.0.1:{target.port}")
    asyncio.run(case_sigterm_busy(busy, target))
    # the reverse bridge through wsv serve (echo) and through websockify
    echo = T.start_server(rep, WSV)
    if echo is not None:
        reverse_case("wsv connect --listen -> wsv serve (echo)", echo.url)
    reverse_case("wsv connect --listen -> websockify -> target", kinds["websockify"]["tcp"].url,
                 first=b"E", via_target=True)
    reverse_dead(dead_port)
    # the wsv side logged its bridges, and stops cleanly
    wb = kinds["wsv"]["tcp"]
    rep.check("wsv serve --to: the startup line names the target",
              f"bridge to 127.0.0.1:{target.port}".encode() in bytes(wb.p.err), "'bridge to 127.0.0.1:PORT'",
              T.short(bytes(wb.p.err), 300))
    for n, b in list(kinds["wsv"].items()) + [("origin *", open_b)]:
        T.stop_server(rep, b.p, f"wsv serve --to ({n})")
    if echo is not None:
        T.stop_server(rep, echo, "wsv serve (echo)")
    rep.finish()


main()
