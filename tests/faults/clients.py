"""Clients that talk to real server processes the way phones and buttons do: a signed device over
HTTP, and a worker's phone holding the stream socket in its own thread (ORM-free, so the test
body stays synchronous and may use the ORM freely)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection, connect

from backend.alerts.signing import signed_headers
from tests.conftest import PASSWORD


def http(timeout: float | httpx.Timeout = 10.0) -> httpx.Client:
    return httpx.Client(timeout=timeout, trust_env=False)


class Target(Protocol):
    url: str


class Endpoint(Protocol):
    """Where a phone connects: a server, or a proxy in front of one."""

    name: str
    url: str
    ws_url: str


@dataclass
class Device:
    """A button that signs its requests like the hardware does (a new nonce per attempt)."""

    device_id: str
    secret: str

    def press(
        self,
        server: Target,
        *,
        client_alert_id: uuid.UUID | None = None,
        kind: str = "emergency",
        timeout: float | httpx.Timeout = 10.0,
    ) -> httpx.Response:
        body = {"client_alert_id": str(client_alert_id or uuid.uuid4()), "kind": kind}
        raw = json.dumps(body).encode()
        headers = signed_headers(
            self.secret, self.device_id, raw, path="/api/v1/device/alerts", nonce=uuid.uuid4().hex
        )
        headers["Content-Type"] = "application/json"
        with http(timeout) as client:
            return client.post(f"{server.url}/api/v1/device/alerts", content=raw, headers=headers)


class Phone:
    """A worker's phone: logs in over HTTP, opens /ws/v1/stream with a one-time ticket, and, like
    the app, reconnects after a drop with a fresh ticket and last_event_id = the last id it saw,
    trying the given servers in turn (a load balancer's view)."""

    def __init__(self, server: Endpoint, phone: str, password: str = PASSWORD) -> None:
        with http() as client:
            response = client.post(
                f"{server.url}/api/v1/auth/login", json={"phone": phone, "password": password}
            )
        assert response.status_code == 200, response.text
        self.name = phone
        self.token = str(response.json()["access_token"])
        self.frames: list[dict[str, Any]] = []  # stream events: {"id","type","at","data"}
        self.controls: list[dict[str, Any]] = []  # hello, resync_required, ...
        self.history: list[str] = []  # connects, drops and errors, for failure messages
        self.connections = 0
        self.opened_at: list[float] = []  # monotonic time each connection opened
        self.arrivals: list[tuple[int, float]] = []  # per frame: (connection number, time)
        self.last_id: int | None = None
        self._cond = threading.Condition()
        self._online = asyncio.Event()  # cleared while a cut is held; set otherwise
        self._ws: ClientConnection | None = None
        self._task: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._loop.call_soon_threadsafe(self._online.set)

    # -- driving the socket ----------------------------------------------------------------

    def open(
        self,
        servers: Sequence[Endpoint],
        *,
        last_event_id: int | None = None,
        reconnect: bool = True,
        timeout: float = 20.0,
    ) -> None:
        """Connect; return once the socket is open and, for a phone that has seen nothing yet,
        once the server's hello has told it where the stream stands (`last_id`)."""
        assert self._task is None or self._task.done(), "already open"
        with self._cond:
            if last_event_id is not None:
                self.last_id = last_event_id
            before, hellos = self.connections, len(self.controls)
            expect_hello = self.last_id is None
        self._task = asyncio.run_coroutine_threadsafe(
            self._run(list(servers), reconnect=reconnect), self._loop
        )
        self.wait(lambda p: p.connections > before, timeout, "the socket to open")
        if expect_hello:
            self.wait(lambda p: len(p.controls) > hellos, timeout, "hello")

    def cut(self, *, hold: bool = False) -> None:
        """Drop the TCP connection without a close frame (a lift, a tunnel). With `hold`, the
        phone stays offline until `resume()`."""
        with self._cond:
            connections = self.connections
            ws = self._ws
        assert ws is not None, "no socket to cut"
        if hold:
            self._loop.call_soon_threadsafe(self._online.clear)
        self._loop.call_soon_threadsafe(ws.transport.abort)
        self.wait(lambda p: p.connections == connections and p._ws is None, 10, "the cut")

    def resume(self, timeout: float = 20.0) -> None:
        before = self.connections
        self._loop.call_soon_threadsafe(self._online.set)
        self.wait(lambda p: p.connections > before, timeout, "the socket to reopen")

    def close(self) -> None:
        """Stop the socket task and the phone's thread."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _shutdown(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _ticket(self, server: Endpoint) -> str:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            response = await client.post(
                f"{server.url}/api/v1/realtime/ticket",
                headers={"Authorization": f"Bearer {self.token}"},
            )
        response.raise_for_status()
        return str(response.json()["ticket"])

    async def _run(self, servers: list[Endpoint], *, reconnect: bool) -> None:
        attempt = 0
        while True:
            server = servers[attempt % len(servers)]
            attempt += 1
            try:
                query = f"ticket={await self._ticket(server)}"
                if self.last_id is not None:
                    query += f"&last_event_id={self.last_id}"
                async with connect(
                    f"{server.ws_url}/ws/v1/stream?{query}",
                    proxy=None,
                    open_timeout=10,
                    close_timeout=1,
                ) as ws:
                    with self._cond:
                        self._ws = ws
                        self.connections += 1
                        self.opened_at.append(time.monotonic())
                        self.history.append(f"{time.monotonic():.2f} open {server.name} {query}")
                        self._cond.notify_all()
                    async for raw in ws:
                        frame = json.loads(raw)
                        self._receive(frame)
                        if "id" in frame:  # the app acknowledges what it has shown
                            await ws.send(json.dumps({"type": "ack", "last_event_id": frame["id"]}))
                self._note(f"closed by {server.name}: {ws.close_code}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._note(f"{server.name}: {type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._ws = None
                    self._cond.notify_all()
            if not reconnect:
                return
            await self._online.wait()
            await asyncio.sleep(0.2)

    def _note(self, line: str) -> None:
        with self._cond:
            self.history.append(f"{time.monotonic():.2f} {line}")
            self._cond.notify_all()

    def _receive(self, frame: dict[str, Any]) -> None:
        with self._cond:
            if "id" in frame:
                self.frames.append(frame)
                self.arrivals.append((self.connections, time.monotonic()))
                self.last_id = int(frame["id"])
            else:
                self.controls.append(frame)
                if "last_event_id" in frame:
                    self.last_id = int(frame["last_event_id"])
            self._cond.notify_all()

    # -- what it saw -----------------------------------------------------------------------

    def wait(self, predicate: Callable[[Phone], object], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout=timeout):
                raise AssertionError(
                    f"{self.name}: timed out after {timeout} s waiting for {what}\n"
                    f"frames: {[(f['id'], f['type']) for f in self.frames]}\n"
                    f"controls: {self.controls}\nhistory:\n" + "\n".join(self.history[-30:])
                )

    def is_open(self) -> bool:
        with self._cond:
            return self._ws is not None

    def seen(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self.frames)

    def alert_ids(self, type: str = "alert.raised") -> list[int]:
        return [int(f["data"]["alert_id"]) for f in self.seen() if f["type"] == type]

    def assert_no_duplicates(self) -> None:
        ids = [f["id"] for f in self.seen()]
        assert len(ids) == len(set(ids)), f"{self.name} got a frame twice: {ids}"

    def quiet_for(self, seconds: float) -> list[dict[str, Any]]:
        """Frames that arrive within `seconds` from now (a window in which nothing is due)."""
        count = len(self.seen())
        time.sleep(seconds)
        return self.seen()[count:]
