"""Websocket authentication and Origin checks.

Browsers get a one-time ticket from POST /api/v1/realtime/ticket (valid 30 s, single use) and
open `/ws/v1/stream?ticket=...`, so no long-lived token ever sits in a URL or a log. Native
phones may instead send `Authorization: Bearer <access token>` as a header.

A browser always sends Origin, which must match ALLOWED_HOSTS; native clients send none.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.security.websocket import OriginValidator
from django.conf import settings

from backend.accounts.actions import do_redeem_ticket, session_for_access_token
from backend.core.errors import ApiError

from .db import database_call


def query_param(scope: dict[str, Any], name: str) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get(name) or [None])[0]


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value.lower().startswith(b"bearer "):
            return str(value[7:].decode("latin-1").strip())
    return None


@database_call
def _session(ticket: str | None, bearer: str | None) -> Any:
    if ticket:
        return do_redeem_ticket(ticket=ticket)
    if bearer:
        try:
            return session_for_access_token(bearer)
        except ApiError:
            return None
    return None


class TokenAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        session = await _session(query_param(scope, "ticket"), _bearer(scope))
        scope = {**scope, "session": session, "user": session.user if session else None}
        return await self.inner(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    """Like Channels' AllowedHostsOriginValidator, but a missing Origin (a native app) passes."""

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or bool(self.validate_origin(parsed_origin))


def origin_checked(application: Any) -> BrowserOriginValidator:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, hosts)
