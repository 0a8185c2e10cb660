"""The two hot device endpoints — a press and a heartbeat — answered at the ASGI level.

A district of 10,000 buttons sends 100 heartbeats a second, and presses come in bursts of
hundreds. Through Django and Ninja each request paid for eleven middleware, the URL resolver,
Ninja's checks, two thread hops (the sync view, then closing the response) and a new thread per
request: more CPU than the heartbeat's own work. Here a POST to either path is read whole, and
one hop to a bounded pool of worker threads does what the Ninja operation does — the signature
(before the body is parsed, so an unsigned request learns nothing about validation), the body
against the same schema, the same backend action, the answer through the same schema and the
same error mapping. Everything else, and these paths under WSGI or Django's test client, goes
to Django (mobile_api/alerts/router.py, which also documents them in the OpenAPI schema).

The pool has DEVICE_THREADS workers: at most that many device requests of a process hold a
database connection at once, and a burst queues here, in order, instead of timing out in the
connection pool. backend/config/asgi.py puts this in front of Django, behind the body limits.
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, transaction
from django.utils import translation
from ninja.errors import HttpError, ValidationError
from ninja.responses import NinjaJSONEncoder
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from backend.alerts import actions, devices
from backend.alerts.signing import SignedRequest, check_signed_request
from backend.core import observe
from backend.core.api_errors import as_api_error
from backend.core.errors import error_response

from .schemas import AlertCreatedOut, DeviceAlertIn, HeartbeatIn, HeartbeatOut

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]

PREFIX = "/api/v1/device/"
# Headers Django's middleware would add to a JSON answer (SecurityMiddleware, XFrameOptions).
HEADERS = [
    (b"content-type", b"application/json; charset=utf-8"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def _signed(headers: dict[str, str], body: bytes, path: str) -> SignedRequest:
    return check_signed_request(
        device_id=headers.get("x-device-id"),
        timestamp=headers.get("x-timestamp"),
        nonce=headers.get("x-nonce"),
        signature=headers.get("x-signature"),
        method="POST",
        path=path,
        body=body,
    )


def _parsed(schema: type[BaseModel], body: bytes) -> Any:
    """The body against the operation's schema, failing as Ninja fails: 400 when it is not
    JSON, 422 naming the fields (an empty body is a missing one)."""
    try:
        data = json.loads(body) if body else None
    except ValueError as exc:
        raise HttpError(400, "Cannot parse request body") from exc
    if data is None:
        raise ValidationError([{"loc": ("body", "payload"), "type": "missing"}])
    try:
        return schema.model_validate(data)
    except PydanticError as exc:
        errors = exc.errors(include_url=False)
        raise ValidationError(
            [{**e, "loc": ("body", "payload", *e["loc"])} for e in errors]
        ) from exc


def render(schema: type[BaseModel], value: Any) -> bytes:
    """The answer as Ninja renders it: the response schema, then its JSON encoder."""
    return json.dumps(schema.model_validate(value).model_dump(), cls=NinjaJSONEncoder).encode()


def heartbeat(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """One transaction (one commit): the device read, then the heartbeat's one statement."""
    with transaction.atomic():
        signed = _signed(headers, body, PREFIX + "heartbeat")
        payload = _parsed(HeartbeatIn, body)
        device = devices.do_heartbeat(signed=signed, battery=payload.battery)
    return 200, render(HeartbeatOut, device)


def press(headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    signed = _signed(headers, body, PREFIX + "alerts")
    payload = _parsed(DeviceAlertIn, body)
    status, answer = actions.do_device_press(
        signed=signed,
        client_alert_id=payload.client_alert_id,
        kind=payload.kind,
        body=payload.model_dump(mode="json"),
        fix=payload.location.fix() if payload.location else None,
        battery=payload.battery,
        resident_id=payload.resident_id,
    )
    return status, render(AlertCreatedOut, answer)


ROUTES: dict[str, Callable[[dict[str, str], bytes], tuple[int, bytes]]] = {
    PREFIX + "heartbeat": heartbeat,
    PREFIX + "alerts": press,
}


def _answer(scope: Scope, body: bytes) -> Answer:
    """In a worker thread: the route's answer, or the project's error body in the caller's
    language; the database connection goes back to the pool either way."""
    handler = ROUTES[scope["path"]]
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    request_id = observe.request_id_from(headers.get("x-request-id"))
    echo = [(b"x-request-id", request_id.encode("latin-1"))]  # as the Django path does
    try:
        with observe.scope(request_id=request_id):
            status, content = handler(headers, body)
        return status, content, HEADERS + echo
    except Exception as exc:
        request = ASGIRequest(scope, io.BytesIO(body))
        with translation.override(translation.get_language_from_request(request)):
            response = error_response(request, as_api_error(exc))
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
        return response.status_code, response.content, extra + HEADERS[1:] + echo
    finally:
        close_old_connections()


_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(int(settings.DEVICE_THREADS), thread_name_prefix="device")
    return _pool


class DeviceFastPath:
    """ASGI middleware: POSTs to the hot device paths answered here, the rest passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in ROUTES:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before sending the whole body (or cut off by the body limit)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        run = sync_to_async(_answer, thread_sensitive=False, executor=_executor())
        status, content, headers = await run(scope, body)
        headers = [*headers, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
