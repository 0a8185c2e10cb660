"""The device signature covers method and path (issue 11): a press's signed body and headers
replayed to the heartbeat endpoint are refused and change nothing."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from backend.alerts.models import Alert, Device
from backend.alerts.signing import signed_headers
from tests.alerts.conftest import SignedDevice

pytestmark = pytest.mark.django_db


def test_a_press_signature_does_not_pass_as_a_heartbeat(device_a: SignedDevice) -> None:
    body = json.dumps({"client_alert_id": str(uuid.uuid4()), "kind": "emergency"}).encode()
    headers = signed_headers(
        device_a.secret,
        device_a.device_id,
        body,
        path="/api/v1/device/alerts",
        nonce=uuid.uuid4().hex,
    )
    before = Device.objects.get(device_id=device_a.device_id).last_heard_at
    replayed = Client(headers=headers).post(
        "/api/v1/device/heartbeat", body, content_type="application/json"
    )
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "device_signature_invalid"
    assert Device.objects.get(device_id=device_a.device_id).last_heard_at == before
    # The same headers on the path they were signed for are a press.
    pressed = Client(headers=headers).post(
        "/api/v1/device/alerts", body, content_type="application/json"
    )
    assert pressed.status_code in (200, 201), pressed.content
    assert Alert.objects.count() == 1


def test_a_signature_for_another_method_is_refused(device_a: SignedDevice) -> None:
    body = json.dumps({"battery": 80}).encode()
    headers = signed_headers(
        device_a.secret,
        device_a.device_id,
        body,
        path="/api/v1/device/heartbeat",
        method="PUT",
        nonce=uuid.uuid4().hex,
    )
    answer = Client(headers=headers).post(
        "/api/v1/device/heartbeat", body, content_type="application/json"
    )
    assert answer.status_code == 401
