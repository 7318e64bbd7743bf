"""py_echo.py PORT [--deflate] - a Python `websockets` (Debian's 10.4, run
with /usr/bin/python3) echo server for bench/run: every message goes back
as it came, compression off (as for every peer) unless --deflate
(websockets' own permessage-deflate defaults, for bench/deflate.py), no
size limit below 64 MiB.  Stops on SIGINT or SIGTERM."""
import asyncio
import signal
import sys

import websockets


async def echo(ws, path=None):
    async for msg in ws:
        await ws.send(msg)


async def main(port, deflate):
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, compression="deflate" if deflate else None,
                                max_size=64 << 20, max_queue=None,
                                ping_interval=None):
        print(f"py_echo: listening on 127.0.0.1:{port}", flush=True)
        await stop


asyncio.run(main(int(sys.argv[1]), "--deflate" in sys.argv[2:]))
