"""Websocket authentication with the same access tokens as the mobile API.

The token comes in the `access_token` query parameter (browsers cannot set headers on a
websocket) or an `Authorization: Bearer` header (phones can).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from backend.accounts.actions import session_for_access_token
from backend.core.errors import ApiError


def _token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value.lower().startswith(b"bearer "):
            return value[7:].decode("latin-1").strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("access_token") or [None])[0]


@database_sync_to_async
def _session(token: str) -> Any:
    try:
        return session_for_access_token(token)
    except ApiError:
        return None


class TokenAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        token = _token(scope)
        session = await _session(token) if token else None
        scope = {**scope, "session": session, "user": session.user if session else None}
        return await self.inner(scope, receive, send)
