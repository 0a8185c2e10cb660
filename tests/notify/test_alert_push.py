"""An alert's urgent event reaches the phone of a manager with no live socket: the outbox's push
rung, sent by the dispatcher duty through the real firebase-admin SDK, against the FCM stand-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backend.accounts.actions import do_register_push_token
from backend.accounts.models import PushToken
from backend.core.models import SocketPresence, StreamEvent
from backend.core.stream import mark_delivered
from backend.notify.models import OutboxMessage
from backend.notify.outbox import DELIVERY_GRACE, send_due
from backend.notify.push import FCMProvider
from tests.alerts.conftest import SignedDevice, alert_of
from tests.alerts.conftest import device_a as device_a
from tests.conftest import World

from .fcm_standin import FcmStandIn, fcm_error

pytestmark = pytest.mark.django_db

PHONE = "phone-token-of-worker-a"


def test_offline_manager_gets_a_high_priority_push_once(
    world: World,
    device_a: SignedDevice,
    provider: FCMProvider,
    fcm: FcmStandIn,
) -> None:
    do_register_push_token(user=world.worker_a, token=PHONE, platform="android", provider="fcm")
    alert = alert_of(device_a.press())
    assert send_due() == 1
    [request] = fcm.requests_for(PHONE)
    message = request.message
    assert message["android"]["priority"] == "high"
    data = message["data"]
    assert data["type"] == "alert.raised"
    assert data["alert_id"] == str(alert.pk)
    assert data["kind"] == "emergency" and data["tier"] == "1"
    assert all(isinstance(v, str) for v in data.values())
    # Claimed once: a second dispatcher round (or a second dispatcher) pushes nothing.
    assert send_due() == 0
    assert len(fcm.requests_for(PHONE)) == 1
    push = OutboxMessage.objects.get(user=world.worker_a, channel="push")
    assert push.status == "sent" and push.provider == "fcm" and push.attempts == 1
    assert push.provider_message_id == fcm.fcm_responses[-1]


def test_a_manager_with_a_live_socket_is_not_pushed(
    world: World,
    device_a: SignedDevice,
    provider: FCMProvider,
    fcm: FcmStandIn,
) -> None:
    do_register_push_token(user=world.worker_a, token=PHONE, platform="android", provider="fcm")
    SocketPresence.objects.create(channel_name="specific.live!1", user=world.worker_a)
    device_a.press()
    assert send_due() == 0
    assert fcm.requests_for(PHONE) == []
    # The phone acknowledged the frame: no push, ever.
    event = StreamEvent.objects.get(user=world.worker_a, urgent=True)
    mark_delivered(world.worker_a.pk, event.seq)
    OutboxMessage.objects.filter(channel="push").update(
        not_before=timezone.now() - timedelta(minutes=1),
        created_at=timezone.now() - timedelta(minutes=1),
    )
    assert send_due() == 0
    assert fcm.requests_for(PHONE) == []


def test_a_live_looking_socket_that_does_not_take_the_frame_is_pushed_after_grace(
    world: World, device_a: SignedDevice, provider: FCMProvider, fcm: FcmStandIn
) -> None:
    # The presence row of a socket whose process died (kill -9) before it could clean up.
    do_register_push_token(user=world.worker_a, token=PHONE, platform="android", provider="fcm")
    SocketPresence.objects.create(channel_name="specific.dead!1", user=world.worker_a)
    device_a.press()
    assert send_due() == 0  # within the grace period the socket may still take it
    OutboxMessage.objects.filter(channel="push").update(
        not_before=timezone.now() - timedelta(seconds=1),
        created_at=timezone.now() - DELIVERY_GRACE - timedelta(seconds=1),
    )
    assert send_due() == 1
    assert len(fcm.requests_for(PHONE)) == 1


def test_a_token_fcm_calls_unregistered_is_pruned(
    world: World,
    device_a: SignedDevice,
    provider: FCMProvider,
    fcm: FcmStandIn,
) -> None:
    do_register_push_token(user=world.worker_a, token=PHONE, platform="android", provider="fcm")
    fcm.reply(
        PHONE,
        404,
        fcm_error(404, "NOT_FOUND", "Requested entity was not found.", fcm_code="UNREGISTERED"),
    )
    device_a.press()
    send_due()
    assert len(fcm.requests_for(PHONE)) == 1
    assert not PushToken.objects.filter(user=world.worker_a).exists()
