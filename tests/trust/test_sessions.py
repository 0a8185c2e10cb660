"""Sessions and passwords (issue 11 item 3): idle timeout of the board and the admin, and the
password policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.admin_login import admin_client_for
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_the_admin_session_ends_after_15_idle_minutes(world: World) -> None:
    client = admin_client_for(world.admin)
    start = timezone.now()
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert client.get("/admin/").status_code == 200  # activity moves the expiry
    with time_machine.travel(start + timedelta(minutes=24), tick=False):
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=40), tick=False):
        assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "password",
    [
        "short-A1",  # too short
        "alllowercaseletters",  # one class
        "1234567890123",  # digits only
        "password123456",  # two classes
        "13100000001Ab",  # the phone number
    ],
)
def test_weak_passwords_are_refused(world: World, password: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(password, user=world.worker_a)


def test_a_strong_password_passes(world: World) -> None:
    validate_password("Gridline-Tongguan-2026", user=world.worker_a)


def test_registering_a_device_needs_the_administrators_totp_code(
    world: World, client_for: Any
) -> None:
    from backend.accounts.actions import do_enrol_totp
    from backend.alerts.models import Device
    from tests.admin_login import unused_code

    device = do_enrol_totp(user=world.admin)
    client = client_for(world.admin)
    body = {"device_id": "PENDANT-Z", "kind": "pendant", "resident_id": world.resident_a.pk}
    bare = client.post("/api/v1/devices", body, HTTP_ACCEPT_LANGUAGE="en")
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "otp_required"
    wrong = client.post("/api/v1/devices", body, HTTP_X_OTP="000000")
    assert wrong.status_code in (401, 429)
    assert not Device.objects.filter(device_id="PENDANT-Z").exists()
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the throttle's wait, not what is tested here
    device.throttling_failure_timestamp = None
    device.save()
    good = client.post("/api/v1/devices", body, HTTP_X_OTP=unused_code(device))
    assert good.status_code == 201, good.content
    assert Device.objects.filter(device_id="PENDANT-Z").exists()
