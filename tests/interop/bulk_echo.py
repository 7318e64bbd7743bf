#!/usr/bin/python3
"""Large messages through wsv serve's zero-copy echo (payload read straight
into the message buffer, echoed from it), against Python websockets and raw
frames.

  websockets client, --no-deflate and the default (deflate agreed): text
      and binary of 64 KiB .. 8 MiB echoed byte for byte, several in flight.
  raw frames: a 4 MiB text message in three fragments, each fragment's
      frame written in odd pieces, with a ping between fragments: the pong
      comes first, then the message whole; a 2 MiB text frame with an
      invalid byte deep inside -> Close 1007, and nothing echoed; a frame
      over --max-message -> 1009.

usage: /usr/bin/python3 bulk_echo.py WSV
"""

import asyncio
import faulthandler
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

faulthandler.dump_traceback_later(50, exit=True)
rep = T.Report("interop bulk echo")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
if not T.require_peers(rep, python_websockets=True):
    rep.finish()
import websockets  # noqa: E402

SIZES = [65536, 65537, 1 << 20, (1 << 20) + 7, 3 << 20, 8 << 20]


def text_of(n):
    """Valid UTF-8 text of exactly n bytes (1- to 4-byte sequences)."""
    unit = "aé€😀z".encode()
    b = (unit * (n // len(unit) + 1))[:n]
    t = b.decode(errors="ignore")  # a sequence cut at the end goes
    return t + "x" * (n - len(t.encode()))


async def py_cases(srv, mode):
    try:
        ws = await asyncio.wait_for(
            websockets.connect(srv.url, max_size=None, open_timeout=5), 6)
    except Exception as e:
        rep.fail(f"py client ({mode}): connect", "101", repr(e))
        return
    sent = []
    for i, n in enumerate(SIZES):
        m = text_of(n) if i % 2 else os.urandom(n)
        sent.append(m)
    try:
        # two in flight: the next is sent before the echo is read
        await ws.send(sent[0])
        for i, m in enumerate(sent):
            if i + 1 < len(sent):
                await ws.send(sent[i + 1])
            got = await asyncio.wait_for(ws.recv(), 20)
            kind = "text" if isinstance(m, str) else "binary"
            size = len(m.encode()) if isinstance(m, str) else len(m)
            rep.check(f"py client ({mode}): {kind} {size} B echoed byte for byte",
                      type(got) is type(m) and got == m,
                      f"{kind} of {size} bytes, equal",
                      f"{type(got).__name__} of {len(got)}")
        await ws.close()
    except Exception as e:
        rep.fail(f"py client ({mode}): echoes", "every message echoed", repr(e))


def handshake(port):
    s = T.connect_raw(port, timeout=10)
    s.sendall(T.upgrade_request(port)[0])
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(4096)
        if not c:
            break
        head += c
    rest = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
    return s, head.startswith(b"HTTP/1.1 101"), rest


def read_frame(s, buf):
    """(opcode, payload, buf) of the next unmasked server frame."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            c = s.recv(1 << 20)
            if not c:
                raise EOFError("closed")
            buf += c
    need(2)
    op, n = buf[0] & 0x0F, buf[1] & 0x7F
    h = 2
    if n == 126:
        need(4)
        n, h = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, h = struct.unpack("!Q", buf[2:10])[0], 10
    need(h + n)
    return op, buf[h:h + n], buf[h + n:]


def send_in_pieces(s, data, sizes=(1, 7777, 65537, 3, 200003)):
    off, k = 0, 0
    while off < len(data):
        n = sizes[k % len(sizes)]
        s.sendall(data[off:off + n])
        off += n
        k += 1


def raw_cases(port):
    # fragmented 4 MiB text with pings between the fragments
    s, ok, buf = handshake(port)
    rep.check("raw: handshake", ok, "101", "no 101")
    msg = text_of(4 << 20).encode()
    a, b = 1000000, 3000000
    wire = (T.frame_fast(0x1, msg[:a], fin=False) + T.frame(0x9, b"p1")
            + T.frame_fast(0x0, msg[a:b], fin=False) + T.frame(0x9, b"p2")
            + T.frame_fast(0x0, msg[b:], fin=True))
    try:
        send_in_pieces(s, wire)
        got = []
        for _ in range(3):
            op, p, buf = read_frame(s, buf)
            got.append((op, p))
        rep.check("raw: pongs between fragments come first, in order",
                  got[0] == (0xA, b"p1") and got[1] == (0xA, b"p2"),
                  "PONG p1, PONG p2", str([(o, len(p)) for o, p in got[:2]]))
        rep.check("raw: 4 MiB fragmented text echoed whole",
                  got[2][0] == 0x1 and got[2][1] == msg,
                  f"text of {len(msg)} bytes, equal",
                  f"opcode {got[2][0]} of {len(got[2][1])}")
    except Exception as e:
        rep.fail("raw: fragmented 4 MiB with pings", "pongs and the echo", repr(e))
    s.close()

    # invalid UTF-8 deep inside a 2 MiB text frame
    s, ok, buf = handshake(port)
    bad = bytearray(text_of(2 << 20).encode())
    bad[1500001] = 0xFF
    try:
        send_in_pieces(s, T.frame_fast(0x1, bytes(bad)))
        op, p, buf = read_frame(s, buf)
        code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0
        rep.check("raw: invalid UTF-8 at 1.5 MB of a 2 MiB text -> Close 1007, no echo",
                  op == 0x8 and code == 1007, "Close 1007", f"opcode {op} code {code}")
    except Exception as e:
        rep.fail("raw: invalid UTF-8 in 2 MiB", "Close 1007", repr(e))
    s.close()


def raw_too_big(port):
    s, ok, buf = handshake(port)
    try:
        s.sendall(T.frame_fast(0x2, b"\0" * 70000)[:20000])
        op, p, buf = read_frame(s, buf)
        code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0
        rep.check("raw: 70000-byte frame over --max-message 65536 -> Close 1009",
                  op == 0x8 and code == 1009, "Close 1009", f"opcode {op} code {code}")
    except Exception as e:
        rep.fail("raw: over --max-message", "Close 1009", repr(e))
    s.close()


for args, mode in ((["--no-deflate"], "deflate off"), ([], "deflate on")):
    srv = T.start_server(rep, WSV, args)
    if srv is None:
        continue
    asyncio.run(py_cases(srv, mode))
    if mode == "deflate off":
        raw_cases(srv.port)
    T.stop_server(rep, srv, f"serve {mode}")

srv = T.start_server(rep, WSV, ["--no-deflate", "--max-message", "65536"])
if srv is not None:
    raw_too_big(srv.port)
    T.stop_server(rep, srv, "serve --max-message 65536")
rep.finish()
