"""Alert fixtures: devices signing like hardware does, duty rosters for every tier."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.utils import timezone

from backend.accounts.models import DutyShift, Role, User, WorkerPosition
from backend.alerts.devices import do_register_device
from backend.alerts.models import Alert
from backend.alerts.signing import signed_headers
from tests.conftest import PASSWORD, World


@dataclass
class SignedDevice:
    device_id: str
    secret: str

    def post(
        self,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        nonce: str | None = None,
        at: int | None = None,
        secret: str | None = None,
    ) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = signed_headers(
            secret or self.secret,
            self.device_id,
            raw,
            path=path,
            nonce=nonce or uuid.uuid4().hex,
            at=at,
        )
        return Client(headers=headers).post(path, raw, content_type="application/json")

    def press(self, kind: str = "emergency", **extra: Any) -> Any:
        body = {"client_alert_id": str(uuid.uuid4()), "kind": kind, **extra}
        return self.post("/api/v1/device/alerts", body)


@pytest.fixture
def device_a(world: World) -> SignedDevice:
    device, secret = do_register_device(
        device_id="PENDANT-A", kind="pendant", resident=world.resident_a
    )
    return SignedDevice(device.device_id, secret)


@pytest.fixture
def device_b(world: World) -> SignedDevice:
    device, secret = do_register_device(
        device_id="PENDANT-B", kind="pendant", resident=world.resident_b
    )
    return SignedDevice(device.device_id, secret)


@dataclass
class Rosters:
    nearby: User  # tier 2: an on-duty worker of community 1 with a fresh position
    far: User
    duty_officer: User  # tier 4


@pytest.fixture
def rosters(world: World) -> Rosters:
    """Everyone on duty now: worker A (tier 1), two more workers (tier 2), supervisor 1
    (tier 3) and a district duty officer (tier 4)."""
    now = timezone.now()
    span = {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=8)}
    nearby = User.objects.create_user(
        "13200000001", PASSWORD, name="近", role=Role.WORKER, community=world.c1
    )
    far = User.objects.create_user(
        "13200000002", PASSWORD, name="远", role=Role.WORKER, community=world.c1
    )
    officer = User.objects.create_user(
        "13200000003", PASSWORD, name="区值班", role=Role.DISTRICT_ADMIN, district=world.district
    )
    for user in (nearby, far):
        DutyShift.objects.create(user=user, community=world.c1, **span)
    DutyShift.objects.create(user=world.supervisor_1, community=world.c1, **span)
    DutyShift.objects.create(user=officer, community=None, **span)
    home = world.household_a.location
    WorkerPosition.objects.create(user=nearby, location=Point(home.x + 0.001, home.y, srid=4326))
    WorkerPosition.objects.create(user=far, location=Point(home.x + 0.02, home.y, srid=4326))
    return Rosters(nearby, far, officer)


def alert_of(response: Any) -> Alert:
    assert response.status_code in (200, 201), response.content
    return Alert.objects.get(pk=response.json()["alert_id"])
