#!/usr/bin/python3
"""Sec-WebSocket-Version negotiation end to end, over loopback sockets.

  wsv connect -v  x  wsv serve --versions 8      retry with 8, echo works,
                                                 stderr names the retry
  wsv connect     x  wsv serve --versions 13,8,7 13 at once (no retry)
  wsv connect --versions 7 x wsv serve --versions 13,8,7   7 at once
  wsv connect --versions 13 x wsv serve --versions 8,7     fails, names both lists
  wsv connect     x  raw server: 426 + Sec-WebSocket-Version: 9
                                                 fails non-zero, names 9 and 13
  wsv connect     x  raw server: 426 listing 8, then 426 listing 13
                                                 one retry only (2 connections)
  wsv probe [--json] x wsv serve (13; 13,8,7)    conformant, exit 0
  wsv probe [--json] x Python websockets 10.4    not conformant, exit 1

usage: /usr/bin/python3 negotiation.py WSV
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as T  # noqa: E402

rep = T.Report("interop version negotiation")
if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
WSV = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
T.require_peers(rep, python_websockets=True)


class RawServer:
    """Answers every connection with answer(n, request_bytes) -> bytes, then
    shuts down writing and drains; records the requests."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.ls = T.free_port_listener()
        self.port = self.ls.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.ls.settimeout(0.2)
        deadline = time.monotonic() + 60
        while not self.stop and time.monotonic() < deadline:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            c.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                c.sendall(self.answer(len(self.requests), data))
                c.shutdown(socket.SHUT_WR)
                T.read_until_eof(c, 2)
            except OSError:
                pass
            c.close()
        self.ls.close()

    def close(self):
        self.stop = True
        self.t.join(3)

    def versions_asked(self):
        out = []
        for r in self.requests:
            m = re.search(rb"(?im)^sec-websocket-version:\s*(\S+)", r)
            out.append(m.group(1).decode() if m else None)
        return out


def answer_426(versions):
    def f(n, req):
        body = b"unsupported version\n"
        return (b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: close\r\n"
                + f"Sec-WebSocket-Version: {versions}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body)
    return f


def connect(args, url, stdin_data=b"hello\n", wait_for=b"hello\n", timeout=10):
    """Run wsv connect, write stdin_data, wait for wait_for on stdout, then EOF."""
    p = T.Proc([WSV, "connect", *args, url], stdin=subprocess.PIPE, env=T.child_env())
    try:
        p.write(stdin_data)
    except OSError:
        pass
    if wait_for:
        p.wait_output(lambda o, e: wait_for in o, timeout)
    p.close_stdin()
    rc = p.wait(timeout)
    if rc is None:
        p.kill()
    return rc, p


def one_line(p):
    err = bytes(p.err).strip()
    return err != b"" and b"\n" not in err


# ---------------------------------------------------------------- connect x serve

srv8 = T.start_server(rep, WSV, ["--versions", "8"], "serve --versions 8")
if srv8:
    rc, p = connect(["-v"], srv8.url)
    err = bytes(p.err).decode("latin-1")
    rep.check("connect -v x serve --versions 8: echo works after the retry",
              rc == 0 and bytes(p.out) == b"hello\n", "stdout 'hello', exit 0", f"exit={rc} {p.text()}")
    rep.check("connect -v x serve --versions 8: stderr names the retry with 8",
              re.search(r"retry", err, re.I) is not None and "8" in err,
              "a line like 'server speaks 8; retrying with 8'", repr(err[:400]))
    rc, p = connect(["--versions", "13"], srv8.url, wait_for=None)
    err = bytes(p.err).decode("latin-1")
    rep.check("connect --versions 13 x serve --versions 8: fails non-zero, one line naming 13 and 8",
              rc not in (0, None) and one_line(p) and "13" in err and "8" in err,
              "exit != 0, one stderr line with both lists", f"exit={rc} {p.text()}")
    T.stop_server(rep, srv8, "serve --versions 8")

srv87 = T.start_server(rep, WSV, ["--versions", "8,7"], "serve --versions 8,7")
if srv87:
    rc, p = connect(["-v"], srv87.url)
    err = bytes(p.err).decode("latin-1")
    rep.check("connect -v x serve --versions 8,7: retry picks 8 (highest common)",
              rc == 0 and bytes(p.out) == b"hello\n" and re.search(r"retry\w*\s+(with\s+)?(version\s+)?8\b", err, re.I) is not None,
              "exit 0, echo, 'retrying with 8' on stderr", f"exit={rc} {p.text()}")
    T.stop_server(rep, srv87, "serve --versions 8,7")

srvall = T.start_server(rep, WSV, ["--versions", "13,8,7"], "serve --versions 13,8,7")
if srvall:
    rc, p = connect(["-v"], srvall.url)
    err = bytes(p.err).decode("latin-1")
    rep.check("connect -v x serve --versions 13,8,7: 13 at once, no retry",
              rc == 0 and bytes(p.out) == b"hello\n" and not re.search(r"retry", err, re.I),
              "exit 0, echo, no retry on stderr", f"exit={rc} {p.text()}")
    rc, p = connect(["--versions", "7"], srvall.url)
    rep.check("connect --versions 7 x serve --versions 13,8,7: works with 7",
              rc == 0 and bytes(p.out) == b"hello\n", "exit 0, echo", f"exit={rc} {p.text()}")
    # probe on a conformant wsv serve speaking three versions
    pr = T.Proc([WSV, "probe", srvall.url], env=T.child_env())
    rc = pr.wait(20)
    rep.check("probe x serve --versions 13,8,7: conformant, exit 0", rc == 0, "exit 0", f"exit={rc} {pr.text()}")
    pr.kill()
    T.stop_server(rep, srvall, "serve --versions 13,8,7")

srv = T.start_server(rep, WSV, [], "serve (default versions)")
if srv:
    pr = T.Proc([WSV, "probe", srv.url], env=T.child_env())
    rc = pr.wait(20)
    rep.check("probe x wsv serve: conformant, exit 0", rc == 0, "exit 0", f"exit={rc} {pr.text()}")
    pr.kill()
    pr = T.Proc([WSV, "probe", "--json", srv.url], env=T.child_env())
    rc = pr.wait(20)
    try:
        doc = json.loads(bytes(pr.out).decode())
        js = isinstance(doc, (dict, list))
    except ValueError as e:
        doc, js = str(e), False
    rep.check("probe --json x wsv serve: exit 0 and stdout is one JSON document", rc == 0 and js,
              "exit 0, JSON object", f"exit={rc} {pr.text()}")
    pr.kill()
    ext = doc.get("extensions") if isinstance(doc, dict) else None
    rep.check("probe --json x wsv serve: extensions offered and agreed",
              isinstance(ext, dict) and ext.get("agreed") == "permessage-deflate; client_max_window_bits=13"
              and ext.get("offered") == "permessage-deflate; client_max_window_bits",
              "extensions {offered: 'permessage-deflate; client_max_window_bits', "
              "agreed: 'permessage-deflate; client_max_window_bits=13'} (--deflate on picks 13 bits)",
              ext)
    pr = T.Proc([WSV, "probe", srv.url], env=T.child_env())
    pr.wait(20)
    rep.check("probe x wsv serve: table has 'extensions: agreed permessage-deflate'",
              re.search(rb"extensions:\s*agreed permessage-deflate\b", bytes(pr.out)) is not None,
              "an extensions: line", pr.text())
    pr.kill()
    rep.check("serve survived the probes", srv.alive(), "running", srv.text())
    T.stop_server(rep, srv, "serve (default versions)")

# --deflate max accepts the client's offer without limiting its window.
srv = T.start_server(rep, WSV, ["--deflate", "max"], "serve --deflate max")
if srv:
    pr = T.Proc([WSV, "probe", "--json", srv.url], env=T.child_env())
    rc = pr.wait(20)
    try:
        doc = json.loads(bytes(pr.out).decode())
    except ValueError as e:
        doc = str(e)
    pr.kill()
    ext = doc.get("extensions") if isinstance(doc, dict) else None
    rep.check("probe --json x wsv serve --deflate max: agreed without window bits",
              rc == 0 and isinstance(ext, dict) and ext.get("agreed") == "permessage-deflate",
              "exit 0, agreed 'permessage-deflate'", f"exit={rc} {ext!r}")
    T.stop_server(rep, srv, "serve --deflate max")

srv = T.start_server(rep, WSV, ["--no-deflate"], "serve --no-deflate")
if srv:
    pr = T.Proc([WSV, "probe", "--json", srv.url], env=T.child_env())
    rc = pr.wait(20)
    try:
        ext = json.loads(bytes(pr.out).decode()).get("extensions")
    except (ValueError, AttributeError) as e:
        ext = repr(e)
    rep.check("probe --json x serve --no-deflate: exit 0, offered, nothing agreed",
              rc == 0 and isinstance(ext, dict) and ext.get("agreed") in (None, "")
              and ext.get("offered") == "permessage-deflate; client_max_window_bits",
              "exit 0, extensions.agreed null", f"exit={rc} {ext}")
    pr.kill()
    T.stop_server(rep, srv, "serve --no-deflate")

# ---------------------------------------------------------------- raw servers

rs = RawServer(answer_426("9"))
rc, p = connect([], rs.url, wait_for=None)
err = bytes(p.err).decode("latin-1")
rep.check("connect x server speaking only 9: non-zero exit", rc not in (0, None), "exit != 0",
          f"exit={rc} {p.text()}")
rep.check("connect x server speaking only 9: one stderr line naming both lists",
          one_line(p) and "9" in err and "13" in err, "one line with 9 (server) and 13 (client)",
          repr(err[:400]))
rep.check("connect x server speaking only 9: no retry (one connection)", len(rs.requests) == 1,
          "1 connection", f"{len(rs.requests)} connections, versions {rs.versions_asked()}")
rs.close()

state = {}


def flip(n, req):
    return answer_426("8")(n, req) if n == 1 else answer_426("13")(n, req)


rs = RawServer(flip)
rc, p = connect([], rs.url, wait_for=None)
rep.check("connect x server that keeps moving its versions: one retry only",
          rc not in (0, None) and len(rs.requests) == 2 and rs.versions_asked() == ["13", "8"],
          "2 connections asking 13 then 8, exit != 0",
          f"exit={rc} connections={len(rs.requests)} versions={rs.versions_asked()} {p.text()}")
rs.close()

rs = RawServer(lambda n, req: b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbad\n")
rc, p = connect([], rs.url, wait_for=None)
rep.check("connect x 400 without a version list: non-zero, one line, no retry",
          rc not in (0, None) and one_line(p) and len(rs.requests) == 1,
          "exit != 0, one stderr line, 1 connection", f"exit={rc} connections={len(rs.requests)} {p.text()}")
rs.close()

# ---------------------------------------------------------------- probe x python websockets

py = T.Proc(["/usr/bin/python3", os.path.join(HERE, "py_echo_server.py")], env=T.child_env())
m = py.wait_output(lambda o, e: T.PORT_RE.search(o), 10)
if not m:
    rep.fail("python websockets echo server starts", "ws://127.0.0.1:<port>/ on stdout", py.text())
else:
    url = f"ws://127.0.0.1:{int(m.group(2))}/"
    pr = T.Proc([WSV, "probe", url], env=T.child_env())
    rc = pr.wait(20)
    rep.check("probe x python websockets 10.4: not conformant, exit 1", rc == 1,
              "exit 1 (the 426/400 answers carry no version list)", f"exit={rc} {pr.text()}")
    pr.kill()
    pr = T.Proc([WSV, "probe", "--json", url], env=T.child_env())
    rc = pr.wait(20)
    try:
        json.loads(bytes(pr.out).decode())
        js = True
    except ValueError:
        js = False
    rep.check("probe --json x python websockets 10.4: exit 1 and JSON", rc == 1 and js,
              "exit 1, JSON on stdout", f"exit={rc} {pr.text()}")
    pr.kill()
    # and wsv connect works against it (13 at once)
    rc, p = connect([], url)
    rep.check("connect x python websockets 10.4: echo, exit 0", rc == 0 and bytes(p.out) == b"hello\n",
              "exit 0, echo", f"exit={rc} {p.text()}")
py.stop()

rep.finish()
