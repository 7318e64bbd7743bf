#!/usr/bin/python3
"""Faults `wsv serve` must survive, over loopback sockets.

  reset   : peers that reset (SO_LINGER 0) mid-frame, mid-handshake, or with
            a message queued for them; a FIN mid-frame; all while a
            well-behaved client keeps echoing.  File descriptors return to
            the baseline.
  slow    : a peer that never reads: (a) a --chat subscriber while another
            client publishes 32 MiB on its path, (b) an echo client that
            sends 48 MiB and never reads.  The server's VmRSS stays bounded
            (16 MiB send-buffer limit + slack) and it drops the slow peer.
  stall   : a client that stops halfway through its request, one that
            dribbles a byte a second, one that sends nothing: each dropped
            at the handshake timeout (`--handshake-timeout` if `wsv serve`
            has such an option, else the 10 s default).
  many    : 1,000 concurrent connections, every one echoes once, then all
            close; the server survives and its fds go back to the baseline.
  pings   : a client sends 1,000,000 pings and reads nothing until the
            end: the server keeps reading, its VmRSS grows by under 1 MiB
            (automatic pongs are bounded per connection), and what it
            answered is pongs in order, the last for the newest ping, then
            the echo of our Close.

usage: /usr/bin/python3 faults.py WSV [CASE...]   (CASE: the names above;
       default all)
"""

import asyncio
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402
from wsvtest import frame, frame_fast  # noqa: E402

rep = T.Report("interop faults")
CASES = ("reset", "slow", "stall", "many", "pings")
if len(sys.argv) < 2 or any(a not in CASES for a in sys.argv[2:]):
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
RUN = set(sys.argv[2:] or CASES)
SAN = T.is_sanitized(WSV)
RSS_FACTOR = 3 if SAN else 1
NCONN = 1000
T.raise_nofile(NCONN * 2 + 200)


def rst_close(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def wait_fds(srv, limit, timeout):
    deadline = time.monotonic() + timeout
    n = srv.fds()
    while n > limit and time.monotonic() < deadline:
        time.sleep(0.1)
        n = srv.fds()
    return n


# ------------------------------------------------------------------ resets

def reset_cases(srv):
    port = srv.port
    base_fds = srv.fds()
    by = T.EchoBystander(port)
    by.start()
    time.sleep(0.1)
    errors = []
    for i in range(30):
        try:
            kind = i % 5
            if kind == 0:  # RST mid-frame: header + part of the payload
                s, fr = T.ws_open(port)
                f = frame(2, os.urandom(1000))
                s.sendall(f[:150])
                time.sleep(0.01)
                rst_close(s)
            elif kind == 1:  # RST mid-handshake
                s = T.connect_raw(port)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: webs")
                time.sleep(0.01)
                rst_close(s)
            elif kind == 2:  # RST while the server sends a big echo to us
                s, fr = T.ws_open(port)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(frame_fast(2, os.urandom(2 << 20)))
                time.sleep(0.05)
                rst_close(s)
            elif kind == 3:  # FIN mid-frame: the server must close its side
                s, fr = T.ws_open(port)
                s.sendall(frame(1, b"x" * 500)[:100])
                s.shutdown(socket.SHUT_WR)
                data, how = T.read_until_eof(s, 5)
                if how not in ("eof", "reset"):
                    errors.append(f"FIN mid-frame #{i}: server did not close within 5 s ({how})")
                s.close()
            else:  # RST right after the 101, before any frame
                s, fr = T.ws_open(port)
                rst_close(s)
        except Exception as e:
            errors.append(f"#{i}: {e!r}")
    time.sleep(0.3)
    rep.check("reset: 30 peers that reset/FIN mid-frame or mid-handshake", not errors and srv.alive(),
              "server alive, each FIN answered by a close", f"alive={srv.alive()} {errors[:3]}")
    by.stop.set()
    by.join(10)
    rep.check("reset: bystander kept echoing", not by.errors and by.n > 5, "no error",
              f"{by.n} echoes, {by.errors}")
    n = wait_fds(srv, base_fds + 2, 5)
    rep.check("reset: file descriptors back to the baseline", n <= base_fds + 2,
              f"<= {base_fds + 2} (baseline {base_fds} + bystander)", f"{n}")


# ------------------------------------------------------------------ slow peers

class Drainer(threading.Thread):
    """Reads and discards everything a socket receives (a fast reader)."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.n, self.stop = sock, 0, False

    def run(self):
        deadline = time.monotonic() + 120
        while not self.stop and time.monotonic() < deadline:
            try:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if r:
                    chunk = self.sock.recv(1 << 20)
                    if not chunk:
                        return
                    self.n += len(chunk)
            except (OSError, ValueError):
                return


def slow_chat_case():
    srv = T.start_server(rep, WSV, ["--chat"], "slow (chat)")
    if not srv:
        return
    socks = []
    try:
        room = "/room"
        slow = T.connect_raw(srv.port)
        socks.append(slow)
        req, key = T.upgrade_request(srv.port, room)
        slow.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            head += slow.recv(1)  # byte by byte: leave every frame in the kernel
        pub, _ = T.ws_open(srv.port, room)
        fast, ffr = T.ws_open(srv.port, room)
        x, _ = T.ws_open(srv.port, "/elsewhere")
        y, yfr = T.ws_open(srv.port, "/elsewhere")
        socks += [pub, fast, x, y]
        pub_drain = Drainer(pub)  # whether or not the sender gets its own copy
        pub_drain.start()
        time.sleep(0.2)
        base_fds = srv.fds()
        rss0 = srv.rss_kib()
        samples, stop = [], threading.Event()
        th = threading.Thread(target=T.rss_sampler, args=(srv, samples, stop), daemon=True)
        th.start()
        msg = os.urandom(64 << 10)
        sent = 0
        err = None
        t0 = time.monotonic()
        for i in range(512):  # 32 MiB
            try:
                pub.sendall(frame_fast(2, msg))
                op, p = ffr.message(10)  # a fast subscriber paces the publisher
                if p != msg:
                    err = f"fast subscriber's copy {i} differs"
                    break
                sent += 1
            except Exception as e:
                err = f"fast subscriber at message {i}: {e!r}"
                break
        pub_time = time.monotonic() - t0
        try:
            x.sendall(frame(1, b"other path"))
            oth = yfr.message(5)
        except Exception as e:
            oth = repr(e)
        time.sleep(0.5)
        stop.set()
        th.join(2)
        rss1 = srv.rss_kib()
        peak = max(samples + [rss1])
        rep.check("slow (chat): publisher and a fast subscriber unaffected by one that never reads",
                  err is None and sent == 512, "512 x 64 KiB published and received by the fast subscriber",
                  f"{sent} received; {err}")
        rep.check("slow (chat): another path unaffected", oth == (1, b"other path"), "(1, b'other path')", oth)
        bound = (16 * 1024) * 2 * RSS_FACTOR + 16 * 1024  # KiB
        rep.check("slow (chat): server VmRSS bounded", peak - rss0 < bound,
                  f"growth < {bound // 1024} MiB", f"{rss0} KiB -> peak {peak} KiB -> {rss1} KiB after "
                  f"(growth {(peak - rss0) // 1024} MiB; 32 MiB published in {pub_time:.1f} s)")
        print(f"     (chat: VmRSS {rss0} KiB -> peak {peak} KiB -> {rss1} KiB; 32 MiB in {pub_time:.1f} s)")
        # The slow subscriber must have been dropped: reading it now ends in
        # EOF/reset well before the 32 MiB that were published.
        data, how = T.read_until_eof(slow, 10, limit=40 << 20)
        rep.check("slow (chat): the subscriber that never reads is dropped",
                  how in ("eof", "reset") and len(data) < 32 << 20,
                  "EOF or reset after < 32 MiB (send-buffer limit 16 MiB -> close 1008)",
                  f"{how} after {len(data)} bytes; server fds {base_fds} -> {srv.fds()}")
        i = data.rfind(b"\x88\x02")
        if i >= 0 and i + 4 <= len(data):
            print(f"     (slow subscriber's close code: {struct.unpack('!H', data[i + 2:i + 4])[0]})")
        pub_drain.stop = True
        rep.check("slow (chat): server still running", srv.alive(), "running", srv.text())
    except Exception as e:
        rep.fail("slow (chat): case", "no exception", repr(e))
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        T.stop_server(rep, srv, "slow (chat)")


def slow_echo_case(srv):
    """An echo client that sends 48 MiB and never reads."""
    try:
        # (no tiny SO_RCVBUF: with loopback's 64 KiB MSS the window would
        # only reopen through persist probes, and reading it later crawls)
        base_fds = srv.fds()
        s = T.connect_raw(srv.port)
        req, key = T.upgrade_request(srv.port)
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        rss0 = srv.rss_kib()
        samples, stop = [], threading.Event()
        th = threading.Thread(target=T.rss_sampler, args=(srv, samples, stop), daemon=True)
        th.start()
        f = frame_fast(2, os.urandom(64 << 10))
        s.setblocking(False)
        sent, how = 0, "all sent"
        deadline = time.monotonic() + 20
        stalled_since = None
        while sent < 48 << 20 and time.monotonic() < deadline:
            _, w, _ = select.select([], [s], [], 0.2)
            if not w:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 5:
                    how = "server stopped reading for 5 s"
                    break
                continue
            stalled_since = None
            try:
                n = s.send(f[sent % len(f):])
                sent += n
            except (BrokenPipeError, ConnectionResetError) as e:
                how = type(e).__name__
                break
            except BlockingIOError:
                continue
        time.sleep(0.3)
        stop.set()
        th.join(2)
        peak = max(samples + [srv.rss_kib()])
        data, end = T.read_until_eof(s, 10, limit=64 << 20)
        s.close()
        i = data.rfind(b"\x88\x02")
        print(f"     (echo: VmRSS {rss0} KiB -> peak {peak} KiB; sent {sent >> 20} MiB ({how}); read back "
              f"{len(data) >> 20} MiB then {end}"
              + (f"; close code {struct.unpack('!H', data[i + 2:i + 4])[0]}" if i >= 0 and i + 4 <= len(data) else "")
              + ")")
        bound = (16 * 1024) * 2 * RSS_FACTOR + 16 * 1024  # KiB
        rep.check("slow (echo): server VmRSS bounded with a client that never reads", peak - rss0 < bound,
                  f"growth < {bound // 1024} MiB", f"{rss0} KiB -> peak {peak} KiB (sent {sent >> 20} MiB, {how})")
        rep.check("slow (echo): the client that never reads is dropped",
                  how in ("BrokenPipeError", "ConnectionResetError") or end in ("eof", "reset"),
                  "send fails or the connection ends (close 1008 at the 16 MiB send-buffer limit)",
                  f"sending: {how} after {sent >> 20} MiB; reading afterwards: {end} after {len(data)} bytes")
    except Exception as e:
        rep.fail("slow (echo): case", "no exception", repr(e))


# ------------------------------------------------------------------ ping flood

def ping_flood_case():
    """1,000,000 pings from a client that reads nothing until it is done."""
    n = 1000000
    srv = T.start_server(rep, WSV, [], "pings")
    if not srv:
        return
    s = None
    try:
        # A small receive buffer (set before connecting, so the window is
        # small from the start): the pongs pile up in the server's send
        # buffer, then in the server.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(5)
        s.connect(("127.0.0.1", srv.port))
        req, key = T.upgrade_request(srv.port)
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)  # leave every frame after the 101 unread
        # A masked ping with a zero key carries its payload as is: 125 bytes,
        # the ping's number and filler.  1,000,000 of them (131 MB) make
        # about 4 MB of pongs, more than the kernel buffers on loopback (the
        # server's send buffer grows to 4 MiB at most): from then on the
        # pongs wait in the server, bounded by the connection.
        fill = b"." * 121
        time.sleep(0.2)
        rss0 = srv.rss_kib()
        samples, stop = [], threading.Event()
        th = threading.Thread(target=T.rss_sampler, args=(srv, samples, stop), daemon=True)
        th.start()
        s.setblocking(False)
        sent, how, t0 = 0, "all sent", time.monotonic()
        for base in range(0, n, 10000):
            chunk = b"".join(b"\x89\xfd\0\0\0\0" + i.to_bytes(4, "big") + fill
                             for i in range(base, base + 10000))
            view, off = memoryview(chunk), 0
            while off < len(chunk) and how == "all sent":
                if time.monotonic() - t0 > 30:
                    how = "not all sent in 30 s"
                    break
                _, w, _ = select.select([], [s], [], 0.2)
                if not w:
                    continue
                try:
                    off += s.send(view[off:])
                except BlockingIOError:
                    continue
                except OSError as e:
                    how = type(e).__name__
            sent += off
            if how != "all sent":
                break
        dt = time.monotonic() - t0
        time.sleep(0.3)  # the server finishes the last reads
        stop.set()
        th.join(2)
        peak = max(samples + [srv.rss_kib()])
        # KiB; under ASan its quarantine (16 MiB, wsvtest.child_env) keeps
        # the freed pong blocks of a million pings too.
        bound = 1024 + (16 * 1024 if SAN else 0)
        rep.check(f"pings: {n} pings from a client that never reads, all taken", how == "all sent",
                  f"{n * 131} bytes sent", f"{sent} bytes in {dt:.1f} s ({how})")
        rep.check("pings: server VmRSS grows by under 1 MiB", peak - rss0 < bound,
                  f"growth < {bound} KiB", f"{rss0} KiB -> peak {peak} KiB (+{peak - rss0} KiB)")
        s.setblocking(True)
        s.sendall(T.frame(8, struct.pack("!H", 1000)))
        out, end = T.read_until_eof(s, 20, limit=64 << 20)
        # Everything before the Close echo: 125-byte pongs, numbers rising.
        i, last, npong, bad = 0, -1, 0, None
        close_at = len(out) - 4
        while i < close_at:
            if out[i] != 0x8a or out[i + 1] != 125 or out[i + 6:i + 127] != fill:
                bad = f"not a pong of ours at {i}: {out[i:i + 127]!r}"
                break
            k = int.from_bytes(out[i + 2:i + 6], "big")
            if k <= last:
                bad = f"pong {k} after pong {last}"
                break
            last, npong, i = k, npong + 1, i + 127
        rep.check("pings: pongs in order, the last for the newest ping, then the Close echo",
                  bad is None and i == close_at and last == n - 1 and out[close_at:] == b"\x88\x02\x03\xe8"
                  and end == "eof",
                  f"pongs ... {n - 1}, close 1000, EOF",
                  f"{npong} pongs, last {last}, {bad or ''} tail {out[-10:]!r}, {end}")
        print(f"     (pings: {n} x 125 B in {dt:.1f} s; VmRSS {rss0} KiB -> peak {peak} KiB; {npong} pongs "
              f"({npong * 127} B) read back afterwards, the rest coalesced)")
    except Exception as e:
        rep.fail("pings: case", "no exception", repr(e))
    finally:
        if s is not None:
            s.close()
        T.stop_server(rep, srv, "pings")


# ------------------------------------------------------------------ stalls

def handshake_timeout_option():
    """(args, seconds) for a shorter handshake timeout, if serve has one."""
    try:
        p = subprocess.run([WSV, "serve", "--help"], capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        text = (p.stdout + p.stderr).decode("latin-1")
    except subprocess.TimeoutExpired:  # (run() kills it)
        text = ""
    for line in text.splitlines():
        m = re.search(r"(--handshake-timeout)[ =]?(\S*)", line)
        if m:
            unit_ms = re.search(r"\bms\b|milli", line, re.I) is not None or "MS" in m.group(2)
            return [m.group(1), "2000" if unit_ms else "2"], 2.0
    return [], 10.0


def stall_case(srv, timeout_s, results):
    port = srv.port

    def one(name, fn):
        t0 = time.monotonic()
        try:
            s = T.connect_raw(port)
            fn(s)
            data, how = T.read_until_eof(s, timeout_s + 5)
            dt = time.monotonic() - t0
            s.close()
            results.append((name, how, dt, data))
        except Exception as e:
            results.append((name, repr(e), time.monotonic() - t0, b""))

    def half(s):
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConn")

    def nothing(s):
        pass

    def dribble(s):
        req, _ = T.upgrade_request(port)
        end = time.monotonic() + timeout_s + 4
        i = 0
        while time.monotonic() < end and i < len(req) - 2:
            try:
                s.send(req[i:i + 1])
            except OSError:
                return
            i += 1
            r, _, _ = select.select([s], [], [], 1.0)
            if r:
                return

    ths = [threading.Thread(target=one, args=a, daemon=True) for a in
           (("half a request", half), ("nothing at all", nothing), ("one byte a second", dribble))]
    for t in ths:
        t.start()
    return ths


def check_stalls(results, timeout_s):
    for name, how, dt, data in results:
        ok = how in ("eof", "reset") and timeout_s * 0.5 <= dt <= timeout_s + 3
        if data:
            h = T.parse_http_head(data)
            ok = ok and (h is None or h[0] == 408)
        rep.check(f"stall: client sending {name} dropped at the handshake timeout ({timeout_s:g} s)", ok,
                  f"EOF (optionally after a 408) in {timeout_s * 0.5:g}..{timeout_s + 3:g} s",
                  f"{how} after {dt:.1f} s {T.short(data, 120) if data else ''}")


# ------------------------------------------------------------------ many

async def many_case(srv, n):
    port = srv.port
    base_fds = srv.fds()
    sem = asyncio.Semaphore(200)
    conns = []

    async def open_one(i):
        async with sem:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            req, key = T.upgrade_request(port, f"/c{i % 7}")
            w.write(req)
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
            if not head.startswith(b"HTTP/1.1 101"):
                raise ValueError(f"conn {i}: {head[:40]!r}")
            return r, w

    async def read_frame(r):
        b = await r.readexactly(2)
        n = b[1] & 127
        if n == 126:
            n = struct.unpack("!H", await r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await r.readexactly(8))[0]
        return b[0] & 15, await r.readexactly(n)

    t0 = time.monotonic()
    res = await asyncio.gather(*(open_one(i) for i in range(n)), return_exceptions=True)
    conns = [x for x in res if not isinstance(x, BaseException)]
    errs = [x for x in res if isinstance(x, BaseException)]
    t_open = time.monotonic() - t0
    fds_open = srv.fds()
    rss_open = srv.rss_kib()
    rep.check(f"many: {n} concurrent connections open", len(conns) == n, f"{n} x 101",
              f"{len(conns)} opened in {t_open:.1f} s; first error {errs[:1]!r}")

    async def echo(i, r, w):
        m = f"conn {i} says hi".encode()
        w.write(frame(1, m))
        op, p = await asyncio.wait_for(read_frame(r), 20)
        return p == m

    t1 = time.monotonic()
    res = await asyncio.gather(*(echo(i, r, w) for i, (r, w) in enumerate(conns)), return_exceptions=True)
    good = sum(1 for x in res if x is True)
    rep.check(f"many: all {len(conns)} echo once", good == len(conns), f"{len(conns)} echoes",
              f"{good} good in {time.monotonic() - t1:.1f} s; first problem "
              f"{next((x for x in res if x is not True), None)!r}")
    print(f"     ({n} connections: server fds {base_fds} -> {fds_open}, VmRSS {rss_open} KiB, "
          f"~{(rss_open - srv.rss0) * 1024 // max(1, n)} B/connection)")

    async def close(r, w):
        w.write(frame(8, struct.pack("!H", 1000)))
        op, p = await asyncio.wait_for(read_frame(r), 20)
        rest = await asyncio.wait_for(r.read(), 20)  # EOF
        w.close()
        return op == 8 and rest == b""

    t2 = time.monotonic()
    res = await asyncio.gather(*(close(r, w) for r, w in conns), return_exceptions=True)
    good = sum(1 for x in res if x is True)
    rep.check(f"many: all {len(conns)} close handshakes complete (close echoed, then EOF)",
              good == len(conns), f"{len(conns)}",
              f"{good} in {time.monotonic() - t2:.1f} s; first problem {next((x for x in res if x is not True), None)!r}")
    nf = wait_fds(srv, base_fds, 10)
    rep.check("many: server fds back to the baseline after all closed", nf <= base_fds,
              f"<= {base_fds}", f"{nf}")
    try:
        s, fr = T.ws_open(port)
        s.sendall(frame(1, b"after the storm"))
        ok = fr.message(5) == (1, b"after the storm")
        s.close()
    except Exception as e:
        ok = repr(e)
    rep.check("many: server still echoes afterwards", ok is True, "echo", ok)


def main():
    if "pings" in RUN:
        ping_flood_case()  # on a server of its own: a clean VmRSS baseline
    if RUN & {"reset", "slow", "stall", "many"}:
        ht_args, ht_s = handshake_timeout_option()
        print(f"     (handshake timeout: {ht_s:g} s via {ht_args or 'the default'}; sanitized build: {SAN})")
        srv = T.start_server(rep, WSV, ht_args, "faults")
        if not srv:
            rep.finish()
        time.sleep(0.2)
        srv.rss0 = srv.rss_kib()
        stall_results = []
        if "stall" in RUN:  # runs alongside the rest
            stall_threads = stall_case(srv, ht_s, stall_results)
            time.sleep(0.3)  # (their connections are part of the fd baselines below)
        if "reset" in RUN:
            reset_cases(srv)
        if "slow" in RUN:
            slow_echo_case(srv)
        if "many" in RUN:
            try:
                asyncio.run(asyncio.wait_for(many_case(srv, NCONN), 120))
            except Exception as e:
                rep.fail("many: case", "no exception", repr(e))
        if "stall" in RUN:
            for t in stall_threads:
                t.join(ht_s + 10)
            check_stalls(stall_results, ht_s)
        rep.check("faults: wsv serve still running", srv.alive(), "running", srv.text())
        T.stop_server(rep, srv, "faults")
    if "slow" in RUN:
        slow_chat_case()


main()
rep.finish()
