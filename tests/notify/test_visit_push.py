"""A new visit task reaches the phone of a worker with no live socket (pushed, not polled)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.accounts.actions import do_register_push_token
from backend.notify.outbox import send_due
from backend.notify.push import FCMProvider
from tests.alerts.conftest import SignedDevice, alert_of
from tests.alerts.conftest import device_a as device_a
from tests.conftest import World

from .fcm_standin import FcmStandIn

pytestmark = pytest.mark.django_db

PHONE = "phone-token-of-worker-a"


def test_a_follow_up_after_an_emergency_is_pushed_to_an_offline_worker(
    world: World,
    device_a: SignedDevice,
    provider: FCMProvider,
    fcm: FcmStandIn,
    client_for: Any,
) -> None:
    do_register_push_token(user=world.worker_a, token=PHONE, platform="android", provider="fcm")
    alert = alert_of(device_a.press())
    send_due()  # the alert itself
    supervisor = client_for(world.supervisor_1)
    supervisor.post(f"/api/v1/alerts/{alert.pk}/accept")
    supervisor.post(f"/api/v1/alerts/{alert.pk}/resolve", {"disposition": "assisted_on_site"})
    assert send_due() == 2  # the task's push, and the call back to the resident after the accept
    data = fcm.requests_for(PHONE)[-1].message["data"]
    assert data["type"] == "visit.task" and data["kind"] == "alert_follow_up"
    assert data["title"] == "紧急求助回访" and world.household_a.address not in data.values()
    assert all(isinstance(v, str) for v in data.values())
