"""Whether the server knows which sockets are really alive: an idle socket must stay open, and
a socket that died (with its process, or silently on the way) must not stop the push that
should replace it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from backend.alerts.models import EscalationPolicy
from backend.core.models import SocketPresence, StreamEvent
from backend.notify.models import OutboxMessage
from harness.processes import Process, Processes, Server, wait_until
from tests.conftest import World

from .clients import Device, Phone, http

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PUSH_TOKEN = "faulttest-push-token-of-worker-a"


def test_an_idle_socket_stays_open_and_still_gets_live_frames(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device, shared_redis: str
) -> None:
    """A manager's phone sits idle for 8 s (a quiet night is made of such minutes), then an
    alert comes: it must arrive live on the socket that was open all along."""
    server = procs.server("asgi", redis_url=shared_redis)
    manager = phones(server, world.worker_a.phone)
    manager.open([server], reconnect=False)
    time.sleep(8)  # idleness is the condition under test
    assert manager.connections == 1 and manager.is_open(), "\n".join(manager.history)
    response = device.press(server)
    assert response.status_code == 201, response.text
    manager.wait(lambda p: len(p.frames) == 1, 5, "the alert on the idle socket")


def register_push_token(server: Server, phone: Phone) -> None:
    with http() as client:
        response = client.post(
            f"{server.url}/api/v1/me/push-tokens",
            json={"token": PUSH_TOKEN, "platform": "android"},
            headers={"Authorization": f"Bearer {phone.token}"},
        )
    assert response.status_code == 201, response.text


def pushed_to_manager(dispatcher: Process) -> bool:
    # No FCM credentials here, so the push provider is the logging one: one line per push.
    return f"push (log only) to {PUSH_TOKEN[:8]}" in dispatcher.output()


def press_and_let_the_dispatcher_decide(
    server: Server, device: Device, dispatcher: Process, world: World
) -> None:
    response = device.press(server)
    assert response.status_code == 201, response.text
    alert_id = response.json()["alert_id"]
    push = OutboxMessage.objects.filter(
        user=world.worker_a, subject=f"alert:{alert_id}", channel="push"
    )
    wait_until(
        lambda: push.filter(attempts__gt=0).exists(),
        timeout=15,
        what="the dispatcher to send the urgent event's push rung",
    )


def test_a_manager_without_a_socket_is_pushed(
    procs: Processes,
    phones: Callable[..., Phone],
    world: World,
    device: Device,
    shared_redis: str,
    slow_escalation: EscalationPolicy,
) -> None:
    """The control for the next test: no socket, so the urgent alert is pushed."""
    (server,) = procs.servers("asgi", redis_url=shared_redis, wait=False)
    (dispatcher,) = procs.dispatchers("dispatcher", redis_url=shared_redis, wait=False)
    procs.wait_ready(server, dispatcher)
    register_push_token(server, phones(server, world.worker_a.phone))
    press_and_let_the_dispatcher_decide(server, device, dispatcher, world)
    wait_until(lambda: pushed_to_manager(dispatcher), timeout=10, what="the push")


def test_a_manager_whose_socket_died_with_its_process_is_pushed(
    procs: Processes,
    phones: Callable[..., Phone],
    world: World,
    device: Device,
    shared_redis: str,
    slow_escalation: EscalationPolicy,
) -> None:
    """The manager's socket was on process B, which is killed (-9). The phone is asleep now
    and only a push will wake it, so an alert raised on process A must be pushed to it."""
    a, b = procs.servers("asgi-a", "asgi-b", redis_url=shared_redis, wait=False)
    (dispatcher,) = procs.dispatchers("dispatcher", redis_url=shared_redis, wait=False)
    procs.wait_ready(a, b, dispatcher)
    manager = phones(b, world.worker_a.phone)
    register_push_token(a, manager)
    manager.open([b], reconnect=False)
    b.kill()
    manager.wait(lambda p: not p.is_open(), 10, "the socket to die with its process")
    press_and_let_the_dispatcher_decide(a, device, dispatcher, world)
    left = list(SocketPresence.objects.filter(user=world.worker_a).values_list("channel_name"))
    wait_until(
        lambda: pushed_to_manager(dispatcher),
        timeout=10,
        what=f"the push (presence rows still claiming a live socket: {left})",
    )


class SilentLine:
    """A TCP line between a phone and a server that can go silent: after `silence()` nothing
    gets through either way and nothing is closed, like the half-open connection of a phone
    that went into a lift. The server's writes still succeed; nobody reads them."""

    def __init__(self, server: Server) -> None:
        self.upstream = server.port
        self.name = f"{server.name} (through a line)"
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        port = self.listener.getsockname()[1]
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        self.silent = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def silence(self) -> None:
        self.silent.set()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if not self.silent.is_set():
                    sink.sendall(chunk)
            if not self.silent.is_set():
                sink.shutdown(socket.SHUT_WR)  # pass an orderly close on

    def close(self) -> None:
        self._closed.set()
        for sock in [self.listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def lines() -> Iterator[Callable[[Server], SilentLine]]:
    made: list[SilentLine] = []

    def make(server: Server) -> SilentLine:
        made.append(SilentLine(server))
        return made[-1]

    yield make
    for line in made:
        line.close()


def test_a_manager_whose_connection_went_silent_is_pushed(
    procs: Processes,
    phones: Callable[..., Phone],
    lines: Callable[[Server], SilentLine],
    world: World,
    device: Device,
    shared_redis: str,
    slow_escalation: EscalationPolicy,
) -> None:
    """The manager's phone goes into a lift: its connection stops carrying anything, but
    neither end closes it (the server notices only at its next ping timeout, up to 40 s
    later). An alert raised now reaches a socket that nobody reads, so the phone must be
    woken by a push instead."""
    a, b = procs.servers("asgi-a", "asgi-b", redis_url=shared_redis, wait=False)
    (dispatcher,) = procs.dispatchers("dispatcher", redis_url=shared_redis, wait=False)
    procs.wait_ready(a, b, dispatcher)
    line = lines(b)
    manager = phones(line, world.worker_a.phone)
    register_push_token(a, manager)
    manager.open([line], reconnect=False)
    line.silence()
    response = device.press(a)
    assert response.status_code == 201, response.text
    event = StreamEvent.objects.get(user=world.worker_a, data__alert_id=response.json()["alert_id"])
    try:
        wait_until(lambda: pushed_to_manager(dispatcher), timeout=15, what="the push")
    finally:
        event.refresh_from_db()
        rung = OutboxMessage.objects.filter(user=world.worker_a, channel="push").first()
        print(f"event: delivered_at={event.delivered_at} push rung: {rung and rung.status}")
    assert manager.seen() == [], "the silent line let a frame through"
