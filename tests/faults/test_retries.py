"""A device that never hears the answer retries the same press: one alert, however it goes."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from backend.alerts.models import Alert, AlertStep, EscalationPolicy
from backend.core.models import IdempotencyRecord, StreamEvent
from harness.processes import Processes, Server, wait_until
from tests.conftest import World

from .clients import Device, Phone, Target

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class AnswerDropper:
    """A TCP proxy in front of a server that forwards each request and throws the answer away:
    once the server starts answering (so it has handled the request completely) the proxy
    closes the client's connection, which hears nothing. `dropped` counts those answers."""

    def __init__(self, server: Server) -> None:
        self.upstream = server.port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.dropped = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream)) as upstream:
            pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            pump.start()
            upstream.settimeout(60)
            answered = upstream.recv(1)  # the server has finished and starts answering
            with self._lock:
                self.dropped += bool(answered)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        pump.join(timeout=5)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def droppers() -> Iterator[Callable[[Server], AnswerDropper]]:
    made: list[AnswerDropper] = []

    def make(server: Server) -> AnswerDropper:
        made.append(AnswerDropper(server))
        return made[-1]

    yield make
    for dropper in made:
        dropper.close()


def test_ten_retries_of_one_press_with_lost_answers_make_exactly_one_alert(
    procs: Processes,
    phones: Callable[..., Phone],
    droppers: Callable[[Server], AnswerDropper],
    world: World,
    device: Device,
    shared_redis: str,
    slow_escalation: EscalationPolicy,
) -> None:
    """Ten attempts with one client_alert_id and a new nonce each, over two processes: eight
    at once (four of them through proxies that swallow the answer after the server has
    handled the request), then two in turn. One alert, one timeline, one frame."""
    a, b = procs.servers("asgi-a", "asgi-b", redis_url=shared_redis)
    lossy_a, lossy_b = droppers(a), droppers(b)
    manager = phones(b, world.worker_a.phone)
    manager.open([b])
    client_alert_id = uuid.uuid4()
    gate = threading.Barrier(8)

    def attempt(target: Target) -> httpx.Response | None:
        gate.wait(timeout=30)
        try:
            return device.press(target, client_alert_id=client_alert_id, timeout=30)
        except httpx.TransportError:
            return None  # the answer was lost on the way back

    plan: list[Target] = [lossy_a, lossy_b, lossy_a, lossy_b, a, b, a, b]
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        answers = list(pool.map(attempt, plan))
    answers.append(device.press(a, client_alert_id=client_alert_id, timeout=30))
    answers.append(device.press(b, client_alert_id=client_alert_id, timeout=30))

    assert answers[:4] == [None] * 4
    heard = [r for r in answers if r is not None]
    assert len(heard) == 6
    assert {r.status_code for r in heard} <= {200, 201}, [r.text for r in heard]
    alert_ids = {r.json()["alert_id"] for r in heard}
    assert len(alert_ids) == 1, alert_ids
    (alert_id,) = alert_ids
    # The four lost answers were written, so those requests were handled to the end too.
    wait_until(
        lambda: lossy_a.dropped + lossy_b.dropped == 4, timeout=30, what="four dropped answers"
    )

    assert list(
        Alert.objects.filter(device__device_id=device.device_id).values_list("pk", flat=True)
    ) == [alert_id]
    assert IdempotencyRecord.objects.filter(key=client_alert_id).count() == 1
    assert AlertStep.objects.filter(alert_id=alert_id, kind="raised").count() == 1
    assert StreamEvent.objects.filter(user=world.worker_a, type="alert.raised").count() == 1

    manager.wait(lambda p: len(p.frames) >= 1, 10, "the alert")
    assert manager.alert_ids() == [alert_id]
    assert manager.quiet_for(1.0) == []
    assert len(manager.seen()) == 1
