"""Redis, the channel layer, goes away and comes back: presses are still accepted, and every
alert reaches the manager exactly once afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from backend.alerts.models import Alert, EscalationPolicy
from backend.core.models import StreamEvent
from harness.processes import Processes, wait_until
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The issue speaks of 30 s. Nothing in the product measures how long Redis has been away: the
# relay retries every round (events older than 1 s), phones retry with a fresh ticket each
# time (tickets last 30 s, so no ticket outlives the outage either way), and Redis keeps no
# state across the restart (no persistence), so a 10 s outage exercises the same paths as a
# 30 s one. It is also longer than channels_redis's 5 s blocking receive, so every idle
# consumer notices the broken connection, not only busy ones.
OUTAGE_S = 10.0


def ended(alert_id: int) -> None:
    """Close an alert behind the servers' backs (no event): a press of its resident is then a
    new alert rather than "pressed again" on this one."""
    Alert.objects.filter(pk=alert_id).update(state=Alert.State.RESOLVED)


def test_presses_during_a_redis_outage_are_accepted_and_delivered_once_it_is_back(
    procs: Processes,
    phones: Callable[..., Phone],
    world: World,
    device: Device,
    slow_escalation: EscalationPolicy,
) -> None:
    redis = procs.redis()  # private: this test stops it
    a, b = procs.servers("asgi-a", "asgi-b", redis_url=redis.url, wait=False)
    procs.wait_ready(a, b, *procs.dispatchers("dispatcher", redis_url=redis.url, wait=False))
    manager = phones(b, world.worker_a.phone)
    manager.open([b, a])  # reconnects like the app, through either process
    start = manager.last_id or 0

    pressed: list[int] = []
    response = device.press(a)
    assert response.status_code == 201, response.text
    pressed.append(response.json()["alert_id"])
    manager.wait(lambda p: p.alert_ids() == pressed, 5, "the first alert, before the outage")

    redis.kill()
    down_at = time.monotonic()
    for server in (a, b, a):
        ended(pressed[-1])  # so that the next press is an alert of its own, not a repeat
        started = time.monotonic()
        response = device.press(server, timeout=30)
        took = time.monotonic() - started
        assert response.status_code == 201, response.text
        alert_id = response.json()["alert_id"]
        # 201 means committed: the alert and its stream events are in the database.
        assert Alert.objects.filter(pk=alert_id).exists()
        assert StreamEvent.objects.filter(user=world.worker_a, data__alert_id=alert_id).exists()
        assert took < 10, f"a press took {took:.1f} s while Redis was down"
        pressed.append(alert_id)
    assert redis.alive() is False
    unrung = StreamEvent.objects.filter(data__alert_id__in=pressed[1:], published_at__isnull=True)
    assert unrung.count() == StreamEvent.objects.filter(data__alert_id__in=pressed[1:]).count()

    remaining = OUTAGE_S - (time.monotonic() - down_at)
    if remaining > 0:
        time.sleep(remaining)  # the outage itself, not a wait for a result
    redis.start()  # same port, empty: every group membership is gone

    manager.wait(
        lambda p: set(p.alert_ids()) >= set(pressed), 30, "the alerts pressed during the outage"
    )
    wait_until(
        lambda: not StreamEvent.objects.filter(published_at__isnull=True).exists(),
        timeout=30,
        what="the relay to ring for every event the outage left unrung",
    )

    # Live delivery is back too, not only replay.
    ended(pressed[-1])
    response = device.press(a)
    assert response.status_code == 201, response.text
    pressed.append(response.json()["alert_id"])
    manager.wait(lambda p: len(p.alert_ids()) >= len(pressed), 10, "a live alert after")

    assert manager.alert_ids() == pressed
    assert [f["id"] for f in manager.seen()] == list(range(start + 1, start + 1 + len(pressed)))
    manager.assert_no_duplicates()
    assert manager.quiet_for(1.0) == []
