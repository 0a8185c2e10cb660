"""Request ids, log context, request metrics and replica reads: what ties one log line to the
request, alert or case it was about.

`RequestMiddleware` (first in MIDDLEWARE) takes the load balancer's X-Request-ID when it looks
like one (else makes one), answers it in the response's X-Request-ID, times the request by its
route pattern, and lets a lag-tolerant GET read from the replica (backend/core/routing.py).
`bind(alert_id=..., case_id=...)` adds ids to every log line that follows in this context (the
request, the dispatcher's timer); `LogContext` is the logging filter that copies them onto each
record, and the JSON formatter writes them out.

Log lines carry ids, never personal data: names, phones, ID numbers and addresses stay out of
messages (tests/faults/test_logs.py greps a whole alert and case journey for them).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from . import metrics, routing

FIELDS = ("request_id", "alert_id", "case_id", "timer")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "gridline_log_context", default=None
)
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def current() -> dict[str, Any]:
    return _context.get() or {}


def bind(**ids: Any) -> None:
    """Add ids to the log context of the current request, socket message or timer."""
    _context.set({**current(), **{k: v for k, v in ids.items() if v is not None}})


@contextmanager
def scope(**ids: Any) -> Iterator[None]:
    """A fresh log context for one unit of work (a timer, a socket message)."""
    token = _context.set({k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


def request_id_from(header: str | None) -> str:
    """The load balancer's id when it is a sane token; else a new one."""
    if header and _GOOD_ID.match(header):
        return header
    return uuid.uuid4().hex


class LogContext(logging.Filter):
    """Copies the bound ids onto every record (empty when there are none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = current()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound.get(name))
        return True


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return str(match.route or match.view_name or "unmatched")


class RequestMiddleware:
    """Request id in and out, and the request's latency by route (sync and async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = self._begin(request)
        response = self.get_response(request)
        return self._end(request, response, started)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = self._begin(request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
        response = await get_response(request)
        return self._end(request, response, started)

    @staticmethod
    def _begin(request: HttpRequest) -> float:
        request_id = request_id_from(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        _context.set({"request_id": request_id})
        replica = routing.lag_tolerant(request.method or "", request.path)
        request.replica_token = routing.allow_replica(replica)  # type: ignore[attr-defined]
        return time.perf_counter()

    @staticmethod
    def _end(request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        routing.reset(request.replica_token)  # type: ignore[attr-defined]
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        metrics.observe_request(
            _route(request),
            request.method or "",
            response.status_code,
            time.perf_counter() - started,
        )
        return response
