#!/usr/bin/python3
"""websocketd_side - the same checks against websocketd (Debian's) and
`wsv serve --exec` / `--dir` / `--staticdir`, side by side.

Each check runs on both servers and must pass on both for what both should
do: the CGI/1.1 variables a program prints, --dir routing, static files
(types, HEAD, Last-Modified, If-Modified-Since -> 304, 404, traversal
refused), --maxforks, --binary with bytes that are not UTF-8, --closems
ending a program that ignores the end of its input, --header,
--header-ws, --header-http, the clean environment, HTTPS=on over TLS.
wsv alone: the 8 MiB static file limit, the stderr line limit, usage
errors, --origin/--sameorigin in echo and chat.  Where wsv deliberately
differs, the case is named "DIFFERS" and checks each server's own
behaviour:
  - Origin: websocketd accepts every page unless told; wsv --exec and
    --dir accept only same-origin pages by default (403 otherwise).
  - HTTP_PROXY: websocketd passes a Proxy request header as HTTP_PROXY
    ("httpoxy"); wsv leaves it out.
  - --dir: websocketd upgrades to a file that is not executable (then
    fails) and runs dot files; wsv answers 404 before the upgrade.
  - --staticdir: websocketd serves dot files, files behind symbolic links
    leading out of the directory, and POST; wsv answers 404, 403 and 405.
  - '..' in a path: websocketd answers 301/404, wsv 400 (neither serves).
  - --header on plain HTTP answers: wsv writes it (as websocketd's --help
    says); websocketd 0.4.1 writes only --header-http there.
Bad input (traversal paths, --header with CR/LF) never crashes wsv, and a
connection opened before them is still served afterwards.

Usage: websocketd_side.py WSV   (websocketd from PATH; loopback only)
"""

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsvtest as W  # noqa: E402

rep = W.Report("websocketd_side")
WSV = sys.argv[1] if len(sys.argv) > 1 else "build/wsv"
WEBSOCKETD = shutil.which("websocketd") or "/usr/bin/websocketd"

# ---------------------------------------------------------------- the tree

TMP = tempfile.mkdtemp(prefix="wsv-websocketd-")
W._tmpdirs.append(TMP)
D = os.path.join(TMP, "d")
S = os.path.join(TMP, "static")


def put(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    os.chmod(path, mode)


X = 0o755
put(f"{D}/env.sh", "#!/bin/sh\nenv\n", X)
put(f"{D}/sub/x.sh", "#!/bin/sh\necho \"SCRIPT_NAME=$SCRIPT_NAME\"\necho \"PATH_INFO=$PATH_INFO\"\n", X)
put(f"{D}/noexec.sh", "#!/bin/sh\necho ran\n", 0o644)
put(f"{D}/.hidden", "#!/bin/sh\necho hidden ran\n", X)
put(f"{D}/cat.sh", "#!/bin/sh\nexec cat\n", X)
put(f"{D}/sleep.sh", "#!/bin/sh\necho started\necho \"to stderr $$\" >&2\nexec sleep 30\n", X)
# ignores the end of its input and SIGINT/SIGTERM: only SIGKILL ends it
put(f"{D}/stubborn.sh", "#!/bin/sh\ntrap '' INT TERM HUP\necho \"$$\"\n"
    "while :; do sleep 0.05; done\n", X)
put(f"{S}/a.txt", "hi\n")
put(f"{S}/index.html", "<h1>index</h1>\n")
put(f"{S}/sub/index.html", "<p>sub</p>\n")
for name, body in [("app.js", "1;"), ("mod.mjs", "export{};"), ("style.css", "b{}"),
                   ("x.json", "{}"), ("i.svg", "<svg/>"), ("p.png", b"\x89PNG"),
                   ("p.jpg", b"\xff\xd8"), ("g.gif", b"GIF8"), ("f.ico", b"\0\0\1\0"),
                   ("w.wasm", b"\0asm"), ("f.woff2", b"wOF2")]:
    put(f"{S}/{name}", body)
put(f"{S}/.secret", "secret\n")
os.symlink("/etc/passwd", f"{S}/out")
os.symlink("a.txt", f"{S}/in")

# What each type must be (either of the usual names).
TYPES = {"a.txt": ["text/plain"], "index.html": ["text/html"], "app.js": ["text/javascript", "application/javascript"],
         "mod.mjs": ["text/javascript", "application/javascript"], "style.css": ["text/css"],
         "x.json": ["application/json"], "i.svg": ["image/svg+xml"], "p.png": ["image/png"],
         "p.jpg": ["image/jpeg"], "g.gif": ["image/gif"],
         "f.ico": ["image/vnd.microsoft.icon", "image/x-icon"], "w.wasm": ["application/wasm"],
         "f.woff2": ["font/woff2"]}

ENV = dict(W.child_env(), SECRET_TOKEN="do-not-pass")


def sb(x, n=160):
    """A printable excerpt of bytes (or what stands for them)."""
    return W.short(x, n) if isinstance(x, (bytes, bytearray, str)) else f"({type(x).__name__})"

# ---------------------------------------------------------------- servers


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_listening(port, proc, timeout=8):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Srv:
    """One server under test: .name ("websocketd" or "wsv"), .port, .proc."""

    def __init__(self, name, proc, port):
        self.name, self.proc, self.port = name, proc, port


def start(name, common, prog=None):
    """Start `name` with the options in `common` (websocketd spelling:
    --dir=, --staticdir=, --header=... are the same in wsv) and, for a
    single program, `prog` (a file)."""
    if name == "websocketd":
        port = free_port()
        argv = [WEBSOCKETD, f"--port={port}", "--address=127.0.0.1", "--loglevel=access", *common]
        if prog:
            argv.append(prog)
        p = W.Proc(argv, env=ENV)
        if not wait_listening(port, p):
            rep.fail(f"{name} {' '.join(common)} starts", "listening", p.text())
            return None
        return Srv(name, p, port)
    argv = [WSV, "serve", "--host", "127.0.0.1", "--port", "0", *common]
    if prog:
        argv += ["--exec", prog]
    p = W.Proc(argv, env=ENV)
    m = p.wait_output(lambda o, e: W.PORT_RE.search(o), 10)
    if not m:
        rep.fail(f"{name} {' '.join(common)} starts", "a URL line", p.text())
        return None
    return Srv(name, p, int(m.group(2)))


def stop(srv):
    if srv is None:
        return
    rc = srv.proc.stop()
    if srv.name == "wsv":
        rep.check(f"wsv: SIGTERM -> exit 0 ({' '.join(srv.proc.argv[6:])[:60]})", rc == 0,
                  "0", f"{rc} {srv.proc.text()}")


# ---------------------------------------------------------------- clients


def handshake(port, path, extra=""):
    """(status, headers, sock, reader or body, local_port)."""
    s = W.connect_raw(port, 5)
    local = s.getsockname()[1]
    req, key = W.upgrade_request(port, path, extra=extra)
    s.sendall(req)
    data = bytearray()
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    head = W.parse_http_head(bytes(data))
    if head is None:
        s.close()
        return 0, {}, None, bytes(data), local
    st, _, hdrs, rest = head
    if st != 101:
        # websocketd keeps the connection open: read Content-Length bytes
        want = int(hdrs.get("content-length", ["-1"])[0])
        body = bytearray(rest)
        deadline = time.monotonic() + 2
        while (want < 0 or len(body) < want) and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            body += chunk
        s.close()
        return st, hdrs, None, bytes(body), local
    return st, hdrs, s, W.FrameReader(s, rest), local


def read_all(rd, timeout=5):
    """Every data message until the server's Close (or timeout)."""
    msgs = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            op, p = rd.message(max(0.05, deadline - time.monotonic()))
        except (TimeoutError, EOFError, OSError):
            break
        if op == 8:
            break
        if op in (1, 2):
            msgs.append((op, p))
    return msgs


def lines_of(msgs):
    out = []
    for _, p in msgs:
        out += p.decode("utf-8", "replace").split("\n")
    return [x for x in out if x]


def close_ws(s):
    try:
        s.sendall(W.frame(8, b"\x03\xe8"))
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def http(port, method, path, extra=""):
    """(status, headers, body) of a raw HTTP/1.1 request (path as is)."""
    s = W.connect_raw(port, 5)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}\r\n".encode())
    data, _ = W.read_until_eof(s, 5, 16 << 20)
    s.close()
    head = W.parse_http_head(data)
    if head is None:
        return 0, {}, data
    st, _, hdrs, body = head
    if method == "GET" and "content-length" in hdrs:
        body = body[:int(hdrs["content-length"][0])]
    return st, hdrs, body


def h1(hdrs, name):
    v = hdrs.get(name.lower())
    return v[0] if v else None


# ---------------------------------------------------------------- checks


def check_cgi(srv, pair):
    n = srv.name
    st, hdrs, s, rd, local = handshake(
        srv.port, "/env.sh/extra/p?a=1&b=%20",
        "X-Foo-Bar: v\r\nProxy: evil\r\nX-Twice: a\r\nX-Twice: b\r\n")
    if not rep.check(f"{n}: --dir /env.sh/extra/p upgrades", st == 101, "101", f"{st} {sb(rd)}"):
        return
    env = {}
    for line in lines_of(read_all(rd)):
        k, _, v = line.partition("=")
        env[k] = v
    s.close()
    want = {"REMOTE_ADDR": "127.0.0.1", "REMOTE_HOST": "127.0.0.1", "REMOTE_PORT": str(local),
            "QUERY_STRING": "a=1&b=%20", "REQUEST_URI": "/env.sh/extra/p?a=1&b=%20",
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/env.sh", "PATH_INFO": "/extra/p",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(srv.port), "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_X_FOO_BAR": "v", "HTTP_UPGRADE": "websocket", "HTTP_SEC_WEBSOCKET_VERSION": "13"}
    for k, v in want.items():
        rep.check(f"{n}: CGI {k}={v}", env.get(k) == v, v, repr(env.get(k)))
    rep.check(f"{n}: CGI SERVER_SOFTWARE names the server",
              env.get("SERVER_SOFTWARE", "").startswith(n + "/"), f"{n}/...", repr(env.get("SERVER_SOFTWARE")))
    rep.check(f"{n}: CGI UNIQUE_ID is a number", env.get("UNIQUE_ID", "").isdigit(), "digits",
              repr(env.get("UNIQUE_ID")))
    rep.check(f"{n}: no HTTPS without TLS", "HTTPS" not in env, "absent", repr(env.get("HTTPS")))
    rep.check(f"{n}: clean environment (SECRET_TOKEN not passed)", "SECRET_TOKEN" not in env,
              "absent", repr(env.get("SECRET_TOKEN")))
    rep.check(f"{n}: PATH passed", env.get("PATH") == ENV["PATH"], ENV["PATH"][:40], repr(env.get("PATH"))[:60])
    twice = env.get("HTTP_X_TWICE")
    if n == "wsv":
        rep.check("wsv: a repeated header is joined with ', '", twice == "a, b", "a, b", repr(twice))
        rep.check("wsv DIFFERS: Proxy header not passed as HTTP_PROXY (httpoxy)", "HTTP_PROXY" not in env,
                  "absent", repr(env.get("HTTP_PROXY")))
    else:
        rep.check("websocketd DIFFERS: Proxy header passed as HTTP_PROXY", env.get("HTTP_PROXY") == "evil",
                  "evil", repr(env.get("HTTP_PROXY")))
    pair.setdefault("uid", []).append(env.get("UNIQUE_ID"))
    # a second connection gets another UNIQUE_ID
    st, _, s, rd, _ = handshake(srv.port, "/env.sh")
    env2 = dict(l.partition("=")[::2] for l in lines_of(read_all(rd))) if st == 101 else {}
    if s:
        s.close()
    rep.check(f"{n}: UNIQUE_ID differs per connection", env2.get("UNIQUE_ID") not in (None, env.get("UNIQUE_ID")),
              "another number", f"{env.get('UNIQUE_ID')} then {env2.get('UNIQUE_ID')}")
    rep.check(f"{n}: PATH_INFO empty for /env.sh", env2.get("PATH_INFO") == "", "''", repr(env2.get("PATH_INFO")))


def check_routing(srv):
    n = srv.name
    st, _, s, rd, _ = handshake(srv.port, "/sub/x.sh/q/r")
    got = lines_of(read_all(rd)) if st == 101 else []
    if s:
        s.close()
    rep.check(f"{n}: --dir /sub/x.sh/q/r runs sub/x.sh", got == ["SCRIPT_NAME=/sub/x.sh", "PATH_INFO=/q/r"],
              "SCRIPT_NAME=/sub/x.sh PATH_INFO=/q/r", f"{st} {got}")
    for path, what in [("/nothing", "no such program"), ("/sub", "a directory"), ("/sub/", "a directory")]:
        st, _, s, body, _ = handshake(srv.port, path)
        rep.check(f"{n}: --dir {path} ({what}) -> 404 before the upgrade", st == 404, "404", f"{st} {sb(body)}")
        if n == "wsv":
            rep.check(f"wsv: {path}: a one-line body", isinstance(body, bytes) and body.count(b"\n") == 1,
                      "one line", sb(body))
    for path in ["/../d/env.sh", "/%2e%2e/d/env.sh", "/sub/%2E%2E/env.sh", "/..%2fd/env.sh"]:
        st, _, s, body, _ = handshake(srv.port, path)
        if s:
            s.close()
        rep.check(f"{n}: --dir {path}: refused", st in (400, 404) if n == "wsv" else st != 101,
                  "400" if n == "wsv" else "not 101", f"{st} {sb(body)}")
    for path, what in [("/noexec.sh", "not executable"), ("/.hidden", "a dot file")]:
        st, _, s, body, _ = handshake(srv.port, path)
        if s:
            read_all(body, 2)
            s.close()
        if n == "wsv":
            rep.check(f"wsv DIFFERS: --dir {path} ({what}) -> 404 before the upgrade", st == 404, "404",
                      f"{st} {sb(body if isinstance(body, bytes) else b'')}")
        else:
            rep.check(f"websocketd DIFFERS: --dir {path} ({what}) upgrades", st == 101, "101", str(st))


def check_static(srv):
    n = srv.name
    st, h, body = http(srv.port, "GET", "/a.txt")
    rep.check(f"{n}: static GET /a.txt", st == 200 and body == b"hi\n", "200 hi", f"{st} {sb(body)}")
    lm = h1(h, "Last-Modified")
    rep.check(f"{n}: static Last-Modified", bool(lm and lm.endswith("GMT")), "an HTTP-date", repr(lm))
    st, h2, body2 = http(srv.port, "HEAD", "/a.txt")
    rep.check(f"{n}: static HEAD /a.txt: length, no body",
              st == 200 and h1(h2, "Content-Length") == "3" and body2 == b"", "200, 3, no body",
              f"{st} {h1(h2, 'Content-Length')} {sb(body2)}")
    if lm:
        st, _, body = http(srv.port, "GET", "/a.txt", f"If-Modified-Since: {lm}\r\n")
        rep.check(f"{n}: static If-Modified-Since = Last-Modified -> 304", st == 304 and body == b"",
                  "304, no body", f"{st} {sb(body)}")
    st, _, body = http(srv.port, "GET", "/a.txt", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")
    rep.check(f"{n}: static If-Modified-Since in 2000 -> 200", st == 200 and body == b"hi\n", "200", str(st))
    st, h, body = http(srv.port, "GET", "/")
    rep.check(f"{n}: static / -> index.html", st == 200 and b"<h1>index" in body, "index.html",
              f"{st} {sb(body)}")
    st, h, body = http(srv.port, "GET", "/sub")
    rep.check(f"{n}: static /sub -> 301 to /sub/", st == 301 and (h1(h, "Location") or "").endswith("sub/"),
              "301 Location .../sub/", f"{st} {h1(h, 'Location')}")
    if n == "wsv":
        st, h, body = http(srv.port, "GET", "//sub")
        loc = h1(h, "Location") or ""
        rep.check("wsv: static //sub -> 301 to /sub/, never a protocol-relative //host",
                  st == 301 and loc == "/sub/", "301 Location /sub/", f"{st} {loc!r}")
    st, h, body = http(srv.port, "GET", "/sub/")
    rep.check(f"{n}: static /sub/ -> its index.html", st == 200 and b"<p>sub" in body, "sub/index.html",
              f"{st} {sb(body)}")
    for name, types in TYPES.items():
        # websocketd sends /index.html to "./": ask for the directory
        st, h, _ = http(srv.port, "HEAD", "/" + name if name != "index.html" else "/")
        ct = (h1(h, "Content-Type") or "").split(";")[0].strip()
        rep.check(f"{n}: Content-Type of {name}", st == 200 and ct in types, " or ".join(types), f"{st} {ct}")
    st, _, body = http(srv.port, "GET", "/missing.txt")
    rep.check(f"{n}: static missing file -> 404", st == 404, "404", f"{st} {sb(body)}")
    for path in ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc/passwd",
                 "/sub/%2E%2E/%2E%2E/%2E%2E/etc/passwd"]:
        st, _, body = http(srv.port, "GET", path)
        rep.check(f"{n}: static {path}: not served", st != 200 and b"root:" not in body,
                  "400" if n == "wsv" else "not 200", f"{st} {sb(body)}")
        if n == "wsv":
            rep.check(f"wsv: static {path} -> 400", st == 400, "400", str(st))
    st, _, body = http(srv.port, "GET", "/in")
    rep.check(f"{n}: static link inside the directory served", st == 200 and body == b"hi\n", "200 hi", str(st))
    st, _, body = http(srv.port, "GET", "/out")
    st2, _, body2 = http(srv.port, "GET", "/.secret")
    st3, h3, body3 = http(srv.port, "POST", "/a.txt", "Content-Length: 0\r\n")
    if n == "wsv":
        rep.check("wsv DIFFERS: static link out of the directory -> 403", st == 403 and b"root:" not in body,
                  "403", f"{st} {sb(body)}")
        rep.check("wsv DIFFERS: static dot file -> 404", st2 == 404, "404", f"{st2} {sb(body2)}")
        rep.check("wsv DIFFERS: static POST -> 405 with Allow", st3 == 405 and "GET" in (h1(h3, "Allow") or ""),
                  "405 Allow: GET, HEAD", f"{st3} {h1(h3, 'Allow')}")
    else:
        rep.check("websocketd DIFFERS: static link out of the directory served", st == 200 and b"root:" in body,
                  "200 /etc/passwd", str(st))
        rep.check("websocketd DIFFERS: static dot file served", st2 == 200, "200", str(st2))
        rep.check("websocketd DIFFERS: static POST served", st3 == 200, "200", str(st3))


def check_headers(srv):
    n = srv.name
    st, h, s, rd, _ = handshake(srv.port, "/cat.sh")
    if s:
        close_ws(s)
        s.close()
    rep.check(f"{n}: --header and --header-ws on the 101",
              st == 101 and h1(h, "X-All") == "1" and h1(h, "X-Ws") == "2", "X-All: 1, X-Ws: 2",
              f"{st} {h}")
    rep.check(f"{n}: --header-http not on the 101", h1(h, "X-Http") is None, "absent", repr(h1(h, "X-Http")))
    st, h, _ = http(srv.port, "GET", "/a.txt")
    rep.check(f"{n}: --header-http on plain HTTP", h1(h, "X-Http") == "3", "X-Http: 3", repr(h1(h, "X-Http")))
    rep.check(f"{n}: --header-ws not on plain HTTP", h1(h, "X-Ws") is None, "absent", repr(h1(h, "X-Ws")))
    if n == "wsv":
        rep.check("wsv DIFFERS: --header on plain HTTP too", h1(h, "X-All") == "1", "X-All: 1",
                  repr(h1(h, "X-All")))
        st, h, _ = http(srv.port, "GET", "/missing")
        rep.check("wsv: --header-http on a 404 too", h1(h, "X-Http") == "3", "X-Http: 3", repr(h))
    else:
        rep.check("websocketd DIFFERS: --header not on static answers", h1(h, "X-All") is None, "absent",
                  repr(h1(h, "X-All")))


def check_origin(srv):
    n = srv.name
    st, _, s, _, _ = handshake(srv.port, "/cat.sh", "Origin: http://evil.example\r\n")
    if s:
        close_ws(s)
        s.close()
    if n == "wsv":
        rep.check("wsv DIFFERS: --dir refuses a cross-origin page by default (403)", st == 403, "403", str(st))
        st, _, s, _, _ = handshake(srv.port, "/cat.sh", f"Origin: http://127.0.0.1:{srv.port}\r\n")
        if s:
            close_ws(s)
            s.close()
        rep.check("wsv: --dir accepts its own page", st == 101, "101", str(st))
    else:
        rep.check("websocketd DIFFERS: accepts a cross-origin page by default", st == 101, "101", str(st))
    st, _, s, _, _ = handshake(srv.port, "/cat.sh")
    if s:
        close_ws(s)
        s.close()
    rep.check(f"{n}: a request without Origin is accepted", st == 101, "101", str(st))


def check_stderr(srv):
    n = srv.name
    st, _, s, rd, _ = handshake(srv.port, "/sleep.sh")
    got = []
    try:
        got = [rd.message(5)] if st == 101 else []
    except (TimeoutError, EOFError):
        pass
    pid = None
    # websocketd logs on stdout, wsv on stderr
    m = srv.proc.wait_output(lambda o, e: (b"to stderr " in e + o) and e + o, 5)
    if m:
        pid = int(m.split(b"to stderr ", 1)[1].split()[0])
    if s:
        close_ws(s)
        s.close()
    rep.check(f"{n}: the program runs (stdout)", got and got[0][1] == b"started", "started", repr(got))
    if n == "wsv":
        rep.check("wsv: the program's stderr in the log with the connection number",
                  srv.proc.wait_output(lambda o, e: re.search(rb"wsv: #\d+ stderr: to stderr \d+\n", e), 5) is not None,
                  "wsv: #N stderr: to stderr", sb(bytes(srv.proc.err)[-400:], 400))
    else:
        rep.check("websocketd: the program's stderr in the log", m is not None, "to stderr",
                  sb(bytes(srv.proc.err)[-400:], 400))
    return pid


def gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.02)
    return False


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False


def check_closems(srv):
    """--closems 300: a program ignoring EOF, SIGINT and SIGTERM is still
    there right after the close, and gone (killed, reaped) soon after."""
    n = srv.name
    st, _, s, rd, _ = handshake(srv.port, "/stubborn.sh")
    pid = None
    if st == 101:
        try:
            op, p = rd.message(5)
            pid = int(p.strip())
        except (TimeoutError, EOFError, ValueError):
            pass
    if not rep.check(f"{n}: stubborn program runs", pid is not None, "its pid", f"{st}"):
        return
    close_ws(s)
    t0 = time.monotonic()
    read_all(rd, 2)
    s.close()
    time.sleep(max(0, 0.15 - (time.monotonic() - t0)))
    rep.check(f"{n}: --closems 300: still running 150 ms after the close", os.path.exists(f"/proc/{pid}")
              and not zombie(pid), "alive", "gone")
    ok = gone(pid, 4)
    dt = time.monotonic() - t0
    rep.check(f"{n}: --closems 300: killed and reaped (no zombie) after the grace", ok and dt >= 0.3,
              "gone between 0.3 and 4 s", f"{'gone' if ok else 'alive or zombie'} after {dt:.2f} s")


def check_no_zombies(srv, pid):
    if pid is not None:
        rep.check(f"{srv.name}: the sleeping program ended and was reaped", gone(pid, 4), "gone",
                  "zombie" if zombie(pid) else "alive")


def check_bad_input_meanwhile(srv, before):
    """A connection opened before the bad requests is still served."""
    n = srv.name
    s, rd = before
    try:
        s.sendall(W.frame(1, b"still here"))
        op, p = rd.message(5)
        ok = p == b"still here"
    except (OSError, TimeoutError, EOFError) as e:
        ok, p = False, repr(e)
    rep.check(f"{n}: a connection opened before the bad input is still served", ok, "still here", repr(p))
    close_ws(s)
    s.close()
    rep.check(f"{n}: still running after the bad input", srv.proc.alive(), "alive", srv.proc.text())


def run_dir_pair():
    common = [f"--dir={D}", f"--staticdir={S}", "--header=X-All: 1", "--header-ws=X-Ws: 2",
              "--header-http=X-Http: 3", "--closems=300"]
    pair = {}
    for name in ("websocketd", "wsv"):
        srv = start(name, common)
        if srv is None:
            continue
        try:
            st, _, s, rd, _ = handshake(srv.port, "/cat.sh")
            before = (s, rd) if st == 101 else None
            rep.check(f"{name}: --dir /cat.sh upgrades", st == 101, "101", str(st))
            check_cgi(srv, pair)
            check_routing(srv)
            check_static(srv)
            check_headers(srv)
            check_origin(srv)
            pid = check_stderr(srv)
            check_closems(srv)
            check_no_zombies(srv, pid)
            if before:
                check_bad_input_meanwhile(srv, before)
        finally:
            stop(srv)


def run_exec_pair():
    """A single program (--exec / websocketd's COMMAND): SCRIPT_NAME "/",
    the path in PATH_INFO; the Origin default of --exec."""
    for name in ("websocketd", "wsv"):
        srv = start(name, [], f"{D}/env.sh")
        if srv is None:
            continue
        try:
            st, _, s, rd, _ = handshake(srv.port, "/some/path?x=1")
            env = dict(l.partition("=")[::2] for l in lines_of(read_all(rd))) if st == 101 else {}
            if s:
                s.close()
            rep.check(f"{name}: one program: SCRIPT_NAME=/", env.get("SCRIPT_NAME") == "/", "/",
                      repr(env.get("SCRIPT_NAME")))
            rep.check(f"{name}: one program: PATH_INFO=/some/path", env.get("PATH_INFO") == "/some/path",
                      "/some/path", repr(env.get("PATH_INFO")))
            rep.check(f"{name}: one program: QUERY_STRING=x=1", env.get("QUERY_STRING") == "x=1", "x=1",
                      repr(env.get("QUERY_STRING")))
            st, _, s, rd, _ = handshake(srv.port, "/.well-known/x%20y")
            env = dict(l.partition("=")[::2] for l in lines_of(read_all(rd))) if st == 101 else {}
            if s:
                s.close()
            rep.check(f"{name}: one program: any path runs it, PATH_INFO decoded",
                      env.get("PATH_INFO") == "/.well-known/x y", "/.well-known/x y",
                      f"{st} {env.get('PATH_INFO')!r}")
            st, _, s, _, _ = handshake(srv.port, "/", "Origin: http://evil.example\r\n")
            if s:
                s.close()
            if name == "wsv":
                rep.check("wsv DIFFERS: --exec refuses a cross-origin page by default (403)", st == 403, "403",
                          str(st))
            else:
                rep.check("websocketd DIFFERS: a program accepts a cross-origin page", st == 101, "101", str(st))
        finally:
            stop(srv)
    # --origin in both: the listed page only
    for name in ("websocketd", "wsv"):
        srv = start(name, ["--origin=good.example"], f"{D}/cat.sh")
        if srv is None:
            continue
        try:
            st, _, s, _, _ = handshake(srv.port, "/", "Origin: http://good.example\r\n")
            if s:
                s.close()
            st2, _, s2, _, _ = handshake(srv.port, "/", "Origin: http://evil.example\r\n")
            if s2:
                s2.close()
            rep.check(f"{name}: --origin good.example: that page accepted, another 403",
                      st == 101 and st2 == 403, "101 then 403", f"{st} then {st2}")
        finally:
            stop(srv)
    srv = start("wsv", ["--origin=*"], f"{D}/cat.sh")
    if srv:
        st, _, s, _, _ = handshake(srv.port, "/", "Origin: http://evil.example\r\n")
        if s:
            s.close()
        rep.check("wsv: --exec --origin '*' accepts every page", st == 101, "101", str(st))
        stop(srv)


def run_maxforks_pair():
    for name in ("websocketd", "wsv"):
        srv = start(name, [f"--dir={D}", "--maxforks=1", "--closems=50"])
        if srv is None:
            continue
        try:
            st, _, s, rd, _ = handshake(srv.port, "/sleep.sh")
            st2, h2, s2, body2, _ = handshake(srv.port, "/sleep.sh")
            if s2:
                s2.close()
            rep.check(f"{name}: --maxforks 1: the first program runs", st == 101, "101", str(st))
            rep.check(f"{name}: --maxforks 1: a second handshake -> 429 before the upgrade", st2 == 429, "429",
                      f"{st2} {sb(body2 if isinstance(body2, bytes) else b'')}")
            if name == "wsv":
                rep.check("wsv: the 429 has a one-line body", isinstance(body2, bytes) and body2.count(b"\n") == 1
                          and b"maxforks" in body2, "one line naming --maxforks", sb(body2))
            if s:
                close_ws(s)
                read_all(rd, 2)
                s.close()
            # once the first program is gone, a new one may start
            st3 = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                st3, _, s3, _, _ = handshake(srv.port, "/cat.sh")
                if s3:
                    close_ws(s3)
                    s3.close()
                if st3 == 101:
                    break
                time.sleep(0.1)
            rep.check(f"{name}: --maxforks 1: a new program once the first ended", st3 == 101, "101", str(st3))
        finally:
            stop(srv)


def run_binary_pair():
    data = bytes([0x00, 0xff, 0xfe, 0x0a, 0x80, 0x0a, 0xc3]) + b"no newline"
    for name in ("websocketd", "wsv"):
        srv = start(name, ["--binary"], "/bin/cat")
        if srv is None:
            continue
        try:
            st, _, s, rd, _ = handshake(srv.port, "/")
            got, ops = b"", set()
            if st == 101:
                s.sendall(W.frame(2, data))
                deadline = time.monotonic() + 5
                while len(got) < len(data) and time.monotonic() < deadline:
                    try:
                        op, p = rd.message(max(0.05, deadline - time.monotonic()))
                    except (TimeoutError, EOFError):
                        break
                    ops.add(op)
                    got += p
                close_ws(s)
                s.close()
            rep.check(f"{name}: --binary: bytes back as they are (not UTF-8, newlines kept, none added)",
                      got == data, sb(data), sb(got))
            rep.check(f"{name}: --binary: sent as binary messages", ops == {2}, "{2}", repr(ops))
        finally:
            stop(srv)


def wss_lines(port, ca, path):
    """The text a program sends over wss:// (Python websockets client)."""
    import asyncio
    import websockets

    async def go():
        out = []
        async with websockets.connect(f"wss://localhost:{port}{path}", ssl=W.client_ssl(ca),
                                      open_timeout=5) as ws:
            try:
                while True:
                    out.append(await asyncio.wait_for(ws.recv(), 5))
            except (websockets.ConnectionClosed, asyncio.TimeoutError):
                pass
        return out
    try:
        return asyncio.run(go())
    except Exception as e:  # noqa: BLE001 - reported as the case's result
        return [f"error {e!r}"]


def run_tls_pair():
    """HTTPS=on (and the CGI variables) over TLS, on both."""
    if not W.require_peers(rep, python_websockets=True):
        return
    pki = W.make_pki(rep)
    if pki is None:
        return
    for name in ("websocketd", "wsv"):
        if name == "websocketd":
            common = ["--ssl", f"--sslcert={pki['cert']}", f"--sslkey={pki['key']}"]
        else:
            common = ["--cert", pki["cert"], "--key", pki["key"]]
        srv = start(name, common + [f"--dir={D}"])
        if srv is None:
            continue
        try:
            lines = []
            for m in wss_lines(srv.port, pki["ca"], "/env.sh"):
                lines += m.split("\n") if isinstance(m, str) else []
            env = dict(l.partition("=")[::2] for l in lines if l)
            rep.check(f"{name}: over TLS: HTTPS=on", env.get("HTTPS") == "on", "on",
                      f"{env.get('HTTPS')!r} {lines[:3]}")
            rep.check(f"{name}: over TLS: SCRIPT_NAME=/env.sh", env.get("SCRIPT_NAME") == "/env.sh", "/env.sh",
                      repr(env.get("SCRIPT_NAME")))
        finally:
            stop(srv)


def run_limits():
    """wsv only: a static file over the 8 MiB limit gets 500 (the answer is
    held in memory), one at the limit is served; a stderr line longer than
    960 bytes is cut in the log (the line then fits in 1 KiB)."""
    big = os.path.join(TMP, "big")
    os.makedirs(big, exist_ok=True)
    with open(f"{big}/over.bin", "wb") as f:
        f.truncate((8 << 20) + 1)
    with open(f"{big}/at.bin", "wb") as f:
        f.truncate(8 << 20)
    put(f"{D}/longerr.sh", "#!/bin/sh\nhead -c 3000 /dev/zero | tr '\\0' x >&2\necho >&2\necho done\n", X)
    srv = start("wsv", [f"--staticdir={big}", f"--dir={D}"])
    if srv is None:
        return
    try:
        st, h, body = http(srv.port, "HEAD", "/over.bin")
        st2, _, body2 = http(srv.port, "GET", "/over.bin")
        rep.check("wsv: static file over 8 MiB -> 500 with a line saying so",
                  st == 500 and st2 == 500 and b"8 MiB" in body2, "500 ... 8 MiB", f"{st} {st2} {sb(body2)}")
        st, h, body = http(srv.port, "GET", "/at.bin")
        rep.check("wsv: static file of 8 MiB served whole", st == 200 and len(body) == 8 << 20
                  and h1(h, "Content-Type") == "application/octet-stream", "200, 8 MiB, octet-stream",
                  f"{st} {len(body)} {h1(h, 'Content-Type')}")
        st, _, s, rd, _ = handshake(srv.port, "/longerr.sh")
        got = lines_of(read_all(rd)) if st == 101 else []
        if s:
            s.close()
        m = srv.proc.wait_output(lambda o, e: re.search(rb"wsv: #\d+ stderr: (x+)(\.\.\.)?\n", e), 5)
        rep.check("wsv: a 3000-byte stderr line is logged cut at 960 bytes",
                  got == ["done"] and m is not None and len(m.group(1)) == 960 and m.group(2) == b"...",
                  "960 x and ...", f"{got} {len(m.group(1)) if m else None}")
    finally:
        stop(srv)


def run_bad_options():
    for args, what in [(["--header", "X-A: a\r\nX-B: b"], "CR/LF in a value"),
                       (["--header-ws", "X-A: a\nb"], "LF in a value"),
                       (["--header-http", "Bad Name: x"], "a space in the name"),
                       (["--header", "novalue"], "no colon"),
                       (["--header", "Content-Length: 5"], "a header wsv writes itself"),
                       (["--exec", "cat", "--dir", D], "--exec with --dir"),
                       (["--maxforks", "2"], "--maxforks without a program"),
                       (["--dir", f"{TMP}/no-such-dir"], "--dir that does not exist"),
                       (["--staticdir", f"{S}/a.txt"], "--staticdir that is a file")]:
        p = subprocess.run([WSV, "serve", "--port", "0", *args], capture_output=True, timeout=10,
                           env=ENV)
        err = p.stderr.decode(errors="replace")
        rep.check(f"wsv: usage error for {what}", p.returncode == 2 and "wsv serve" in err
                  and "Sanitizer" not in err, "exit 2 with a message", f"{p.returncode} {err[:200]!r}")
    # a good header value keeps its inner spaces
    p = W.Proc([WSV, "serve", "--host", "127.0.0.1", "--port", "0", "--web", S,
                "--header", "X-Sp:  a  b  "], env=ENV)
    m = p.wait_output(lambda o, e: W.PORT_RE.search(o), 10)
    if m:
        st, h, body = http(int(m.group(2)), "GET", "/a.txt")
        rep.check("wsv: --web is --staticdir; --header value trimmed outside only",
                  st == 200 and body == b"hi\n" and h1(h, "X-Sp") == "a  b", "200, X-Sp: a  b",
                  f"{st} {h1(h, 'X-Sp')!r}")
        # echo mode with --staticdir: files replace the demo page, echo works
        try:
            s, rd = W.ws_open(int(m.group(2)), "/")
            s.sendall(W.frame(1, b"echo"))
            op, pl = rd.message(5)
            rep.check("wsv: echo still works beside --staticdir", pl == b"echo", "echo", repr(pl))
            s.close()
        except (OSError, ValueError, EOFError, TimeoutError) as e:
            rep.fail("wsv: echo still works beside --staticdir", "echo", repr(e))
    else:
        rep.fail("wsv --web starts", "a URL line", p.text())
    p.stop()


def run_origin_modes():
    """--origin and --sameorigin in the modes that accept every page by
    default (echo, chat)."""
    for mode in ([], ["--chat"]):
        srv = start("wsv", [*mode, "--origin=http://good.example"])
        if srv is None:
            continue
        try:
            st, _, s, _, _ = handshake(srv.port, "/", "Origin: http://good.example\r\n")
            st2, _, s2, _, _ = handshake(srv.port, "/", "Origin: http://evil.example\r\n")
            for x in (s, s2):
                if x:
                    x.close()
            rep.check(f"wsv {' '.join(mode) or 'echo'}: --origin: listed page 101, another 403",
                      st == 101 and st2 == 403, "101, 403", f"{st}, {st2}")
        finally:
            stop(srv)
        srv = start("wsv", [*mode, "--sameorigin"])
        if srv is None:
            continue
        try:
            st, _, s, _, _ = handshake(srv.port, "/", f"Origin: http://127.0.0.1:{srv.port}\r\n")
            st2, _, s2, _, _ = handshake(srv.port, "/", "Origin: http://evil.example\r\n")
            for x in (s, s2):
                if x:
                    x.close()
            rep.check(f"wsv {' '.join(mode) or 'echo'}: --sameorigin: own page 101, another 403",
                      st == 101 and st2 == 403, "101, 403", f"{st}, {st2}")
        finally:
            stop(srv)
        srv = start("wsv", mode)
        if srv is None:
            continue
        try:
            st, _, s, _, _ = handshake(srv.port, "/", "Origin: http://evil.example\r\n")
            if s:
                s.close()
            rep.check(f"wsv {' '.join(mode) or 'echo'}: every page by default (nothing runs)", st == 101,
                      "101", str(st))
        finally:
            stop(srv)


def main():
    if not os.path.exists(WEBSOCKETD):
        rep.fail("peer: websocketd", "/usr/bin/websocketd (apt: websocketd; scripts/deps)", "missing")
        rep.finish()
    for part in (run_dir_pair, run_exec_pair, run_maxforks_pair, run_binary_pair, run_tls_pair,
                 run_limits, run_bad_options, run_origin_modes):
        t0 = time.monotonic()
        part()
        print(f"-- {part.__name__}: {time.monotonic() - t0:.1f} s", flush=True)
    rep.finish()


if __name__ == "__main__":
    main()
