"""The fan-out floor of the city benchmark: a bare `websockets` server whose every message from
a client is sent to all the other sockets with `websockets.broadcast` (one call, no Redis, no
database): what delivering one event to 200 boards costs at the least.

    python -m bench.city_broadcast --port P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from websockets.asyncio.server import ServerConnection, broadcast, serve

sockets: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    sockets.add(ws)
    try:
        await ws.send(json.dumps({"type": "hello"}))
        async for message in ws:
            broadcast(sockets - {ws}, message)
    finally:
        sockets.discard(ws)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, ping_interval=None):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.city_broadcast")
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
