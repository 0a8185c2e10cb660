"""Issue 13: two devices of one resident pressing at the same moment make one alert (the second
joins it as "pressed again"), whichever transaction commits first: press_for takes the
resident's advisory lock before it looks for the alert to fold into."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from backend.alerts.devices import do_register_device
from backend.alerts.models import Alert
from tests.alerts.conftest import SignedDevice
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 20


def test_two_devices_of_one_resident_pressing_at_once_make_one_alert(world: World) -> None:
    devices = []
    for name in ("PENDANT-X", "BUTTON-Y"):
        device, secret = do_register_device(
            device_id=name, kind="pendant", resident=world.resident_a
        )
        devices.append(SignedDevice(device.device_id, secret))
    for _ in range(ROUNDS):
        barrier = threading.Barrier(2)

        def press(device: SignedDevice, barrier: threading.Barrier = barrier) -> int:
            try:
                barrier.wait(timeout=10)
                return int(device.press().status_code)
            finally:
                connection.close()

        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(press, devices))
        assert all(c in (200, 201) for c in codes), codes
        open_ = Alert.objects.filter(resident=world.resident_a, state=Alert.State.OPEN)
        assert open_.count() == 1
        assert open_.get().presses == 2
        # Ended (and long ago), so the next round raises a new alert.
        open_.update(state=Alert.State.RESOLVED, created_at="2000-01-01T00:00:00Z")
