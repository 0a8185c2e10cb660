"""Websocket routes."""

from __future__ import annotations

from channels.routing import URLRouter
from django.urls import path

from .auth import TokenAuthMiddleware
from .consumers import StreamConsumer

websocket_application = TokenAuthMiddleware(
    URLRouter([path("ws/v1/stream", StreamConsumer.as_asgi())])
)
