"""Every signed device operation refuses a replayed nonce.

The signature check only reads; each device action records the nonce in its own transaction
(so a press is one commit). This test walks every device operation in the OpenAPI document, so
a new one that forgot to consume its nonce fails here."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from backend.alerts.models import Alert, DeviceNonce
from tests.alerts.conftest import SignedDevice, alert_of

pytestmark = pytest.mark.django_db

BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/device/alerts": {
        "client_alert_id": "0b7e3c1e-8f0a-4d6b-9a51-3c2f1e0d9b8a",
        "kind": "help",
    },
    "/api/v1/device/heartbeat": {"battery": 80},
    "/api/v1/device/alerts/{alert_id}/cancel": {},
}


def _device_operations() -> list[str]:
    schema = Client().get("/api/v1/openapi.json").json()
    return sorted(path for path in schema["paths"] if path.startswith("/api/v1/device/"))


def test_every_device_operation_is_listed_here() -> None:
    assert _device_operations() == sorted(BODIES)


@pytest.mark.parametrize("path", sorted(BODIES))
def test_a_replayed_nonce_is_refused_and_changes_nothing(device_a: SignedDevice, path: str) -> None:
    url = path.replace("{alert_id}", str(alert_of(device_a.press("help")).pk))
    first = device_a.post(url, BODIES[path], nonce="replayed-nonce")
    assert first.status_code in (200, 201), first.content
    before = (Alert.objects.count(), DeviceNonce.objects.count(), list(Alert.objects.values()))
    again = device_a.post(url, BODIES[path], nonce="replayed-nonce")
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "device_nonce_reused"
    assert (Alert.objects.count(), DeviceNonce.objects.count(), list(Alert.objects.values())) == (
        before
    )
