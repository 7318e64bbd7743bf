#!/usr/bin/python3
"""A Python websockets (10.4) echo server on 127.0.0.1:0 for the interop
drivers; prints "ws://127.0.0.1:<port>/" and serves until SIGTERM (or 120 s).
"""
import asyncio
import signal

import websockets


async def echo(ws, path):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.exceptions.ConnectionClosed:
        pass


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, lambda: stop.done() or stop.set_result(None))
    loop.call_later(120, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(echo, "127.0.0.1", 0) as srv:
        print(f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}/", flush=True)
        await stop


asyncio.run(main())
