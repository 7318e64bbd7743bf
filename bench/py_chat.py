"""py_chat.py PORT - (0: any free port, printed) a Python `websockets` (Debian's 10.4, run with
/usr/bin/python3) broadcast server for bench/run's fan-out rows, with the
semantics of `wsv serve --chat` that `wsv bench fanout` expects: every
connection subscribes to its path; each message it sends goes, as it came,
to every connection on that path, the sender too (as wsv serve --chat
publishes with WSV_PUBLISH_SELF), through
websockets.broadcast (one frame built per message, written to each
socket without waiting for it to drain).  Compression off (as for every
peer).  Stops on SIGINT or SIGTERM."""
import asyncio
import signal
import sys

import websockets

topics = {}  # path -> set of connections


async def chat(ws, path=None):
    path = ws.path if path is None else path
    subs = topics.setdefault(path, set())
    subs.add(ws)
    try:
        async for msg in ws:
            websockets.broadcast(subs, msg)
    finally:
        subs.discard(ws)
        if not subs:
            topics.pop(path, None)


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(chat, "127.0.0.1", port, compression=None,
                                max_size=64 << 20, max_queue=None,
                                ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]  # port 0: the kernel's pick
        print(f"py_chat: listening on 127.0.0.1:{port}", flush=True)
        await stop


asyncio.run(main(int(sys.argv[1])))
