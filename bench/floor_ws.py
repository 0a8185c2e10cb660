"""The bare floor's read side: a minimal `websockets` server.

    python -m bench.floor_ws --port P [--redis redis://...]

Clients open ws://host:P/ws?user=N and get {"type": "hello"}. With --redis the process
PSUBSCRIBEs to `user.*` and forwards each message to the sockets of that user. Without it,
it only holds idle sockets (the memory baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve

sockets: dict[int, set[ServerConnection]] = defaultdict(set)


async def handler(ws: ServerConnection) -> None:
    query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
    user = int((query.get("user") or ["0"])[0])
    sockets[user].add(ws)
    try:
        await ws.send(json.dumps({"type": "hello"}))
        async for _ in ws:
            pass
    finally:
        sockets[user].discard(ws)
        if not sockets[user]:
            del sockets[user]


async def forward(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.psubscribe("user.*")
    async for message in pubsub.listen():
        if message["type"] != "pmessage":
            continue
        user = int(message["channel"].split(b".", 1)[1])
        data = message["data"].decode()
        for ws in list(sockets.get(user, ())):
            with contextlib.suppress(Exception):  # a closing socket
                await ws.send(data)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="")
    args = parser.parse_args()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    tasks: list[asyncio.Task[Any]] = []
    # ping every 20 s like uvicorn's default, so idle sockets cost the same keep-alive work
    async with serve(handler, "127.0.0.1", args.port, ping_interval=20, backlog=4096):
        if args.redis:
            tasks.append(asyncio.create_task(forward(args.redis)))
        await stop
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
