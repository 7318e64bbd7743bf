"""corrupt_echo.py PORTFILE [--bad-accept | --fragment-ping | --rsv1 |
--split-101 | --bad-101 KIND] - a WebSocket
echo server that corrupts echoes (or, with --bad-accept, answers every
handshake with a wrong Sec-WebSocket-Accept, which a client must refuse; or,
with --fragment-ping, corrupts nothing but sends every echo of more than one
byte as two fragments with a Ping between them, and checks that every Pong
carries its Ping's payload: a wrong Pong, or a Close before every Ping was
answered, ends the connection without a Close, a failure for the client;
or, with --rsv1, echoes every payload intact but sets RSV1 from the third
message on, which no extension agreed to: the client must fail; or, with
--split-101, corrupts nothing but writes its 101 in 3-byte pieces, header
names in odd case, an extra header and "Connection: keep-alive, Upgrade",
which a client must accept; or, with --bad-101 KIND, answers with a 101
that a client must refuse: KIND no-colon has a header line without a
colon, sub-colon writes "Upgrade\x1awebsocket" (0x1a, which folds onto
':' when OR-ed with 0x20, in the colon's place: a line without a colon),
ext agrees to an extension that was not offered).

Standard library only.  Listens on a free loopback port (written to
PORTFILE), answers the opening handshake, and echoes every data frame with
one payload byte changed from the third message of each connection on, so
that `wsv bench echo` must report verification errors.  Exits after 20
seconds at the latest.
"""
import base64
import hashlib
import socket
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BAD_ACCEPT = "--bad-accept" in sys.argv[2:]
FRAGMENT_PING = "--fragment-ping" in sys.argv[2:]
RSV1 = "--rsv1" in sys.argv[2:]
SPLIT_101 = "--split-101" in sys.argv[2:]
BAD_101 = sys.argv[sys.argv.index("--bad-101") + 1] if "--bad-101" in sys.argv[2:] else None
BAD_101_LINES = {
    "no-colon": b"Upgrade: websocket\r\nX-No-Colon\r\n",
    "sub-colon": b"Upgrade\x1awebsocket\r\n",
    "ext": b"Upgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
}


def frame(b0, data):
    n = len(data)
    if n < 126:
        hdr = bytes([b0, n])
    elif n < 65536:
        hdr = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([b0, 127]) + n.to_bytes(8, "big")
    return hdr + bytes(data)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def serve(sock):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        key = b""
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if BAD_ACCEPT:
            accept = base64.b64encode(hashlib.sha1(key + b"x" + GUID).digest())
        if SPLIT_101:
            resp = (b"HTTP/1.1 101 Switching Protocols\r\nuPGRADE: WebSocket\r\n"
                    b"Server: corrupt_echo\r\nconnection: keep-alive, Upgrade\r\n"
                    b"SEC-WEBSOCKET-ACCEPT:  " + accept + b" \r\n\r\n")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(resp), 3):
                sock.sendall(resp[i:i + 3])
                time.sleep(0.001)
        elif BAD_101:
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\n" + BAD_101_LINES[BAD_101] +
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                         b"\r\n\r\n")
        else:
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                         b"\r\n\r\n")
        count = 0
        pings = []
        while True:
            b0, b1 = recv_exact(sock, 2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(recv_exact(sock, 2), "big")
            elif n == 127:
                n = int.from_bytes(recv_exact(sock, 8), "big")
            mask = recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
            data = bytearray(recv_exact(sock, n))
            for i in range(n):
                data[i] ^= mask[i % 4]
            op = b0 & 0x0F
            if FRAGMENT_PING:
                if op == 0xA:
                    if not pings or bytes(data) != pings.pop(0):
                        return  # a wrong Pong: drop the connection
                    continue
                if op == 8 and pings:
                    return  # a Ping left unanswered
                if op in (1, 2) and n > 1:
                    count += 1
                    ping = b"p%d" % count
                    pings.append(ping)
                    half = n // 2
                    sock.sendall(frame(op, data[:half]) + frame(0x89, ping) +
                                 frame(0x80, data[half:]))
                    continue
            elif op in (1, 2) and SPLIT_101:
                pass
            elif op in (1, 2) and RSV1:
                count += 1
                if count >= 3:
                    b0 |= 0x40
            elif op in (1, 2):
                count += 1
                if count >= 3 and n > 0:
                    data[n - 1] = ord("A") if data[n - 1] != ord("A") else ord("B")
            sock.sendall(frame(b0, data))
            if op == 8:
                return
    except (EOFError, OSError):
        pass
    finally:
        sock.close()


def main():
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(sys.argv[1], "w") as f:
        f.write(str(ls.getsockname()[1]))
    ls.settimeout(0.5)
    end = time.time() + 20
    while time.time() < end:
        try:
            sock, _ = ls.accept()
        except socket.timeout:
            continue
        sock.settimeout(10)
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


main()
