"""A real uvicorn process on the pytest database (harness/processes.py), and Debian's chromium
through Playwright.

The server reads the test database (tests using it are `django_db(transaction=True)`, so what
they write is committed and visible to it), the suite's Redis, and runs the dispatcher in its
own thread. It can be killed and started again on the same port, to cut the stream.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from harness.processes import Server, free_port
from tests.children import django_env

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


class LiveServer(Server):
    """The board's server: the embedded dispatcher on, DEBUG for static files."""

    def __init__(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        env = django_env(
            os.environ.get("REDIS_URL", ""), EMBEDDED_DISPATCHER="1", DEBUG="1", LOG_LEVEL="WARNING"
        )
        args = ("--no-access-log", "--ws-per-message-deflate", "false")
        super().__init__("board", free_port(), env, ARTIFACTS / "board-server.log", args=args)

    def start(self) -> LiveServer:
        super().start()
        self.wait_ready(timeout=30)
        return self

    def stop(self, grace: float = 0) -> None:
        self.kill()  # a crash, not a graceful shutdown

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.request(
            method, self.url + path, json=body, headers=headers, timeout=10, trust_env=False
        )
        return response.status_code, response.json() if response.content else None
