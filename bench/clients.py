"""Load-generation clients: log in, get a ticket, open the stream socket; sign device presses.

Every socket is *kept* like a phone keeps it: when it drops, it is reopened (a new ticket and
`last_event_id`, so the server replays what was missed) and the drop is counted.

Two helper processes, each reporting by rewriting its STATUS file (JSON) until it is killed:

    python -m bench.clients hold SPEC STATUS   opens many idle sockets and keeps them open
    python -m bench.clients beat SPEC STATUS   the background load: signed heartbeats of many
                                               devices, open loop at a fixed rate

They run apart from the runner, which measures, so that their work never delays a measurement.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

from .rawhttp import Client

OPEN_TIMEOUT = 120.0
Opener = Callable[[int | None], Awaitable[ClientConnection]]


def ws_url(http_base: str) -> str:
    return "ws" + http_base.removeprefix("http")


async def open_ws(url: str) -> ClientConnection:
    # No client-side pings: the servers ping every 20 s (uvicorn's default) and we answer.
    return await connect(
        url, ping_interval=None, open_timeout=OPEN_TIMEOUT, close_timeout=1, max_size=2**22
    )


def http_client(base: str, connections: int = 64) -> Client:
    """Keep-alive connections to one server (see bench/rawhttp.py for why not httpx)."""
    return Client(base, connections)


JSON = {"Content-Type": "application/json"}


async def login(http: Client, phone: str, password: str) -> str:
    body = json.dumps({"phone": phone, "password": password}).encode()
    r = await http.post("/api/v1/auth/login", body, JSON, timeout=OPEN_TIMEOUT)
    if r.status_code != 200:
        raise RuntimeError(f"login {phone}: {r.status_code} {r.content[:200]!r}")
    return str(r.json()["access_token"])


async def ticket(http: Client, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    r = await http.post("/api/v1/realtime/ticket", b"", headers, timeout=OPEN_TIMEOUT)
    if r.status_code != 200:
        raise RuntimeError(f"ticket: {r.status_code} {r.content[:200]!r}")
    return str(r.json()["ticket"])


def django_opener(http: Client, phone: str, password: str, ws_base: str | None = None) -> Opener:
    """Log in once where `http` points; per (re)connect a ticket from there and a socket at
    `ws_base` (the same server unless told)."""
    token: list[str] = []

    async def open_(last_event_id: int | None) -> ClientConnection:
        if not token:
            token.append(await login(http, phone, password))
        query = f"ticket={await ticket(http, token[0])}"
        if last_event_id is not None:
            query += f"&last_event_id={last_event_id}"
        return await open_ws(f"{ws_url(ws_base or http.base)}/ws/v1/stream?{query}")

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
    def failed(self) -> int:  # first opens that failed
        return sum(v for k, v in self.errors.items() if not k.startswith("reopen "))

    @property
    def open(self) -> int:
        return self.connected - self.drops + self.reopened

    def changed(self) -> None:
        if self.target and self.connected + self.failed >= self.target:
            self.all_tried.set()
        if self.on_change:
            self.on_change()


async def open_with_hello(opener: Opener, last_event_id: int | None) -> tuple[Any, Any]:
    ws = await opener(last_event_id)
    hello = json.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
    if hello.get("type") != "hello":
        await ws.close()
        raise RuntimeError(f"expected hello, got {str(hello)[:80]}")
    return ws, hello


async def keep(
    opener: Opener,
    stats: SocketStats,
    opening: asyncio.Semaphore,
    on_frame: Callable[[str, float, float], dict[str, Any] | None] | None = None,
    current: Callable[[ClientConnection], None] | None = None,
) -> None:
    """Open a socket (waiting for its hello), then keep it open until cancelled, acknowledging
    every frame as it arrives, as the app does; a dropped socket is reopened like a phone does
    it: the same log-in, a new ticket, last_event_id, and a jittered, growing pause between
    failed tries (0.25 s up to 4 s)."""
    async with opening:
        try:
            ws, hello = await open_with_hello(opener, None)
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
                    # As the app does once a frame is shown: an acknowledged urgent event
                    # needs no push, SMS or call (the ladder's later rungs are cancelled).
                    await ws.send(json.dumps({"type": "ack", "last_event_id": last}))
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
        pause = 0.25
        await asyncio.sleep(random.uniform(0, pause))
        while True:
            try:
                # With last_event_id the server replays (or says resync_required) instead of
                # saying hello: the handshake's acceptance is the socket being back.
                ws = await opener(last)
                stats.reopened += 1
                stats.changed()
                break
            except Exception as exc:
                stats.reopen_failures += 1
                stats.errors[f"reopen {type(exc).__name__}: {str(exc)[:80]}"] += 1
                pause = min(4.0, pause * 2)
                await asyncio.sleep(random.uniform(pause / 2, pause))


def sign(secret: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """As documented in backend/alerts/signing.py (re-implemented: no Django in the client)."""
    message = f"POST\n{path}\n{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed(
    device: dict[str, Any], payload: dict[str, Any], path: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a signed device request (a new nonce and timestamp each time)."""
    body = json.dumps(payload).encode()
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    headers = {
        "Content-Type": "application/json",
        "X-Device-Id": device["device_id"],
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": sign(device["secret"], path, timestamp, nonce, body),
    }
    return body, headers


def device_press(
    device: dict[str, Any], client_alert_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    payload = {"client_alert_id": client_alert_id or str(uuid.uuid4()), "kind": "emergency"}
    return signed(device, {**payload, "battery": 90}, "/api/v1/device/alerts")


def floor_press(
    device: dict[str, Any], client_alert_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The floor's press: the same facts, unsigned (the floor does not authenticate)."""
    body = {
        "user_id": device["manager_id"],
        "device_id": device["device_id"],
        "client_alert_id": client_alert_id or str(uuid.uuid4()),
        "kind": "emergency",
        "battery": 90,
    }
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


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
    # as many connections as reopening phones may want at once (after a cut, all of them)
    async with http_client(spec["base"], 256) as http:
        if spec["mode"] == "django":
            openers = [
                django_opener(http, phone, spec["password"], spec.get("ws_base"))
                for phone in spec["items"]
            ]
        else:
            openers = [floor_opener(spec["base"], uid) for uid in spec["items"]]
        stats.target = len(openers)
        tasks = [asyncio.create_task(keep(o, stats, opening)) for o in openers]
        await stats.all_tried.wait()
        gc.collect()
        gc.freeze()  # thousands of long-lived sockets: keep them out of every later collection
        done = True
        write(force=True)
        while True:
            await asyncio.sleep(2)
            write(force=True)
        await asyncio.gather(*tasks)  # unreachable: killed by the runner


# -- the heartbeat process -------------------------------------------------------------------


async def beat(spec: dict[str, Any], status_path: Path) -> None:
    """Heartbeats of spec["devices"] round robin at spec["rate"] per second (open loop: one
    starts every 1/rate s whatever the earlier ones do) to spec["url"], until killed; mode
    "django" signs them, "floor" posts {"device_id"} to the floor."""
    devices, rate, url = spec["devices"], float(spec["rate"]), spec["url"]
    statuses: Counter[str] = Counter()
    counts = {"sent": 0, "answered": 0}
    slow = {"over_100ms": 0, "max_ms": 0.0}

    def write() -> None:
        data = {**counts, **slow, "statuses": dict(statuses), "at": time.time()}
        tmp = status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(status_path)

    async def one(http: Client, device: dict[str, Any]) -> None:
        if spec["mode"] == "django":
            body, headers = signed(device, {"battery": 80}, path)
        else:
            body = json.dumps({"device_id": device["device_id"]}).encode()
            headers = {"Content-Type": "application/json"}
        t0 = time.perf_counter()
        try:
            r = await http.post(path, body, headers)
            statuses[str(r.status_code)] += 1
        except Exception as exc:
            statuses[type(exc).__name__] += 1
        ms = (time.perf_counter() - t0) * 1000
        slow["max_ms"] = max(slow["max_ms"], ms)
        slow["over_100ms"] += ms > 100
        counts["answered"] += 1

    path = urlsplit(url).path
    async with Client(url, 64) as http:
        start, i, last_write = time.perf_counter(), 0, 0.0
        pending: set[asyncio.Task[None]] = set()
        while True:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(http, devices[i % len(devices)]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
            counts["sent"] = i
            if time.monotonic() - last_write > 0.25:
                last_write = time.monotonic()
                write()


def main() -> None:
    commands = {"hold": hold, "beat": beat}
    if len(sys.argv) != 4 or sys.argv[1] not in commands:
        sys.exit("usage: python -m bench.clients hold|beat SPEC.json STATUS.json")
    spec = json.loads(Path(sys.argv[2]).read_text())
    runner: Callable[[Any], Any] = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    runner(commands[sys.argv[1]](spec, Path(sys.argv[3])))


if __name__ == "__main__":
    main()
