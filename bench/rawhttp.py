"""A minimal HTTP/1.1 client for the load: keep-alive connections to one server, POST only.

Why not httpx: with hundreds of requests in flight its connection pool does work per queued
request on every hand-over, so a client that falls behind spends more CPU the further behind it
is (measured here: 9 ms of CPU per heartbeat at 100/s, 25/s answered). A load generator that
slows down under load measures itself. This one costs a few tens of microseconds a request: one
write, a status line, headers, a Content-Length (or chunked) body.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class Closed(Exception):
    """The server closed the connection before answering."""


class Client:
    def __init__(self, base: str, max_connections: int = 100) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.base = f"http://{self.host}:{self.port}"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_connections)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float = 60.0
    ) -> Response:
        """POST and read the answer within `timeout` s (asyncio.TimeoutError otherwise). A
        kept-alive connection the server closed meanwhile is retried once on a new one."""
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        async with self.slots:
            return await asyncio.wait_for(self._send(request), timeout)

    async def _send(self, request: bytes) -> Response:
        while self.idle:
            conn = self.idle.pop()
            try:
                return await self._exchange(conn, request)
            except (Closed, ConnectionError):
                continue  # stale keep-alive connection: take another or a new one
        conn = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(conn, request)

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> Response:
        reader, writer = conn
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise Closed
            status = int(status_line.split()[1])
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                content = b""
                while size := int((await reader.readline()).split(b";")[0], 16):
                    content += await reader.readexactly(size)
                    await reader.readline()
                await reader.readline()
            else:
                content = await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append(conn)
        return Response(status, headers, content)

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
