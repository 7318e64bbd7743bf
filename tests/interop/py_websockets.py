#!/usr/bin/python3
"""Python websockets (Debian python3-websockets 10.4) against the wsv command.

  client role: websockets.connect() against `wsv serve` (echo): text and
               binary 0 B .. 1 MiB, ping/pong, close codes both ways (the
               client's code echoed; SIGTERM -> 1001 to every client), 50
               concurrent clients, permessage-deflate offered and agreed (declined
               under --no-deflate / --deflate off).
  server role: websockets.serve() driving `wsv connect`: stdin lines ->
               text messages, --binary, received messages on stdout, --echo
               (every type echoed unchanged), close handling, exit codes.

usage: /usr/bin/python3 py_websockets.py WSV
"""

import asyncio
import http
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

rep = T.Report("interop python websockets")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
if not T.require_peers(rep, python_websockets=True):
    rep.finish()
import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20]


async def within(coro, t):
    return await asyncio.wait_for(coro, t)


# ============================================================ client role


async def client_cases(srv):
    url = srv.url
    # -- handshake: deflate offered by default, must not be agreed
    try:
        ws = await within(websockets.connect(url, max_size=None, open_timeout=5), 6)
    except Exception as e:
        rep.fail("py client: connect to wsv serve", "101 Switching Protocols", repr(e))
        return
    ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
    rep.check("py client: permessage-deflate offered and agreed (serve's default)",
              ext == ["permessage-deflate; client_max_window_bits=13"]
              and [e.name for e in ws.extensions] == ["permessage-deflate"]
              and ws.extensions[0].local_max_window_bits == 13,
              "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=13 in the 101 "
              "(the offer had client_max_window_bits; --deflate on holds the client to 13 bits), "
              "ws.extensions [PerMessageDeflate] compressing with 13 bits",
              f"{ext} extensions={ws.extensions}")
    rep.check("py client: 101 carries no Sec-WebSocket-Version",
              ws.response_headers.get_all("Sec-WebSocket-Version") == [],
              "no Sec-WebSocket-Version header", ws.response_headers.get_all("Sec-WebSocket-Version"))
    # -- echo text and binary, every size
    for kind in ("text", "binary"):
        for n in SIZES:
            if kind == "text":
                msg = ("aé€😀" * (n // 10 + 1)).encode()[:n].decode("utf-8", "ignore")
            else:
                msg = os.urandom(n)
            case = f"py client: echo {kind} {n} B"
            try:
                await within(ws.send(msg), 10)
                got = await within(ws.recv(), 10)
                rep.check(case, got == msg and type(got) is type(msg),
                          f"{type(msg).__name__} of {len(msg)}", f"{type(got).__name__} of {len(got)}"
                          + ("" if got == msg else " (content differs)"))
            except Exception as e:
                rep.fail(case, "the same message back", repr(e))
                return
    # -- a burst of small messages, order kept
    try:
        for i in range(500):
            await ws.send(f"m{i}")
        got = [await within(ws.recv(), 10) for _ in range(500)]
        rep.check("py client: 500 small messages in order", got == [f"m{i}" for i in range(500)],
                  "m0..m499 in order", f"{got[:3]}..{got[-3:]}")
    except Exception as e:
        rep.fail("py client: 500 small messages in order", "m0..m499", repr(e))
    # -- ping/pong
    for payload in (b"", b"ping-data", bytes(range(125))):
        case = f"py client: ping {len(payload)} B answered with pong"
        try:
            waiter = await ws.ping(payload)
            await within(waiter, 5)
            rep.check(case, True)
        except Exception as e:
            rep.fail(case, "a pong with the same payload within 5 s", repr(e))
    # -- unsolicited pong is ignored, connection stays usable
    try:
        await ws.pong(b"unsolicited")
        await ws.send("after-pong")
        got = await within(ws.recv(), 5)
        rep.check("py client: unsolicited pong ignored", got == "after-pong", "after-pong", repr(got))
    except Exception as e:
        rep.fail("py client: unsolicited pong ignored", "after-pong", repr(e))
    # -- client closes with 1000
    try:
        await within(ws.close(1000, "bye"), 6)
        rep.check("py client: close 1000 echoed", ws.close_code == 1000,
                  "server's close code 1000", f"{ws.close_code} {ws.close_reason!r}")
    except Exception as e:
        rep.fail("py client: close 1000 echoed", "1000", repr(e))

    # -- other close codes from the client, echoed by the server
    for code in (1001, 3000, 4000, 4999):
        case = f"py client: close {code} echoed"
        try:
            ws = await within(websockets.connect(url, open_timeout=5), 6)
            await ws.send("x")
            await within(ws.recv(), 5)
            await within(ws.close(code, "r" * 20), 6)
            rep.check(case, ws.close_code == code, f"server's close code {code}",
                      f"{ws.close_code} {ws.close_reason!r}")
        except Exception as e:
            rep.fail(case, f"server's close code {code}", repr(e))

    # -- too big: 17 MiB message -> 1009 (README: 16 MiB limit)
    case = "py client: 17 MiB message -> close 1009"
    try:
        ws = await within(websockets.connect(url, max_size=None, open_timeout=5), 6)
        try:
            await within(ws.send(b"\0" * (17 << 20)), 20)
            await within(ws.recv(), 10)
            rep.fail(case, "close 1009", "an echo of the message")
        except ConnectionClosed:
            rep.check(case, ws.close_code == 1009, "close code 1009", f"{ws.close_code} {ws.close_reason!r}")
        await ws.close()
    except Exception as e:
        rep.fail(case, "close 1009", repr(e))

    # -- 50 concurrent clients, 20 messages each
    async def one(i):
        c = await websockets.connect(url, open_timeout=10)
        try:
            for j in range(20):
                m = f"client{i}-msg{j}" * (j + 1)
                await c.send(m)
                g = await within(c.recv(), 10)
                if g != m:
                    return f"client {i} msg {j}: got {g[:40]!r}"
            if i % 2:
                await c.send(os.urandom(100000))
                await within(c.recv(), 10)
        finally:
            await c.close()
        return None
    t0 = time.monotonic()
    res = await asyncio.gather(*(one(i) for i in range(50)), return_exceptions=True)
    bad = [r for r in res if r is not None]
    rep.check("py client: 50 concurrent clients x 20 echoes", not bad, "all echoed",
              f"{len(bad)} failed, first: {bad[:1]!r}")
    print(f"     (50 clients in {time.monotonic() - t0:.2f} s)")


async def no_deflate_case():
    """serve --no-deflate: the client's offer is declined, echo still works."""
    for args in (["--no-deflate"], ["--deflate", "off"]):
        srv = T.start_server(rep, WSV, args, f"py client: serve {' '.join(args)}")
        if not srv:
            continue
        case = f"py client: serve {' '.join(args)}: permessage-deflate offered, not agreed"
        try:
            async with websockets.connect(srv.url, open_timeout=5) as ws:
                ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
                rep.check(case, ext == [] and ws.extensions == [], "no Sec-WebSocket-Extensions in the 101",
                          f"{ext} extensions={ws.extensions}")
                await ws.send("plain")
                got = await within(ws.recv(), 5)
                rep.check(f"py client: serve {' '.join(args)}: echo", got == "plain", "plain", repr(got))
        except Exception as e:
            rep.fail(case, "101 without extensions", repr(e))
        T.stop_server(rep, srv, f"py client: serve {' '.join(args)}")


async def signal_case(sig):
    """Every client gets close 1001 on SIGTERM/SIGINT, and the server exits 0."""
    name = signal.Signals(sig).name
    srv = T.start_server(rep, WSV, [], f"py client: wsv serve for {name}")
    if not srv:
        return
    clients = []
    try:
        for _ in range(5):
            c = await within(websockets.connect(srv.url, open_timeout=5), 6)
            await c.send("hi")
            await within(c.recv(), 5)
            clients.append(c)
        srv.p.send_signal(sig)
        codes = []
        for c in clients:
            try:
                await within(c.wait_closed(), 6)
            except asyncio.TimeoutError:
                pass
            codes.append(c.close_code)
        rep.check(f"py client: {name} -> every client gets close 1001", codes == [1001] * 5,
                  "[1001]*5", codes)
    except Exception as e:
        rep.fail(f"py client: {name} -> every client gets close 1001", "[1001]*5", repr(e))
    rc = srv.wait(6)
    rep.check(f"py client: {name} with 5 clients -> exit 0", rc == 0, "exit 0 within 6 s",
              f"exit={rc} {srv.text()}")
    srv.stop()


async def threads_chat_case():
    """--chat --threads 2: a message reaches every connection on its path
    whatever thread holds it (the sender included), none on another path."""
    srv = T.start_server(rep, WSV, ["--chat", "--threads", "2"], "py client: chat over 2 threads")
    if not srv:
        return
    try:
        room = [await within(websockets.connect(srv.url + "room", open_timeout=5), 6) for _ in range(10)]
        other = await within(websockets.connect(srv.url + "other", open_timeout=5), 6)
        await asyncio.sleep(0.2)
        for i, c in enumerate(room):
            await c.send(f"from {i}")
        want = sorted(f"from {i}" for i in range(10))
        bad = []
        for i, c in enumerate(room):
            got = sorted([await within(c.recv(), 5) for _ in range(10)])
            if got != want:
                bad.append((i, got[:3]))
        rep.check("py client: --chat --threads 2: 10 clients each get all 10 messages", not bad,
                  "every client gets from 0..from 9", bad[:2])
        try:
            m = await within(other.recv(), 0.5)
            rep.fail("py client: --chat: another path gets nothing", "nothing", repr(m))
        except asyncio.TimeoutError:
            rep.check("py client: --chat: another path gets nothing", True)
        for c in room + [other]:
            await c.close()
        # 50 concurrent echo clients over two threads
    except Exception as e:
        rep.fail("py client: --chat --threads 2", "no exception", repr(e))
    T.stop_server(rep, srv, "py client: chat over 2 threads")

    srv = T.start_server(rep, WSV, ["--threads", "2"], "py client: echo over 2 threads")
    if not srv:
        return

    async def one(i):
        async with websockets.connect(srv.url, open_timeout=10) as c:
            for j in range(10):
                await c.send(f"{i}/{j}")
                if await within(c.recv(), 10) != f"{i}/{j}":
                    return f"client {i} message {j}"
        return None
    res = await asyncio.gather(*(one(i) for i in range(50)), return_exceptions=True)
    bad = [r for r in res if r is not None]
    rep.check("py client: --threads 2: 50 concurrent clients echo", not bad, "all echoed", bad[:2])
    T.stop_server(rep, srv, "py client: echo over 2 threads")


async def exec_case():
    """--exec: one process per connection, a line per message both ways;
    the program's exit closes the connection with 1000."""
    srv = T.start_server(rep, WSV, ["--exec", "echo pid $$; exec sed -u 's/^/got: /'"], "py client: --exec sed")
    if srv:
        try:
            a = await within(websockets.connect(srv.url, open_timeout=5), 6)
            b = await within(websockets.connect(srv.url, open_timeout=5), 6)
            pa, pb = await within(a.recv(), 5), await within(b.recv(), 5)
            rep.check("py client: --exec runs one process per connection",
                      pa.startswith("pid ") and pb.startswith("pid ") and pa != pb,
                      "two different 'pid N' lines", f"{pa!r} {pb!r}")
            await a.send("hello")
            await a.send("ünï")
            got = [await within(a.recv(), 5), await within(a.recv(), 5)]
            rep.check("py client: --exec message -> line -> message", got == ["got: hello", "got: ünï"],
                      "['got: hello', 'got: ünï']", got)
            await b.send("from b")
            got = await within(b.recv(), 5)
            rep.check("py client: --exec connections are separate", got == "got: from b", "got: from b", got)
            await a.close()
            await b.close()
        except Exception as e:
            rep.fail("py client: --exec sed", "no exception", repr(e))
        T.stop_server(rep, srv, "py client: --exec sed")
    srv = T.start_server(rep, WSV, ["--exec", "head -n 2"], "py client: --exec head")
    if srv:
        try:
            c = await within(websockets.connect(srv.url, open_timeout=5), 6)
            await c.send("one")
            await c.send("two")
            got = []
            try:
                while True:
                    got.append(await within(c.recv(), 5))
            except ConnectionClosed:
                pass
            rep.check("py client: --exec program exits -> its output, then close 1000",
                      got == ["one", "two"] and c.close_code == 1000,
                      "['one', 'two'] then close 1000", f"{got} close {c.close_code}")
        except Exception as e:
            rep.fail("py client: --exec head", "no exception", repr(e))
        T.stop_server(rep, srv, "py client: --exec head")


async def ipv6_case():
    if not socket.has_ipv6:
        return
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        print("     (no ::1 on this machine: IPv6 case not run)")
        return
    srv = T.start_server(rep, WSV, [], "py client: IPv6 ::1", host="::1")
    if not srv:
        return
    try:
        async with websockets.connect(srv.url, open_timeout=5) as c:
            await c.send("over ipv6")
            got = await within(c.recv(), 5)
        rep.check("py client: wsv serve --host ::1 echoes", got == "over ipv6", "over ipv6", got)
        p = start_connect([], srv.url)
        p.write(b"v6 line\n")
        await wait_out(p, lambda o, e: b"\n" in o, 5)
        p.close_stdin()
        rc = await wait_exit(p, 8)
        rep.check("connect ws://[::1]:port/ works", rc == 0 and bytes(p.out) == b"v6 line\n",
                  "exit 0, echo", f"exit={rc} {p.text()}")
    except Exception as e:
        rep.fail("py client: IPv6", "no exception", repr(e))
    T.stop_server(rep, srv, "py client: IPv6 ::1")


# ============================================================ server role


class PyServer:
    """websockets.serve on 127.0.0.1:0 with a per-test handler."""

    def __init__(self, handler, **kw):
        self.handler = handler
        self.kw = kw

    async def __aenter__(self):
        self.srv = await websockets.serve(self.handler, "127.0.0.1", 0, max_size=None, **self.kw)
        self.port = self.srv.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        return self

    async def __aexit__(self, *a):
        self.srv.close()
        await asyncio.wait_for(self.srv.wait_closed(), 5)


def start_connect(args, url):
    return T.Proc([WSV, "connect", *args, url], stdin=subprocess.PIPE, env=T.child_env())


async def wait_out(p, pred, t):
    return await asyncio.get_running_loop().run_in_executor(None, p.wait_output, pred, t)


async def wait_exit(p, t):
    return await asyncio.get_running_loop().run_in_executor(None, p.wait, t)


async def server_cases():
    # -- lines in -> text messages; messages out -> lines; EOF -> close 1000
    got_msgs, got_close = [], []
    extensions_offered = []

    async def h_lines(ws, path):
        extensions_offered.append(ws.request_headers.get_all("Sec-WebSocket-Extensions"))
        try:
            async for m in ws:
                got_msgs.append(m)
                await ws.send(f"re:{m}" if isinstance(m, str) else b"re:" + m)
        except ConnectionClosed:
            pass
        got_close.append((ws.close_code, ws.close_reason))

    async with PyServer(h_lines) as s:
        p = start_connect([], s.url)
        lines = ["hello", "", "ünïcødé €", "x" * 5000, "last"]
        for ln in lines:
            p.write(ln.encode() + b"\n")
        want = "".join(f"re:{ln}\n" for ln in lines).encode()
        out = await wait_out(p, lambda o, e: o.count(b"\n") >= len(lines) and o, 10)
        rep.check("py server: connect stdin lines -> text messages", got_msgs == lines,
                  repr(lines)[:120], repr(got_msgs)[:200])
        rep.check("py server: connect prints received messages one per line", out == want,
                  T.short(want), T.short(out or b"") + " " + p.text())
        p.close_stdin()
        rc = await wait_exit(p, 8)
        await asyncio.sleep(0.2)
        rep.check("py server: connect stdin EOF -> close 1000", got_close[:1] == [(1000, got_close[0][1] if got_close else "")] and bool(got_close),
                  "server sees close code 1000", f"{got_close} {p.text()}")
        rep.check("py server: connect exits 0 after normal close", rc == 0, "exit 0",
                  f"exit={rc} {p.text()}")
        rep.check("py server: connect offers permessage-deflate by default",
                  extensions_offered[:1] == [["permessage-deflate; client_max_window_bits"]],
                  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits", extensions_offered)

    # -- --no-deflate: nothing offered
    got_msgs.clear()
    got_close.clear()
    extensions_offered.clear()
    async with PyServer(h_lines) as s:
        p = start_connect(["--no-deflate"], s.url)
        p.write(b"nd\n")
        await wait_out(p, lambda o, e: b"\n" in o, 10)
        p.close_stdin()
        rc = await wait_exit(p, 8)
        rep.check("py server: connect --no-deflate offers no extension, echo works",
                  extensions_offered[:1] == [[]] and rc == 0 and bytes(p.out) == b"re:nd\n",
                  "no Sec-WebSocket-Extensions, 're:nd', exit 0", f"{extensions_offered} exit={rc} {p.text()}")

    # -- --binary: lines become binary messages
    got_msgs.clear()
    got_close.clear()
    async with PyServer(h_lines) as s:
        p = start_connect(["--binary"], s.url)
        p.write(b"bin1\nbin2\n")
        await wait_out(p, lambda o, e: o.count(b"\n") >= 2, 10)
        p.close_stdin()
        rc = await wait_exit(p, 8)
        rep.check("py server: connect --binary sends binary messages", got_msgs == [b"bin1", b"bin2"],
                  "[b'bin1', b'bin2']", f"{got_msgs} {p.text()}")
        rep.check("py server: connect --binary exit 0", rc == 0, "exit 0", f"exit={rc} {p.text()}")

    # -- stdin EOF right away, server keeps sending until its close: all printed
    async def h_push(ws, path):
        try:
            await ws.recv()  # the client's close arrives here at once...
        except ConnectionClosed:
            pass
    # (the client closes first; the server can only answer.  The other order:)
    async def h_server_closes(ws, path):
        for i in range(3):
            await ws.send(f"push{i}")
        await ws.close(1000, "done")

    async with PyServer(h_server_closes) as s:
        p = start_connect([], s.url)  # stdin kept open
        rc = await wait_exit(p, 8)
        rep.check("py server: server sends 3 then close 1000 -> 3 lines, exit 0",
                  rc == 0 and bytes(p.out) == b"push0\npush1\npush2\n",
                  "stdout push0..push2, exit 0", f"exit={rc} {p.text()}")
        p.close_stdin()

    # -- server drops TCP without a close frame -> non-zero, one line on stderr
    async def h_abort(ws, path):
        await ws.send("before-abort")
        ws.transport.abort()

    async with PyServer(h_abort) as s:
        p = start_connect([], s.url)
        rc = await wait_exit(p, 8)
        err = bytes(p.err).strip()
        rep.check("py server: TCP dropped without close -> non-zero exit, one-line reason",
                  rc not in (0, None) and err != b"" and b"\n" not in err.strip(),
                  "exit != 0 and exactly one stderr line", f"exit={rc} {p.text()}")
        p.close_stdin()

    # -- server refuses the handshake (403) -> non-zero, one line
    async def pr_403(path, headers):
        return (http.HTTPStatus.FORBIDDEN, [], b"forbidden\n")

    async with PyServer(h_lines, process_request=pr_403) as s:
        p = start_connect([], s.url)
        rc = await wait_exit(p, 8)
        err = bytes(p.err).strip()
        rep.check("py server: 403 answer -> non-zero exit, one-line reason",
                  rc not in (0, None) and err != b"" and b"\n" not in err and b"403" in err,
                  "exit != 0 and one stderr line naming 403", f"exit={rc} {p.text()}")
        p.close_stdin()

    # -- connection refused -> non-zero, one line
    ls = T.free_port_listener()
    port = ls.getsockname()[1]
    ls.close()
    p = start_connect([], f"ws://127.0.0.1:{port}/")
    rc = await wait_exit(p, 8)
    err = bytes(p.err).strip()
    rep.check("py server: connection refused -> non-zero exit, one-line reason",
              rc not in (0, None) and err != b"" and b"\n" not in err,
              "exit != 0, one stderr line", f"exit={rc} {p.text()}")
    p.close_stdin()

    # -- --echo: the python server sends every kind, wsv echoes each unchanged
    samples = ["text-1", "", "ünïcødé", b"\x00\x01\xff", b"", os.urandom(70000), "t" * 200000,
               os.urandom(1 << 20)]
    echo_result = {}

    async def h_echo(ws, path):
        try:
            got = []
            for m in samples:
                await ws.send(m)
                got.append(await asyncio.wait_for(ws.recv(), 10))
            echo_result["got"] = got
            w = await ws.ping(b"are-you-there")
            await asyncio.wait_for(w, 5)
            echo_result["pong"] = True
            await ws.close(1000, "enough")
        except Exception as e:
            echo_result["err"] = repr(e)

    async with PyServer(h_echo) as s:
        p = start_connect(["--echo"], s.url)
        rc = await wait_exit(p, 15)
        got = echo_result.get("got", [])
        mism = [i for i, (a, b) in enumerate(zip(samples, got)) if a != b or type(a) is not type(b)]
        rep.check("py server: connect --echo returns every message with its type",
                  len(got) == len(samples) and not mism,
                  f"{len(samples)} messages back unchanged",
                  f"{len(got)} back, mismatches at {mism} {echo_result.get('err', '')} {p.text()}")
        rep.check("py server: connect --echo answers ping", echo_result.get("pong") is True,
                  "pong", echo_result.get("err", "no pong"))
        rep.check("py server: connect --echo exits 0 on server close 1000", rc == 0, "exit 0",
                  f"exit={rc} {p.text()}")
        p.close_stdin()


async def connect_signal_case():
    got_close = []

    async def h(ws, path):
        try:
            async for m in ws:
                await ws.send(m)
        except ConnectionClosed:
            pass
        got_close.append(ws.close_code)

    async with PyServer(h) as s:
        p = start_connect([], s.url)
        p.write(b"x\n")
        await wait_out(p, lambda o, e: b"x\n" in o, 5)
        p.p.send_signal(signal.SIGINT)
        rc = await wait_exit(p, 8)
        await asyncio.sleep(0.2)
        rep.check("py server: SIGINT to connect -> close 1001, exit 130",
                  got_close == [1001] and rc == 130, "server sees 1001; exit 130 (128+SIGINT)",
                  f"close {got_close} exit={rc} {p.text()}")
        p.close_stdin()


async def main():
    srv = T.start_server(rep, WSV, [])
    if srv:
        try:
            await within(client_cases(srv), 120)
        except Exception as e:
            rep.fail("py client: cases", "no exception", repr(e))
        rep.check("py client: wsv serve still running after the client cases", srv.alive(),
                  "running", srv.text())
        T.stop_server(rep, srv, "py client")
    await no_deflate_case()
    for sig in (signal.SIGTERM, signal.SIGINT):
        await signal_case(sig)
    await threads_chat_case()
    await exec_case()
    await ipv6_case()
    try:
        await within(server_cases(), 120)
        await within(connect_signal_case(), 20)
    except Exception as e:
        rep.fail("py server: cases", "no exception", repr(e))


asyncio.run(main())
rep.finish()
