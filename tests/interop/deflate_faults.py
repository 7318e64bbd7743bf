#!/usr/bin/python3
"""permessage-deflate on raw sockets against `wsv serve`, plain and TLS.

A raw client offers permessage-deflate, checks what the server sends
(RSV1 on the first frame of a compressed message, its payload inflating
to the message) and sends what a library would refuse to:

  positive: a compressed text and binary message echoed compressed (RSV1,
            smaller, inflates back); a compressed message in 3 fragments
            (RSV1 on the first only); an uncompressed message on a pmd
            connection (allowed); 1 MiB compressible echoed in < 1/20.
  bomb:     a 40 KiB frame inflating to 64 MiB, `--max-message 1M` ->
            close 1009, the server's VmRSS stays bounded, it keeps serving;
            the same spread over 64 continuation frames.
  corrupt:  RSV1 with bytes that are not deflate data -> 1007 (conn.h);
            a compressed text message that inflates to invalid UTF-8 ->
            1007; a stream that ends after a BFINAL block followed by junk.
  RSV:      RSV1 on ping / close / a continuation frame -> 1002; RSV2 or
            RSV3 with pmd agreed -> 1002.
  A bystander (pmd, compressed messages) echoes every 10 ms throughout.

usage: /usr/bin/python3 deflate_faults.py WSV
"""

import os
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402
from wsvtest import frame  # noqa: E402

rep = T.Report("interop deflate faults (raw sockets)")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
SAN = T.is_sanitized(WSV)
PKI = T.make_pki(rep)
if PKI is None:
    rep.finish()
MIB = 1 << 20


def cframe(opcode, data, fin=True, rsv=4):
    """A masked frame whose payload is already compressed bytes."""
    return frame(opcode, data, fin=fin, rsv=rsv)


def bomb(total, chunk=MIB):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = bytearray()
    z = b"\0" * chunk
    for _ in range(total // chunk):
        out += c.compress(z)
    out += c.flush(zlib.Z_SYNC_FLUSH)
    return bytes(out[:-4])


BOMB = bomb(64 * MIB)


def far_reference():
    """Raw deflate data that copies from a preset dictionary the receiver
    does not have: a distance reaching before the start of the stream."""
    zd = os.urandom(200)
    c = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=zd)
    out = c.compress(zd * 3) + c.flush(zlib.Z_SYNC_FLUSH)
    try:
        zlib.decompressobj(-15).decompress(out)
        raise AssertionError("far_reference inflates without the dictionary")
    except zlib.error:
        pass
    return out[:-4]


FAR = far_reference()


class Bystander(threading.Thread):
    """A pmd client sending a compressed message every 10 ms and checking
    the echo; .errors and .count."""

    def __init__(self, port, ssl_ctx):
        super().__init__(daemon=True)
        self.port, self.ssl_ctx = port, ssl_ctx
        self.stop_ev = threading.Event()
        self.errors, self.count = [], 0

    def run(self):
        try:
            s, rd, _ = T.ws_open_ext(self.port, ssl_ctx=self.ssl_ctx)
            inf = T.Inflater()
            i = 0
            while not self.stop_ev.is_set():
                msg = f"bystander {i} ".encode() * 20
                s.sendall(cframe(1, T.deflate_raw(msg)))
                fin, rsv, op, p = T.next_frame_full(rd, 5)
                got = inf.message(p) if rsv & 4 else p
                if got != msg:
                    self.errors.append(f"message {i}: {T.short(got)}")
                    return
                self.count += 1
                i += 1
                time.sleep(0.01)
            s.sendall(frame(8, struct.pack("!H", 1000)))
            s.close()
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))


def expect_close(rd, s, want, timeout=10):
    """Read frames until a close; (code, data frames before it, eof after)."""
    seen = 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            fin, rsv, op, p = T.next_frame_full(rd, max(0.01, deadline - time.monotonic()))
        except (EOFError, TimeoutError, OSError) as e:
            return None, seen, repr(e)
        if op == 8:
            code, _ = T.close_code(p)
            return code, seen, ""
        seen += 1


def run_suite(tls):
    tag = "wss" if tls else "ws"
    args = ["--max-message", "1M", "--quiet"]
    if tls:
        args += ["--cert", PKI["cert"], "--key", PKI["key"]]
    srv = T.start_server(rep, WSV, args, f"deflate faults {tag}")
    if not srv:
        return
    ctx = T.client_ssl(PKI["ca"]) if tls else None

    def open_pmd():
        return T.ws_open_ext(srv.port, ssl_ctx=ctx)

    by = Bystander(srv.port, ctx)
    by.start()

    # ---- positive cases
    try:
        s, rd, hdrs = open_pmd()
        inf = T.Inflater()
        rep.check(f"{tag}: raw offer -> permessage-deflate agreed",
                  T.hdr_list(hdrs, "sec-websocket-extensions")
                  == ["permessage-deflate; client_max_window_bits=13"],
                  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=13 "
                  "(the offer has client_max_window_bits)", hdrs.get("sec-websocket-extensions"))
        for name, op, msg in (("text", 1, "compressé ".encode() * 300), ("binary", 2, bytes(range(256)) * 40)):
            s.sendall(cframe(op, T.deflate_raw(msg)))
            fin, rsv, gop, p = T.next_frame_full(rd)
            got = inf.message(p) if rsv == 4 else None
            rep.check(f"{tag}: compressed {name} echoed compressed (RSV1, smaller, inflates back)",
                      fin and rsv == 4 and gop == op and len(p) < len(msg) and got == msg,
                      f"FIN, RSV1 only, opcode {op}, < {len(msg)} B, same after inflate",
                      f"fin={fin} rsv={rsv} op={gop} len={len(p)} same={got == msg}")
        # fragmented compressed message: RSV1 on the first frame only
        msg = b"fragmented and compressed " * 200
        comp = T.deflate_raw(msg)
        a, b, c = comp[:10], comp[10:20], comp[20:]
        s.sendall(cframe(2, a, fin=False) + frame(0, b, fin=False) + frame(0, c))
        op, p = None, b""
        fin, rsv, op, p = T.next_frame_full(rd)
        full = inf.message(p) if rsv == 4 else p
        rep.check(f"{tag}: compressed message in 3 fragments echoed", op == 2 and full == msg,
                  f"binary {len(msg)} B", f"op={op} rsv={rsv} {len(full)} B")
        # uncompressed message on a pmd connection is allowed
        s.sendall(frame(1, b"plain on pmd"))
        fin, rsv, op, p = T.next_frame_full(rd)
        got = inf.message(p) if rsv == 4 else p
        rep.check(f"{tag}: uncompressed message on a pmd connection echoed", got == b"plain on pmd",
                  "plain on pmd", T.short(got))
        # 1 MiB compressible
        msg = (b"0123456789abcdef" * (MIB // 16))
        s.sendall(cframe(2, T.deflate_raw(msg)))
        fin, rsv, op, p = T.next_frame_full(rd, 10)
        got = inf.message(p) if rsv == 4 else p
        rep.check(f"{tag}: 1 MiB compressible echoed in < 1/20 of its size", got == msg and len(p) < MIB // 20,
                  f"< {MIB // 20} B, inflates to the message", f"{len(p)} B, same={got == msg}")
        s.sendall(frame(8, struct.pack("!H", 1000)))
        code, _, _ = expect_close(rd, s, 1000)
        rep.check(f"{tag}: close 1000 echoed on a pmd connection", code == 1000, 1000, code)
        s.close()
    except Exception as e:  # noqa: BLE001
        rep.fail(f"{tag}: positive pmd cases", "no exception", repr(e))

    # ---- bombs
    rss0 = srv.rss_kib()
    bound = (MIB // 1024) * 16 * (3 if SAN else 1) + 32 * 1024  # KiB above the start
    for name, data in (("one 40 KiB frame inflating to 64 MiB", [cframe(2, BOMB)]),
                       ("64 continuation frames inflating to 64 MiB",
                        [cframe(2, BOMB[:len(BOMB) // 64], fin=False)]
                        + [frame(0, BOMB[i * (len(BOMB) // 64):(i + 1) * (len(BOMB) // 64)], fin=False)
                           for i in range(1, 63)]
                        + [frame(0, BOMB[63 * (len(BOMB) // 64):])])):
        case = f"{tag}: bomb, {name}, --max-message 1M -> 1009"
        try:
            s, rd, _ = open_pmd()
            peak = rss0
            try:
                s.sendall(b"".join(data))
            except OSError:
                pass
            peak = max(peak, srv.rss_kib())
            code, seen, how = expect_close(rd, s, 1009)
            peak = max(peak, srv.rss_kib())
            rep.check(case, code == 1009 and seen == 0, "close 1009, nothing echoed",
                      f"code={code} echoed={seen} {how}")
            rep.check(f"{tag}: bomb ({name}): server VmRSS bounded", peak - rss0 < bound,
                      f"< {bound} KiB above the {rss0} KiB before", f"{peak - rss0} KiB above")
            s.close()
        except Exception as e:  # noqa: BLE001
            rep.fail(case, "close 1009", repr(e))

    # ---- corrupt data and RSV misuse
    bad_utf8 = T.deflate_raw(b"ok \xc0\xaf not ok")
    cases = [
        ("RSV1 with bytes that are not deflate data (block type 3)", cframe(1, b"\xff\xff\xff\xff\xff"), 1007),
        ("RSV1 with a stored block whose LEN/NLEN disagree", cframe(2, b"\x00\x05\x00\x00\x00hello"), 1007),
        ("RSV1 with a back-reference before the start of the stream", cframe(2, FAR), 1007),
        ("compressed text inflating to invalid UTF-8", cframe(1, bad_utf8), 1007),
        ("RSV1 on a ping", frame(9, b"p", rsv=4), 1002),
        ("RSV1 on a close", frame(8, struct.pack("!H", 1000), rsv=4), 1002),
        ("RSV1 on a continuation frame", frame(1, b"a", fin=False) + frame(0, b"b", rsv=4), 1002),
        ("RSV2 with pmd agreed", frame(1, b"x", rsv=2), 1002),
        ("RSV3 with pmd agreed", frame(1, b"x", rsv=1), 1002),
    ]
    for name, data, want in cases:
        case = f"{tag}: {name} -> {want}"
        try:
            s, rd, _ = open_pmd()
            s.sendall(data)
            code, seen, how = expect_close(rd, s, want)
            rep.check(case, code == want and seen == 0, f"close {want}, nothing echoed",
                      f"code={code} echoed={seen} {how}")
            s.close()
        except Exception as e:  # noqa: BLE001
            rep.fail(case, f"close {want}", repr(e))

    # still serving after all that
    try:
        s, rd, _ = open_pmd()
        s.sendall(cframe(1, T.deflate_raw(b"after")))
        fin, rsv, op, p = T.next_frame_full(rd)
        rep.check(f"{tag}: server still echoes afterwards", (T.inflate_raw(p) if rsv == 4 else p) == b"after",
                  "after", T.short(p))
        s.close()
    except Exception as e:  # noqa: BLE001
        rep.fail(f"{tag}: server still echoes afterwards", "after", repr(e))
    n0, deadline = by.count, time.monotonic() + 3
    while by.count < n0 + 3 and not by.errors and time.monotonic() < deadline:
        time.sleep(0.01)
    by.stop_ev.set()
    by.join(10)
    rep.check(f"{tag}: the bystander echoed throughout (and 3 more after the faults)",
              not by.errors and by.count >= n0 + 3 and by.count >= 4,
              "no error, >= 3 echoes after the faults", f"{by.count} echoes ({n0} before), errors {by.errors[:2]}")
    T.stop_server(rep, srv, f"deflate faults {tag}")


run_suite(False)
run_suite(True)
rep.finish()
