#!/usr/bin/python3
"""probe_test.py WSV [CORE_SERVER] - `wsv probe` against loopback servers.

Run with Debian's /usr/bin/python3 (it has python3-websockets 10.4).  Each
server here is a small stdlib socket server in a thread, answering the
opening handshake in one particular way (conformant as wsv's own server,
or broken in one known way), except two: the real Python websockets server,
and CORE_SERVER (tests/probe/core_server.c), which answers with wsv's own
server core.
Every server listens on 127.0.0.1 (or ::1) port 0 and stops by itself;
every `wsv probe` run is bounded by a subprocess timeout.
"""

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

WSV = sys.argv[1] if len(sys.argv) > 1 else "wsv"
CORE_SERVER = sys.argv[2] if len(sys.argv) > 2 else None
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RUN_TIMEOUT = 60

failures = 0
checks = 0


def check(desc, ok, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print("ok   " + desc)
    else:
        failures += 1
        print("FAIL " + desc + (("\n     " + detail.replace("\n", "\n     "))
                                if detail else ""))


# ---- HTTP helpers for the fake servers ---------------------------------------


def parse_request(raw):
    """(method, target, headers as [(lower name, value)]) or None."""
    try:
        text = raw.decode("latin-1")
    except Exception:
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = []
    for line in lines[1:]:
        if not line:
            break
        if ":" not in line:
            return None
        n, v = line.split(":", 1)
        headers.append((n.strip().lower(), v.strip()))
    return parts[0], parts[1], headers


def values(headers, name):
    return [v for n, v in headers if n == name]


def tokens(headers, name):
    out = []
    for v in values(headers, name):
        out += [t.strip().lower() for t in v.split(",") if t.strip()]
    return out


def response(status, reason, fields, body=""):
    b = body.encode()
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for n, v in fields:
        head += "%s: %s\r\n" % (n, v)
    if status != 101:
        head += "Content-Type: text/plain\r\nContent-Length: %d\r\n" % len(b)
        head += "Connection: close\r\n" if not any(
            n.lower() == "connection" for n, _ in fields) else ""
    return (head + "\r\n").encode() + (b if status != 101 else b"")


def accept_of(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


VERSION_RE = re.compile(r"^(0|[1-9][0-9]{0,2})$")


def conformant(versions=(13,), unsupported=426, plain="426",
               list_in_101=False, bad_accept=False, advertise=None):
    """A handler answering as include/wsv/hs_server.h describes."""
    adv = advertise if advertise is not None else versions
    lst = ", ".join(str(v) for v in sorted(adv, reverse=True))

    def handle(raw):
        req = parse_request(raw)
        if req is None:
            return response(400, "Bad Request", [("Sec-WebSocket-Version", lst)],
                            "bad HTTP syntax\n")
        method, target, h = req
        if not values(h, "upgrade"):
            if plain == "426":
                return response(426, "Upgrade Required",
                                [("Upgrade", "websocket"),
                                 ("Connection", "Upgrade, close"),
                                 ("Sec-WebSocket-Version", lst)],
                                "this is a WebSocket endpoint\n")
            return response(200, "OK", [], "hello from plain HTTP\n")
        err = lambda why: response(400, "Bad Request",
                                   [("Sec-WebSocket-Version", lst)], why + "\n")
        if method != "GET":
            return err("method is not GET")
        if tokens(h, "upgrade") != ["websocket"]:
            return err("Upgrade is not websocket")
        if "upgrade" not in tokens(h, "connection"):
            return err("Connection lacks Upgrade")
        vs = values(h, "sec-websocket-version")
        if len(vs) != 1 or not VERSION_RE.match(vs[0]) or int(vs[0]) > 255:
            return err("Sec-WebSocket-Version is missing or malformed")
        if int(vs[0]) not in versions:
            if unsupported == 426:
                return response(426, "Upgrade Required",
                                [("Upgrade", "websocket"),
                                 ("Connection", "Upgrade, close"),
                                 ("Sec-WebSocket-Version", lst)],
                                "version %s is not supported\n" % vs[0])
            return err("version %s is not supported" % vs[0])
        keys = values(h, "sec-websocket-key")
        try:
            ok = len(keys) == 1 and len(base64.b64decode(keys[0],
                                                         validate=True)) == 16
        except Exception:
            ok = False
        if not ok:
            return err("bad Sec-WebSocket-Key")
        acc = accept_of(keys[0])
        if bad_accept:
            acc = accept_of("x" + keys[0])
        fields = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                  ("Sec-WebSocket-Accept", acc)]
        if list_in_101:
            fields.append(("Sec-WebSocket-Version", lst))
        return response(101, "Switching Protocols", fields)

    return handle


def accept_anything(raw):
    """Like libwebsockets or uWebSockets: any version (or none) gets 101."""
    req = parse_request(raw)
    h = req[2]
    keys = values(h, "sec-websocket-key")
    if not values(h, "upgrade") or not keys:
        return response(200, "OK", [], "plain page\n")
    return response(101, "Switching Protocols",
                    [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                     ("Sec-WebSocket-Accept", accept_of(keys[0]))])


def civetweb_like(raw):
    """Exactly "13" or 426 without Upgrade and without a version list."""
    req = parse_request(raw)
    h = req[2]
    if not values(h, "upgrade"):
        return response(200, "OK", [], "plain page\n")
    if values(h, "sec-websocket-version") != ["13"]:
        return response(426, "Upgrade Required", [],
                        "Protocol upgrade required\n")
    key = values(h, "sec-websocket-key")[0]
    return response(101, "Switching Protocols",
                    [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                     ("Sec-WebSocket-Accept", accept_of(key))])


def not_found(raw):
    return response(404, "Not Found", [], "no such path\n")


class FakeServer:
    """A one-thread server: accept, read the head, answer, close.  `handler`
    maps the request bytes to response bytes, or None to say nothing (the
    connection is then held open until the client leaves or 5 s pass).
    Stops by itself `life` seconds after start at the latest."""

    def __init__(self, handler, family=socket.AF_INET, host="127.0.0.1",
                 life=30.0):
        self.handler = handler
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.deadline = time.monotonic() + life
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping and time.monotonic() < self.deadline:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()
        self.sock.close()

    def serve(self, c):
        c.settimeout(5.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 16384:
                got = c.recv(4096)
                if not got:
                    break
                data += got
            out = self.handler(data)
            if out is None:
                c.recv(1)  # wait for the client to give up
            else:
                c.sendall(out)
                c.shutdown(socket.SHUT_WR)
                c.recv(4096)  # drain the client's close frame or EOF
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        self.thread.join(2)


def probe(args):
    t0 = time.monotonic()
    p = subprocess.run([WSV, "probe"] + args, capture_output=True,
                       timeout=RUN_TIMEOUT)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def rows(table):
    """{probe name: (verdict, line)} from the table output."""
    out = {}
    for line in table.splitlines():
        m = re.match(r"^(\S+)\s.*\s(PASS|WARN|FAIL|N/A)\s", line)
        if m:
            out[m.group(1)] = (m.group(2), line)
    return out


def expect_rows(desc, table, want):
    got = rows(table)
    bad = []
    for name, verdict in want.items():
        if name not in got or got[name][0] != verdict:
            bad.append("%s: want %s, got %s" % (
                name, verdict, got.get(name, ("missing",))[0]))
    check(desc, not bad, "; ".join(bad) + "\n" + table)


ALL_PASS = {n: "PASS" for n in ("v13", "v8", "v7", "v99", "none", "zero",
                                "list", "twice", "plain", "versions")}


def with_server(handler, fn, **kw):
    s = FakeServer(handler, **kw)
    try:
        fn("ws://%s:%d/chat?room=1" % (
            "[::1]" if kw.get("family") == socket.AF_INET6 else "127.0.0.1",
            s.port))
    finally:
        s.stop()


# ---- the cases ---------------------------------------------------------------


def case_conformant(url):
    rc, out, err, _ = probe([url])
    check("conformant (13 only, 426): exit 0", rc == 0, out + err)
    expect_rows("conformant (13 only, 426): every row PASS", out, ALL_PASS)
    check("conformant: summary line says yes",
          "conformant: yes \u2014 10 pass, 0 warn, 0 fail" in out, out)
    check("conformant: v99 row shows 426, list 13, Upgrade websocket",
          re.search(r"^v99\s+99\s+426 Upgrade Required\s+13\s+websocket\s+PASS",
                    out, re.M) is not None, out)
    check("conformant: the answer bodies are shown",
          "version 99 is not supported" in out, out)


def case_conformant_all(url):
    rc, out, err, _ = probe([url])
    check("conformant (13, 8, 7, 400): exit 0", rc == 0, out + err)
    expect_rows("conformant (13, 8, 7, 400): every row PASS", out, ALL_PASS)
    check("conformant (13, 8, 7): v8 got 101",
          re.search(r"^v8\s+8\s+101 ", out, re.M) is not None, out)
    check("conformant (13, 8, 7): derived list is 13, 8, 7",
          re.search(r"^versions\s+-\s+101: 13, 8, 7\s+13, 8, 7\s", out, re.M)
          is not None, out)


def case_verbose(url):
    rc, out, err, _ = probe(["-v", url])
    check("-v: request heads on stderr",
          "> Sec-WebSocket-Version: 013" in err and "> GET /chat?room=1 "
          "HTTP/1.1" in err, err)
    check("-v: response heads on stderr",
          "< HTTP/1.1 426 Upgrade Required" in err, err)
    check("-v: stdout still has the table", "conformant: yes" in out, out)


def case_json(url, want_conformant, want):
    rc, out, err, _ = probe(["--json", "--timeout", "2000", url])
    try:
        doc = json.loads(out)
    except ValueError as e:
        check("--json parses (%s)" % url, False, str(e) + "\n" + out)
        return None
    check("--json parses", True)
    got = {p["name"]: p["verdict"] for p in doc["probes"]}
    got["versions"] = doc["versions"]["verdict"]
    bad = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
    check("--json verdicts as expected", not bad, repr(bad))
    check("--json summary.conformant is %s" % want_conformant,
          doc["summary"]["conformant"] is want_conformant, out)
    check("--json exit status matches", rc == (0 if want_conformant else 1),
          "rc=%d" % rc)
    check("--json has url and timeout",
          doc["url"] == url and doc["timeout_ms"] == 2000, out)
    return doc


def case_json_conformant(url):
    doc = case_json(url, True, ALL_PASS)
    if doc:
        v99 = [p for p in doc["probes"] if p["name"] == "v99"][0]
        check("--json v99 fields", v99["status"] == 426 and
              v99["versions"] == [13] and v99["upgrade"] == "websocket" and
              v99["sec_websocket_version"] == "13" and
              v99["version_list_valid"] is True, repr(v99))
        v13 = doc["probes"][0]
        check("--json v13 accept ok, no version list",
              v13["accept"] == "ok" and v13["sec_websocket_version"] is None,
              repr(v13))
        check("--json versions: accepted [13], advertised [13]",
              doc["versions"]["accepted"] == [13] and
              doc["versions"]["advertised"] == [13], repr(doc["versions"]))


def case_websockets():
    """The real Python websockets 10.4 server (asyncio)."""
    code = r"""
import asyncio, sys, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(30)
asyncio.run(main())
"""
    srv = subprocess.Popen(["/usr/bin/python3", "-c", code],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = srv.stdout.readline().decode().strip()
        if not line.isdigit():
            check("python websockets server starts", False, repr(line))
            return
        url = "ws://127.0.0.1:%s/" % line
        rc, out, err, _ = probe([url])
        print("     --- wsv probe against Python websockets 10.4 ---")
        for l in out.splitlines():
            print("     " + l)
        check("websockets: exit 1 (not conformant)", rc == 1, out + err)
        expect_rows("websockets: bare 400s fail, v13 and plain pass", out, {
            "v13": "PASS", "v8": "FAIL", "v7": "FAIL", "v99": "FAIL",
            "none": "WARN", "zero": "FAIL", "list": "FAIL", "twice": "FAIL",
            "plain": "PASS", "versions": "N/A"})
        check("websockets: v99 why names the missing list",
              re.search(r"^v99 .*400 Bad Request.*no version list \(MUST",
                        out, re.M) is not None, out)
        check("websockets: summary says no",
              "conformant: no \u2014" in out, out)
        case_json(url, False, {"v99": "FAIL", "none": "WARN", "zero": "FAIL",
                               "v13": "PASS"})
    finally:
        srv.kill()
        srv.wait(5)


def case_core():
    """wsv's own server core must be judged conformant in every setting."""
    if CORE_SERVER is None:
        print("skip core_server: not given")
        return
    for args in ([], ["all", "400"], ["426plain"]):
        srv = subprocess.Popen([CORE_SERVER] + args, stdout=subprocess.PIPE)
        try:
            port = srv.stdout.readline().decode().strip()
            rc, out, err, _ = probe(["ws://127.0.0.1:%s/" % port])
            desc = "wsv core (%s)" % (" ".join(args) or "defaults")
            check(desc + ": exit 0", rc == 0, out + err)
            expect_rows(desc + ": every row PASS", out, ALL_PASS)
        finally:
            srv.kill()
            srv.wait(5)


def case_accept_anything(url):
    rc, out, err, _ = probe([url])
    check("accepts anything: exit 1", rc == 1, out + err)
    expect_rows("accepts anything: 101 for 99, none, malformed FAIL", out, {
        "v13": "PASS", "v8": "PASS", "v7": "PASS", "v99": "FAIL",
        "none": "FAIL", "zero": "FAIL", "list": "FAIL", "twice": "FAIL",
        "plain": "PASS", "versions": "N/A"})
    check("accepts anything: v99 why", "101 for unknown version 99" in out,
          out)


def case_civetweb(url):
    rc, out, err, _ = probe([url])
    check("426 without Upgrade: exit 1", rc == 1, out + err)
    expect_rows("426 without Upgrade: rows FAIL", out, {
        "v13": "PASS", "v99": "FAIL", "none": "FAIL", "zero": "FAIL",
        "plain": "PASS"})
    check("426 without Upgrade: why cites RFC 9110",
          re.search(r"^v99 .*426 without Upgrade \(RFC 9110 \u00a715\.5\.22\)",
                    out, re.M) is not None, out)


def case_bad_accept(url):
    rc, out, err, _ = probe([url])
    check("wrong Accept: exit 1", rc == 1, out + err)
    expect_rows("wrong Accept: v13 FAIL", out, {"v13": "FAIL", "v99": "PASS"})
    check("wrong Accept: why", "wrong Sec-WebSocket-Accept" in out, out)


def case_list_in_101(url):
    rc, out, err, _ = probe([url])
    check("version list in the 101: exit 0 (a WARN only)", rc == 0, out + err)
    expect_rows("version list in the 101: v13 WARN", out, {"v13": "WARN"})


def case_inconsistent(url):
    rc, out, err, _ = probe([url])
    check("accepts 8 but lists only 13: exit 1", rc == 1, out + err)
    expect_rows("accepts 8 but lists only 13: versions FAIL", out,
                {"v8": "PASS", "versions": "FAIL"})


def case_not_found(url):
    rc, out, err, _ = probe([url])
    check("404 for everything: exit 2 (inconclusive)", rc == 2, out + err)
    check("404 for everything: says unknown", "conformant: unknown" in out,
          out)


def case_silent(url):
    rc, out, err, secs = probe(["--timeout", "300", url])
    check("silent server: exit 1", rc == 1, out + err)
    check("silent server: rows say no answer within 300 ms",
          "no answer within 300 ms" in out, out)
    check("silent server: bounded by the timeout (%.1f s)" % secs, secs < 8)


def case_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        print("skip IPv6: no ::1 here")
        return
    with_server(conformant(), lambda url: check(
        "IPv6 [::1]: exit 0", probe([url])[0] == 0),
        family=socket.AF_INET6, host="::1")


def case_errors():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, out, err, _ = probe(["ws://127.0.0.1:%d/" % port])
    check("unreachable: exit 2", rc == 2, out + err)
    check("unreachable: one line on stderr naming the reason",
          len(err.strip().splitlines()) == 1 and "refused" in err, err)
    check("unreachable: nothing on stdout", out == "", out)
    rc, out, err, _ = probe(["--json", "ws://127.0.0.1:%d/" % port])
    check("unreachable --json: exit 2 and a JSON error object",
          rc == 2 and "error" in json.loads(out), out + err)
    rc, out, err, _ = probe(["wss://127.0.0.1/"])
    check("wss without --h2: exit 2, points to --h2",
          rc == 2 and "--h2" in err, err)
    rc, out, err, _ = probe([])
    check("no URL: exit 2 with usage", rc == 2 and "usage:" in err, err)
    rc, out, err, _ = probe(["--timeout", "x", "ws://127.0.0.1/"])
    check("bad --timeout: exit 2", rc == 2, err)
    rc, out, err, _ = probe(["--bogus", "ws://127.0.0.1/"])
    check("unknown option: exit 2", rc == 2, err)
    rc, out, err, _ = probe(["ws://127.0.0.1/a#frag"])
    check("fragment: exit 2", rc == 2 and "fragment" in err, err)
    rc, out, err, _ = probe(["--help"])
    check("--help: exit 0, names --json", rc == 0 and "--json" in out, out)


def main():
    with_server(conformant(), case_conformant)
    with_server(conformant(), case_verbose)
    with_server(conformant(), case_json_conformant)
    with_server(conformant(versions=(13, 8, 7), unsupported=400, plain="200"),
                case_conformant_all)
    case_core()
    case_websockets()
    with_server(accept_anything, case_accept_anything)
    with_server(civetweb_like, case_civetweb)
    with_server(conformant(bad_accept=True), case_bad_accept)
    with_server(conformant(list_in_101=True), case_list_in_101)
    with_server(conformant(versions=(13, 8), advertise=(13,)),
                case_inconsistent)
    with_server(not_found, case_not_found)
    with_server(lambda raw: None, case_silent)
    case_ipv6()
    case_errors()
    print("%d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
