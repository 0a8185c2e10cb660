"""Request body limits, enforced in front of Django (settings.REQUEST_BODY_LIMITS).

Django's ASGI handler reads the whole body before any middleware or view runs, so a limit has
to sit before it: a Content-Length over the limit is refused without reading the body, and a
body without one (chunked) is cut off at the first chunk that takes it past the limit. Either
way the caller gets 413 with the JSON error body in its language.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.utils import translation

from .errors import ApiError, error_response

Scope = dict[str, Any]
Message = Any
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_for(path: str) -> int:
    """The body limit of `path`: the first matching pattern of the table, else the default."""
    for pattern, limit in settings.REQUEST_BODY_LIMITS:
        if re.match(pattern, path):
            return int(limit)
    return int(settings.REQUEST_BODY_LIMIT_DEFAULT)


class BodyLimit:
    """ASGI middleware around the Django application (backend/config/asgi.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send)
            return
        taken = 0
        over = False
        started = False

        async def limited_receive() -> Message:
            nonlocal taken, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                taken += len(message.get("body", b""))
                if taken > limit:
                    # Django takes a disconnect while reading the body as an aborted request
                    # and answers nothing, so the 413 below is the only answer.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, watched_send)
        if over and not started:
            await _refuse(scope, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we see it
    return None


async def _refuse(scope: Scope, send: Send) -> None:
    request = ASGIRequest(scope, io.BytesIO())  # headers and cookies only: the body is refused
    with translation.override(translation.get_language_from_request(request)):
        response = error_response(request, ApiError("payload_too_large", status=413))
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
    headers += [(b"content-length", str(len(response.content)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
