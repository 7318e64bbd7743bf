#!/usr/bin/python3
"""probe_h2_test.py WSV NODE H2_BROKEN_JS - `wsv probe --h2` (RFC 8441).

Against the real `wsv serve` (TLS with ALPN h2 and a CA made here with the
openssl command; cleartext h2c with prior knowledge; --versions 13,8;
--no-h2-websocket; --no-http2), and against tests/interop/h2_broken.js, a
Node `http2` server that is conformant (--mode echo) or broken in one known
way (an extended CONNECT answered with 501 or 404 although the setting is
announced; no setting; a sec-websocket-version in the 200; refusals without
the list, or with 426; no Close; masked server frames).  Every process is
ended by its PID; every run is bounded by a timeout; loopback, port 0.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

WSV, NODE, BROKEN = sys.argv[1], sys.argv[2], sys.argv[3]
RUN_TIMEOUT = 40
failures = 0
checks = 0
procs = []


def check(desc, ok, detail=""):
    global failures, checks
    checks += 1
    if ok:
        print("ok   " + desc)
    else:
        failures += 1
        print("FAIL " + desc + (("\n     " + detail.replace("\n", "\n     "))
                                if detail else ""))
    return ok


def reap():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(6)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(3)
    procs.clear()


def on_signal(signum, frame):
    reap()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)


def start(argv, pattern):
    """Start a server printing a URL; (process, port) or (process, None)."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    procs.append(p)
    os.set_blocking(p.stdout.fileno(), False)
    buf = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            chunk = p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
            m = re.search(pattern, buf.decode("latin-1"))
            if m:
                return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    return p, None


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(6)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(3)
    if p in procs:
        procs.remove(p)


def serve(*args):
    return start([WSV, "serve", "--host", "127.0.0.1", "--port", "0"] +
                 list(args), r"(?:https?|wss?)://127\.0\.0\.1:(\d+)/")


def broken(*args):
    return start([NODE, BROKEN] + list(args), r"listening https?://127\.0\.0\.1:(\d+)/")


def probe(*args):
    p = subprocess.run([WSV, "probe", "--h2"] + list(args), capture_output=True,
                       timeout=RUN_TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def rows(table):
    """{row name: (status cell, verdict)} from the table."""
    out = {}
    for line in table.splitlines():
        m = re.match(r"^(\S+)\s{2,}(.+?)\s{2,}(.+?)\s{2,}(\S+)\s{2,}"
                     r"(PASS|WARN|FAIL|N/A)\s{2,}(.*)$", line)
        if m:
            out[m.group(1)] = (m.group(3), m.group(5), m.group(6))
    return out


ALL = ["v13", "v8", "v7", "v99", "none", "zero", "list", "twice", "versions",
       "text", "binary", "close"]


def make_pki(d):
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), cwd=d, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "2", "-subj", "/CN=wsv probe test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out",
         "srv.csr", "-subj", "/CN=localhost")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile",
         "srv.ext")
    return [os.path.join(d, n) for n in ("ca.pem", "srv.pem", "srv.key")]


def all_pass(desc, rc, out, first):
    r = rows(out)
    want = [first, "settings", "connect-protocol"] + ALL
    bad = [n for n in want if n not in r or r[n][1] != "PASS"]
    check(desc + ": exit 0, every row PASS (" + ", ".join(want) + ")",
          rc == 0 and not bad and "conformant: yes" in out,
          "exit %d, not PASS: %s\n%s" % (rc, bad, out))


def main():
    d = tempfile.mkdtemp(prefix="wsv-probe-h2-")
    try:
        ca, cert, key = make_pki(d)
    except Exception as e:
        check("openssl makes a CA and a server certificate", False, repr(e))
        return
    tls = ["--cert", cert, "--key", key]

    # ---- the real server, conformant --------------------------------------
    srv, port = serve(*tls)
    if check("wsv serve --cert --key starts", port is not None):
        rc, out, err = probe("--cacert", ca, "wss://localhost:%d/" % port)
        all_pass("wsv serve over TLS (ALPN h2)", rc, out, "alpn")
        r = rows(out)
        check("TLS: ALPN row says h2, the setting row ENABLE_CONNECT_PROTOCOL=1",
              r.get("alpn", ("",))[0] == "h2" and
              r.get("connect-protocol", ("",))[0] == "ENABLE_CONNECT_PROTOCOL=1",
              out)
        check("TLS: the refusals list 13, the 200 does not",
              r.get("v99", ("", "", ""))[0] == "400" and
              re.search(r"^v99\s.*\s13\s+PASS", out, re.M) is not None and
              re.search(r"^v13\s+13\s+200\s+-\s+PASS", out, re.M) is not None,
              out)
        check("TLS: the echo rows say echo, the close row END_STREAM",
              "(echo)" in r.get("text", ("",))[0] and
              "(echo)" in r.get("binary", ("",))[0] and
              "END_STREAM" in r.get("close", ("",))[0], out)
        rc, out, err = probe("--json", "--cacert", ca, "wss://127.0.0.1:%d/" % port)
        try:
            j = json.loads(out)
            ok = (rc == 0 and j["summary"]["conformant"] is True and
                  j["summary"]["fail"] == 0 and len(j["probes"]) == 8 and
                  all(p["verdict"] == "PASS" for p in j["probes"]) and
                  all(c["verdict"] == "PASS" for c in j["checks"]) and
                  j["probes"][1]["sec_websocket_version"] == "13" and
                  j["probes"][0]["status"] == 200)
        except Exception as e:
            ok, out = False, "%r\n%s" % (e, out)
        check("TLS --json: conformant, 8 probes and 6 checks PASS", ok, out)
        rc, out, err = probe("wss://localhost:%d/" % port)
        check("TLS without --cacert: exit 2, certificate verify failed",
              rc == 2 and "certificate verify failed" in err, "exit %d %s" % (rc, err))
        rc, out, err = probe("-k", "wss://localhost:%d/" % port)
        check("TLS with -k: exit 0", rc == 0, "exit %d\n%s%s" % (rc, out, err))
        rc, out, err = probe("-v", "--cacert", ca, "wss://localhost:%d/" % port)
        check("-v shows the extended CONNECT and the answers on stderr",
              rc == 0 and "> :protocol: websocket" in err and
              re.search(r"< stream \d+: :status: 200", err) is not None, err[-800:])
    stop(srv)

    srv, port = serve()
    if check("wsv serve (cleartext) starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        all_pass("wsv serve over h2c (prior knowledge)", rc, out, "preface")
    stop(srv)

    srv, port = serve("--versions", "13,8")
    if check("wsv serve --versions 13,8 starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        r = rows(out)
        check("--versions 13,8: v8 gets 200 and PASS, the list is 13, 8, exit 0",
              rc == 0 and r.get("v8", ("",))[0] == "200" and
              r.get("v8", ("", ""))[1] == "PASS" and
              re.search(r"^versions\s.*200: 13, 8\s+13, 8\s+PASS", out, re.M) is not None,
              "exit %d\n%s" % (rc, out))
    stop(srv)

    # ---- the real server, without HTTP/2 or without the setting -----------
    srv, port = serve("--no-http2", *tls)
    if check("wsv serve --no-http2 --cert --key starts", port is not None):
        rc, out, err = probe("--cacert", ca, "wss://localhost:%d/" % port)
        check("--no-http2 over TLS: exit 2, ALPN http/1.1, 'does not offer HTTP/2'",
              rc == 2 and "does not offer HTTP/2" in out and
              rows(out).get("alpn", ("",))[0] == "http/1.1", "exit %d\n%s" % (rc, out))
    stop(srv)
    srv, port = serve("--no-http2")
    if check("wsv serve --no-http2 starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        check("--no-http2 over h2c: exit 2, the preface answered with HTTP/1.x",
              rc == 2 and "does not speak h2c" in out and "HTTP/1.x" in out,
              "exit %d\n%s" % (rc, out))
        p = subprocess.run([WSV, "probe", "ws://127.0.0.1:%d/" % port],
                           capture_output=True, timeout=RUN_TIMEOUT)
        check("--no-http2: the HTTP/1.1 probe still conforms (exit 0)",
              p.returncode == 0, p.stdout.decode(errors="replace"))
    stop(srv)
    srv, port = serve("--no-h2-websocket")
    if check("wsv serve --no-h2-websocket starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        r = rows(out)
        check("--no-h2-websocket: exit 2, ENABLE_CONNECT_PROTOCOL=0, no handshake rows",
              rc == 2 and r.get("connect-protocol", ("", ""))[:2] ==
              ("ENABLE_CONNECT_PROTOCOL=0", "N/A") and "v13" not in r and
              "SETTINGS_ENABLE_CONNECT_PROTOCOL" in out, "exit %d\n%s" % (rc, out))
        rc, out, err = probe("--json", "ws://127.0.0.1:%d/" % port)
        try:
            j = json.loads(out)
            ok = (rc == 2 and j["summary"]["conformant"] is None and
                  "SETTINGS_ENABLE_CONNECT_PROTOCOL" in j["summary"]["inconclusive"] and
                  j["probes"] == [] and j["checks"][-1]["verdict"] == "N/A")
        except Exception as e:
            ok, out = False, "%r\n%s" % (e, out)
        check("--no-h2-websocket --json: conformant null, inconclusive names the setting",
              ok, out)
    stop(srv)

    # ---- h2_broken.js ------------------------------------------------------
    srv, port = broken("--cert", cert, "--key", key)
    if check("h2_broken.js (501, TLS) starts", port is not None):
        rc, out, err = probe("--cacert", ca, "wss://localhost:%d/" % port)
        r = rows(out)
        check("h2_broken 501: exit 1, setting PASS, v13 FAIL (refused 13), frames N/A",
              rc == 1 and "conformant: no" in out and
              r.get("connect-protocol", ("", ""))[1] == "PASS" and
              r.get("v13", ("", "", ""))[:2] == ("501", "FAIL") and
              "refused 13" in r["v13"][2] and
              r.get("text", ("", ""))[1] == "N/A", "exit %d\n%s" % (rc, out))
        check("h2_broken 501: the body is shown",
              "extended CONNECT answered with 501 on purpose" in out, out)
        rc, out, err = probe("--json", "--cacert", ca, "wss://localhost:%d/" % port)
        try:
            j = json.loads(out)
            ok = (rc == 1 and j["summary"]["conformant"] is False and
                  j["probes"][0]["name"] == "v13" and
                  j["probes"][0]["verdict"] == "FAIL" and j["probes"][0]["status"] == 501)
        except Exception as e:
            ok, out = False, "%r\n%s" % (e, out)
        check("h2_broken 501 --json: conformant false, v13 FAIL 501", ok, out)
    stop(srv)
    srv, port = broken("--status", "404")
    if check("h2_broken.js (404, h2c) starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        check("h2_broken 404: exit 2, not a WebSocket endpoint (inconclusive)",
              rc == 2 and "conformant: unknown" in out and "404" in out,
              "exit %d\n%s" % (rc, out))
    stop(srv)
    srv, port = broken("--mode", "nosetting")
    if check("h2_broken.js --mode nosetting starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        check("h2_broken nosetting: exit 2, ENABLE_CONNECT_PROTOCOL=0",
              rc == 2 and "ENABLE_CONNECT_PROTOCOL=0" in out, "exit %d\n%s" % (rc, out))
    stop(srv)
    srv, port = broken("--mode", "echo", "--cert", cert, "--key", key)
    if check("h2_broken.js --mode echo (a conformant Node server) starts", port is not None):
        rc, out, err = probe("--cacert", ca, "wss://localhost:%d/" % port)
        all_pass("Node http2 echo server over TLS", rc, out, "alpn")
    stop(srv)
    flaws = [
        ("version200", "v13", "FAIL", "sec-websocket-version"),
        ("nolist", "v99", "FAIL", "no version list"),
        ("noclose", "close", "FAIL", "MUST answer a Close"),
        ("mask", "text", "FAIL", "§5.1"),
    ]
    for flaw, row, verdict, why in flaws:
        srv, port = broken("--mode", "echo", "--flaw", flaw)
        if check("h2_broken.js --flaw %s starts" % flaw, port is not None):
            rc, out, err = probe("ws://127.0.0.1:%d/" % port)
            r = rows(out)
            check("--flaw %s: exit 1, row %s %s (%s)" % (flaw, row, verdict, why),
                  rc == 1 and r.get(row, ("", "", ""))[1] == verdict and
                  why in r[row][2], "exit %d\n%s" % (rc, out))
        stop(srv)
    srv, port = broken("--mode", "echo", "--flaw", "silent99")
    if check("h2_broken.js --flaw silent99 starts", port is not None):
        t0 = time.monotonic()
        rc, out, err = probe("--timeout", "1000", "ws://127.0.0.1:%d/" % port)
        r = rows(out)
        check("--flaw silent99: exit 1, v99 FAIL (no answer), the frames still PASS",
              rc == 1 and r.get("v99", ("", "", ""))[1] == "FAIL" and
              "no answer within 1000 ms" in r["v99"][2] and
              r.get("text", ("", ""))[1] == "PASS" and
              r.get("close", ("", ""))[1] == "PASS", "exit %d\n%s" % (rc, out))
        check("--flaw silent99: bounded by the timeout (%.1f s)" % (time.monotonic() - t0),
              time.monotonic() - t0 < 5)
    stop(srv)
    srv, port = broken("--mode", "echo", "--flaw", "426")
    if check("h2_broken.js --flaw 426 starts", port is not None):
        rc, out, err = probe("ws://127.0.0.1:%d/" % port)
        r = rows(out)
        check("--flaw 426: exit 0 with WARN rows (426 on HTTP/2, 400 expected)",
              rc == 0 and r.get("v99", ("", ""))[1] == "WARN" and
              "426 on HTTP/2" in r["v99"][2], "exit %d\n%s" % (rc, out))
    stop(srv)

    # ---- usage --------------------------------------------------------------
    p = subprocess.run([WSV, "probe", "--cacert", ca, "ws://127.0.0.1:1/"],
                       capture_output=True, timeout=RUN_TIMEOUT)
    check("--cacert without --h2: exit 2", p.returncode == 2, repr(p))
    p = subprocess.run([WSV, "probe", "wss://127.0.0.1:1/"], capture_output=True,
                       timeout=RUN_TIMEOUT)
    check("wss:// without --h2: exit 2, says --h2", p.returncode == 2 and
          b"--h2" in p.stderr, repr(p))
    rc, out, err = probe("-k", "--cacert", ca, "wss://127.0.0.1:1/")
    check("-k with --cacert: exit 2", rc == 2, err)
    rc, out, err = probe("ws://127.0.0.1:1/")
    check("nothing listening: exit 2", rc == 2 and err, err)
    shutil.rmtree(d, ignore_errors=True)


try:
    main()
except Exception as e:  # a crash of the driver is a failure
    check("driver", False, repr(e))
finally:
    reap()
print("\nprobe_h2: %d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
