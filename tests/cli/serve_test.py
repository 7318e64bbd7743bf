#!/usr/bin/python3
"""serve_test.py WSV SRCDIR - `wsv serve` and `wsv connect` against each
other over loopback: echo, chat, exec, the demo page, port in use, SIGTERM,
version negotiation, exit codes; Origin checks, the programs' environment,
process groups and the open-files limit.

Run with Debian's /usr/bin/python3 (standard library only).  Every process
is started with a deadline and killed by its PID at the end."""

import base64
import http.client
import os
import re
import resource
import struct
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

WSV = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
PORT_RE = re.compile(rb"wsv: serving on http://127\.0\.0\.1:(\d+)/ \(WebSocket: ws://127\.0\.0\.1:(\d+)/\)")

fails = 0
procs = []


def check(desc, ok, detail=""):
    global fails
    if ok:
        print(f"ok   {desc}")
    else:
        fails += 1
        print(f"FAIL {desc}" + (f"\n     {detail}" if detail else ""))


class Proc:
    """A child whose stdout and stderr are collected by threads."""

    def __init__(self, argv, stdin=subprocess.PIPE, env=None, preexec_fn=None):
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env, preexec_fn=preexec_fn)
        procs.append(self.p)
        self.out = bytearray()
        self.err = bytearray()
        self.cv = threading.Condition()
        self.threads = [threading.Thread(target=self._drain, args=(f, b), daemon=True)
                        for f, b in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self.threads:
            t.start()

    def _drain(self, f, buf):
        while True:
            try:
                chunk = os.read(f.fileno(), 65536)
            except OSError:
                chunk = b""
            with self.cv:
                if chunk:
                    buf.extend(chunk)
                self.cv.notify_all()
            if not chunk:
                return

    def wait_for(self, pred, timeout=5):
        """Wait until pred(out, err) is true; return its value or None."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                v = pred(bytes(self.out), bytes(self.err))
                if v or time.monotonic() >= end:
                    return v or None
                if self.p.poll() is not None and not any(t.is_alive() for t in self.threads):
                    return pred(bytes(self.out), bytes(self.err)) or None
                self.cv.wait(0.05)

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except (OSError, AttributeError):
            pass

    def wait(self, timeout=5):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.threads:
            t.join(2)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)

    def text(self):
        return f"stdout={bytes(self.out)[:300]!r} stderr={bytes(self.err)[:500]!r}"


def serve(*args, env=None, preexec_fn=None):
    """Start `wsv serve --port 0 ARGS`; returns (proc, port) once listening."""
    s = Proc([WSV, "serve", "--host", "127.0.0.1", "--port", "0", *args],
             stdin=subprocess.DEVNULL, env=env, preexec_fn=preexec_fn)
    m = s.wait_for(lambda o, e: PORT_RE.search(o), 10)
    if not m:
        s.kill()
        raise RuntimeError(f"wsv serve {' '.join(args)} did not start: {s.text()}")
    return s, int(m.group(1))


def stop(s, sig=signal.SIGTERM, timeout=6):
    s.p.send_signal(sig)
    rc = s.wait(timeout)
    if rc is None:
        s.kill()
    return rc


def connect(port, *args, path="/", stdin=subprocess.PIPE):
    return Proc([WSV, "connect", *args, f"ws://127.0.0.1:{port}{path}"], stdin=stdin)


def run(argv, input_=b"", timeout=10):
    r = subprocess.run(argv, input=input_, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def lines_of(b):
    return b.decode("utf-8", "replace").splitlines()


def http_get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type") or "", body


def children_of(pid):
    """PIDs whose parent is pid (zombies included)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(d), fields[0]))
    return out


# ---------------------------------------------------------------- cases


def case_help():
    for cmd in ("serve", "connect"):
        rc, out, _ = run([WSV, cmd, "--help"])
        check(f"{cmd} --help exits 0 with a usage line",
              rc == 0 and out.startswith(f"usage: wsv {cmd}".encode()), out[:80])
    rc, _, err = run([WSV, "serve", "--versions", "13,9"])
    check("serve --versions 13,9: exit 2 naming 9",
          rc == 2 and b'"9" is not a WebSocket version' in err, err)
    rc, _, err = run([WSV, "connect", "--versions", "14", "ws://127.0.0.1:1/"])
    check("connect --versions 14: exit 2", rc == 2 and b"14" in err, err)
    rc, _, err = run([WSV, "serve", "--chat", "--exec", "cat"])
    check("serve --chat --exec: exit 2", rc == 2, err)
    for opt, bad in (("--close-timeout", "0"), ("--output-budget", "1X"),
                     ("--input-budget", "-1")):
        rc, _, err = run([WSV, "serve", opt, bad])
        check(f"serve {opt} {bad}: exit 2 naming the option",
              rc == 2 and opt.encode() in err, err)
    rc, _, err = run([WSV, "connect"])
    check("connect without URL: exit 2", rc == 2, err)
    rc, _, err = run([WSV, "connect", "http://127.0.0.1/"])
    check("connect http:// URL: exit 2", rc == 2, err)
    rc, _, err = run([WSV, "connect", "wss://127.0.0.1/"], timeout=5)
    check("connect wss://: exit 1, one line", rc == 1 and err.count(b"\n") == 1, err)


def case_echo():
    s, port = serve()
    try:
        # Lines, then EOF at once: every echo comes back before the Close.
        lines = ["hello", "", "ünïcødé €", "x" * 70000, "last without newline"]
        data = ("\n".join(lines)).encode()
        rc, out, err = run([WSV, "connect", f"ws://127.0.0.1:{port}/echo"], data)
        check("echo: stdin lines come back, one per line", lines_of(out) == lines,
              f"{out[:200]!r} {err!r}")
        check("echo: connect exits 0 after its close 1000", rc == 0, f"rc={rc} {err!r}")
        check("echo: nothing on connect's stderr", err == b"", err)
        # The same interactively: one line at a time.
        c = connect(port, path="/a/b?x=1")
        ok = True
        for i in range(5):
            c.send(f"line {i}\n".encode())
            if not c.wait_for(lambda o, e, i=i: o.count(b"\n") > i, 5):
                ok = False
                break
        check("echo: interactive lines answered one by one", ok and lines_of(c.out) ==
              [f"line {i}" for i in range(5)], c.text())
        c.close_stdin()
        check("echo: interactive connect exits 0 at EOF", c.wait(5) == 0, c.text())
        # Binary lines.
        rc, out, err = run([WSV, "connect", "--binary", "--hex",
                            f"ws://127.0.0.1:{port}/"], b"AB\n\x00\xff\n")
        check("echo --binary --hex: bytes back as hex", rc == 0 and lines_of(out) == ["4142", "00ff"],
              f"{out!r} {err!r}")
        rc, out, err = run([WSV, "connect", "--binary", f"ws://127.0.0.1:{port}/"], b"raw\n")
        check("echo --binary: raw bytes printed", rc == 0 and out == b"raw\n", f"{out!r} {err!r}")
        rc, out, err = run([WSV, "connect", f"ws://127.0.0.1:{port}/"], b"ok\n\xff\xfe\n")
        check("connect: a non-UTF-8 line is an error (exit 1, names the line)",
              rc == 1 and b"line 2 is not valid UTF-8" in err and out == b"ok\n", f"{out!r} {err!r}")
        # stdin from a regular file (epoll cannot watch it).
        with tempfile.TemporaryFile() as f:
            f.write(b"from\na file\n")
            f.seek(0)
            r = subprocess.run([WSV, "connect", f"ws://127.0.0.1:{port}/"], stdin=f,
                               capture_output=True, timeout=10)
        check("connect: stdin from a regular file", r.returncode == 0 and
              lines_of(r.stdout) == ["from", "a file"], f"{r.stdout!r} {r.stderr!r}")
        rc, out, err = run([WSV, "connect", f"ws://127.0.0.1:{port}/"], b"", 5)
        check("connect: empty stdin -> close 1000, exit 0", rc == 0 and out == b"", err)
    finally:
        rc = stop(s)
    log = bytes(s.err)
    check("echo: server logs open with peer, path and version",
          re.search(rb"#\d+ open 127\.0\.0\.1:\d+ /a/b version 13", log) is not None, log[:600])
    check("echo: server logs close with code, duration and counts",
          re.search(rb'#\d+ close 1000 "" after \d+\.\d{3}s, 5 messages in, 5 out', log) is not None,
          log[:800])
    check("echo: SIGTERM -> exit 0", rc == 0, f"rc={rc}")


def case_quiet_and_threads():
    s, port = serve("--quiet", "--threads", "4")
    try:
        cs = [connect(port) for _ in range(8)]
        for i, c in enumerate(cs):
            c.send(f"c{i}\n".encode())
        ok = all(c.wait_for(lambda o, e, i=i: o == f"c{i}\n".encode(), 5) for i, c in enumerate(cs))
        check("--threads 4: eight clients each get their echo", ok,
              " | ".join(c.text() for c in cs if c.out != b""))
        for c in cs:
            c.close_stdin()
        check("--threads 4: every client exits 0", all(c.wait(5) == 0 for c in cs))
    finally:
        rc = stop(s)
    check("--quiet: no per-connection lines", b"open" not in s.err and b"close" not in s.err,
          bytes(s.err))
    check("--quiet --threads 4: SIGTERM -> exit 0", rc == 0, f"rc={rc}")


def case_chat():
    s, port = serve("--chat", "--threads", "2")
    try:
        a = connect(port, path="/room")
        b = connect(port, path="/room")
        other = connect(port, path="/other")
        time.sleep(0.3)  # let all three open
        a.send(b"from a\n")
        b.wait_for(lambda o, e: b"from a\n" in o, 5)
        b.send(b"from b\n")
        want = b"from a\nfrom b\n"
        ga = a.wait_for(lambda o, e: o == want, 5)
        gb = b.wait_for(lambda o, e: o == want, 5)
        check("chat: both clients on /room see both messages, in order", ga and gb,
              f"a: {a.text()} b: {b.text()}")
        time.sleep(0.2)
        check("chat: a client on /other sees nothing", other.out == b"", other.text())
        for c in (a, b, other):
            c.close_stdin()
        check("chat: clients exit 0", all(c.wait(5) == 0 for c in (a, b, other)))
    finally:
        rc = stop(s)
    check("chat: SIGTERM -> exit 0", rc == 0, f"rc={rc}")


def case_exec():
    s, port = serve("--exec", "cat")
    try:
        c = connect(port)
        c.send(b"one\ntwo\n")
        got = c.wait_for(lambda o, e: o == b"one\ntwo\n", 5)
        check("exec cat: lines come back", got, c.text())
        c.close_stdin()
        check("exec cat: connect exits 0", c.wait(5) == 0, c.text())
        time.sleep(0.5)
        kids = children_of(s.p.pid)
        check("exec cat: the program is reaped after the close (no child left)", kids == [],
              repr(kids))
    finally:
        stop(s)

    s, port = serve("--exec", "tr a-z A-Z")
    try:
        c = connect(port)
        c.send(b"hello\n")
        got1 = c.wait_for(lambda o, e: o == b"HELLO\n", 5)
        c.send(b"world\n")
        got2 = c.wait_for(lambda o, e: o == b"HELLO\nWORLD\n", 5)
        check("exec 'tr a-z A-Z': each line answered at once (line-buffered)", got1 and got2, c.text())
        c.close_stdin()
        c.wait(5)
    finally:
        stop(s)

    s, port = serve("--exec", "echo first; echo second; exit 3")
    try:
        c = connect(port)  # stdin stays open: the program's exit closes
        rc = c.wait(5)
        check("exec: program output then exit -> close 1000, connect exits 0",
              rc == 0 and c.out == b"first\nsecond\n", f"rc={rc} {c.text()}")
        c.close_stdin()
        ok = s.wait_for(lambda o, e: b"program exited with status 3" in e, 5)
        check("exec: the server logs the program's non-zero status", ok, bytes(s.err))
    finally:
        stop(s)

    s, port = serve("--exec", 'echo "$WSV_PATH|$WSV_QUERY|$WSV_VERSION"')
    try:
        c = connect(port, path="/p/q?a=1")
        rc = c.wait(5)
        check("exec: WSV_PATH, WSV_QUERY, WSV_VERSION in the environment",
              rc == 0 and c.out == b"/p/q|a=1|13\n", c.text())
    finally:
        stop(s)

    s, port = serve("--exec", "sleep 30")
    try:
        c = connect(port)
        time.sleep(0.3)
        c.close_stdin()
        c.wait(5)
        t0 = time.monotonic()
        gone = False
        while time.monotonic() - t0 < 8:
            if children_of(s.p.pid) == []:
                gone = True
                break
            time.sleep(0.1)
        check("exec 'sleep 30': stopped and reaped within 8 s of the close", gone,
              repr(children_of(s.p.pid)))
    finally:
        stop(s)

    # SIGTERM with programs running: the server still exits 0, no orphans.
    s, port = serve("--exec", "cat")
    cs = [connect(port) for _ in range(3)]
    for c in cs:
        c.send(b"x\n")
    ok = all(c.wait_for(lambda o, e: o == b"x\n", 5) for c in cs)
    kids = [k for k, _ in children_of(s.p.pid)]
    rc = stop(s)
    check("exec: three programs run, SIGTERM -> exit 0", ok and len(kids) >= 3 and rc == 0,
          f"rc={rc} kids={kids} {s.text()}")
    alive = [k for k in kids if os.path.exists(f"/proc/{k}")]
    check("exec: no program outlives the server", alive == [], repr(alive))
    for c in cs:
        c.close_stdin()
        c.wait(5)


def case_page():
    s, port = serve()
    try:
        st, ct, body = http_get(port, "/")
        with open(os.path.join(SRC, "tools", "page.html"), "rb") as f:
            page = f.read()
        check("GET /: 200 text/html", st == 200 and ct.startswith("text/html"), f"{st} {ct}")
        check("GET /: the body is tools/page.html (page.c is up to date)", body == page,
              "run tools/page_gen.sh")
        ids = [b'id="status"', b'id="input"', b'id="send"', b'id="log"', b'id="reconnect"']
        check("page: has #status #input #send #log #reconnect", all(i in body for i in ids))
        check("page: no external resources", re.search(rb'(src|href)="(https?:)?//', body) is None)
        st, ct, body = http_get(port, "/?x=1")
        check("GET /?x=1: the page too", st == 200)
        st, ct, body = http_get(port, "/nope")
        check("GET /nope: 404 with a short body", st == 404 and 0 < len(body) < 200, f"{st} {body!r}")
        st, ct, body = http_get(port, "/", "HEAD")
        check("HEAD /: 200, no body", st == 200 and body == b"", f"{st}")
        st, ct, body = http_get(port, "/", "POST")
        check("POST /: 405", st == 405, f"{st}")
    finally:
        stop(s)
    log = bytes(s.err)
    check("page: requests logged", b"http GET / 200" in log and b"http GET /nope 404" in log, log)
    # page.c regenerated from page.html is identical to the one in the tree.
    with tempfile.TemporaryDirectory() as d:
        gen = os.path.join(d, "page.c")
        subprocess.run(["sh", os.path.join(SRC, "tools", "page_gen.sh"),
                        os.path.join(SRC, "tools", "page.html"), gen], check=True, timeout=20)
        with open(gen, "rb") as f1, open(os.path.join(SRC, "tools", "page.c"), "rb") as f2:
            check("tools/page.c matches tools/page_gen.sh output", f1.read() == f2.read(),
                  "run tools/page_gen.sh")


def case_port_in_use():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    port = ls.getsockname()[1]
    try:
        rc, out, err = run([WSV, "serve", "--port", str(port)])
        check("port in use (another program): exit 1 with the hint",
              rc == 1 and err == f"wsv serve: port {port} is in use; try --port {port + 1}\n".encode()
              and out == b"", f"rc={rc} {err!r} {out!r}")
    finally:
        ls.close()
    s, port = serve()
    try:
        rc, out, err = run([WSV, "serve", "--host", "127.0.0.1", "--port", str(port)])
        check("port in use (another wsv serve, SO_REUSEPORT): exit 1",
              rc == 1 and b"is in use" in err, f"rc={rc} {err!r}")
    finally:
        stop(s)


def case_signals():
    s, port = serve()
    c = connect(port)
    c.send(b"hi\n")
    c.wait_for(lambda o, e: o == b"hi\n", 5)
    rc = stop(s, signal.SIGTERM)
    crc = c.wait(5)
    check("SIGTERM: server exits 0", rc == 0, f"rc={rc} {s.text()}")
    check("SIGTERM: the client sees 1001 and exits 1 with one line",
          crc == 1 and b"1001" in c.err and c.err.count(b"\n") == 1, f"rc={crc} {c.text()}")
    c.close_stdin()
    s, port = serve()
    c = connect(port)
    c.send(b"hi\n")
    c.wait_for(lambda o, e: o == b"hi\n", 5)
    rc = stop(s, signal.SIGINT)
    check("SIGINT: server exits 0", rc == 0, f"rc={rc}")
    c.close_stdin()
    c.wait(5)
    # The client side: SIGINT sends 1001, exit 130.
    s, port = serve()
    try:
        c = connect(port)
        c.send(b"hi\n")
        c.wait_for(lambda o, e: o == b"hi\n", 5)
        c.p.send_signal(signal.SIGINT)
        crc = c.wait(5)
        check("connect: SIGINT -> exit 130", crc == 130, f"rc={crc} {c.text()}")
        ok = s.wait_for(lambda o, e: b'close 1001 "going away"' in e, 5)
        check("connect: SIGINT -> the server sees 1001", ok, bytes(s.err))
        c.close_stdin()
    finally:
        stop(s)


def case_versions():
    s, port = serve("--versions", "8")
    try:
        rc, out, err = run([WSV, "connect", "-v", f"ws://127.0.0.1:{port}/"], b"v8\n")
        check("connect to --versions 8: retries and succeeds", rc == 0 and out == b"v8\n",
              f"rc={rc} {out!r} {err!r}")
        check("connect -v: shows the retry", b"server speaks 8; retrying with 8" in err, err)
        check("connect -v: shows the version in use", b"version 8" in err, err)
        rc, out, err = run([WSV, "connect", "--versions", "13", f"ws://127.0.0.1:{port}/"], b"x\n")
        check("no common version: exit 1, both lists named",
              rc == 1 and err == b"wsv connect: no common WebSocket version: "
              b"server speaks 8; we speak 13\n", f"rc={rc} {err!r}")
        rc, out, err = run([WSV, "connect", "--versions", "8,7", f"ws://127.0.0.1:{port}/"], b"y\n")
        check("connect --versions 8,7 to 8: no retry needed", rc == 0 and out == b"y\n", err)
    finally:
        stop(s)
    log = bytes(s.err)
    check("server logs version 8", b"version 8" in log, log)
    s, port = serve("--versions", "13,8,7", "--max-message", "16")
    try:
        rc, out, err = run([WSV, "connect", "--versions", "7", f"ws://127.0.0.1:{port}/"], b"seven\n")
        check("--versions 13,8,7 serves version 7", rc == 0 and out == b"seven\n", err)
        rc, out, err = run([WSV, "connect", f"ws://127.0.0.1:{port}/"], b"this line is too long\n")
        check("--max-message 16: a longer message -> 1009, connect exits 1 naming it",
              rc == 1 and b"1009" in err and err.count(b"\n") == 1, f"rc={rc} {err!r}")
    finally:
        stop(s)


def case_refused():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    ls.close()
    rc, out, err = run([WSV, "connect", f"ws://127.0.0.1:{port}/"], b"", 10)
    check("connection refused: exit 1, one line", rc == 1 and err.count(b"\n") == 1
          and b"refused" in err, err)


TLS_RE = re.compile(rb"wsv: serving on https://127\.0\.0\.1:(\d+)/ \(WebSocket: wss://127\.0\.0\.1:(\d+)/\)")


def make_certs(d):
    """A CA, a certificate for localhost and 127.0.0.1 signed by it, and a
    second, unrelated CA; made with the openssl command."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    def ossl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True, timeout=30)
    ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=test-ca", "-days", "2")
    ossl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=other", "-days", "2")
    ossl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
         "-days", "2", "-extfile", "ext", "-out", "srv.pem")


def case_tls():
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        cert, key, ca, other = (os.path.join(d, n) for n in ("srv.pem", "srv.key", "ca.pem", "other.pem"))
        rc, _, err = run([WSV, "serve", "--cert", cert])
        check("serve --cert without --key: exit 2", rc == 2 and b"--key" in err, err)
        rc, _, err = run([WSV, "serve", "--port", "0", "--cert", cert, "--key", os.path.join(d, "other.key")])
        check("serve with a key that does not match: exit 1, says so",
              rc == 1 and b"mismatch" in err, err)
        s = Proc([WSV, "serve", "--host", "127.0.0.1", "--port", "0", "--cert", cert, "--key", key,
                  "--handshake-timeout", "500"], stdin=subprocess.DEVNULL)
        m = s.wait_for(lambda o, e: TLS_RE.search(o), 10)
        check("serve --cert --key: the URL line says https:// and wss://", m is not None, s.text())
        if not m:
            s.kill()
            return
        port = int(m.group(1))
        try:
            lines = ["hello", "x" * 100000, "ünï"]
            rc, out, err = run([WSV, "connect", "--cacert", ca, f"wss://localhost:{port}/tls"],
                               "\n".join(lines).encode())
            check("wss echo with --cacert", rc == 0 and lines_of(out) == lines, f"rc={rc} {err!r}")
            rc, out, err = run([WSV, "connect", "-v", "--cacert", ca, f"wss://127.0.0.1:{port}/"], b"ip\n")
            check("wss by IP address; -v shows TLS, HTTP/2 (ALPN h2) and extensions",
                  rc == 0 and out == b"ip\n" and b"* TLS: TLSv1.3" in err and
                  b"ALPN h2" in err and b", over HTTP/2" in err and
                  b"* extensions: " in err, err)
            rc, out, err = run([WSV, "connect", "-v", "--http1.1", "--cacert", ca,
                                f"wss://127.0.0.1:{port}/"], b"one\n")
            check("wss --http1.1: ALPN http/1.1, over HTTP/1.1",
                  rc == 0 and out == b"one\n" and b"ALPN http/1.1" in err and
                  b", over HTTP/1.1" in err, err)
            rc, out, err = run([WSV, "connect", "--http2", "ws://127.0.0.1:%d/" % port], b"x\n")
            check("ws:// --http2 to a TLS port: exit 1", rc == 1, err)
            rc, out, err = run([WSV, "connect", "--insecure", f"wss://127.0.0.1:{port}/"], b"k\n")
            check("wss --insecure", rc == 0 and out == b"k\n", err)
            rc, out, err = run([WSV, "connect", "--cacert", other, f"wss://localhost:{port}/"], b"k\n")
            check("wss with the wrong CA: exit 1 with the reason",
                  rc == 1 and err.count(b"\n") == 1 and
                  b"TLS: certificate verify failed: unable to get local issuer certificate" in err, err)
            st, _, body = http_get(port, "/")
            check("plain HTTP on the TLS port: 400 naming TLS",
                  st == 400 and b"this port speaks TLS" in body, f"{st} {body!r}")
            t0 = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sk:
                sk.sendall(b"\x16\x03\x01")
                got = sk.recv(100)
            check("a stalled TLS handshake is dropped at --handshake-timeout",
                  got == b"" and time.monotonic() - t0 < 3, f"{got!r} {time.monotonic() - t0:.2f}s")
        finally:
            rc = stop(s)
        check("TLS serve: SIGTERM -> exit 0", rc == 0, f"rc={rc} {s.text()}")


# ---------------------------------------------------------------- raw WebSocket


class RawWs:
    """One handshake on a raw socket, then masked text frames out and
    frames in (enough to see what `wsv serve` answers, Origin included)."""

    def __init__(self, port, origin=None, host=None, path="/"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if origin is not None:
            req += f"Origin: {origin}\r\n"
        self.s.sendall((req + "\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            c = self.s.recv(65536)
            if not c:
                break
            buf += c
        self.head, _, self.buf = buf.partition(b"\r\n\r\n")
        line = self.head.split(b"\r\n")[0]
        self.status = int(line.split()[1]) if len(line.split()) > 1 else 0
        self.closed = False

    def body(self):
        """The rest of a non-101 answer, up to EOF (Connection: close)."""
        data = self.buf
        try:
            while True:
                c = self.s.recv(65536)
                if not c:
                    break
                data += c
        except OSError:
            pass
        return data

    def send_text(self, text, opcode=1):
        p = text.encode() if isinstance(text, str) else text
        mask = os.urandom(4)
        hdr = bytes([0x80 | opcode])
        if len(p) < 126:
            hdr += bytes([0x80 | len(p)])
        else:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", len(p))
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(p)))

    def close(self, code=1000):
        try:
            self.send_text(struct.pack("!H", code), opcode=8)
        except OSError:
            pass

    def frames(self, until, timeout=5):
        """Read frames until until(list of (opcode, payload)) is true, a
        Close arrives, EOF or the timeout; returns the list."""
        out = []
        end = time.monotonic() + timeout
        while not until(out) and not self.closed:
            while True:
                f = self._frame()
                if f is None:
                    break
                out.append(f)
                if f[0] == 8:
                    self.closed = True
                    break
            if until(out) or self.closed or time.monotonic() >= end:
                break
            self.s.settimeout(max(0.05, end - time.monotonic()))
            try:
                c = self.s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                c = b""
            if not c:
                self.closed = True
                break
            self.buf += c
        return out

    def _frame(self):
        b = self.buf
        if len(b) < 2:
            return None
        n, i = b[1] & 0x7f, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < i + n:
            return None
        self.buf = b[i + n:]
        return (b[0] & 0x0f, b[i:i + n])

    def shut(self):
        try:
            self.s.close()
        except OSError:
            pass


def texts(frames):
    return [p.decode("utf-8", "replace") for op, p in frames if op == 1]


def proc_stat(pid):
    """(name, start time) of a process that is not a zombie, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    rest = st[st.rindex(")") + 2:].split()
    return None if rest[0] == "Z" else (st[st.index("(") + 1:st.rindex(")")], rest[19])


_started = {}


def pid_alive(pid):
    """Is the background `sleep` with this PID alive?  The first call waits
    (up to 2 s) for the forked shell to become sleep and notes its start
    time, so that a PID reused later is not taken for it."""
    if pid not in _started:
        end = time.monotonic() + 2
        st = proc_stat(pid)
        while st is not None and st[0] != "sleep" and time.monotonic() < end:
            time.sleep(0.01)
            st = proc_stat(pid)
        _started[pid] = st[1] if st is not None and st[0] == "sleep" else None
    st = proc_stat(pid)
    return st is not None and _started[pid] is not None and st == ("sleep", _started[pid])


def wait_gone(pid, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


# ---------------------------------------------------------------- hardening


def case_origin():
    rc, out, _ = run([WSV, "serve", "--help"])
    check("serve --help names --origin, --sameorigin and --passenv",
          all(o in out for o in (b"--origin LIST", b"--sameorigin", b"--passenv LIST")), out)
    for bad, named in (("http://a.test/", "http://a.test/"), ("a.test,,b.test", ""), ("", ""),
                       ("https://a.test, user@b.test", "user@b.test")):
        rc, _, err = run([WSV, "serve", "--origin", bad])
        check(f"serve --origin {bad!r}: exit 2 naming the entry",
              rc == 2 and f'"{named}" is not an origin'.encode() in err, err)

    evil = "http://evil.example"
    s, port = serve("--exec", "cat")
    try:
        check("exec: the startup line says origins same-origin",
              s.wait_for(lambda o, e: b"origins same-origin;" in e, 5), bytes(s.err))
        w = RawWs(port, origin=evil)
        body = w.body()
        w.shut()
        check("exec, Origin http://evil.example: 403", w.status == 403, w.head)
        check("exec, cross-origin 403: the body names the Origin and both options",
              body == b"Origin http://evil.example is not allowed; allow it with --origin "
              b"or --sameorigin\n", body)
        check("exec, cross-origin 403: the server logs it",
              s.wait_for(lambda o, e: b"403 for Origin http://evil.example (Host 127.0.0.1:" in e, 5),
              bytes(s.err))
        w = RawWs(port, origin=f"http://127.0.0.1:{port + 1 if port < 65535 else 1}")
        check("exec, Origin on another port of the same host: 403", w.status == 403, w.head)
        w.shut()
        w = RawWs(port, origin=f"https://127.0.0.1:{port}")
        check("exec, Origin https:// to a plain ws:// server: 403", w.status == 403, w.head)
        w.shut()
        w = RawWs(port, origin="null")
        check("exec, Origin null: 403", w.status == 403, w.head)
        w.shut()
        for origin in (None, f"http://127.0.0.1:{port}", f"HTTP://127.0.0.1:{port}"):
            w = RawWs(port, origin=origin)
            ok = w.status == 101
            if ok:
                w.send_text("ping")
                ok = texts(w.frames(lambda f: texts(f) == ["ping"])) == ["ping"]
            check(f"exec, Origin {origin or '(none)'}: 101 and the program answers", ok,
                  f"{w.head!r} {w.buf!r}")
            w.close()
            w.shut()
        w = RawWs(port, origin="http://localhost:%d" % port, host=f"localhost:{port}")
        check("exec, same origin by name (Host localhost): 101", w.status == 101, w.head)
        w.shut()
        w = RawWs(port, origin="http://127.0.0.1", host="127.0.0.1")
        check("exec, same origin on the default port (Host 127.0.0.1, Origin :80 implied): 101",
              w.status == 101, w.head)
        w.shut()
        # DNS rebinding: a page on evil.example, whose name now resolves to
        # 127.0.0.1, sends a Host and an Origin that agree.
        w = RawWs(port, origin=f"http://evil.example:{port}", host=f"evil.example:{port}")
        check("exec by default, same origin by a host name (DNS rebinding): 403",
              w.status == 403, w.head)
        w.shut()
    finally:
        stop(s)
    s, port = serve("--exec", "cat", "--sameorigin")
    try:
        w = RawWs(port, origin=f"http://my.host:{port}", host=f"my.host:{port}")
        check("exec --sameorigin: same origin by a host name: 101", w.status == 101, w.head)
        w.shut()
    finally:
        stop(s)

    # echo and chat stay open by default; the options apply when given
    for mode in ((), ("--chat",)):
        s, port = serve(*mode)
        try:
            w = RawWs(port, origin=evil)
            check(f"{mode[0] if mode else 'echo'} by default: cross-origin page accepted (101)",
                  w.status == 101, w.head)
            w.shut()
            check(f"{mode[0] if mode else 'echo'}: the startup line says origins any",
                  s.wait_for(lambda o, e: b"origins any;" in e, 5), bytes(s.err))
        finally:
            stop(s)
    s, port = serve("--sameorigin")
    try:
        w = RawWs(port, origin=evil)
        check("echo --sameorigin: cross-origin 403", w.status == 403, w.head)
        w.shut()
        w = RawWs(port, origin=f"http://127.0.0.1:{port}")
        check("echo --sameorigin: same origin 101", w.status == 101, w.head)
        w.shut()
    finally:
        stop(s)

    s, port = serve("--exec", "cat", "--origin", "http://a.test, b.test:8080", "--origin", "*.c.test")
    try:
        for origin, want in (("http://a.test", 101), ("http://a.test:80", 101), ("HTTP://A.TEST", 101),
                             ("https://a.test", 403), ("http://a.test:8080", 403),
                             ("http://b.test:8080", 101), ("https://b.test:8080", 101),
                             ("http://b.test", 403), ("https://x.c.test", 101),
                             ("https://c.test", 403), (evil, 403),
                             (f"http://127.0.0.1:{port}", 403), (None, 101)):
            w = RawWs(port, origin=origin)
            check(f"exec --origin list: {origin or '(no Origin)'} -> {want}", w.status == want, w.head)
            w.shut()
    finally:
        stop(s)
    s, port = serve("--exec", "cat", "--origin", "http://a.test", "--sameorigin")
    try:
        for origin, want in (("http://a.test", 101), (f"http://127.0.0.1:{port}", 101), (evil, 403)):
            w = RawWs(port, origin=origin)
            check(f"exec --origin http://a.test --sameorigin: {origin} -> {want}", w.status == want, w.head)
            w.shut()
    finally:
        stop(s)
    s, port = serve("--exec", "cat", "--origin", "*")
    try:
        w = RawWs(port, origin=evil)
        check("exec --origin '*': every page (101)", w.status == 101, w.head)
        w.shut()
    finally:
        stop(s)


def exec_output(port, timeout=5):
    """Connect, read the program's lines until it closes; the text lines."""
    w = RawWs(port)
    got = texts(w.frames(lambda f: False, timeout)) if w.status == 101 else None
    w.shut()
    return got


def case_env():
    base = dict(os.environ, SECRET_TOKEN="x", OTHER_SECRET="y", HOME="/nonexistent-home")
    base.pop("LD_LIBRARY_PATH", None)
    s, port = serve("--exec", "env", env=base)
    try:
        lines = exec_output(port) or []
        names = sorted(l.split("=", 1)[0] for l in lines)
        check("exec env: SECRET_TOKEN is not passed", not any(l.startswith("SECRET_TOKEN=") for l in lines),
              repr(lines))
        check("exec env: HOME and OTHER_SECRET are not passed",
              "HOME" not in names and "OTHER_SECRET" not in names, repr(names))
        check("exec env: PATH is passed unchanged", f"PATH={base['PATH']}" in lines, repr(lines))
        check("exec env: WSV_PATH, WSV_QUERY, WSV_PEER, WSV_VERSION are set",
              all(n in names for n in ("WSV_PATH", "WSV_QUERY", "WSV_PEER", "WSV_VERSION")), repr(names))
        cgi = {"REMOTE_ADDR", "REMOTE_PORT", "REMOTE_HOST", "QUERY_STRING", "REQUEST_URI",
               "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "SERVER_NAME", "SERVER_PORT",
               "SERVER_PROTOCOL", "SERVER_SOFTWARE", "GATEWAY_INTERFACE", "UNIQUE_ID",
               "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_IDENT", "REMOTE_USER"}
        # the CGI/1.1 variables and HTTP_<NAME> of the request's headers
        # (tests/interop/websocketd_side.py checks their values)
        extra = set(names) - {"PATH", "WSV_PATH", "WSV_QUERY", "WSV_PEER", "WSV_VERSION",
                              "PWD", "LD_PRELOAD", "_STDBUF_O"} - cgi  # sh sets PWD, stdbuf the others
        extra = {n for n in extra if not n.startswith("HTTP_")}
        check("exec env: nothing else", not extra, repr(sorted(extra)))
    finally:
        stop(s)
    env = dict(base, LD_LIBRARY_PATH="/opt/wsv-test-lib")
    s, port = serve("--exec", "env", "--passenv", "SECRET_TOKEN,UNSET_WSV_VAR", "--passenv", "HOME", env=env)
    try:
        lines = exec_output(port) or []
        check("exec --passenv SECRET_TOKEN: passed", "SECRET_TOKEN=x" in lines, repr(lines))
        check("exec --passenv given twice: HOME passed too", "HOME=/nonexistent-home" in lines, repr(lines))
        check("exec --passenv: OTHER_SECRET still not", not any(l.startswith("OTHER_SECRET=") for l in lines),
              repr(lines))
        check("exec --passenv: an unset name is skipped", not any(l.startswith("UNSET_WSV_VAR") for l in lines),
              repr(lines))
        check("exec: LD_LIBRARY_PATH passed when set", "LD_LIBRARY_PATH=/opt/wsv-test-lib" in lines, repr(lines))
    finally:
        stop(s)
    s, port = serve("--exec", 'echo "$WSV_PATH"', "--passenv", "WSV_PATH", env=dict(base, WSV_PATH="/outer"))
    try:
        check("exec --passenv WSV_PATH: the connection's own value wins",
              exec_output(port) == ["/"], "")
    finally:
        stop(s)
    rc, _, err = run([WSV, "serve", "--passenv", "HOME"])
    check("serve --passenv without --exec: exit 2", rc == 2 and b"--passenv" in err, err)
    rc, _, err = run([WSV, "serve", "--exec", "env", "--passenv", "A=B"])
    check("serve --passenv A=B: exit 2 naming it", rc == 2 and b'"A=B" is not a variable name' in err, err)
    rc, _, err = run([WSV, "serve", "--exec", "env", "--passenv", "A,,B"])
    check("serve --passenv A,,B: exit 2", rc == 2, err)


def case_exec_groups():
    # The program exits, leaving a background child holding its output:
    # the connection closes anyway and the child gets SIGTERM.
    s, port = serve("--exec", 'sleep 317 & echo "bg $!"')
    bg = None
    try:
        w = RawWs(port)
        t0 = time.monotonic()
        fr = w.frames(lambda f: False, 5)
        took = time.monotonic() - t0
        lines = texts(fr)
        m = re.match(r"bg (\d+)$", lines[0]) if lines else None
        bg = int(m.group(1)) if m else None
        check("exec 'sleep 317 &': the program's line arrives", bg is not None, repr(fr))
        check("exec 'sleep 317 &': the program's exit closes the connection (1000) at once",
              fr and fr[-1] == (8, struct.pack("!H", 1000)) and took < 3, f"{fr!r} {took:.2f}s")
        w.close()
        w.shut()
        check("exec 'sleep 317 &': the background child is gone within 3 s",
              bg is not None and wait_gone(bg, 3), f"pid {bg}")
        time.sleep(0.3)
        check("exec 'sleep 317 &': no child of the server left (no zombie)",
              children_of(s.p.pid) == [], repr(children_of(s.p.pid)))
        w = RawWs(port)
        lines = texts(w.frames(lambda f: False, 5)) if w.status == 101 else []
        w.shut()
        check("exec: the server still serves afterwards", len(lines) == 1 and lines[0].startswith("bg "),
              repr(lines))
        if lines and lines[0].startswith("bg ") and not wait_gone(int(lines[0][3:]), 3):
            os.kill(int(lines[0][3:]), signal.SIGKILL)
    finally:
        stop(s)
    if bg is not None and pid_alive(bg):
        os.kill(bg, signal.SIGKILL)

    # The connection closes first: the program (cat) exits at EOF, and what
    # it started in the background goes with it.
    s, port = serve("--exec", 'sleep 318 & echo "bg $!"; cat')
    bg = None
    try:
        w = RawWs(port)
        lines = texts(w.frames(lambda f: len(texts(f)) >= 1, 5))
        bg = int(lines[0][3:]) if lines and lines[0].startswith("bg ") else None
        w.send_text("hi")
        got = texts(w.frames(lambda f: "hi" in texts(f), 5))
        check("exec 'sleep 318 & ...; cat': the program runs", bg is not None and got == ["hi"],
              repr((lines, got)))
        w.close()
        w.frames(lambda f: False, 3)
        w.shut()
        check("exec: after the client's close, the background child is gone within 3 s",
              bg is not None and wait_gone(bg, 3), f"pid {bg}")
    finally:
        stop(s)
    if bg is not None and pid_alive(bg):
        os.kill(bg, signal.SIGKILL)

    # A background child that ignores SIGTERM gets SIGKILL 2 s later.
    s, port = serve("--exec", "trap '' TERM; sleep 319 & echo \"bg $!\"")
    bg = None
    try:
        w = RawWs(port)
        lines = texts(w.frames(lambda f: False, 5))
        w.shut()
        bg = int(lines[0][3:]) if lines and lines[0].startswith("bg ") else None
        t0 = time.monotonic()
        alive_1s = bg is not None and not wait_gone(bg, 1.0)
        gone = bg is not None and wait_gone(bg, 4)
        check("exec: a background child ignoring SIGTERM lives on for a while, then SIGKILL",
              alive_1s and gone, f"pid {bg} alive after 1 s: {alive_1s}, gone: {gone} "
              f"({time.monotonic() - t0:.2f}s)")
        time.sleep(0.2)
        check("exec: no child of the server left", children_of(s.p.pid) == [],
              repr(children_of(s.p.pid)))
    finally:
        stop(s)
    if bg is not None and pid_alive(bg):
        os.kill(bg, signal.SIGKILL)

    # Server shutdown with a program and a background child running.
    s, port = serve("--exec", 'sleep 316 & echo "bg $!"; cat')
    w = RawWs(port)
    lines = texts(w.frames(lambda f: len(texts(f)) >= 1, 5))
    bg = int(lines[0][3:]) if lines and lines[0].startswith("bg ") else None
    rc = stop(s)
    w.shut()
    check("exec: SIGTERM with a program running -> exit 0, its background child gone",
          rc == 0 and bg is not None and wait_gone(bg, 1), f"rc={rc} pid {bg}")
    if bg is not None and pid_alive(bg):
        os.kill(bg, signal.SIGKILL)


def case_nofile():
    def low():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 2048))
    s, port = serve("-v", "--exec", "ulimit -S -n", preexec_fn=low)
    try:
        with open(f"/proc/{s.p.pid}/limits") as f:
            row = [l.split() for l in f if l.startswith("Max open files")][0]
        check("serve under soft 256 / hard 2048: /proc/PID/limits shows the soft limit raised",
              row[3:5] == ["2048", "2048"], repr(row))
        check("serve -v says: open files: 256 -> 2048",
              s.wait_for(lambda o, e: b"wsv: open files: 256 -> 2048\n" in e, 5), bytes(s.err))
        check("exec: the program gets the original soft limit back", exec_output(port) == ["256"], "")
    finally:
        stop(s)
    s, port = serve(preexec_fn=low)
    try:
        with open(f"/proc/{s.p.pid}/limits") as f:
            row = [l.split() for l in f if l.startswith("Max open files")][0]
        check("serve without -v: the limit is raised too, silently",
              row[3] == "2048" and b"open files" not in s.err, f"{row!r} {bytes(s.err)!r}")
    finally:
        stop(s)


def raw_http(port, req, timeout=5):
    """Send raw request bytes; return (status, body) of the answer, read to EOF."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(req)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), body


def case_page_body_and_host():
    """The page path checks Content-Length, Transfer-Encoding and Host as
    the upgrade path does (RFC 9112 6.3, 3.2; RFC 3986 host[:port])."""
    s, port = serve()
    try:
        get = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        bad = [("Content-Length: -1", b"not a decimal number"),
               ("Content-Length: +0", b"not a decimal number"),
               ("Content-Length: 1e3", b"not a decimal number"),
               ("Content-Length: 100000000000000000000000", b"carries a body"),
               ("Content-Length: 0\r\nContent-Length: 0", b"repeated"),
               ("Content-Length: 5, 5", b"is a list"),
               ("Transfer-Encoding: chunked", b"carries a body")]
        for h, why in bad:
            st, body = raw_http(port, get + h.encode() + b"\r\n\r\n")
            check(f"GET / with {h!r}: 400 naming the check",
                  st == 400 and why in body and body.endswith(b"\n") and body.count(b"\n") == 1,
                  f"{st} {body!r}")
        st, body = raw_http(port, get + b"Content-Length: 0\r\n\r\n")
        check("GET / with Content-Length: 0: the page (200)", st == 200 and b"<html" in body.lower(),
              f"{st} {body[:80]!r}")
        for host in ("[::1", "[zz::]", "[]", "host:", "ho st"):
            st, body = raw_http(port, b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
            check(f"GET / with Host {host!r}: 400", st == 400 and b"Host" in body, f"{st} {body!r}")
            st, body = raw_http(port, b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
                                b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                b"Sec-WebSocket-Version: 13\r\n\r\n")
            check(f"upgrade with Host {host!r}: 400", st == 400 and b"Host" in body, f"{st} {body!r}")
        st, body = raw_http(port, b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
        check("GET / with Host [::1]:8080: 200", st == 200, f"{st}")
    finally:
        stop(s)


def linger_server(answer, hold, result):
    """A one-connection WebSocket server (stdlib): answers the handshake,
    reads frames until the client's Close, echoes it if `answer`, then keeps
    TCP open for `hold` seconds or until the client's EOF.  Puts the port in
    result["port"] (before accepting) and the seconds to the client's EOF in
    result["eof"]."""
    import base64
    import hashlib
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(10)
    result["port"] = ls.getsockname()[1]
    result["ready"].set()
    try:
        c, _ = ls.accept()
    finally:
        ls.close()
    c.settimeout(10)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    key = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
           if ln.lower().startswith(b"sec-websocket-key:")][0]
    acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
    if answer == "bad":  # a text message that is not UTF-8: the client fails it
        c.sendall(b"\x81\x02\xc3\x28")

    def need(n):
        nonlocal buf
        while len(buf) < n:
            d = c.recv(4096)
            if not d:
                raise EOFError
            buf += d

    try:
        while True:  # client frames are masked; no extension was agreed
            need(2)
            n, o = buf[1] & 127, 2
            o += {126: 2, 127: 8}.get(n, 0)
            need(o)
            if n >= 126:
                n = int.from_bytes(buf[2:o], "big")
            need(o + 4 + n)
            mask, payload = buf[o:o + 4], buf[o + 4:o + 4 + n]
            op, buf = buf[0] & 15, buf[o + 4 + n:]
            if op == 8:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                break
        if answer is True:
            c.sendall(bytes([0x88, len(payload)]) + payload)
        t0 = time.monotonic()
        c.settimeout(hold)
        try:
            while c.recv(4096):
                pass
            result["eof"] = time.monotonic() - t0
        except socket.timeout:
            pass
    except EOFError:
        pass
    finally:
        c.close()


def case_connect_close_linger():
    """`wsv connect` after a completed close handshake exits 0 even when the
    server keeps TCP open past the 5 s close timeout; a server that never
    answers the Close still makes it fail.  Both run at once (~5 s)."""
    runs = {}
    for name, answer in (("answer", True), ("silent", False), ("bad", "bad")):
        r = {"ready": threading.Event()}
        t = threading.Thread(target=linger_server, args=(answer, 8, r), daemon=True)
        t.start()
        r["ready"].wait(5)
        c = connect(r["port"])
        if answer != "bad":  # "bad": the server's frame ends it, stdin stays open
            c.send(b"hello\n")
            c.close_stdin()
        runs[name] = (t, r, c)
    for name, (t, r, c) in runs.items():
        rc = c.wait(10)
        t.join(10)
        r["rc"] = rc
        if rc is None:
            c.kill()
    rc, r, c = runs["answer"][1]["rc"], runs["answer"][1], runs["answer"][2]
    check("connect: close handshake done, server keeps TCP open: exit 0", rc == 0,
          f"rc={rc} {c.text()}")
    check("connect: then drops TCP itself after the close timeout",
          4 <= r.get("eof", 0) < 7.5, f"eof={r.get('eof')}")
    check("connect: no error line after a clean close", b"wsv connect:" not in bytes(c.err),
          c.text())
    rc, r, c = runs["silent"][1]["rc"], runs["silent"][1], runs["silent"][2]
    check("connect: server never answers the Close: exit 1 (close timeout)",
          rc == 1 and b"close timeout" in bytes(c.err), f"rc={rc} {c.text()}")
    rc, r, c = runs["bad"][1]["rc"], runs["bad"][1], runs["bad"][2]
    err = bytes(c.err)
    check("connect: invalid UTF-8 from the server: exit 1, the close code said once",
          rc == 1 and b"invalid UTF-8 (close 1007)" in err and err.count(b"1007") == 1,
          f"rc={rc} {c.text()}")


def case_listen_addresses():
    """The default host is both loopbacks; --host with one address is one."""
    any_re = re.compile(rb"wsv: serving on http://(\S+?)/ \(WebSocket: ws://\S+?/\)"
                        rb"(?:, also on (\S+))?\n")

    def start(*args):
        s = Proc([WSV, "serve", "--port", "0", *args], stdin=subprocess.DEVNULL)
        m = s.wait_for(lambda o, e: any_re.search(o), 10)
        if not m:
            s.kill()
            raise RuntimeError(f"wsv serve {args} did not start: {s.text()}")
        return s, m.group(1).decode(), (m.group(2) or b"").decode()

    def tcp_ok(family, addr, port):
        c = socket.socket(family, socket.SOCK_STREAM)
        c.settimeout(3)
        try:
            c.connect((addr, port))
            return True
        except OSError:
            return False
        finally:
            c.close()

    s, first, more = start()
    port = int(first.rsplit(":", 1)[1])
    check("default host: URL on 127.0.0.1, also on [::1] with the same port",
          first == f"127.0.0.1:{port}" and more == f"[::1]:{port}", f"{first!r} {more!r}")
    rc, out, err = run([WSV, "connect", f"ws://[::1]:{port}/"], b"six\n")
    check("default host: a WebSocket over ::1 echoes", rc == 0 and out == b"six\n",
          f"rc={rc} {out!r} {err!r}")
    rc, out, err = run([WSV, "connect", f"ws://127.0.0.1:{port}/"], b"four\n")
    check("default host: a WebSocket over 127.0.0.1 echoes", rc == 0 and out == b"four\n",
          f"rc={rc} {out!r} {err!r}")
    c = http.client.HTTPConnection("::1", port, timeout=5)
    c.request("GET", "/")
    r = c.getresponse()
    body = r.read()
    c.close()
    check("default host: the demo page over ::1", r.status == 200 and b"<html" in body.lower(),
          f"{r.status} {body[:80]!r}")
    stop(s)
    s, first, more = start("--host", "127.0.0.1")
    port = int(first.rsplit(":", 1)[1])
    check("--host 127.0.0.1: one address, nothing on ::1",
          more == "" and tcp_ok(socket.AF_INET, "127.0.0.1", port) and
          not tcp_ok(socket.AF_INET6, "::1", port), f"{first!r} {more!r}")
    stop(s)
    s, first, more = start("--host", "::1")
    port = int(first.rsplit(":", 1)[1])
    check("--host ::1: the URL in brackets, nothing on 127.0.0.1",
          first == f"[::1]:{port}" and more == "" and
          not tcp_ok(socket.AF_INET, "127.0.0.1", port), f"{first!r} {more!r}")
    stop(s)
    rc, out, err = run([WSV, "serve", "--port", "0", "--host", "127.0.0.1,no-such-host.invalid"])
    check("--host with a list naming a host that does not resolve: exit 1 naming it",
          rc == 1 and b"no-such-host.invalid" in err, f"rc={rc} {err!r}")


def main():
    for case in (case_help, case_listen_addresses, case_echo, case_quiet_and_threads, case_chat, case_exec,
                 case_page, case_page_body_and_host, case_port_in_use, case_signals,
                 case_versions, case_refused, case_connect_close_linger, case_tls,
                 case_origin, case_env, case_exec_groups, case_nofile):
        try:
            case()
        except Exception as e:  # a broken case must not hide the others
            check(f"{case.__name__}: no exception", False, repr(e))
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    print(f"{fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    signal.alarm(240)  # the whole run is bounded
    sys.exit(main())
