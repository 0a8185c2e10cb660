"""The process's probes answered in front of Django, never queued behind its clients.

Under ASGI, Django runs every sync view of a process on ONE thread. After a mass reconnect
thousands of phones ask for a websocket ticket at once, and a probe that went through Django
waited behind all of them: the bench's readiness check gave up after 60 s, and a kubelet's
liveness probe would have restarted the pod in the middle of the storm it was serving. Here
`GET /api/v1/health/live` is answered on the event loop (no thread, no database), and
`GET /api/v1/health` (readiness: database, channel layer, migrations, outbox) runs
`check_health` on a thread of its own. Both answer what the Ninja operations answer
(mobile_api/health/router.py, which documents them in the OpenAPI schema and serves them under
WSGI and Django's test client). backend/config/asgi.py puts this in front of Django.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from backend.core.health import check_health
from mobile_api.alerts.device_asgi import HEADERS, ASGIApp, Receive, Scope, Send, render

from .router import HealthOut, LiveOut

LIVE = "/api/v1/health/live"
READY = "/api/v1/health"
# One probe at a time does the readiness work; a second waits for it rather than adding load.
_pool = ThreadPoolExecutor(1, thread_name_prefix="probe")


def _readiness() -> tuple[int, bytes]:
    try:
        report: dict[str, Any] = check_health()
    finally:
        close_old_connections()
    return (200 if report["status"] == "ok" else 503), render(HealthOut, report)


class ProbeFastPath:
    """ASGI middleware: GETs of the two probe paths answered here, the rest passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "GET" or path not in (LIVE, READY):
            await self.app(scope, receive, send)
            return
        if path == LIVE:
            status, content = 200, render(LiveOut, {"status": "ok"})
        else:
            run = sync_to_async(_readiness, thread_sensitive=False, executor=_pool)
            status, content = await run()
        headers = [*HEADERS, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
