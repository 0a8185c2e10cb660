"""The health probes are answered in front of Django (mobile_api/health/asgi.py), with the
bodies, statuses and headers the Ninja operations give."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from backend.config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_probes_answer_as_the_ninja_operations_do() -> None:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        fast = {p: (await http.get(p)).json() for p in ("/api/v1/health/live", "/api/v1/health")}

    def through_ninja() -> dict[str, object]:
        client = Client()
        return {p: json.loads(client.get(p).content) for p in fast}

    assert await sync_to_async(through_ninja)() == fast
    assert fast["/api/v1/health/live"] == {"status": "ok"}
    assert fast["/api/v1/health"]["database"] == "ok"


async def test_readiness_says_503_with_the_report_when_a_part_fails(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens there
        }
    }
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        ready = await http.get("/api/v1/health")
    assert ready.status_code == 503
    assert ready.json()["channel_layer"].startswith("error")
    assert ready.headers["x-content-type-options"] == "nosniff"
