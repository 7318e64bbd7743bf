"""bench/deflate_sim.py - permessage-deflate's trade-off without a server:
the compression ratio of bench/deflate.py's corpus (50 connections x 20
JSON chat messages with context takeover, each connection its own zlib
stream; and the 1 MiB text three times) for each raw-deflate window
(windowBits 9..15) and memLevel (1..8) at level 6, flushed per message as
RFC 7692 does, and the deflate state each setting keeps per connection
(zlib's own formula: 2^(windowBits+2) + 2^(memLevel+9) bytes plus about
5.9 KB of state; an inflater keeps 2^windowBits plus about 7 KB).

usage: /usr/bin/python3 bench/deflate_sim.py
The figures are deterministic (same corpus, same zlib): what the choice of
wsv's defaults (issue 14) rests on.
"""
import importlib.util
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "deflate_bench", os.path.join(HERE, "deflate.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def wire_ratio(msgs, bits, mem_level, context=True):
    """Bytes on the wire (frame header, mask, payload without the 4-byte
    tail RFC 7692 strips) over payload bytes, for messages sent in order
    on one connection."""
    out = raw = 0
    c = zlib.compressobj(6, zlib.DEFLATED, -bits, mem_level)
    for m in msgs:
        if not context:
            c = zlib.compressobj(6, zlib.DEFLATED, -bits, mem_level)
        z = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        n = len(z) - 4
        out += n + (2 if n < 126 else 4 if n < 65536 else 10) + 4
        raw += len(m)
    return out / raw


def main():
    vocab = bench.words()
    text = bench.big_text().encode()
    chats = [[m.encode() for m in bench.chat_messages(c, 20, vocab)]
             for c in range(50)]

    def chat(bits, mem_level, context=True):
        total = sum(sum(map(len, ms)) for ms in chats)
        return sum(wire_ratio(ms, bits, mem_level, context) * sum(map(len, ms))
                   for ms in chats) / total

    print("| windowBits | memLevel | chat ratio | text ratio | deflate state |")
    print("|---|---|---|---|---|")
    for bits in (15, 13, 12, 11, 10, 9):
        for mem_level in (8, 5, 4, 3, 2, 1):
            mem = (1 << (bits + 2)) + (1 << (mem_level + 9)) + 5900
            print(f"| {bits} | {mem_level} | {chat(bits, mem_level):.3f} | "
                  f"{wire_ratio([text] * 3, bits, mem_level):.3f} | "
                  f"{mem / 1024:.1f} KB |")
    print(f"\nno context takeover (15, 8): chat {chat(15, 8, False):.3f}")


if __name__ == "__main__":
    main()
