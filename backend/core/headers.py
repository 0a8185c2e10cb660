"""Security headers on every response: a Content-Security-Policy with frame-ancestors 'none'
(Django's own middleware already sends X-Frame-Options DENY, nosniff, Referrer-Policy
same-origin and Cross-Origin-Opener-Policy).

One policy, strict: scripts only from our own files. The pages that ship inline scripts we do
not write — the Django admin with django-leaflet's map widget, and ReDoc — are allowed inline
scripts by path prefix (CSP_INLINE_SCRIPT_PATHS); the admin is behind the board's two-factor
log-in. We did not take django-csp: its per-view overrides need decorators on views we do not
own (the admin's), and this is one header built once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware


@cache
def _policy(inline_scripts: bool, tile_url: str) -> str:
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tile_url else parts.netloc
        tiles = f" {parts.scheme}://{host}"
    script = "'self' 'unsafe-inline'" if inline_scripts else "'self'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{tiles}",
            # 'self' covers ws(s):// of the same host (CSP 3); development also allows
            # ws: and wss: for older engines.
            "connect-src 'self' ws: wss:" if settings.DEBUG else "connect-src 'self'",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def policy_for(path: str) -> str:
    inline = path.startswith(tuple(settings.CSP_INLINE_SCRIPT_PATHS))
    return _policy(inline, settings.TILE_URL)


@sync_and_async_middleware
def security_headers(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Sync and async alike (a sync-only middleware would cost every ASGI request a thread
    hop)."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            response: HttpResponse = await get_response(request)
            response.headers.setdefault("Content-Security-Policy", policy_for(request.path))
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy_for(request.path))
        return response

    return middleware
