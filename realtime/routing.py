"""Websocket routes."""

from __future__ import annotations

from channels.routing import URLRouter
from django.urls import path

from .auth import TokenAuthMiddleware, origin_checked
from .consumers import StreamConsumer

websocket_application = origin_checked(
    TokenAuthMiddleware(URLRouter([path("ws/v1/stream", StreamConsumer.as_asgi())]))
)
