"""The bare floor's write side: raw ASGI (no Django), served by uvicorn.

POST /alert {"user_id": N, ...} commits one row with psycopg (a few pooled connections),
PUBLISHes a frame on Redis channel `user.<N>` and answers 201 {"alert_id": id}.
POST /heartbeat {"device_id": D} upserts the device's "last heard" row in one commit and answers
200. It also holds idle websockets (accept, say hello, wait), like a Django process that serves
both.

Environment: BENCH_FLOOR_DSN (libpq), BENCH_FLOOR_REDIS (redis://...), BENCH_FLOOR_POOL.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import psycopg
import redis.asyncio as aioredis
from psycopg.types.json import Jsonb

TABLE = "bench_floor_alert"
DEVICES = "bench_floor_device"
_state: dict[str, Any] = {}


async def _startup() -> None:
    size = int(os.environ.get("BENCH_FLOOR_POOL", "8"))
    pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(size):
        pool.put_nowait(await psycopg.AsyncConnection.connect(os.environ["BENCH_FLOOR_DSN"]))
    _state["pool"] = pool
    _state["redis"] = aioredis.from_url(os.environ["BENCH_FLOOR_REDIS"])


async def _respond(send: Any, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(raw)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def _alert(body: bytes) -> dict[str, Any]:
    message = json.loads(body)
    user_id = int(message["user_id"])
    pool = _state["pool"]
    conn = await pool.get()
    try:
        async with conn.transaction():
            cur = await conn.execute(
                f"INSERT INTO {TABLE} (user_id, payload) VALUES (%s, %s) RETURNING id",  # noqa: S608
                (user_id, Jsonb(message)),
            )
            row = await cur.fetchone()
    finally:
        pool.put_nowait(conn)
    assert row is not None
    alert_id = int(row[0])
    frame = {"id": alert_id, "type": "alert.raised", "data": {"alert_id": alert_id}}
    await _state["redis"].publish(f"user.{user_id}", json.dumps(frame))
    return {"alert_id": alert_id}


async def _heartbeat(body: bytes) -> dict[str, Any]:
    device_id = str(json.loads(body)["device_id"])
    pool = _state["pool"]
    conn = await pool.get()
    try:
        async with conn.transaction():
            await conn.execute(
                f"INSERT INTO {DEVICES} (device_id, heard_at) VALUES (%s, now()) "  # noqa: S608
                "ON CONFLICT (device_id) DO UPDATE SET heard_at = excluded.heard_at",
                (device_id,),
            )
    finally:
        pool.put_nowait(conn)
    return {"device_id": device_id}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif kind == "http":
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/alert" and scope["method"] == "POST":
            await _respond(send, 201, await _alert(body))
        elif scope["path"] == "/heartbeat" and scope["method"] == "POST":
            await _respond(send, 200, await _heartbeat(body))
        elif scope["path"] == "/health":
            await _respond(send, 200, {"status": "ok"})
        else:
            await _respond(send, 404, {"error": "not_found"})
    elif kind == "websocket":
        message = await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"type": "hello"})})
        while (await receive())["type"] != "websocket.disconnect":
            pass
