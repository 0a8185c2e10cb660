"""kill -9 of the ASGI process that took a press, after the commit and before any delivery."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from backend.alerts.models import Alert
from backend.core.models import IdempotencyRecord, StreamEvent
from harness.processes import Processes, wait_until
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Blackhole:
    """A TCP port that accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        # redis-py gives up on a silent server after socket_timeout (5 s by default): make
        # the hang outlast the test, so the window cannot close before the kill.
        self.url = f"redis://127.0.0.1:{self.port}/0?socket_timeout=120"
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # read nothing, answer nothing

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in [*self.accepted, self.listener]:
            conn.close()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    yield hole
    hole.close()


def test_kill_9_after_commit_before_delivery_the_relay_delivers_exactly_once(
    procs: Processes,
    phones: Callable[..., Phone],
    world: World,
    device: Device,
    shared_redis: str,
    blackhole: Blackhole,
) -> None:
    """How "committed but never delivered" is made deterministic: process A, which takes the
    press, has a channel layer pointing at a port that accepts connections and never answers.
    The press commits (alert, stream events, timer); the on-commit doorbell then blocks in its
    first group_send (for 120 s), so A can ring nobody and the device hears nothing. The test
    waits until the alert is visible from another connection (committed) with its events still
    unpublished and A still holding the request, then SIGKILLs A: exactly the window between
    commit and delivery, every run. The manager's socket lives on process B (real Redis) and
    is connected before the press with last_event_id known; no dispatcher runs until after the
    kill. A restarted A serves a second socket of the manager opened with last_event_id, which
    replays the alert from the store. Then a dispatcher starts (the restart), its relay rings
    for the orphaned events: the first socket must get the alert within 10 s, and each socket
    must have it exactly once. The device's retry gets the same alert, not a second one."""
    (b,) = procs.servers("asgi-b", redis_url=shared_redis, wait=False)
    (a,) = procs.servers("asgi-a", redis_url=blackhole.url, wait=False)
    procs.wait_ready(a, b)
    manager = phones(b, world.worker_a.phone)
    manager.open([b])
    last_seen = manager.last_id or 0

    client_alert_id = uuid.uuid4()
    with ThreadPoolExecutor(max_workers=1) as pool:
        press = pool.submit(device.press, a, client_alert_id=client_alert_id, timeout=60)
        alert = wait_until(
            lambda: Alert.objects.filter(device__device_id=device.device_id).first(),
            timeout=30,
            what="the alert to commit on process A",
        )
        assert alert is not None
        event = StreamEvent.objects.get(user=world.worker_a, data__alert_id=alert.pk)
        assert event.type == "alert.raised" and event.seq == last_seen + 1
        assert IdempotencyRecord.objects.filter(key=client_alert_id).exists()
        assert not StreamEvent.objects.filter(published_at__isnull=False).exists()
        assert not press.done(), "process A answered: the doorbell did not block"
        a.kill()
        with pytest.raises(httpx.TransportError):
            press.result(timeout=30)  # the device never heard "accepted"

    assert manager.quiet_for(1.5) == [], "something delivered the alert without a relay"
    assert not StreamEvent.objects.filter(published_at__isnull=False).exists()

    # A restarts (real Redis now) and another phone of the manager reconnects to it with
    # last_event_id: it catches up from the store while the event is still unrung.
    a2 = procs.server("asgi-a-restarted", redis_url=shared_redis)
    other = phones(a2, world.worker_a.phone)
    other.open([a2], last_event_id=last_seen)
    other.wait(lambda p: len(p.frames) >= 1, 10, "the replayed alert")
    assert not StreamEvent.objects.filter(published_at__isnull=False).exists()

    # The dispatcher starts and its relay rings for the orphaned event: the socket that has
    # not seen it gets it, the one that replayed it must not get it a second time.
    procs.dispatcher("dispatcher", redis_url=shared_redis)
    manager.wait(lambda p: len(p.frames) >= 1, 10, "the relayed alert")
    (frame,) = manager.seen()
    assert (frame["id"], frame["type"]) == (last_seen + 1, "alert.raised")
    assert frame["data"]["alert_id"] == alert.pk
    wait_until(
        lambda: not StreamEvent.objects.filter(published_at__isnull=True).exists(),
        timeout=10,
        what="the relay to mark every orphaned event rung",
    )
    assert manager.quiet_for(2.0) == [], "the alert was delivered twice"
    assert other.seen() == [frame], "the relay's ring gave a replayed alert again"

    # The device retries the press it never got an answer for: same alert, nothing new.
    started = time.monotonic()
    retry = device.press(a2, client_alert_id=client_alert_id)
    assert retry.status_code in (200, 201), retry.text
    assert retry.json()["alert_id"] == alert.pk
    assert time.monotonic() - started < 10
    assert Alert.objects.filter(device__device_id=device.device_id).count() == 1
    assert manager.quiet_for(1.0) == [] and other.seen() == [frame]
