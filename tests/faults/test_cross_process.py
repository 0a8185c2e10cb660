"""Delivery across real ASGI processes over real Redis: a press taken by one process reaches a
socket held by another, and a socket cut while events happen gets exactly those it missed."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.alerts.models import Alert
from backend.core.models import StreamEvent
from harness.processes import Processes, wait_until
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_press_on_one_process_reaches_the_managers_socket_on_another(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device, shared_redis: str
) -> None:
    """Two uvicorn processes on one Redis and no dispatcher anywhere: only the on-commit
    doorbell through the channel layer can carry the alert from A to the socket on B."""
    a, b = procs.servers("asgi-a", "asgi-b", redis_url=shared_redis)
    manager = phones(b, world.worker_a.phone)
    manager.open([b])
    before = manager.last_id

    pressed = time.monotonic()
    response = device.press(a)
    assert response.status_code == 201, response.text
    alert_id = response.json()["alert_id"]

    manager.wait(lambda p: len(p.frames) >= 1, 5, "the alert on process B")
    took = time.monotonic() - pressed
    (frame,) = manager.seen()
    # Live on a socket that was open before the press, not a replay on a later reconnect.
    (connection, _), *_ = manager.arrivals
    assert manager.opened_at[connection - 1] < pressed
    assert frame["type"] == "alert.raised"
    assert frame["data"]["alert_id"] == alert_id
    assert frame["id"] == (before or 0) + 1
    assert set(frame) == {"id", "type", "at", "data"}
    assert took < 5
    # It was the doorbell on commit that rang, not a relay (none runs here).
    event = StreamEvent.objects.get(user=world.worker_a, seq=frame["id"])
    assert event.published_at is not None
    assert manager.quiet_for(0.5) == []


def test_a_socket_cut_while_50_events_happen_gets_exactly_those_50_on_reconnect(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device, shared_redis: str
) -> None:
    """The manager's phone loses its connection (TCP dropped, no close frame), 50 presses
    arrive through another process, and the phone reconnects with last_event_id while the
    presses are still coming in: replay and live frames meet at the seam with nothing missing,
    nothing twice and nothing out of order. (One resident pressing 50 times is one alert: the
    first press raises it, the other 49 join it, and the manager is told of each.)"""
    a, b = procs.servers("asgi-a", "asgi-b", redis_url=shared_redis)
    manager = phones(b, world.worker_a.phone)
    manager.open([b])
    start = manager.last_id or 0
    manager.cut(hold=True)

    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(device.press, a) for _ in range(50)]
        # Reconnect in the middle of the burst: some are missed, some will arrive live.
        wait_until(
            lambda: Alert.objects.filter(
                device__device_id=device.device_id, presses__gte=20
            ).exists(),
            timeout=60,
            what="20 of the 50 presses to commit",
        )
        manager.resume()
        responses = [f.result(timeout=60) for f in futures]

    assert [r.status_code for r in responses] == [201] * 50, [r.text for r in responses]
    pressed = {r.json()["alert_id"] for r in responses}
    assert len(pressed) == 1
    assert sorted(r.json()["presses"] for r in responses) == list(range(1, 51))

    manager.wait(lambda p: len(p.frames) >= 50, 30, "the 50 events after the cut")
    frames = manager.seen()
    assert [f["id"] for f in frames] == list(range(start + 1, start + 51))
    assert [f["type"] for f in frames] == ["alert.raised"] + ["alert.updated"] * 49
    assert {f["data"]["alert_id"] for f in frames} == pressed
    assert [f["data"]["presses"] for f in frames] == list(range(1, 51))
    assert manager.connections >= 2
    assert manager.quiet_for(1.0) == [], "a frame came twice after the replay"
