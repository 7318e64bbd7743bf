#!/usr/bin/python3
"""Interop tests: wsv's core against Python websockets' sans-I/O protocol.

Usage: /usr/bin/python3 python_sansio.py PATH/TO/stdio_peer [unittest args]

stdio_peer (tests/peers/stdio_peer.c) speaks WebSocket on stdin/stdout
through wsv's public API.  This driver spawns it with pipes and talks to it
with websockets' own ClientConnection / ServerConnection (Debian's
python3-websockets 10.4), so every byte wsv sends is judged by an
independent implementation and every byte wsv receives was written by one.
Frames Python refuses to write (bad UTF-8, unmasked, reserved opcodes,
absurd lengths) are built by hand here.  No sockets are used.

Exit status: 0 when every case passed, 1 otherwise (also when the
websockets module is missing: the test fails, it is never skipped).
"""

import os
import queue
import re
import secrets
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

try:
    import websockets
    from websockets.client import ClientConnection
    from websockets.connection import SEND_EOF, State
    from websockets.datastructures import Headers
    from websockets.frames import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING,
                                   OP_PONG, OP_TEXT)
    from websockets.http11 import Request, Response
    from websockets.server import ServerConnection
    from websockets.streams import StreamReader
    from websockets.uri import parse_uri
    from websockets.utils import accept_key
except ImportError as exc:  # pragma: no cover - depends on the host
    sys.stderr.write(
        "FAIL: Python websockets (Debian python3-websockets 10.4) is not "
        f"importable by {sys.executable}: {exc}\n"
        "Install it with scripts/deps (apt-get install python3-websockets).\n")
    sys.exit(1)

# Seconds to wait for any single read from the peer.
TIMEOUT = 30
PEER = None  # path of stdio_peer, from argv


class Peer:
    """One stdio_peer process: stdin/stdout pipes, stderr in a temp file.

    A thread drains stdout all the time, so neither side can block the
    other on a full pipe (messages of 1 MiB go both ways at once).
    """

    def __init__(self, *args):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [PEER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err)
        self.chunks = queue.Queue()
        self.eof = False
        self.stdin_closed = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 1 << 16)
            self.chunks.put(data)
            if not data:
                return

    def write(self, data):
        """Write to the peer's stdin; False if it has gone away."""
        if self.stdin_closed:
            return False
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def close_stdin(self):
        if not self.stdin_closed:
            self.stdin_closed = True
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def read(self):
        """The next chunk of the peer's stdout; b"" at its end."""
        if self.eof:
            return b""
        try:
            data = self.chunks.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(
                f"peer sent nothing for {TIMEOUT}s; stderr:\n{self.stderr()}")
        if not data:
            self.eof = True
        return data

    def read_all(self):
        out = bytearray()
        while True:
            data = self.read()
            if not data:
                return bytes(out)
            out += data

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")

    def kill(self):
        """Cleanup after a failed case: stop the process, close the pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            try:
                f.close()
            except (BrokenPipeError, OSError):
                pass

    def finish(self):
        """Close stdin, wait for the exit; returns (status, stderr)."""
        self.close_stdin()
        try:
            rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"peer did not exit; stderr:\n{self.stderr()}")
        self.thread.join(timeout=TIMEOUT)
        self.proc.stdout.close()
        text = self.stderr()
        self.err.close()
        return rc, text


def flush(peer, conn):
    """Send what the Python connection queued (SEND_EOF closes stdin)."""
    for data in conn.data_to_send():
        if data == SEND_EOF:
            peer.close_stdin()
        else:
            peer.write(data)


def pump(peer, conn, until=lambda events: False):
    """Feed the peer's output to `conn` until until(events) holds or the
    peer's stdout ends; returns every event received."""
    events = []
    while not until(events):
        data = peer.read()
        if data:
            conn.receive_data(data)
        else:
            conn.receive_eof()
        events += conn.events_received()
        flush(peer, conn)
        if not data:
            break
    return events


class Assembler:
    """Turns Python's frame events into whole messages and control frames."""

    def __init__(self):
        self.messages = []  # (opcode, bytes)
        self.frames = []    # every data frame, (opcode, fin, bytes)
        self.controls = []  # control frames
        self._cur = None

    def add(self, events):
        new = []
        for f in events:
            if isinstance(f, (Request, Response)):
                continue
            if f.opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                self.frames.append((f.opcode, f.fin, bytes(f.data)))
                if f.opcode is OP_CONT:
                    self._cur[1].extend(f.data)
                else:
                    assert self._cur is None, "new message inside a message"
                    self._cur = (f.opcode, bytearray(f.data))
                if f.fin:
                    msg = (self._cur[0], bytes(self._cur[1]))
                    self.messages.append(msg)
                    new.append(msg)
                    self._cur = None
            else:
                self.controls.append(f)
        return new


def collect(asm, pred):
    """An until() for pump: adds new events to `asm`, then asks pred()."""

    def until(events):
        asm.add(events)
        del events[:]
        return pred()

    return until


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """A raw frame, built by hand (Python refuses to write bad ones)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if mask:
        key = secrets.token_bytes(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def parse_response(raw):
    """Parse an HTTP response with websockets' own parser."""
    reader = StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    gen = Response.parse(reader.read_line, reader.read_exact,
                         reader.read_to_eof)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value, bytes(reader.buffer)


def parse_response_head(raw):
    """Parse a 101 (which has no body) and return it with the bytes after
    its head."""
    end = raw.index(b"\r\n\r\n") + 4
    response, rest = parse_response(raw[:end])
    assert rest == b""
    return response, raw[end:]


def tokens(headers, name):
    """The comma-list elements of every `name` field, lowercased."""
    out = []
    for value in headers.get_all(name):
        out += [t.strip().lower() for t in value.split(",") if t.strip()]
    return out


def stderr_messages(text):
    """(kind, payload) for every TEXT/BINARY line stdio_peer printed."""
    out = []
    for m in re.finditer(r"^(TEXT|BINARY) (\d+) ([0-9a-f]*)$", text, re.M):
        data = bytes.fromhex(m.group(3))
        assert len(data) == int(m.group(2)), m.group(0)[:80]
        out.append((m.group(1), data))
    return out


REQUEST = ("GET /chat HTTP/1.1\r\n"
           "Host: localhost\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "{version}"
           "\r\n")


def sized_text(n):
    """n bytes of valid UTF-8 with multi-byte characters where they fit."""
    unit = "aé€😀".encode()  # 1 + 2 + 3 + 4 bytes
    body = unit * (n // len(unit))
    return body + b"z" * (n - len(body))


SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


class PythonClientWsvServer(unittest.TestCase):
    """Python ClientConnection -> stdio_peer server (wsv_hs_server +
    wsv_conn in the server role)."""

    def open(self, *server_args, version=None, path="/chat?x=1"):
        peer = Peer("server", *server_args)
        self.addCleanup(peer.kill)
        client = ClientConnection(parse_uri("ws://localhost" + path),
                                  max_size=None)
        request = client.connect()
        if version is not None:
            del request.headers["Sec-WebSocket-Version"]
            request.headers["Sec-WebSocket-Version"] = version
        client.send_request(request)
        flush(peer, client)
        events = pump(peer, client,
                      lambda ev: any(isinstance(e, Response) for e in ev))
        self.assertTrue(events and isinstance(events[0], Response),
                        f"no response; stderr:\n{peer.stderr()}")
        response = events[0]
        # Python's own checks: status, Upgrade, Connection, the accept key.
        self.assertIsNone(client.handshake_exc, peer.stderr())
        self.assertIs(client.state, State.OPEN)
        self.assertEqual(response.status_code, 101)
        self.assertEqual(response.headers["Sec-WebSocket-Accept"],
                         accept_key(client.key))
        self.assertNotIn("Sec-WebSocket-Version", response.headers)
        asm = Assembler()
        asm.add(events[1:])
        return peer, client, asm

    def close_cleanly(self, peer, client, code=1000, reason="bye"):
        client.send_close(code, reason)
        flush(peer, client)
        pump(peer, client)
        self.assertIs(client.state, State.CLOSED)
        self.assertEqual(client.close_rcvd.code, code)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err[-2000:])
        self.assertIn(f"\nCLOSE {code} {reason}\n", err)
        return err

    def wait_messages(self, peer, client, asm, count):
        got = []

        def enough(events):
            got.extend(asm.add(events))
            del events[:]
            return len(got) >= count

        pump(peer, client, enough)
        self.assertEqual(len(got), count, peer.stderr()[-2000:])
        return got

    def test_handshake_101_v13(self):
        peer, client, asm = self.open()
        err = self.close_cleanly(peer, client)
        self.assertIn("OPEN version=13 path=/chat\n", err)

    def test_echo_text_sizes(self):
        peer, client, asm = self.open()
        for n in SIZES:
            client.send_text(sized_text(n))
            flush(peer, client)
        got = self.wait_messages(peer, client, asm, len(SIZES))
        for n, (op, data) in zip(SIZES, got):
            self.assertIs(op, OP_TEXT, n)
            self.assertEqual(data, sized_text(n), n)
        self.assertEqual(asm.controls, [])
        self.close_cleanly(peer, client)

    def test_echo_binary_sizes(self):
        peer, client, asm = self.open()
        payloads = [os.urandom(n) for n in SIZES]
        for p in payloads:
            client.send_binary(p)
            flush(peer, client)
        got = self.wait_messages(peer, client, asm, len(SIZES))
        self.assertEqual(got, [(OP_BINARY, p) for p in payloads])
        self.close_cleanly(peer, client)

    def test_echo_fragmented_with_ping_inside(self):
        peer, client, asm = self.open()
        euro = "€".encode()  # split across frames below
        client.send_text(b"frag" + euro[:1], fin=False)
        client.send_continuation(euro[1:], fin=False)
        client.send_ping(b"in-between")
        client.send_continuation(b"", fin=False)
        client.send_continuation(b"mented", fin=True)
        client.send_binary(b"\x00\x01", fin=False)
        client.send_continuation(b"\x02" * 70000, fin=True)
        flush(peer, client)
        got = self.wait_messages(peer, client, asm, 2)
        self.assertEqual(got[0], (OP_TEXT, b"frag" + euro + b"mented"))
        self.assertEqual(got[1], (OP_BINARY, b"\x00\x01" + b"\x02" * 70000))
        pongs = [f for f in asm.controls if f.opcode is OP_PONG]
        self.assertEqual([bytes(f.data) for f in pongs], [b"in-between"])
        # wsv echoes a whole message as one frame.
        self.assertEqual([(op, fin) for op, fin, _ in asm.frames],
                         [(OP_TEXT, True), (OP_BINARY, True)])
        self.close_cleanly(peer, client)

    def test_ping_pong_identical_payload(self):
        peer, client, asm = self.open()
        payloads = [b"", b"x", bytes(range(125))]
        for i, p in enumerate(payloads):
            client.send_ping(p)
            flush(peer, client)
            pump(peer, client, collect(asm, lambda: len(asm.controls) > i))
        pongs = [bytes(f.data) for f in asm.controls if f.opcode is OP_PONG]
        self.assertEqual(pongs, payloads)
        self.close_cleanly(peer, client)

    def test_close_1000_with_reason(self):
        peer, client, asm = self.open()
        client.send_text(b"last words")
        flush(peer, client)
        self.wait_messages(peer, client, asm, 1)
        self.close_cleanly(peer, client, 1000, "normal closure, bye")
        # wsv echoes the code; its reply carries no reason (conn.h).
        self.assertEqual(client.close_rcvd.reason, "")

    def test_close_4001_private_code(self):
        peer, client, asm = self.open()
        self.close_cleanly(peer, client, 4001, "app-defined")

    def test_close_empty_payload(self):
        peer, client, asm = self.open()
        client.send_close()
        flush(peer, client)
        pump(peer, client)
        self.assertIs(client.state, State.CLOSED)
        self.assertEqual(client.close_rcvd.code, 1005)  # empty echo
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("\nCLOSE 1005 \n", err)

    def fail_with(self, raw, code, errname):
        """Write raw frames; wsv must fail with Close `code` and exit 0."""
        peer, client, asm = self.open()
        peer.write(raw)
        pump(peer, client, collect(asm, lambda: False))
        self.assertIsNotNone(client.close_rcvd,
                             f"no Close from wsv; stderr:\n{peer.stderr()}")
        self.assertEqual(client.close_rcvd.code, code)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, rf"\nFAIL {code} {errname}\n")
        # The offending message is never delivered (so never echoed).
        self.assertEqual(asm.messages, [])

    def test_fail_invalid_utf8_text_1007(self):
        self.fail_with(frame(0x1, b"\xce\xba\xe1\xbd\xb9\xed\xa0\x80ok"),
                       1007, "WSV_ERR_UTF8")

    def test_fail_invalid_utf8_across_fragments_1007(self):
        self.fail_with(frame(0x1, b"ok\xf0\x9f", fin=False) +
                       frame(0x0, b"\x98\x28"), 1007, "WSV_ERR_UTF8")

    def test_fail_text_ending_inside_code_point_1007(self):
        self.fail_with(frame(0x1, b"ok\xe2\x82"), 1007, "WSV_ERR_UTF8")

    def test_fail_invalid_utf8_close_reason_1007(self):
        self.fail_with(frame(0x8, b"\x03\xe8bad\xff"), 1007, "WSV_ERR_UTF8")

    def test_fail_unmasked_client_frame_1002(self):
        self.fail_with(frame(0x1, b"hello", mask=False), 1002,
                       "WSV_ERR_PROTOCOL")

    def test_fail_reserved_opcode_3_1002(self):
        self.fail_with(frame(0x3, b"x"), 1002, "WSV_ERR_PROTOCOL")

    def test_fail_reserved_control_opcode_b_1002(self):
        self.fail_with(frame(0xB, b""), 1002, "WSV_ERR_PROTOCOL")

    def test_fail_rsv1_without_extension_1002(self):
        self.fail_with(frame(0x1, b"x", rsv=0x40), 1002, "WSV_ERR_PROTOCOL")

    def test_fail_fragmented_ping_1002(self):
        self.fail_with(frame(0x9, b"x", fin=False), 1002, "WSV_ERR_PROTOCOL")

    def test_fail_continuation_without_start_1002(self):
        self.fail_with(frame(0x0, b"x"), 1002, "WSV_ERR_PROTOCOL")

    def test_fail_new_message_inside_fragmented_1002(self):
        self.fail_with(frame(0x1, b"a", fin=False) + frame(0x1, b"b"),
                       1002, "WSV_ERR_PROTOCOL")

    def test_fail_close_code_1005_on_wire_1002(self):
        self.fail_with(frame(0x8, b"\x03\xed"), 1002, "WSV_ERR_PROTOCOL")

    def test_fail_announced_length_2_to_40_1009(self):
        # Only the header is sent: wsv must refuse at the length.
        self.fail_with(frame(0x2, length=1 << 40), 1009, "WSV_ERR_TOO_BIG")

    def test_fail_announced_length_16MiB_plus_1_1009(self):
        self.fail_with(frame(0x2, length=(16 << 20) + 1), 1009,
                       "WSV_ERR_TOO_BIG")

    def test_fail_fragmented_message_over_16MiB_1009(self):
        # Each frame is small enough; the sum is not.
        self.fail_with(frame(0x2, b"\x00" * 65536, fin=False) +
                       frame(0x0, length=16 << 20), 1009, "WSV_ERR_TOO_BIG")

    def test_version_8_accepted_when_enabled(self):
        peer, client, asm = self.open("--versions", "13,8", version="8")
        client.send_text(b"hybi-10")
        flush(peer, client)
        got = self.wait_messages(peer, client, asm, 1)
        self.assertEqual(got, [(OP_TEXT, b"hybi-10")])
        err = self.close_cleanly(peer, client)
        self.assertIn("OPEN version=8 path=/chat\n", err)


class RawRequestWsvServer(unittest.TestCase):
    """Hand-written requests to stdio_peer server; the answers are parsed
    with websockets.http11.Response.parse."""

    def answer(self, version_lines, *server_args):
        peer = Peer("server", *server_args)
        peer.write(REQUEST.format(version=version_lines).encode())
        raw = peer.read_all()
        rc, err = peer.finish()
        response, rest = parse_response(raw)
        self.assertEqual(rest, b"", "bytes after the response body")
        return response, rc, err

    def check_rejection(self, response, rc, err, status, versions):
        h = response.headers
        self.assertEqual(response.status_code, status)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"REJECT {status} ", err)
        self.assertEqual(h.get_all("Sec-WebSocket-Version"), [versions])
        self.assertIn("close", tokens(h, "Connection"))
        self.assertNotIn("Sec-WebSocket-Accept", h)
        body = response.body
        self.assertEqual(int(h["Content-Length"]), len(body))
        # One line naming the failed check.
        self.assertTrue(body.endswith(b"\n") and body.count(b"\n") == 1,
                        body)
        self.assertGreater(len(body.strip()), 5, body)
        if status == 426:
            self.assertEqual(tokens(h, "Upgrade"), ["websocket"])
            # RFC 9110 §7.8: a sender of Upgrade also sends the option.
            self.assertIn("upgrade", tokens(h, "Connection"))
        return body

    def test_version_8_default_server_426(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 8\r\n")
        self.check_rejection(r, rc, err, 426, "13")

    def test_version_8_status_400_option(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 8\r\n",
                                 "--status-400")
        self.check_rejection(r, rc, err, 400, "13")

    def test_version_9_all_versions_426_lists_highest_first(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 9\r\n",
                                 "--versions", "7,13,8")
        self.check_rejection(r, rc, err, 426, "13, 8, 7")

    def test_version_255_well_formed_426(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 255\r\n")
        self.check_rejection(r, rc, err, 426, "13")

    def test_version_8_enabled_101(self):
        peer = Peer("server", "--versions", "13,8")
        peer.write(REQUEST.format(
            version="Sec-WebSocket-Version: 8\r\n").encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = peer.read()
            self.assertTrue(chunk, peer.stderr())
            raw += chunk
        response, rest = parse_response(raw)
        self.assertEqual(rest, b"")
        self.assertEqual(response.status_code, 101)
        h = response.headers
        self.assertEqual(h["Sec-WebSocket-Accept"],
                         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        self.assertNotIn("Sec-WebSocket-Version", h)
        self.assertEqual(tokens(h, "Upgrade"), ["websocket"])
        self.assertIn("upgrade", tokens(h, "Connection"))
        peer.write(frame(0x8, b"\x03\xe8"))
        self.assertEqual(peer.read_all(), b"\x88\x02\x03\xe8")
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)

    def test_request_and_frames_in_one_write(self):
        # The frames after the head arrive in the same read as the head.
        peer = Peer("server")
        peer.write(REQUEST.format(
            version="Sec-WebSocket-Version: 13\r\n").encode() +
            frame(0x1, b"pipelined") + frame(0x9, b"p") +
            frame(0x8, b"\x03\xe8"))
        response, rest = parse_response_head(peer.read_all())
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(response.status_code, 101)
        self.assertEqual(rest, b"\x81\x09pipelined" + b"\x8a\x01p" +
                         b"\x88\x02\x03\xe8")

    def test_everything_one_byte_at_a_time(self):
        peer = Peer("server")
        text = sized_text(300)
        data = (REQUEST.format(version="Sec-WebSocket-Version: 13\r\n")
                .encode() + frame(0x1, text[:100], fin=False) +
                frame(0x9, b"ping") + frame(0x0, text[100:]) +
                frame(0x2, b"\x00" * 70000) + frame(0x8, b"\x03\xe8bye"))
        for i in range(len(data) - 70000 - 7):
            peer.write(data[i:i + 1])
        # The 70000-byte payload in pieces of 997 bytes.
        for i in range(len(data) - 70000 - 7, len(data), 997):
            peer.write(data[i:i + 997])
        response, rest = parse_response_head(peer.read_all())
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertEqual(response.status_code, 101)
        expect = (b"\x8a\x04ping" + b"\x81\x7e\x01\x2c" + text +
                  b"\x82\x7f" + struct.pack("!Q", 70000) + b"\x00" * 70000 +
                  b"\x88\x02\x03\xe8")
        self.assertEqual(rest, expect)

    def test_version_013_leading_zero_400(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 013\r\n")
        self.check_rejection(r, rc, err, 400, "13")

    def test_version_013_lists_every_version(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 013\r\n",
                                 "--versions", "13,8,7")
        self.check_rejection(r, rc, err, 400, "13, 8, 7")

    def test_version_256_400(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 256\r\n")
        self.check_rejection(r, rc, err, 400, "13")

    def test_version_missing_400(self):
        r, rc, err = self.answer("")
        self.check_rejection(r, rc, err, 400, "13")

    def test_version_list_400(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 13, 8\r\n",
                                 "--versions", "13,8")
        self.check_rejection(r, rc, err, 400, "13, 8")

    def test_version_repeated_400(self):
        r, rc, err = self.answer("Sec-WebSocket-Version: 13\r\n"
                                 "Sec-WebSocket-Version: 13\r\n")
        self.check_rejection(r, rc, err, 400, "13")


class WsvClientPythonServer(unittest.TestCase):
    """stdio_peer client (wsv_hs_client + wsv_conn in the client role) ->
    Python ServerConnection."""

    def start(self, *client_args, subprotocols=None):
        peer = Peer("client", *client_args)
        self.addCleanup(peer.kill)
        server = ServerConnection(subprotocols=subprotocols, max_size=None)
        events = pump(peer, server,
                      lambda ev: any(isinstance(e, Request) for e in ev))
        self.assertTrue(events and isinstance(events[0], Request),
                        f"no request; stderr:\n{peer.stderr()}")
        return peer, server, events[0]

    def accept(self, *client_args, subprotocols=None):
        peer, server, request = self.start(*client_args,
                                           subprotocols=subprotocols)
        response = server.accept(request)
        # Python validated our key, version, Upgrade and Connection.
        self.assertIsNone(server.handshake_exc, peer.stderr())
        self.assertEqual(response.status_code, 101)
        server.send_response(response)
        flush(peer, server)
        self.assertIs(server.state, State.OPEN)
        return peer, server, request

    def echo_until_eof(self, peer, server):
        """Echo every message until the peer's stdout ends."""
        asm = Assembler()

        def step(events):
            for op, data in asm.add(events):
                if server.state is State.OPEN:
                    if op is OP_TEXT:
                        server.send_text(data)
                    else:
                        server.send_binary(data)
            flush(peer, server)
            del events[:]
            return False

        pump(peer, server, step)
        return asm

    def reject(self, *client_args, status=426, versions=("8, 7",)):
        peer, server, request = self.start(*client_args)
        body = b"Upgrade Required: unsupported version\n"
        headers = Headers()
        for v in versions:
            headers["Sec-WebSocket-Version"] = v
        headers["Upgrade"] = "websocket"
        headers["Connection"] = "Upgrade, close"
        headers["Content-Type"] = "text/plain"
        headers["Content-Length"] = str(len(body))
        phrase = "Upgrade Required" if status == 426 else "Bad Request"
        server.send_response(Response(status, phrase, headers, body))
        flush(peer, server)
        return peer.finish()

    def test_handshake_request_and_python_accept(self):
        peer, server, req = self.accept("--path", "/chat?room=1")
        h = req.headers
        self.assertEqual(req.path, "/chat?room=1")
        self.assertEqual(h["Host"], "localhost")
        self.assertEqual(h["Sec-WebSocket-Version"], "13")
        self.assertEqual(tokens(h, "Upgrade"), ["websocket"])
        self.assertIn("upgrade", tokens(h, "Connection"))
        self.assertNotIn("Sec-WebSocket-Protocol", h)
        server.send_close(1000, "done")
        flush(peer, server)
        pump(peer, server)
        self.assertIs(server.state, State.CLOSED)
        self.assertEqual(server.close_rcvd.code, 1000)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("OPEN version=13 subprotocol=-\n", err)
        self.assertIn("\nCLOSE 1000 done\n", err)

    def test_messages_both_ways_client_closes(self):
        utf8 = "héllo €😀".encode()
        peer, server, _ = self.accept(
            "--send-text", "hello",
            "--send-binary-hex", "00ff",
            "--send-text-hex", utf8.hex(),
            "--send-binary-size", "70000",
            "--send-binary-size", "0",
            "--send-text-frags", "frag,,men,ted",
            "--send-ping", "are you there",
            "--expect", "6",
            "--close", "1000:client done")
        asm = self.echo_until_eof(peer, server)
        big = bytes(i % 251 for i in range(70000))
        sent = [(OP_TEXT, b"hello"), (OP_BINARY, b"\x00\xff"),
                (OP_TEXT, utf8), (OP_BINARY, big), (OP_BINARY, b""),
                (OP_TEXT, b"fragmented")]
        self.assertEqual(asm.messages, sent)
        # The fragmented message arrived as four frames.
        self.assertEqual([(op, fin, d) for op, fin, d in asm.frames[-4:]],
                         [(OP_TEXT, False, b"frag"), (OP_CONT, False, b""),
                          (OP_CONT, False, b"men"), (OP_CONT, True, b"ted")])
        pings = [bytes(f.data) for f in asm.controls if f.opcode is OP_PING]
        self.assertEqual(pings, [b"are you there"])
        self.assertIs(server.state, State.CLOSED)
        self.assertEqual((server.close_rcvd.code, server.close_rcvd.reason),
                         (1000, "client done"))
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err[-2000:])
        kinds = {OP_TEXT: "TEXT", OP_BINARY: "BINARY"}
        self.assertEqual(stderr_messages(err),
                         [(kinds[op], d) for op, d in sent])
        self.assertIn("PONG 13 " + b"are you there".hex() + "\n", err)
        self.assertIn("\nCLOSE 1000 client done\n", err)

    def test_101_and_frames_in_one_write(self):
        peer, server, request = self.start("--expect", "2",
                                           "--close", "1000")
        server.send_response(server.accept(request))
        server.send_text("with the 101".encode())
        server.send_binary(b"\x00" * 70000)
        data = b"".join(server.data_to_send())
        peer.write(data)
        pump(peer, server)
        self.assertIs(server.state, State.CLOSED)
        self.assertEqual(server.close_rcvd.code, 1000)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(stderr_messages(err),
                         [("TEXT", b"with the 101"),
                          ("BINARY", b"\x00" * 70000)])

    def test_server_closes_first(self):
        peer, server, _ = self.accept("--send-text", "hi")
        asm = Assembler()
        pump(peer, server, collect(asm, lambda: bool(asm.messages)))
        self.assertEqual(asm.messages, [(OP_TEXT, b"hi")])
        server.send_close(1001, "going away")
        flush(peer, server)
        pump(peer, server)
        self.assertIs(server.state, State.CLOSED)
        # wsv echoes the code, without the reason.
        self.assertEqual((server.close_rcvd.code, server.close_rcvd.reason),
                         (1001, ""))
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("\nCLOSE 1001 going away\n", err)

    def test_server_ping_answered(self):
        peer, server, _ = self.accept()
        server.send_ping(b"\x00heartbeat\xff")
        flush(peer, server)
        asm = Assembler()
        pump(peer, server, collect(asm, lambda: bool(asm.controls)))
        self.assertEqual([(f.opcode, bytes(f.data)) for f in asm.controls],
                         [(OP_PONG, b"\x00heartbeat\xff")])
        server.send_close(1000)
        flush(peer, server)
        pump(peer, server)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("PING 11 00686561727462656174ff\n", err)

    def test_subprotocol_chosen_by_python(self):
        peer, server, req = self.accept("--subprotocol", "chat",
                                        "--subprotocol", "superchat",
                                        subprotocols=["superchat"])
        self.assertEqual(req.headers["Sec-WebSocket-Protocol"],
                         "chat, superchat")
        self.assertEqual(server.subprotocol, "superchat")
        server.send_close(1000)
        flush(peer, server)
        pump(peer, server)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn("OPEN version=13 subprotocol=superchat\n", err)

    def client_fails_with(self, raw, code, errname):
        peer, server, _ = self.accept()
        peer.write(raw)
        asm = Assembler()
        pump(peer, server, collect(asm, lambda: any(
            f.opcode is OP_CLOSE for f in asm.controls)))
        self.assertIsNotNone(server.close_rcvd, peer.stderr())
        self.assertEqual(server.close_rcvd.code, code)
        rc, err = peer.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn(f"\nFAIL {code} {errname}\n", err)

    def test_client_fails_on_masked_server_frame_1002(self):
        self.client_fails_with(frame(0x1, b"hi", mask=True), 1002,
                               "WSV_ERR_PROTOCOL")

    def test_client_fails_on_invalid_utf8_1007(self):
        self.client_fails_with(frame(0x1, b"\xc0\xaf", mask=False), 1007,
                               "WSV_ERR_UTF8")

    def test_retry_8_from_426_list(self):
        rc, err = self.reject(versions=("8, 7",))
        self.assertEqual(rc, 3, err)
        self.assertRegex(err, r"(?m)^RETRY 8\b")

    def test_retry_8_from_two_header_lines(self):
        rc, err = self.reject(versions=("7", "8"))
        self.assertEqual(rc, 3, err)
        self.assertRegex(err, r"(?m)^RETRY 8\b")

    def test_retry_7_from_400(self):
        rc, err = self.reject(status=400, versions=("7",))
        self.assertEqual(rc, 3, err)
        self.assertRegex(err, r"(?m)^RETRY 7\b")

    def test_no_common_version_9(self):
        rc, err = self.reject(versions=("9",))
        self.assertEqual(rc, 2, err)
        line = re.search(r"(?m)^ERROR WSV_ERR_HS_NO_COMMON_VERSION (.*)$",
                         err)
        self.assertIsNotNone(line, err)
        # Both lists are named: the server's and ours.
        self.assertRegex(line.group(1), r"\b9\b")
        self.assertIn("13, 8, 7", line.group(1))

    def test_no_common_version_when_client_speaks_only_13(self):
        rc, err = self.reject("--versions", "13", versions=("8, 7",))
        self.assertEqual(rc, 2, err)
        line = re.search(r"(?m)^ERROR WSV_ERR_HS_NO_COMMON_VERSION (.*)$",
                         err)
        self.assertIsNotNone(line, err)
        self.assertIn("8, 7", line.group(1))
        self.assertRegex(line.group(1), r"\b13\b")

    def test_wrong_accept_key_refused(self):
        peer, server, request = self.start()
        response = server.accept(request)
        del response.headers["Sec-WebSocket-Accept"]
        response.headers["Sec-WebSocket-Accept"] = accept_key(
            "AAAAAAAAAAAAAAAAAAAAAA==")
        server.send_response(response)
        flush(peer, server)
        rc, err = peer.finish()
        self.assertEqual(rc, 2, err)
        self.assertIn("ERROR WSV_ERR_HS_ACCEPT ", err)


def main():
    global PEER
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.stderr.write(f"usage: {sys.argv[0]} PATH/TO/stdio_peer\n")
        return 2
    PEER = sys.argv.pop(1)
    sys.stderr.write(f"websockets {websockets.__version__} "
                     f"({websockets.__file__}), peer {PEER}\n")
    prog = unittest.main(exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
