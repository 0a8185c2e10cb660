"""The device press and heartbeat answered in front of Django (mobile_api/alerts/device_asgi.py)
answer exactly as the Ninja operations do: the same statuses, bodies and error codes, in the
caller's language, the signature before the body, a replayed nonce refused, a retried press
given its first answer. Each case is sent both ways, to the ASGI application uvicorn serves and
through Django (the test client), and the answers are compared."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from backend.alerts.models import Alert, Device, DeviceNonce
from backend.alerts.signing import signed_headers
from tests.alerts.conftest import SignedDevice
from tests.backend.test_body_limits import call

pytestmark = pytest.mark.django_db(transaction=True)  # the ASGI path answers in a worker thread

PRESS = "/api/v1/device/alerts"
BEAT = "/api/v1/device/heartbeat"


def _both(
    device: SignedDevice, path: str, body: bytes, *, lang: str = "zh-hans", **sign: Any
) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """(status, JSON) through ASGI and through Django, each with a fresh nonce unless given."""
    answers = []
    for via in ("asgi", "django"):
        nonce = sign.get("nonce") or uuid.uuid4().hex
        headers = signed_headers(
            sign.get("secret", device.secret), device.device_id, body, path=path, nonce=nonce
        )
        if sign.get("unsigned"):
            headers = {}
        headers = {**headers, "accept-language": lang, "content-type": "application/json"}
        if via == "asgi":
            answer = call(path, body, headers=headers)
            answers.append((answer.status, json.loads(answer.body)))
        else:
            response = Client().post(path, body, content_type="application/json", headers=headers)
            answers.append((response.status_code, response.json()))
    return answers[0], answers[1]


def _without(answer: tuple[int, Any], *keys: str) -> tuple[int, Any]:
    status, body = answer
    return status, {k: v for k, v in body.items() if k not in keys}


def test_a_heartbeat_answers_the_same_both_ways(device_a: SignedDevice) -> None:
    asgi, django = _both(device_a, BEAT, b'{"battery": 77}')
    assert asgi[0] == 200 and asgi[1]["battery"] == 77 and asgi[1]["device_id"] == "PENDANT-A"
    assert _without(asgi, "last_heard_at") == _without(django, "last_heard_at")
    device = Device.objects.get(device_id="PENDANT-A")
    assert device.battery == 77 and device.last_heard_at is not None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"battery": 900}', "validation_error"),
        (b'{"battery": "full"}', "validation_error"),
        (b"not json", None),
        (b"", None),
    ],
)
def test_a_bad_heartbeat_is_refused_the_same_way(
    device_a: SignedDevice, body: bytes, code: str | None
) -> None:
    asgi, django = _both(device_a, BEAT, body, lang="en")
    assert asgi == django
    assert asgi[0] in (400, 422)
    if code:
        assert asgi[1]["error"]["code"] == code
    assert Device.objects.get(device_id="PENDANT-A").last_heard_at is None
    assert DeviceNonce.objects.count() == 0


def test_the_signature_is_checked_before_the_body(device_a: SignedDevice) -> None:
    for sign in ({"secret": "wrong"}, {"unsigned": True}):
        asgi, django = _both(device_a, BEAT, b'{"battery": 900}', lang="en", **sign)
        assert _without(asgi, "server_time") == _without(django, "server_time")
        assert asgi[0] == 401
        assert asgi[1]["error"]["code"] in ("device_signature_invalid", "device_auth_missing")
        assert "server_time" in asgi[1]


def test_a_replayed_nonce_is_refused_and_writes_nothing(device_a: SignedDevice) -> None:
    body = b'{"battery": 50}'
    headers = signed_headers(device_a.secret, device_a.device_id, body, path=BEAT, nonce="once")
    assert call(BEAT, body, headers=headers).status == 200
    heard = Device.objects.get(device_id="PENDANT-A").last_heard_at
    again = call(BEAT, b'{"battery": 50}', headers={**headers, "accept-language": "en"})
    assert again.status == 401
    assert json.loads(again.body)["error"]["code"] == "device_nonce_reused"
    assert "nonce" in json.loads(again.body)["error"]["message"].lower()
    assert Device.objects.get(device_id="PENDANT-A").last_heard_at == heard


def test_a_press_and_its_retry_answer_the_same_both_ways(device_a: SignedDevice) -> None:
    client_id = str(uuid.uuid4())
    body = json.dumps({"client_alert_id": client_id, "kind": "emergency", "battery": 80}).encode()
    first = call(PRESS, body, headers=_signed(device_a, body, PRESS))
    assert first.status == 201, first.body
    retried, through_django = _both(device_a, PRESS, body)
    assert retried == (201, json.loads(first.body)) == through_django
    assert Alert.objects.filter(device__device_id="PENDANT-A").count() == 1


def test_a_press_for_another_resident_is_refused_the_same_way(device_a: SignedDevice) -> None:
    body = {"client_alert_id": str(uuid.uuid4()), "kind": "help", "resident_id": 999999}
    asgi, django = _both(device_a, PRESS, json.dumps(body).encode(), lang="en")
    assert asgi == django
    assert asgi[0] == 422 and asgi[1]["error"]["fields"] == {
        "resident_id": asgi[1]["error"]["fields"]["resident_id"]
    }
    assert not Alert.objects.exists()


def test_other_device_paths_go_to_django(device_a: SignedDevice) -> None:
    path = "/api/v1/device/alerts/999999/cancel"  # a device operation Ninja answers
    answer = call(path, b"{}", headers=_signed(device_a, b"{}", path))
    assert answer.status == 404 and json.loads(answer.body)["error"]["code"] == "not_found"


def _signed(device: SignedDevice, body: bytes, path: str) -> dict[str, str]:
    return {
        **signed_headers(device.secret, device.device_id, body, path=path, nonce=uuid.uuid4().hex),
        "content-type": "application/json",
    }
