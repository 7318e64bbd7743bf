"""bench/deflate_cpu.py - CPU cost of permessage-deflate per chat echo:
callgrind instructions of `wsv serve --deflate MODE` for a run of N chat
echoes minus a run of N0, divided by N - N0 (so startup, the handshake and
exit cancel out).  One connection, Python websockets 10.4 as the client
(compression on, as browsers), the chat corpus of bench/deflate.py.

usage: /usr/bin/python3 bench/deflate_cpu.py [--wsv PATH] [--modes max,on]
           [--n 2000] [--n0 200]
Needs valgrind.  Prints one line per mode.
"""
import argparse
import asyncio
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deflate as D  # noqa: E402  (the corpus, free_port, wait_port)


def instructions(wsv, mode, n, vocab):
    port = D.free_port()
    out = tempfile.mkdtemp(prefix="wsv-cg-")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p",
           wsv, "serve", "--host", "127.0.0.1", "--port", str(port), "--quiet",
           "--deflate", mode]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        if not D.wait_port(port, proc, 60):
            raise RuntimeError("server did not start")

        async def go():
            async with websockets.connect(f"ws://127.0.0.1:{port}/",
                                          ping_interval=None) as ws:
                for m in D.chat_messages(0, n, vocab):
                    await ws.send(m)
                    if await ws.recv() != m:
                        raise RuntimeError("echo differs")
        asyncio.run(go())
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    total = 0
    for f in glob.glob(f"{out}/cg.*"):
        for line in open(f):
            if line.startswith("summary:") or line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wsv", default=os.path.join(D.ROOT, "build/wsv"))
    ap.add_argument("--modes", default="max,on")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--n0", type=int, default=200)
    a = ap.parse_args()
    vocab = D.words()
    for mode in a.modes.split(","):
        hi = instructions(a.wsv, mode, a.n, vocab)
        lo = instructions(a.wsv, mode, a.n0, vocab)
        print(f"--deflate {mode}: {(hi - lo) / (a.n - a.n0):.0f} instructions "
              f"per chat echo (callgrind, {a.n} - {a.n0} echoes)", flush=True)


if __name__ == "__main__":
    main()
