"""A tiny WebSocket echo server for the e2e tests (Debian's python3-websockets).

    python3 ws_echo.py PORT

Listens on 127.0.0.1:PORT and sends every text or binary message back on
the same connection. Runs until killed; the test stops it by its PID."""

import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port, ping_interval=None, max_size=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
