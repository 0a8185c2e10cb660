"""Logs of real processes over a whole alert and case journey: JSON lines with the request id
and the alert/case id (the same alert id on the press, the socket and the dispatcher), and no
personal data in any line: names, phones, ID numbers, addresses, health notes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.conf import settings

from backend.people.models import Resident
from harness.processes import Processes, wait_until
from tests.conftest import World
from tests.servicedesk.conftest import _item

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HERE = {"lat": 30.93, "lon": 117.81, "accuracy_m": 8}


def _personal_data(world: World) -> set[str]:
    found: set[str] = set()
    for resident in Resident.objects.all():
        found |= {resident.name, resident.id_number, resident.phone, resident.health_notes}
        found |= {resident.household.address}
        for contact in resident.emergency_contacts.all():
            found |= {contact.name, contact.phone}
    for user in (world.worker_a, world.worker_b, world.supervisor_1, world.officer_elderly_1):
        found |= {user.phone, user.name}
    return {value for value in found if value and len(value) >= 2}


def _production() -> dict[str, str]:
    """The production settings (JSON logs by default), with the test database's keys."""
    return {
        "GRIDLINE_ENV": "production",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "PII_DIGEST_KEY": settings.PII_DIGEST_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "SMS_BACKEND": "backend.notify.sms.ConsoleBackend",  # as in infra/k8s settings.yaml
    }


def _lines(*logs: str) -> list[dict[str, Any]]:
    return [json.loads(line) for log in logs for line in log.splitlines() if line.startswith("{")]


def test_a_journey_logs_ids_and_no_personal_data(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device, shared_redis: str
) -> None:
    item = _item("t-logs")
    env = {**procs.django_env(shared_redis), **_production(), "LOG_LEVEL": "INFO"}
    a, b = procs.servers("asgi-a", "asgi-b", env=env)
    procs.django_env = lambda redis_url: env
    dispatcher = procs.dispatcher("dispatcher", redis_url=shared_redis)

    manager = phones(b, world.worker_a.phone)
    manager.open([b])
    pressed = device.press(a)
    assert pressed.status_code == 201, pressed.text
    alert_id = pressed.json()["alert_id"]
    manager.wait(lambda p: alert_id in p.alert_ids(), 10, "the alert on the manager's socket")

    headers = {"Authorization": f"Bearer {manager.token}", "X-Request-ID": "lb-req-000000001"}
    with httpx.Client(base_url=b.url, headers=headers, trust_env=False) as http:
        for step, body in [
            ("accept", {"location": HERE}),
            ("arrive", {"location": HERE}),
            ("resolve", {"disposition": "assisted_on_site", "note": "已协助"}),
        ]:
            answer = http.post(f"/api/v1/alerts/{alert_id}/{step}", json=body)
            assert answer.status_code == 200, answer.text
        assert answer.headers["X-Request-ID"] == "lb-req-000000001"
        filed = http.post(
            "/api/v1/cases",
            json={
                "client_case_id": str(uuid.uuid4()),
                "item_code": item.code,
                "resident_id": world.resident_a.pk,
                "channel": "front_desk",
                "description": "代为申请",
            },
        )
        assert filed.status_code == 201, filed.text
        case_id = filed.json()["id"]
        assert http.get(f"/api/v1/cases/{case_id}").status_code == 200

    # The contacts' SMS is a durable job the dispatcher runs for the emergency.
    wait_until(
        lambda: f'"alert_id": {alert_id}' in dispatcher.output(),
        timeout=20,
        what="the dispatcher to log its work on the alert",
    )
    procs.stop_all([a, b, dispatcher])
    logs = [a.output(), b.output(), dispatcher.output()]
    lines = _lines(*logs)
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)

    press = [x for x in _lines(logs[0]) if x["message"] == "alert raised"]
    assert press and press[0]["alert_id"] == alert_id and press[0]["request_id"]
    socket = [x for x in _lines(logs[1]) if x["message"] == "socket sent alert.raised"]
    assert socket and socket[0]["alert_id"] == alert_id
    fired = [x for x in _lines(logs[2]) if x.get("alert_id") == alert_id]
    assert fired and all(x["timer"] for x in fired)

    text = "\n".join(logs)
    leaked = sorted(value for value in _personal_data(world) if value in text)
    assert not leaked, f"personal data in the logs: {leaked}"
