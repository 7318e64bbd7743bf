#!/usr/bin/python3
"""permessage-deflate (RFC 7692) x TLS with Python websockets 10.4, both ways.

A CA and a server certificate for localhost / 127.0.0.1 are made with the
openssl command in a temporary directory at run time (wsvtest.make_pki).

  client role: websockets.connect() (compression on: its default) against
               `wsv serve --deflate on|lean|off`, over ws:// and wss://
               (ssl context trusting the test CA).  Agreed
               Sec-WebSocket-Extensions, echo of text/binary (1 MiB
               compressible text, 256 KiB random binary, a fragmented
               message), close codes; the bytes on the wire (a counting
               relay between the two) show that the server compressed, and
               that `on` keeps its context between messages while `lean`
               does not.
  server role: websockets.serve() (compression on, or its parameters set:
               no context takeover and 10-bit windows, or off), over ws://
               and wss:// (ssl=), driving `wsv connect --echo` (default or
               --no-deflate, --cacert CA): messages of every kind echoed,
               the agreement seen by both sides, wsv's compression seen on
               the wire, close 1000 -> exit 0.
  TLS failures: `wsv connect` without --cacert (unknown CA), to a host name
               the certificate does not carry, --insecure.

usage: /usr/bin/python3 py_deflate_tls.py WSV
"""

import asyncio
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

rep = T.Report("interop deflate x TLS (python websockets)")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
if not T.require_peers(rep, python_websockets=True):
    rep.finish()
import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory  # noqa: E402

PKI = T.make_pki(rep)
if PKI is None:
    rep.finish()

MIB = 1 << 20
COMPRESSIBLE = ("The quick brown fox jumps over the lazy dog. " * (MIB // 45 + 1))[:MIB]
RANDOM_256K = os.urandom(256 << 10)
RANDOM_16K = os.urandom(16 << 10)
RANDOM_1500 = os.urandom(1500)  # fits the 11-bit window of --deflate on
RANDOM_2K = os.urandom(2 << 10)  # fits the 4 KiB window websockets' server asks for

LEAN_EXT = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


async def within(coro, t):
    return await asyncio.wait_for(coro, t)


async def settle(proxy, t=0.05):
    """Counts once the relay has moved everything in flight."""
    await asyncio.sleep(t)
    return proxy.counts()


async def echo_twice(ws, proxy, msg):
    """Send msg and read its echo, twice: [(server->client bytes, echo == msg)] * 2."""
    out = []
    for _ in range(2):
        _, d0 = await settle(proxy, 0)
        await within(ws.send(msg), 10)
        got = await within(ws.recv(), 10)
        _, d1 = await settle(proxy)
        out.append((d1 - d0, got == msg))
    return out


# ============================================================ client role


async def client_matrix(mode, tls):
    args = [] if mode == "on" else ["--deflate", mode]
    if tls:
        args += ["--cert", PKI["cert"], "--key", PKI["key"]]
    tag = f"py client x serve --deflate {mode} {'wss' if tls else 'ws'}"
    srv = T.start_server(rep, WSV, args, tag)
    if not srv:
        return
    proxy = T.CountingProxy(srv.port)
    scheme = "wss" if tls else "ws"
    url = f"{scheme}://localhost:{proxy.port}/"
    ssl_ctx = T.client_ssl(PKI["ca"]) if tls else None
    try:
        # to 127.0.0.1 whatever localhost resolves to; Host, SNI and the
        # certificate check still say localhost
        ws = await within(websockets.connect(url, host="127.0.0.1", ssl=ssl_ctx, max_size=None, open_timeout=5,
                                             **({"server_hostname": "localhost"} if tls else {})), 6)
    except Exception as e:
        rep.fail(f"{tag}: open", "101", repr(e))
        proxy.close()
        T.stop_server(rep, srv, tag)
        return
    try:
        ext = ws.response_headers.get_all("Sec-WebSocket-Extensions")
        # on: websockets offers client_max_window_bits, so the client is
        # held to 13 bits; max answers the offer as it is
        want = {"on": ["permessage-deflate; client_max_window_bits=13"],
                "max": ["permessage-deflate"], "lean": [LEAN_EXT], "off": []}[mode]
        rep.check(f"{tag}: agreed Sec-WebSocket-Extensions", ext == want, want, ext)
        if mode != "off":
            e = ws.extensions[0] if ws.extensions else None
            rep.check(f"{tag}: ws.extensions is permessage-deflate, context takeover "
                      f"{'off' if mode == 'lean' else 'on'} both ways",
                      e is not None and e.name == "permessage-deflate"
                      and e.remote_no_context_takeover == (mode == "lean")
                      and e.local_no_context_takeover == (mode == "lean"),
                      "PerMessageDeflate", repr(ws.extensions))
        else:
            rep.check(f"{tag}: ws.extensions empty", ws.extensions == [], "[]", repr(ws.extensions))
        if tls:
            sslobj = ws.transport.get_extra_info("ssl_object")
            rep.check(f"{tag}: TLS with the test CA's certificate for localhost",
                      sslobj is not None and sslobj.version() in ("TLSv1.2", "TLSv1.3"),
                      "TLSv1.2 or TLSv1.3", sslobj.version() if sslobj else None)
        # echo every kind, counting the server's bytes for the big ones
        samples = [("text 0 B", ""), ("text 125 B", "é" * 62 + "x"), ("binary 70 KB", os.urandom(70000)),
                   ("text 1 MiB compressible", COMPRESSIBLE), ("binary 256 KiB random", RANDOM_256K)]
        for name, msg in samples:
            case = f"{tag}: echo {name}"
            _, d0 = await settle(proxy, 0)
            await within(ws.send(msg), 10)
            got = await within(ws.recv(), 10)
            _, d1 = await settle(proxy)
            down = d1 - d0
            rep.check(case, got == msg and type(got) is type(msg), f"{type(msg).__name__} of {len(msg)}",
                      f"{type(got).__name__} of {len(got)}" + ("" if got == msg else " (differs)"))
            if name == "text 1 MiB compressible":
                if mode == "off":
                    rep.check(f"{tag}: 1 MiB echo sent uncompressed (wire >= 1 MiB)", down >= MIB,
                              ">= 1048576 B server -> client", down)
                else:
                    rep.check(f"{tag}: 1 MiB compressible echo compressed on the wire", down < MIB // 20,
                              f"< {MIB // 20} B server -> client", down)
            if name == "binary 256 KiB random":
                rep.check(f"{tag}: 256 KiB random echo not inflated by much (wire <= 1.01 x)",
                          down <= len(msg) * 1.01 + 256, f"<= {int(len(msg) * 1.01) + 256} B", down)
        # fragmented message (websockets sends an iterable as fragments)
        parts = ["frag-" * 300, "ment-" * 300, "ed"]
        await within(ws.send(iter(parts)), 10)
        got = await within(ws.recv(), 10)
        rep.check(f"{tag}: fragmented text (3 frames) echoed as one message", got == "".join(parts),
                  f"{len(''.join(parts))} chars", f"{len(got)} chars")
        bparts = [os.urandom(1000), b"\0" * 50000, b"tail"]
        await within(ws.send(iter(bparts)), 10)
        got = await within(ws.recv(), 10)
        rep.check(f"{tag}: fragmented binary (3 frames) echoed as one message", got == b"".join(bparts),
                  f"{len(b''.join(bparts))} B", f"{len(got)} B")
        # context takeover: the same 16 KiB random message twice; with the
        # context kept the second echo is a back-reference of a few bytes
        pair16 = await echo_twice(ws, proxy, RANDOM_16K)
        sizes = [n for n, _ in pair16]
        rep.check(f"{tag}: 16 KiB random echoed twice, byte for byte", all(ok for _, ok in pair16),
                  "both equal to what was sent", pair16)
        if mode == "max":
            rep.check(f"{tag}: context takeover: 2nd identical 16 KiB random echo tiny on the wire",
                      sizes[1] < 1024 and sizes[0] > 16000, "1st > 16000 B, 2nd < 1024 B", sizes)
        elif mode == "on":
            # a 16 KiB message goes through the shared 15-bit compressor,
            # primed with the 2 KiB the conn's 11-bit deflater holds: only
            # the first one's last 2 KiB can be referred to
            rep.check(f"{tag}: context takeover (11-bit history): 2nd identical 16 KiB random echo "
                      f"about 2 KiB smaller",
                      sizes[0] > 16000 and sizes[0] - 2300 < sizes[1] < sizes[0] - 1800,
                      "1st > 16000 B, 2nd 1.8-2.3 KiB less", sizes)
            pair = await echo_twice(ws, proxy, RANDOM_1500)
            small = [n for n, _ in pair]
            rep.check(f"{tag}: context takeover: 2nd identical 1500 B random echo tiny on the wire",
                      small[0] > 1500 and small[1] < 100 and pair[1][1],
                      "1st > 1500 B, 2nd < 100 B", small)
        else:
            rep.check(f"{tag}: no context takeover: 2nd identical 16 KiB random echo as big as the 1st",
                      sizes[1] > 16000, "both > 16000 B", sizes)
        if mode in ("on", "max") and not tls:
            # Quiet past park_after_ms (2 s): at 'on' the server gives back
            # its compressor (wsv_conn_trim), so its next echo of the same
            # 1500 B refers to nothing (full size) and the one after is
            # tiny again; at 'max' it keeps its history.  websockets keeps
            # its inflater's context throughout and must read every echo.
            await asyncio.sleep(2.6)
            again = RANDOM_1500 if mode == "on" else RANDOM_16K  # the last one sent
            after = await echo_twice(ws, proxy, again)
            if mode == "on":
                rep.check(f"{tag}: after 2.6 s quiet the compressor was given back: echo full size, "
                          f"then tiny again, both read right",
                          after[0][0] > 1500 and after[1][0] < 100 and after[0][1] and after[1][1],
                          "1st > 1500 B, 2nd < 100 B, both equal to what was sent", after)
            else:
                rep.check(f"{tag}: after 2.6 s quiet the history is kept: 16 KiB echo tiny, read right",
                          after[0][0] < 1024 and after[0][1] and after[1][1],
                          "< 1024 B, equal to what was sent", after)
        await within(ws.close(1000, "bye"), 6)
        rep.check(f"{tag}: close 1000 echoed", ws.close_code == 1000, 1000, ws.close_code)
        for code in (1001, 4000):
            c = await within(websockets.connect(url, ssl=ssl_ctx, open_timeout=5), 6)
            await c.send("x" * 1000)
            await within(c.recv(), 5)
            await within(c.close(code, "r"), 6)
            rep.check(f"{tag}: close {code} echoed", c.close_code == code, code, c.close_code)
    except Exception as e:
        rep.fail(f"{tag}: cases", "no exception", repr(e))
    proxy.close()
    rep.check(f"{tag}: serve still running", srv.alive(), "running", srv.text())
    T.stop_server(rep, srv, tag)


# ============================================================ server role


def start_connect(args, url):
    return T.Proc([WSV, "connect", *args, url], stdin=subprocess.PIPE, env=T.child_env())


async def wait_exit(p, t):
    return await asyncio.get_running_loop().run_in_executor(None, p.wait, t)


SERVER_VARIANTS = {
    # name: (serve kwargs, agreed by a wsv offer, what wsv -v should list)
    "compression on": (dict(), True),
    "no context takeover, 10-bit windows": (dict(compression=None, extensions=[ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        server_max_window_bits=10, client_max_window_bits=10)]), True),
    "compression off": (dict(compression=None), False),
}


async def server_matrix(variant, wsv_deflate, tls):
    kw, py_agrees = SERVER_VARIANTS[variant]
    scheme = "wss" if tls else "ws"
    tag = f"py server ({variant}) x connect{'' if wsv_deflate else ' --no-deflate'} {scheme}"
    result = {}
    samples = ["text-1", "", "ünïcødé", b"\x00\x01\xff", COMPRESSIBLE, RANDOM_256K, RANDOM_2K, RANDOM_2K,
               iter(["frag-" * 500, "ment-" * 500, "ed"])]
    want = [s if not hasattr(s, "__next__") else "frag-" * 500 + "ment-" * 500 + "ed" for s in samples]
    proxy_box = {}

    async def handler(ws, path):
        result["ext"] = [(e.name, e.remote_no_context_takeover, e.local_no_context_takeover,
                          e.remote_max_window_bits, e.local_max_window_bits) for e in ws.extensions]
        result["offer"] = ws.request_headers.get_all("Sec-WebSocket-Extensions")
        try:
            got, ups = [], []
            for m in samples:
                u0, _ = await settle(proxy_box["p"], 0)
                await ws.send(m)
                got.append(await asyncio.wait_for(ws.recv(), 10))
                u1, _ = await settle(proxy_box["p"])
                ups.append(u1 - u0)
            result["got"] = got
            result["up"] = ups
            await ws.close(1000, "enough")
        except Exception as e:
            result["err"] = repr(e)

    ssl_ctx = T.server_ssl(PKI["cert"], PKI["key"]) if tls else None
    async with websockets.serve(handler, "127.0.0.1", 0, ssl=ssl_ctx, max_size=None, **kw) as s:
        port = s.sockets[0].getsockname()[1]
        proxy = T.CountingProxy(port)
        proxy_box["p"] = proxy
        args = ["--echo", "-v"] + ([] if wsv_deflate else ["--no-deflate"])
        if tls:
            args += ["--cacert", PKI["ca"]]
        p = start_connect(args, f"{scheme}://localhost:{proxy.port}/")
        rc = await wait_exit(p, 20)
        proxy.close()
    err = bytes(p.err).decode("latin-1")
    agreed = wsv_deflate and py_agrees
    got = result.get("got", [])
    mism = [i for i, (a, b) in enumerate(zip(want, got)) if a != b or type(a) is not type(b)]
    rep.check(f"{tag}: every message echoed with its type (1 MiB text, 256 KiB random, fragmented)",
              len(got) == len(want) and not mism, f"{len(want)} back unchanged",
              f"{len(got)} back, mismatches at {mism} {result.get('err', '')} {p.text()}")
    rep.check(f"{tag}: server's close 1000 -> exit 0", rc == 0, "exit 0", f"exit={rc} {p.text()}")
    offer = result.get("offer")
    rep.check(f"{tag}: offer as expected", offer == (["permessage-deflate; client_max_window_bits"]
                                                     if wsv_deflate else []), "pmd offer" if wsv_deflate else "none",
              offer)
    ext = result.get("ext")
    if agreed:
        ok = bool(ext) and ext[0][0] == "permessage-deflate"
        if variant.startswith("no context"):
            ok = ok and ext[0][1:] == (True, True, 10, 10)
        rep.check(f"{tag}: agreed by both sides", ok and re.search(r"extensions: permessage-deflate", err) is not None,
                  "python ws.extensions = [permessage-deflate], wsv -v 'extensions: permessage-deflate...'",
                  f"{ext} / {[ln for ln in err.splitlines() if 'extensions' in ln]}")
        if variant.startswith("no context"):
            rep.check(f"{tag}: wsv -v lists the agreed parameters",
                      re.search(r"extensions: permessage-deflate.*server_no_context_takeover", err) is not None
                      and "client_max_window_bits=10" in err and "server_max_window_bits=10" in err,
                      "server_no_context_takeover, server_max_window_bits=10, client_max_window_bits=10",
                      [ln for ln in err.splitlines() if "extensions" in ln])
        if variant == "compression on":  # websockets' defaults: 12-bit windows both ways
            rep.check(f"{tag}: websockets' default parameters agreed (12-bit windows)",
                      ext == [("permessage-deflate", False, False, 12, 12)]
                      and "server_max_window_bits=12; client_max_window_bits=12" in err,
                      "server_max_window_bits=12; client_max_window_bits=12 on both sides",
                      f"{ext} / {[ln for ln in err.splitlines() if 'extensions' in ln]}")
    else:
        rep.check(f"{tag}: nothing agreed", ext == [] and re.search(r"extensions: none", err) is not None,
                  "[] and wsv -v 'extensions: none'",
                  f"{ext} / {[ln for ln in err.splitlines() if 'extensions' in ln]}")
    ups = result.get("up", [])
    if len(ups) == len(samples):
        big = ups[4]
        if agreed:
            rep.check(f"{tag}: wsv compressed the 1 MiB echo (client -> server bytes)", big < MIB // 20,
                      f"< {MIB // 20} B", big)
            ctx = not variant.startswith("no context")
            rep.check(f"{tag}: 2 KiB random twice: 2nd {'tiny (context kept)' if ctx else 'full size (no context takeover)'}",
                      (ups[7] < 512) if ctx else (ups[7] > 2048), "< 512 B" if ctx else "> 2048 B", ups[6:8])
        else:
            rep.check(f"{tag}: 1 MiB echo uncompressed on the wire", big >= MIB, ">= 1 MiB", big)


# ============================================================ TLS failures


async def tls_failures():
    async def echo(ws, path):
        try:
            async for m in ws:
                await ws.send(m)
        except ConnectionClosed:
            pass

    ctx = T.server_ssl(PKI["cert"], PKI["key"])
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=ctx) as s:
        port = s.sockets[0].getsockname()[1]
        for name, args, url, good, words in (
                ("no --cacert (unknown CA)", [], f"wss://localhost:{port}/", False, ("verify", "issuer")),
                ("--cacert CA, wss://localhost", ["--cacert", PKI["ca"]], f"wss://localhost:{port}/", True, ()),
                ("--cacert CA, wss://127.0.0.1 (IP SAN)", ["--cacert", PKI["ca"]], f"wss://127.0.0.1:{port}/", True, ()),
                ("--insecure, no CA", ["--insecure"], f"wss://localhost:{port}/", True, ()),
                ("--cacert the server cert itself (not a CA)", ["--cacert", PKI["other_cert"]],
                 f"wss://localhost:{port}/", False, ("verify",)),
                ("ws:// to the TLS port", [], f"ws://127.0.0.1:{port}/", False, ())):
            p = start_connect(args, url)
            p.write(b"tls-line\n")
            if good:
                await asyncio.get_running_loop().run_in_executor(
                    None, p.wait_output, lambda o, e: b"\n" in o, 8)
            p.close_stdin()
            rc = await wait_exit(p, 10)
            err = bytes(p.err).decode("latin-1").strip()
            case = f"connect x python wss server, {name}"
            if good:
                rep.check(f"{case}: echo, exit 0", rc == 0 and bytes(p.out) == b"tls-line\n",
                          "exit 0, 'tls-line'", f"exit={rc} {p.text()}")
            else:
                rep.check(f"{case}: exit 1, one stderr line" + (f" naming {'/'.join(words)}" if words else ""),
                          rc == 1 and err != "" and "\n" not in err and all(w in err.lower() for w in words),
                          "exit 1, one line", f"exit={rc} {p.text()}")
            if p.alive():
                p.kill()

    # host name mismatch: wsv serve on 127.0.0.2 with the localhost/127.0.0.1
    # certificate, and a certificate naming only other.invalid
    for name, host, cert, key, word in (
            ("IP 127.0.0.2 not in the certificate", "127.0.0.2", PKI["cert"], PKI["key"], "mismatch"),
            ("certificate only for other.invalid", "127.0.0.1", PKI["other_cert"], PKI["other_key"], "mismatch")):
        srv = T.Server(WSV, ["--cert", cert, "--key", key], host=host)
        if not srv.ok():
            rep.fail(f"serve --host {host} --cert for '{name}' starts", "a startup line", srv.text())
            srv.stop()
            continue
        url = f"wss://{host}:{srv.port}/" if host != "127.0.0.1" else f"wss://localhost:{srv.port}/"
        p = start_connect(["--cacert", PKI["ca"]], url)
        p.close_stdin()
        rc = await wait_exit(p, 10)
        err = bytes(p.err).decode("latin-1").strip()
        rep.check(f"connect --cacert x wsv serve, {name}: exit 1, one line naming the mismatch",
                  rc == 1 and "\n" not in err and word in err.lower(), f"exit 1, one line with '{word}'",
                  f"exit={rc} {p.text()}")
        p = start_connect(["--insecure"], url)
        p.write(b"insecure\n")
        await asyncio.get_running_loop().run_in_executor(None, p.wait_output, lambda o, e: b"\n" in o, 8)
        p.close_stdin()
        rc = await wait_exit(p, 10)
        rep.check(f"connect --insecure x wsv serve, {name}: echo, exit 0",
                  rc == 0 and bytes(p.out) == b"insecure\n", "exit 0, echo", f"exit={rc} {p.text()}")
        T.stop_server(rep, srv, f"serve --host {host} ({name})")


async def main():
    t0 = time.monotonic()
    for tls in (False, True):
        for mode in ("on", "max", "lean", "off"):
            await within(client_matrix(mode, tls), 60)
    print(f"     (client role: {time.monotonic() - t0:.1f} s)")
    for tls in (False, True):
        for variant in SERVER_VARIANTS:
            for d in (True, False):
                try:
                    await within(server_matrix(variant, d, tls), 40)
                except Exception as e:
                    rep.fail(f"py server ({variant}) x connect deflate={d} tls={tls}", "no exception", repr(e))
    await within(tls_failures(), 60)


asyncio.run(main())
rep.finish()
