"""Rate limits (issue 11 item 4), counted in Redis: 429 `rate_limited` with Retry-After and
the JSON error; what was refused changed nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.servicedesk.models import Case, ServiceItem
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_log_ins_per_address_are_limited(world: World, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/m"}
    client = Client()
    answers = [
        client.post(
            "/api/v1/auth/login",
            {"phone": f"1310000{i:04d}", "password": "x"},
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="en",
        )
        for i in range(5)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["message"] == "Too many requests; try again later."
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another address is not affected.
    other = client.post(
        "/api/v1/auth/login",
        {"phone": world.worker_a.phone, "password": "correct-horse-battery-9"},
        content_type="application/json",
        REMOTE_ADDR="192.0.2.9",
    )
    assert other.status_code == 200


def test_searches_per_account_are_limited(world: World, client_for: Any, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "search": "2/m"}
    client = client_for(world.worker_a)
    codes = [client.get("/api/v1/residents", {"q": "张"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get("/api/v1/residents").status_code == 200  # a plain list is no search


def test_cases_per_account_are_limited(world: World, client_for: Any, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "cases": "1/m"}
    item = ServiceItem.objects.create(
        code="t-rate",
        name_zh="测试",
        name_en="Test",
        category="elderly",
        line="elderly_care",
        time_limit_days=5,
    )
    client = client_for(world.resident_user_a)

    def file() -> Any:
        import uuid

        return client.post(
            "/api/v1/cases",
            {
                "client_case_id": str(uuid.uuid4()),
                "item_code": item.code,
                "channel": "resident_app",
            },
        )

    first, second = file(), file()
    assert first.status_code in (200, 201), first.content
    assert second.status_code == 429 and second["Retry-After"]
    assert Case.objects.count() == 1
