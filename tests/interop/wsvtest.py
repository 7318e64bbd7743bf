"""wsvtest - shared helpers for the interop drivers (run by /usr/bin/python3).

Processes: every process a driver starts is recorded here and ended by its
PID at exit (SIGTERM, then SIGKILL after a grace period); nothing is ever
looked up by name.  Results: `Report.check(case, ok, expected, got)` prints
one line per case, and `Report.finish()` exits 1 if any case failed, with
the failing cases listed again at the end (case, expected, got).
"""

import atexit
import base64
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

PORT_RE = re.compile(rb"(wss?)://(?:\[[0-9a-fA-F:.]+\]|[^:/\s\[]+):(\d+)/")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_children = []
_tmpdirs = []  # removed by _reap_all (finish() leaves through os._exit)


def _reap_all():
    import shutil
    while _tmpdirs:
        shutil.rmtree(_tmpdirs.pop(), True)
    for p in _children:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + 3
    for p in _children:
        while p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if p.poll() is None:
            try:
                p.kill()
                p.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass


atexit.register(_reap_all)


def _on_signal(signum, frame):  # ctest's timeout sends SIGTERM/SIGKILL
    _reap_all()
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)


def raise_nofile(n):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard) if hard != resource.RLIM_INFINITY else max(soft, n)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- reporting


class Report:
    def __init__(self, name):
        self.name = name
        self.failed = []
        self.passed = 0
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def check(self, case, ok, expected="", got=""):
        with self.lock:
            if ok:
                self.passed += 1
                print(f"ok   {case}", flush=True)
            else:
                self.failed.append((case, expected, got))
                print(f"FAIL {case}\n     expected: {expected}\n     got:      {got}", flush=True)
        return ok

    def fail(self, case, expected, got):
        return self.check(case, False, expected, got)

    def finish(self):
        dt = time.monotonic() - self.t0
        print(f"\n{self.name}: {self.passed} passed, {len(self.failed)} failed ({dt:.1f} s)")
        for case, exp, got in self.failed:
            print(f"  FAILED {case}: expected {exp}; got {got}")
        sys.stdout.flush()
        _reap_all()
        os._exit(1 if self.failed else 0)


def short(b, n=160):
    """A printable excerpt of bytes/str for failure messages."""
    if isinstance(b, (bytes, bytearray)):
        s = repr(bytes(b[:n]))
    else:
        s = repr(b[:n])
    if len(b) > n:
        s += f"...({len(b)} bytes)"
    return s


def require_peers(rep, python_websockets=False):
    """Fail (not skip) when a peer is missing."""
    ok = True
    if python_websockets:
        try:
            import websockets  # noqa: F401
            if not websockets.__version__.startswith("10."):
                print(f"note: python websockets {websockets.__version__}, tests written for 10.4")
        except ImportError:
            rep.fail("peer: python3-websockets", "import websockets in /usr/bin/python3",
                     "missing (run tests/interop/setup.sh as root)")
            ok = False
    return ok


# ---------------------------------------------------------------- processes


class Proc:
    """A child process with stdout/stderr drained into buffers by threads."""

    def __init__(self, argv, stdin=subprocess.DEVNULL, env=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        _children.append(self.p)
        self.pid = self.p.pid
        self.out = bytearray()
        self.err = bytearray()
        self.cv = threading.Condition()
        self._threads = [threading.Thread(target=self._drain, args=(self.p.stdout, self.out), daemon=True),
                         threading.Thread(target=self._drain, args=(self.p.stderr, self.err), daemon=True)]
        for t in self._threads:
            t.start()

    def _drain(self, f, buf):
        fd = f.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self.cv:
                if not chunk:
                    self.cv.notify_all()
                    return
                # keep memory bounded for very chatty servers
                if len(buf) > 4 << 20:
                    del buf[:len(buf) - (2 << 20)]
                buf.extend(chunk)
                self.cv.notify_all()

    def wait_output(self, pred, timeout):
        """Wait until pred(out, err) is true; returns its value or None."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                v = pred(bytes(self.out), bytes(self.err))
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and all(not t.is_alive() for t in self._threads)):
                    return pred(bytes(self.out), bytes(self.err)) or None
                self.cv.wait(min(left, 0.1))

    def write(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass

    def wait(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self._threads:
            t.join(2)
        return rc

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)

    def stop(self, sig=signal.SIGTERM, timeout=6):
        """Send sig; return the exit code (None if it had to be killed)."""
        if self.p.poll() is not None:
            return self.p.returncode
        self.p.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
        return rc

    def rss_kib(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return -1
        return -1

    def fds(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return -1

    def text(self):
        return (f"stdout={short(bytes(self.out), 400)} stderr={short(bytes(self.err), 600)}")


def child_env():
    env = dict(os.environ)
    # Under AddressSanitizer keep the quarantine small so RSS stays meaningful,
    # and report leaks at exit (an exit code != 0 is then a failure).
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if "quarantine_size_mb" not in env["ASAN_OPTIONS"]:
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=16"
    return env


def is_sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class Server(Proc):
    """`wsv serve --host 127.0.0.1 --port 0 ARGS`; .port once it is up."""

    def __init__(self, wsv, args=(), startup=10, host="127.0.0.1"):
        super().__init__([wsv, "serve", "--host", host, "--port", "0", *args],
                         env=child_env())
        m = self.wait_output(lambda o, e: PORT_RE.search(o) or PORT_RE.search(e), startup)
        self.port = int(m.group(2)) if m else None
        h = f"[{host}]" if ":" in host else host
        self.scheme = m.group(1).decode() if m else "ws"
        self.url = f"{self.scheme}://{h}:{self.port}/" if self.port else None
        # the URL a client checking the certificate uses (its name is in it)
        self.host_url = f"{self.scheme}://localhost:{self.port}/" if self.port else None

    def ok(self):
        return self.port is not None


def start_server(rep, wsv, args=(), case="wsv serve starts", host="127.0.0.1"):
    srv = Server(wsv, args, host=host)
    if not srv.ok():
        rc = srv.stop()
        rep.fail(f"{case} ({' '.join(args) or 'defaults'})",
                 "a startup line containing ws:// or wss://127.0.0.1:<port>/ within 10 s",
                 f"exit={rc} {srv.text()}")
        return None
    return srv


def stop_server(rep, srv, case):
    """SIGTERM: must exit 0 within 6 s."""
    rc = srv.stop(signal.SIGTERM, 6)
    rep.check(f"{case}: SIGTERM -> exit 0", rc == 0, "exit code 0 within 6 s",
              f"exit={rc if rc is not None else 'still running after 6 s (killed)'} {srv.text()}")
    return rc


def free_port_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


# ---------------------------------------------------------------- raw WebSocket


def accept_for(key_b64):
    import hashlib
    return base64.b64encode(hashlib.sha1(key_b64.encode() + GUID).digest()).decode()


def new_key():
    return base64.b64encode(os.urandom(16)).decode()


def upgrade_request(port, path="/", version="13", key=None, extra=""):
    key = key or new_key()
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n")
    if version is not None:
        req += f"Sec-WebSocket-Version: {version}\r\n"
    req += extra + "\r\n"
    return req.encode(), key


def parse_http_head(data):
    """(status, reason, headers dict lower->list, body) or None if no full head."""
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return None
    head = data[:i].decode("latin-1")
    body = data[i + 4:]
    lines = head.split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ?(.*)$", lines[0])
    if not m:
        return (0, lines[0], {}, body)
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return (int(m.group(1)), m.group(2), hdrs, body)


def hdr_list(hdrs, name):
    """Every comma-separated element of every `name` header line."""
    out = []
    for v in hdrs.get(name.lower(), []):
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def read_until_eof(sock, timeout, limit=1 << 20):
    """Read until EOF; returns (data, how) with how in eof|reset|timeout|limit."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    sock.setblocking(False)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data), "timeout"
        r, _, _ = select.select([sock], [], [], min(left, 0.2))
        if not r:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data), "reset"
        except BlockingIOError:
            continue
        if not chunk:
            return bytes(data), "eof"
        data += chunk
        if len(data) > limit:
            return bytes(data), "limit"


def connect_raw(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None, form=None,
          mask_key=None):
    """Build one frame.  `length` overrides the announced length (the payload
    is sent as given); `form` forces the length encoding (7, 16 or 64 bits)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask else 0
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    if form == 7:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        mk = mask_key if mask_key is not None else os.urandom(4)
        return hdr + mk + mask_fast(payload, mk)
    return hdr + payload


def mask_fast(payload, mk):
    n = len(payload)
    if n == 0:
        return b""
    m = int.from_bytes((mk * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big")


def frame_fast(opcode, payload, fin=True):
    """A masked frame, fast for big payloads."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    mk = os.urandom(4)
    return hdr + mk + mask_fast(payload, mk)


class FrameReader:
    """Parses server frames (unmasked) from a socket."""

    def __init__(self, sock, initial=b""):
        self.sock = sock
        self.buf = bytearray(initial)

    def _fill(self, deadline):
        self.sock.setblocking(False)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timeout")
            r, _, _ = select.select([self.sock], [], [], min(left, 0.2))
            if not r:
                continue
            try:
                chunk = self.sock.recv(262144)
            except BlockingIOError:
                continue
            if not chunk:
                raise EOFError("eof")
            self.buf += chunk
            return

    def next(self, timeout=5):
        """(fin, opcode, payload, masked) for the next frame."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.buf
            if len(b) >= 2:
                fin = b[0] >> 7
                op = b[0] & 15
                masked = b[1] >> 7
                n = b[1] & 127
                off = 2
                if n == 126:
                    if len(b) < 4:
                        self._fill(deadline)
                        continue
                    n = struct.unpack("!H", b[2:4])[0]
                    off = 4
                elif n == 127:
                    if len(b) < 10:
                        self._fill(deadline)
                        continue
                    n = struct.unpack("!Q", b[2:10])[0]
                    off = 10
                if masked:
                    off += 4
                if len(b) >= off + n:
                    payload = bytes(b[off:off + n])
                    if masked:
                        mk = bytes(b[off - 4:off])
                        payload = mask_fast(payload, mk)
                    del b[:off + n]
                    return fin, op, payload, masked
            self._fill(deadline)

    def message(self, timeout=5):
        """(opcode, payload) of the next data message, answering nothing;
        control frames are returned as they come."""
        deadline = time.monotonic() + timeout
        op0, parts = None, []
        while True:
            fin, op, p, _ = self.next(max(0.01, deadline - time.monotonic()))
            if op >= 8:
                return op, p
            if op0 is None:
                op0 = op
            parts.append(p)
            if fin:
                return op0, b"".join(parts)


def read_101(s, key, timeout):
    """Read a handshake answer from `s` until the end of its head; it must
    be a 101 with the right Sec-WebSocket-Accept for `key`.  Returns
    (headers, bytes after the head)."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError(f"eof during handshake: {short(bytes(data))}")
        data += chunk
    st, _, hdrs, rest = parse_http_head(bytes(data))
    if st != 101:
        raise ValueError(f"handshake status {st}: {short(bytes(data))}")
    if hdrs.get("sec-websocket-accept", [""])[0] != accept_for(key):
        raise ValueError("bad Sec-WebSocket-Accept")
    return hdrs, rest


def ws_open(port, path="/", version="13", timeout=5):
    """Raw client handshake; returns (sock, FrameReader) or raises."""
    s = connect_raw(port, timeout)
    req, key = upgrade_request(port, path, version)
    s.sendall(req)
    hdrs, rest = read_101(s, key, timeout)
    return s, FrameReader(s, rest)


def close_code(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0], payload[2:]
    return None, payload


# ---------------------------------------------------------------- TLS and deflate


def make_pki(rep):
    """A CA and a server certificate for localhost and 127.0.0.1 made with the
    openssl command in a fresh temporary directory (removed at exit); also a
    certificate from the same CA for another name only.  Returns a dict of
    paths (ca, cert, key, other_cert, other_key, dir) or None (a failure is
    reported)."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="wsv-interop-pki-")
    _tmpdirs.append(d)
    P = lambda n: os.path.join(d, n)  # noqa: E731

    def run(*argv):
        r = subprocess.run(["openssl", *argv], cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(argv[:2])}: {r.stdout.decode(errors='replace')[-300:]}")
    try:
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=wsv interop test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        for name, san in (("srv", "DNS:localhost,IP:127.0.0.1"), ("other", "DNS:other.invalid")):
            with open(P(f"{name}.ext"), "w") as f:
                f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
            run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={san.split(',')[0].split(':')[1]}")
            run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        rep.fail("make a CA and a server certificate with openssl", "openssl req/x509 succeed", repr(e))
        return None
    return {"dir": d, "ca": P("ca.pem"), "cert": P("srv.pem"), "key": P("srv.key"),
            "other_cert": P("other.pem"), "other_key": P("other.key")}


def client_ssl(ca):
    import ssl
    return ssl.create_default_context(cafile=ca)


def server_ssl(cert, key):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class CountingProxy:
    """A loopback TCP relay 127.0.0.1:port -> 127.0.0.1:target that counts
    the bytes going each way (`up`: client -> server, `down`: server ->
    client).  Bytes on the wire, so TLS records are counted as they are."""

    def __init__(self, target_port):
        self.target = target_port
        self.up = 0
        self.down = 0
        self.lock = threading.Lock()
        self.ls = free_port_listener()
        self.port = self.ls.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.ls.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            for a, b, attr in ((c, u, "up"), (u, c, "down")):
                threading.Thread(target=self._pipe, args=(a, b, attr), daemon=True).start()

    def _pipe(self, a, b, attr):
        a.settimeout(None)
        try:
            while True:
                d = a.recv(262144)
                if not d:
                    break
                with self.lock:
                    setattr(self, attr, getattr(self, attr) + len(d))
                b.sendall(d)
        except OSError:
            pass
        for s, how in ((b, socket.SHUT_WR), (a, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    def counts(self):
        with self.lock:
            return self.up, self.down

    def close(self):
        self.stop = True
        try:
            self.ls.close()
        except OSError:
            pass


class BlockingFrameReader(FrameReader):
    """FrameReader for sockets select() cannot see into (TLS)."""

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError("timeout")
        if not chunk:
            raise EOFError("eof")
        self.buf += chunk


PMD_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def ws_open_ext(port, extra=PMD_OFFER, ssl_ctx=None, timeout=5, host="127.0.0.1"):
    """Raw client handshake offering `extra` headers (by default
    permessage-deflate), over TLS when ssl_ctx is given.  Returns (sock,
    reader, response headers)."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ssl_ctx is not None:
        s = ssl_ctx.wrap_socket(s, server_hostname="localhost")
    req, key = upgrade_request(port, extra=extra)
    s.sendall(req)
    hdrs, rest = read_101(s, key, timeout)
    rd = BlockingFrameReader(s, rest) if ssl_ctx is not None else FrameReader(s, rest)
    return s, rd, hdrs


def deflate_raw(data, wbits=15):
    """permessage-deflate payload of one message: raw deflate, sync flush,
    the trailing 00 00 ff ff removed (RFC 7692 §7.2.1)."""
    import zlib
    c = zlib.compressobj(9, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate_raw(payload):
    import zlib
    d = zlib.decompressobj(-15)
    return d.decompress(payload + b"\x00\x00\xff\xff") + d.flush()


def next_frame_full(rd, timeout=5):
    """(fin, rsv, opcode, payload) of the next frame (unmasked)."""
    deadline = time.monotonic() + timeout
    while len(rd.buf) < 1:
        rd._fill(deadline)
    rsv = (rd.buf[0] >> 4) & 7
    fin, op, p, _ = rd.next(max(0.01, deadline - time.monotonic()))
    return fin, rsv, op, p


class Inflater:
    """The receiving side of one permessage-deflate direction with context
    takeover: one zlib stream across messages."""

    def __init__(self, wbits=15):
        import zlib
        self.d = zlib.decompressobj(-wbits)

    def message(self, payload):
        return self.d.decompress(payload + b"\x00\x00\xff\xff")


# ---------------------------------------------------------------- bystanders


class EchoBystander(threading.Thread):
    """A well-behaved client beside an attack: echoes a small text message
    every 20 ms on `path` (a --chat server sends it back to its sender
    too), for at most `limit` seconds or until .stop is set.  Records .n
    echoes, .errors and the .worst round trip in seconds."""

    def __init__(self, port, path="/", limit=150):
        super().__init__(daemon=True)
        self.port, self.path, self.limit = port, path, limit
        self.n, self.errors, self.worst = 0, [], 0.0
        self.stop = threading.Event()

    def run(self):
        try:
            s, fr = ws_open(self.port, self.path)
        except Exception as e:  # noqa: BLE001
            self.errors.append(f"handshake: {e!r}")
            return
        i = 0
        deadline = time.monotonic() + self.limit
        while not self.stop.is_set() and time.monotonic() < deadline:
            msg = f"bystander {i}".encode()
            t0 = time.monotonic()
            try:
                s.sendall(frame(1, msg))
                while True:  # skip pings
                    op, p = fr.message(5)
                    if op < 8:
                        break
                if p != msg:
                    self.errors.append(f"echo {i}: got {short(p)}")
                    break
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"echo {i}: {e!r}")
                break
            self.worst = max(self.worst, time.monotonic() - t0)
            self.n += 1
            i += 1
            time.sleep(0.02)
        try:
            s.sendall(frame(8, struct.pack("!H", 1000)))
        except OSError:
            pass
        s.close()


def rss_sampler(srv, out, stop):
    """Append srv's VmRSS (KiB) to `out` every 50 ms until `stop` is set
    (run it in a thread)."""
    while not stop.is_set():
        out.append(srv.rss_kib())
        time.sleep(0.05)
