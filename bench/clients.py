"""Load-generation clients: log in, get a ticket, open the stream socket; sign device presses.

Every socket is *kept* like a phone keeps it: when it drops, it is reopened (a new ticket and
`last_event_id`, so the server replays what was missed) and the drop is counted.

Also the socket *holder*: `python -m bench.clients hold SPEC STATUS` opens many idle sockets,
keeps them open and reports progress by rewriting the STATUS file (JSON) until it is killed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

OPEN_TIMEOUT = 120.0
Opener = Callable[[int | None], Awaitable[ClientConnection]]


def ws_url(http_base: str) -> str:
    return "ws" + http_base.removeprefix("http")


async def open_ws(url: str) -> ClientConnection:
    # No client-side pings: the servers ping every 20 s (uvicorn's default) and we answer.
    return await connect(
        url, ping_interval=None, open_timeout=OPEN_TIMEOUT, close_timeout=1, max_size=2**22
    )


def http_client(connections: int = 200) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(120.0),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def login(http: httpx.AsyncClient, base: str, phone: str, password: str) -> str:
    r = await http.post(f"{base}/api/v1/auth/login", json={"phone": phone, "password": password})
    if r.status_code != 200:
        raise RuntimeError(f"login {phone}: {r.status_code} {r.text[:200]}")
    return str(r.json()["access_token"])


async def ticket(http: httpx.AsyncClient, base: str, token: str) -> str:
    r = await http.post(
        f"{base}/api/v1/realtime/ticket", headers={"Authorization": f"Bearer {token}"}
    )
    if r.status_code != 200:
        raise RuntimeError(f"ticket: {r.status_code} {r.text[:200]}")
    return str(r.json()["ticket"])


def django_opener(
    http: httpx.AsyncClient, base: str, phone: str, password: str, ws_base: str | None = None
) -> Opener:
    """Log in once at `base`; per (re)connect a ticket from `base` and a socket at `ws_base`."""
    token: list[str] = []

    async def open_(last_event_id: int | None) -> ClientConnection:
        if not token:
            token.append(await login(http, base, phone, password))
        query = f"ticket={await ticket(http, base, token[0])}"
        if last_event_id is not None:
            query += f"&last_event_id={last_event_id}"
        return await open_ws(f"{ws_url(ws_base or base)}/ws/v1/stream?{query}")

    return open_


def floor_opener(base: str, user_id: int) -> Opener:
    async def open_(last_event_id: int | None) -> ClientConnection:
        return await open_ws(f"{ws_url(base)}/ws?user={user_id}")

    return open_


@dataclass
class SocketStats:
    connected: int = 0  # first opens that got their hello
    drops: int = 0  # closed by the other side (or the network) after that
    reopened: int = 0
    reopen_failures: int = 0
    frames: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    stopping: bool = False
    on_change: Callable[[], None] | None = None
    target: int = 0
    all_tried: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def open(self) -> int:
        return self.connected - self.drops + self.reopened

    def changed(self) -> None:
        if self.target and self.connected + self.failed >= self.target:
            self.all_tried.set()
        if self.on_change:
            self.on_change()


async def keep(
    opener: Opener,
    stats: SocketStats,
    opening: asyncio.Semaphore,
    on_frame: Callable[[str, float, float], dict[str, Any] | None] | None = None,
    current: Callable[[ClientConnection], None] | None = None,
) -> None:
    """Open a socket (waiting for its hello), then keep it open until cancelled."""
    async with opening:
        try:
            ws = await opener(None)
            hello = json.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
            if hello.get("type") != "hello":
                raise RuntimeError(f"expected hello, got {str(hello)[:80]}")
        except Exception as exc:  # counted and reported
            stats.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            stats.changed()
            return
    last = hello.get("last_event_id")
    stats.connected += 1
    stats.changed()
    while True:
        if current:
            current(ws)
        try:
            async for message in ws:
                stats.frames += 1
                raw = message if isinstance(message, str) else message.decode()
                frame = on_frame(raw, time.perf_counter(), time.time()) if on_frame else None
                if frame is None:
                    frame = json.loads(raw)
                if isinstance(frame.get("id"), int):
                    last = frame["id"]
                elif "last_event_id" in frame:
                    last = frame["last_event_id"]
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: S110 - a drop, counted below
            pass
        if stats.stopping:
            return
        stats.drops += 1
        stats.changed()
        while True:  # reopen like a phone: new ticket, last_event_id
            try:
                ws = await opener(last)
                stats.reopened += 1
                stats.changed()
                break
            except Exception:
                stats.reopen_failures += 1
                await asyncio.sleep(1)


def sign(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """As documented in backend/alerts/signing.py (re-implemented: no Django in the client)."""
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def device_press(device: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"client_alert_id": str(uuid.uuid4()), "kind": "emergency", "battery": 90}
    ).encode()
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    headers = {
        "Content-Type": "application/json",
        "X-Device-Id": device["device_id"],
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(device["secret"], timestamp, nonce, body),
    }
    return body, headers


# -- the holder process ----------------------------------------------------------------------


async def hold(spec: dict[str, Any], status_path: Path) -> None:
    """Open every socket of the spec, then keep them open until killed."""
    stats = SocketStats()
    started = time.time()
    done = False
    last_write = 0.0

    def write(force: bool = False) -> None:
        nonlocal last_write
        now = time.monotonic()
        if not force and now - last_write < 0.5:
            return
        last_write = now
        data = {
            "target": len(spec["items"]),
            "connected": stats.connected,
            "failed": stats.failed,
            "open": stats.open,
            "drops": stats.drops,
            "reopened": stats.reopened,
            "reopen_failures": stats.reopen_failures,
            "frames": stats.frames,
            "errors": dict(stats.errors.most_common(5)),
            "done": done,
            "started": started,
        }
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(status_path)

    stats.on_change = write
    opening = asyncio.Semaphore(spec["concurrency"])
    async with http_client(spec["concurrency"] * 2) as http:
        if spec["mode"] == "django":
            openers = [
                django_opener(http, spec["base"], phone, spec["password"], spec.get("ws_base"))
                for phone in spec["items"]
            ]
        else:
            openers = [floor_opener(spec["base"], uid) for uid in spec["items"]]
        stats.target = len(openers)
        tasks = [asyncio.create_task(keep(o, stats, opening)) for o in openers]
        await stats.all_tried.wait()
        done = True
        write(force=True)
        while True:
            await asyncio.sleep(2)
            write(force=True)
        await asyncio.gather(*tasks)  # unreachable: killed by the runner


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] != "hold":
        sys.exit("usage: python -m bench.clients hold SPEC.json STATUS.json")
    spec = json.loads(Path(sys.argv[2]).read_text())
    runner: Callable[[Any], Any] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    runner(hold(spec, Path(sys.argv[3])))


if __name__ == "__main__":
    main()
