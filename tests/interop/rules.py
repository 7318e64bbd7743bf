#!/usr/bin/python3
"""Every handshake and framing rule over real sockets, against `wsv serve`,
while a well-behaved client keeps echoing through it all.

Handshake: raw clients send bad (and good) requests and read the COMPLETE
answer: status, headers (Sec-WebSocket-Version list highest first, Upgrade
on 426, Connection: close), a one-line body, then EOF, never a reset, also
when the client goes on sending a few KB after its request.
Frames: after a good handshake, a bad frame must bring a Close with the
right code (1002, 1007, 1009), the bad payload never echoed, then EOF.

usage: /usr/bin/python3 rules.py WSV
"""

import concurrent.futures as cf
import os
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402
from wsvtest import frame  # noqa: E402

rep = T.Report("interop handshake and framing rules")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
ALL = ["13", "8", "7"]


def req(port, method="GET", path="/", proto="HTTP/1.1", host=True, upgrade="websocket",
        connection="Upgrade", key="auto", version="13", extra="", eol="\r\n"):
    lines = [f"{method} {path} {proto}"]
    if host is True:
        lines.append(f"Host: 127.0.0.1:{port}")
    elif host:
        lines += host
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    if connection is not None:
        lines.append(f"Connection: {connection}")
    if key == "auto":
        key = T.new_key()
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        for v in (version if isinstance(version, list) else [version]):
            lines.append(f"Sec-WebSocket-Version: {v}")
    if extra:
        lines += extra.rstrip("\r\n").split("\r\n")
    return (eol.join(lines) + eol + eol).encode("latin-1")


def bad_cases(port):
    """(name, request bytes, allowed statuses, want_version_list, want_upgrade_hdr)."""
    k = T.new_key()
    C = []
    add = lambda name, r, st, vl=True, up=False: C.append((name, r, st, vl, up))  # noqa: E731
    add("version 99 -> 426 + list + Upgrade", req(port, version="99"), {426}, True, True)
    add("version 12 -> 426 + list + Upgrade", req(port, version="12"), {426}, True, True)
    add("version 013 (leading zero) -> 400 + list", req(port, version="013"), {400})
    add("version missing -> 400 + list", req(port, version=None), {400})
    add("version '13, 8' (a list) -> 400 + list", req(port, version="13, 8"), {400})
    add("version 256 -> 400 + list", req(port, version="256"), {400})
    add("version 'abc' -> 400 + list", req(port, version="abc"), {400})
    add("version header twice -> 400 + list", req(port, version=["13", "13"]), {400})
    add("no Host -> 400", req(port, host=False), {400})
    add("two Host headers -> 400", req(port, host=[f"Host: 127.0.0.1:{port}", "Host: other"]), {400})
    add("POST -> 400 (or 405)", req(port, method="POST", extra="Content-Length: 0"), {400, 405})
    add("PUT -> 400 (or 405)", req(port, method="PUT"), {400, 405})
    add("CONNECT -> 400 (or 405)", req(port, method="CONNECT", path=f"127.0.0.1:{port}"), {400, 405})
    add("HTTP/1.0 -> 400", req(port, proto="HTTP/1.0"), {400})
    add("Upgrade: h2c -> 400", req(port, upgrade="h2c"), {400})
    add("Upgrade: websocket2 -> 400", req(port, upgrade="websocket2"), {400})
    add("Connection: keep-alive (no upgrade token) -> 400", req(port, connection="keep-alive"), {400})
    add("Sec-WebSocket-Key missing -> 400", req(port, key=None), {400})
    add("Sec-WebSocket-Key 'test' -> 400", req(port, key="test"), {400})
    add("Sec-WebSocket-Key of 15 bytes -> 400", req(port, key="AAAAAAAAAAAAAAAAAAAA"), {400})
    add("Sec-WebSocket-Key twice -> 400", req(port, extra=f"Sec-WebSocket-Key: {k}"), {400})
    add("10 KB header line -> 431", req(port, extra="X-Big: " + "a" * 10240), {431}, False)
    add("150 headers -> 431", req(port, extra="".join(f"X-H{i}: v\r\n" for i in range(150))), {431}, False)
    add("90 headers of 100 B (9 KB block) -> 431",
        req(port, extra="".join(f"X-H{i:03d}: {'b' * 90}\r\n" for i in range(90))), {431}, False)
    add("10,000 empty headers -> 431", req(port, extra="a:\r\n" * 10000), {431}, False)
    add("request line of 9 KB -> 414", req(port, path="/" + "p" * 9216), {414}, False)
    add("bare LF line endings -> 400", req(port, eol="\n"), {400}, False)
    add("obs-fold continuation line -> 400", req(port, extra="X-Fold: a\r\n  b"), {400}, False)
    add("space before colon -> 400",
        req(port, upgrade=None, extra="Upgrade : websocket"), {400}, False)
    add("NUL in a header value -> 400", req(port, extra="X-Nul: a\x00b"), {400}, False)
    add("Content-Length: 5 and a body -> 400", req(port, extra="Content-Length: 5") + b"hello", {400})
    add("Transfer-Encoding: chunked -> 400", req(port, extra="Transfer-Encoding: chunked") + b"0\r\n\r\n",
        {400})
    add("hixie-76 handshake -> 400/426 + list",
        req(port, key=None, version=None, extra="Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
            "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00") + b"^n:ds[4U", {400, 426})
    return C


def read_answer(sock, trailing):
    """Send `trailing` junk after the request (ignoring errors), then read to EOF."""
    if trailing:
        time.sleep(0.05)
        for _ in range(4):
            try:
                sock.send(b"Z" * 1024)
            except OSError:
                break
        time.sleep(0.1)
    return T.read_until_eof(sock, 5)


def check_error_answer(name, data, how, statuses, want_list, want_upgrade, versions):
    h = T.parse_http_head(data)
    if h is None:
        return rep.fail(name, f"a complete HTTP answer {sorted(statuses)} then EOF",
                        f"{how}: {T.short(data)}")
    st, reason, hdrs, body = h
    probs = []
    if st not in statuses:
        probs.append(f"status {st} {reason}")
    if how != "eof":
        probs.append(f"ended by {how}, not EOF")
    conn = [x.lower() for x in T.hdr_list(hdrs, "connection")]
    if "close" not in conn:
        probs.append(f"Connection: {hdrs.get('connection')}")
    if want_list and T.hdr_list(hdrs, "sec-websocket-version") != versions:
        probs.append(f"Sec-WebSocket-Version {hdrs.get('sec-websocket-version')} (want {', '.join(versions)})")
    if want_upgrade and [x.lower() for x in T.hdr_list(hdrs, "upgrade")] != ["websocket"]:
        probs.append(f"Upgrade {hdrs.get('upgrade')}")
    if "content-length" in hdrs:
        try:
            cl = int(hdrs["content-length"][0])
        except ValueError:
            cl = -1
        if cl != len(body):
            probs.append(f"Content-Length {cl} but {len(body)} body bytes")
    if body.rstrip(b"\r\n").count(b"\n") > 0:
        probs.append(f"body of several lines {T.short(body)}")
    if data.count(b"HTTP/1.1 ") > 1:
        probs.append("more than one answer")
    exp = f"{sorted(statuses)}, Connection: close" + (f", versions {', '.join(versions)}" if want_list else "") \
        + (", Upgrade: websocket" if want_upgrade else "") + ", one-line body, EOF"
    return rep.check(name, not probs, exp, "; ".join(probs) + f" | {T.short(data, 300)}")


def run_bad_request(port, case, trailing, versions):
    name, request, statuses, want_list, want_upgrade = case
    label = f"handshake: {name}" + (" [+4 KB sent after]" if trailing else "")
    try:
        s = T.connect_raw(port)
        s.sendall(request)
        data, how = read_answer(s, trailing)
        s.close()
    except OSError as e:
        return rep.fail(label, f"{sorted(statuses)} answer", repr(e))
    return check_error_answer(label, data, how, statuses, want_list, want_upgrade, versions)


def run_good_request(port, name, request, extra_frames=b""):
    """Positive control: 101 (no Sec-WebSocket-Version), then an echo."""
    label = f"handshake: {name}"
    try:
        s = T.connect_raw(port)
        s.sendall(request + extra_frames)
        data = b""
        s.settimeout(5)
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        h = T.parse_http_head(data)
        if not h or h[0] != 101:
            s.close()
            return rep.fail(label, "101", T.short(data, 300))
        if "sec-websocket-version" in h[2]:
            rep.fail(label + " (101 without Sec-WebSocket-Version)", "no Sec-WebSocket-Version",
                     h[2]["sec-websocket-version"])
        fr = T.FrameReader(s, h[3])
        if not extra_frames:
            s.sendall(frame(1, b"control"))
        op, p = fr.message(5)
        s.sendall(frame(8, struct.pack("!H", 1000)))
        s.close()
        return rep.check(label, op == 1 and p == b"control", "101 then the echo 'control'", f"{op} {p[:40]!r}")
    except (OSError, EOFError, TimeoutError, ValueError) as e:
        return rep.fail(label, "101 then an echo", repr(e))


# ------------------------------------------------------------------ frames

def frame_cases():
    """(name, bytes to send after the handshake, expected close code)."""
    big = struct.pack("!BBQ", 0x82, 0xFF, 1 << 40) + os.urandom(4)
    msb = struct.pack("!BBQ", 0x82, 0xFF, (1 << 63) | 5) + os.urandom(4) + b"hello"
    return [
        ("unmasked text frame -> 1002", frame(1, b"hello", mask=False), 1002),
        ("reserved opcode 0x3 -> 1002", frame(3, b"x"), 1002),
        ("reserved opcode 0x7 -> 1002", frame(7, b""), 1002),
        ("reserved control opcode 0xB -> 1002", frame(0xB, b""), 1002),
        ("RSV1 without an extension -> 1002", frame(1, b"x", rsv=4), 1002),
        ("RSV2 set -> 1002", frame(1, b"x", rsv=2), 1002),
        ("RSV3 set -> 1002", frame(1, b"x", rsv=1), 1002),
        ("invalid UTF-8 (C0 AF) -> 1007", frame(1, b"a\xc0\xafb"), 1007),
        ("invalid UTF-8 (surrogate ED A0 80) -> 1007", frame(1, b"\xed\xa0\x80"), 1007),
        ("invalid UTF-8 across fragments -> 1007", frame(1, b"ok\xe2\x82", fin=False) + frame(0, b"\x28"), 1007),
        ("text ends inside a code point -> 1007", frame(1, b"ab\xe2\x82"), 1007),
        ("2^40 announced length -> 1009", big, 1009),
        ("17 MiB announced length -> 1009", struct.pack("!BBQ", 0x82, 0xFF, 17 << 20) + os.urandom(4), 1009),
        ("64-bit length with the MSB set -> 1002", msb, 1002),
        ("non-minimal length (126 form for 5 B) -> 1002", frame(1, b"hello", form=16), 1002),
        ("1-byte close payload -> 1002", frame(8, b"\x03"), 1002),
        ("close code 1005 on the wire -> 1002", frame(8, struct.pack("!H", 1005)), 1002),
        ("close code 999 -> 1002", frame(8, struct.pack("!H", 999)), 1002),
        ("close code 1015 -> 1002", frame(8, struct.pack("!H", 1015)), 1002),
        ("close code 5000 -> 1002", frame(8, struct.pack("!H", 5000)), 1002),
        ("close reason invalid UTF-8 -> 1007", frame(8, struct.pack("!H", 1000) + b"\xff\xfe"), 1007),
        ("ping of 126 B -> 1002", frame(9, b"p" * 126), 1002),
        ("fragmented ping (FIN=0) -> 1002", frame(9, b"p", fin=False), 1002),
        ("continuation with no message -> 1002", frame(0, b"orphan"), 1002),
        ("new text frame inside a fragmented message -> 1002",
         frame(1, b"first", fin=False) + frame(1, b"second"), 1002),
    ]


def run_bad_frame(port, name, data, code):
    label = f"frame: {name}"
    try:
        s, fr = T.ws_open(port)
    except Exception as e:
        return rep.fail(label, "handshake 101", repr(e))
    got = []
    try:
        s.sendall(data)
        deadline = time.monotonic() + 5
        while True:
            fin, op, p, masked = fr.next(max(0.05, deadline - time.monotonic()))
            got.append((op, p[:20]))
            if op == 8:
                c, reason = T.close_code(p)
                break
        # answer the close like a good client, then the server must close TCP
        try:
            s.sendall(frame(8, struct.pack("!H", c or 1000)))
        except OSError:
            pass
        rest, how = T.read_until_eof(s, 5)
        extra = [g for g in got if g[0] != 8]
        ok = c == code and not extra and how in ("eof", "reset") and not masked
        return rep.check(label, ok, f"close {code} (no data frame before it, unmasked), then TCP closed",
                         f"close {c} {reason[:60]!r}, frames before close {extra}, then {how}"
                         + (" MASKED" if masked else ""))
    except (EOFError, TimeoutError, OSError) as e:
        return rep.fail(label, f"a close frame with {code}", f"{type(e).__name__} after frames {got}")
    finally:
        s.close()


def run_good_frames(port):
    """Positive controls over one connection."""
    try:
        s, fr = T.ws_open(port)
    except Exception as e:
        return rep.fail("frame: positive controls", "handshake", repr(e))
    try:
        payload = bytes(range(125))
        s.sendall(frame(9, payload))
        fin, op, p, _ = fr.next(5)
        rep.check("frame: ping 125 B -> identical pong", op == 10 and p == payload, "pong, same payload",
                  f"op {op} {p[:20]!r}")
        s.sendall(frame(10, b"unsolicited") + frame(1, b"after-pong"))
        op, p = fr.message(5)
        rep.check("frame: unsolicited pong ignored", (op, p) == (1, b"after-pong"), "echo after-pong",
                  f"{op} {p!r}")
        s.sendall(frame(1, b"") + frame(1, b"next"))
        a = fr.message(5)
        b = fr.message(5)
        rep.check("frame: 0-length text then another frame", a == (1, b"") and b == (1, b"next"),
                  "(1,b''),(1,b'next')", f"{a} {b}")
        f = frame(1, b"dribbled one byte at a time")
        for i in range(len(f)):
            s.send(f[i:i + 1])
            time.sleep(0.003)
        op, p = fr.message(5)
        rep.check("frame: frame sent one byte per write", p == b"dribbled one byte at a time", "echo", repr(p))
        s.sendall(frame(1, b"frag1-", fin=False) + frame(9, b"mid") + frame(0, b"frag2-", fin=False)
                  + frame(0, b"end"))
        first = fr.message(5)
        second = fr.message(5)
        rep.check("frame: ping between fragments -> pong first, message intact",
                  first == (10, b"mid") and second == (1, b"frag1-frag2-end"),
                  "(10,'mid') then (1,'frag1-frag2-end')", f"{first} {second}")
        emoji = "😀".encode()
        s.sendall(frame(1, emoji[:1], fin=False) + frame(0, emoji[1:3], fin=False) + frame(0, emoji[3:]))
        op, p = fr.message(5)
        rep.check("frame: 4-byte code point split over 3 fragments", p == emoji, repr(emoji), repr(p))
        s.sendall(frame(1, "\ufeff\uffff\x00".encode()))
        op, p = fr.message(5)
        rep.check("frame: BOM, U+FFFF, U+0000 are valid text", p == "\ufeff\uffff\x00".encode(), "echo", repr(p))
        for n in (125, 126, 65535, 65536):
            data = os.urandom(n)
            s.sendall(frame(2, data))
            op, p = fr.message(10)
            rep.check(f"frame: binary {n} B echoed", (op, p) == (2, data), f"binary {n}", f"{op} {len(p)}")
        s.sendall(frame(8, struct.pack("!H", 4000) + b"done"))
        fin, op, p, _ = fr.next(5)
        c, _ = T.close_code(p)
        rest, how = T.read_until_eof(s, 5)
        rep.check("frame: close 4000 echoed, then TCP closed", op == 8 and c == 4000 and how == "eof",
                  "close 4000, EOF", f"op {op} code {c} {how}")
    except (EOFError, TimeoutError, OSError) as e:
        rep.fail("frame: positive controls", "no error", repr(e))
    finally:
        s.close()


# ------------------------------------------------------------------ bystander

class Bystander(threading.Thread):
    """A well-behaved client echoing every 10 ms; records every failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.n = 0
        self.errors = []
        self.stop = False

    def run(self):
        try:
            s, fr = T.ws_open(self.port)
        except Exception as e:
            self.errors.append(f"handshake: {e!r}")
            return
        i = 0
        deadline = time.monotonic() + 120
        while not self.stop and time.monotonic() < deadline:
            msg = f"bystander {i} ".encode() * (1 + i % 50)
            try:
                s.sendall(frame(1 if i % 2 else 2, msg))
                op, p = fr.message(5)
                if p != msg:
                    self.errors.append(f"echo {i}: got {p[:30]!r}")
                    break
                self.n += 1
            except Exception as e:
                self.errors.append(f"echo {i}: {e!r}")
                break
            i += 1
            time.sleep(0.01)
        try:
            s.sendall(frame(8, struct.pack("!H", 1000)))
            s.close()
        except OSError:
            pass


def main():
    srv = T.start_server(rep, WSV, ["--versions", "13,8,7"], "rules")
    if not srv:
        rep.finish()
    port = srv.port
    by = Bystander(port)
    by.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(max_workers=16) as ex:
        futs = []
        for case in bad_cases(port):
            for trailing in (False, True):
                futs.append(ex.submit(run_bad_request, port, case, trailing, ALL))
        goods = [
            ("version 8 accepted (server speaks 13,8,7)", req(port, version="8")),
            ("version 7 accepted", req(port, version="7")),
            ("Upgrade: WebSocket (mixed case) accepted", req(port, upgrade="WebSocket")),
            ("Connection: keep-alive, Upgrade accepted", req(port, connection="keep-alive, Upgrade")),
            ("lower-case header names accepted",
             req(port).replace(b"Upgrade:", b"upgrade:").replace(b"Sec-WebSocket-Key", b"sec-websocket-key")),
        ]
        for name, r in goods:
            futs.append(ex.submit(run_good_request, port, name, r))
        futs.append(ex.submit(run_good_request, port, "handshake and first frame in one segment",
                              req(port), frame(1, b"control")))
        for name, data, code in frame_cases():
            futs.append(ex.submit(run_bad_frame, port, name, data, code))
        futs.append(ex.submit(run_good_frames, port))
        for f in futs:
            try:
                f.result(timeout=60)
            except Exception as e:
                rep.fail("a case raised", "no exception", repr(e))
    print(f"     (all cases in {time.monotonic() - t0:.1f} s)")

    # A rejected upgrade followed by a pipelined request: one answer only.
    s = T.connect_raw(port)
    s.sendall(req(port, version="99") + req(port))
    data, how = T.read_until_eof(s, 5)
    s.close()
    rep.check("handshake: pipelined request after a 426 is never answered",
              data.count(b"HTTP/1.1 ") == 1 and data.startswith(b"HTTP/1.1 426") and how == "eof",
              "one 426 answer, then EOF", f"{data.count(b'HTTP/1.1 ')} answers, {how}: {T.short(data, 200)}")
    # Plain GET / without Upgrade: the demo page.
    s = T.connect_raw(port)
    s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    data, how = T.read_until_eof(s, 5)
    s.close()
    h = T.parse_http_head(data)
    rep.check("http: plain GET / -> 200 demo page, Connection: close, EOF",
              h is not None and h[0] == 200 and re.search(rb"id\s*=\s*[\"']?status\b", h[3]) is not None
              and how == "eof" and "close" in [x.lower() for x in T.hdr_list(h[2], "connection")],
              "200, text/html with #status, EOF", f"{how}: {T.short(data, 300)}")
    # A client that connects and closes at once, or sends half a line and resets.
    for i in range(20):
        s = T.connect_raw(port)
        if i % 2:
            s.sendall(b"GET / HT")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    by.stop = True
    by.join(10)
    rep.check("bystander: kept echoing through every case", not by.errors and by.n > 5,
              "no error, > 5 echoes", f"{by.n} echoes, errors {by.errors}")
    rep.check("wsv serve (13,8,7) still running", srv.alive(), "running", srv.text())
    T.stop_server(rep, srv, "rules")

    # Default versions (13 only): version 8 gets 426 listing 13.
    srv = T.start_server(rep, WSV, [], "rules, default versions")
    if srv:
        case = ("default server: version 8 -> 426 listing 13", req(srv.port, version="8"), {426}, True, True)
        run_bad_request(srv.port, case, False, ["13"])
        case = ("default server: version 013 -> 400 listing 13", req(srv.port, version="013"), {400}, True, False)
        run_bad_request(srv.port, case, False, ["13"])
        T.stop_server(rep, srv, "rules, default versions")


main()
rep.finish()
