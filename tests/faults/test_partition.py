"""A network partition with the project's own hosts in network namespaces: one ASGI host runs
in a namespace of its own, with one veth link for its database and clients and another for
Redis. The Redis link goes down for CUT seconds while presses flow through both hosts: every
press commits, and the manager's socket on the cut-off host gets every alert once after the
link is back (nothing lost, nothing twice). A commit waits at most STREAM_PUBLISH_TIMEOUT
for its doorbell, so the cut-off host keeps answering; the relay rings what it could not."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from harness.processes import ENTRYPOINT, PYTHON, Processes, free_port, wait_until
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUT = 60.0  # seconds without Redis


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Namespace:
    name: str
    net: str  # 10.213.N: database and clients
    redis_net: str  # 10.214.N: Redis only

    @property
    def host_ip(self) -> str:
        return f"{self.net}.1"

    @property
    def inner_ip(self) -> str:
        return f"{self.net}.2"

    @property
    def redis_ip(self) -> str:
        return f"{self.redis_net}.1"

    def run(self, *args: str) -> None:
        _ip("netns", "exec", self.name, *args)

    def redis_link(self, up: bool) -> None:
        self.run("ip", "link", "set", f"{self.name}-rn", "up" if up else "down")


@pytest.fixture
def netns() -> Iterator[Namespace]:
    if os.geteuid() != 0:
        pytest.fail("the partition test needs root (ip netns)")
    n = os.getpid() % 200 + 20
    ns = Namespace(f"gl{n}", f"10.213.{n}", f"10.214.{n}")
    _ip("netns", "add", ns.name)
    try:
        for side, net in (("d", ns.net), ("r", ns.redis_net)):
            host, inner = f"{ns.name}-{side}h", f"{ns.name}-{side}n"
            _ip("link", "add", host, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", ns.name)
            _ip("addr", "add", f"{net}.1/30", "dev", host)
            _ip("link", "set", host, "up")
            ns.run("ip", "addr", "add", f"{net}.2/30", "dev", inner)
            ns.run("ip", "link", "set", inner, "up")
        ns.run("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "del", ns.name)  # takes its veth ends, and so their peers


class Relay:
    """TCP from the namespace's link to the PostgreSQL that listens on loopback only."""

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(listen)
        self.listener.settimeout(0.2)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


@dataclass
class Inner:
    """A server in the namespace, reached over its client link."""

    name: str
    url: str
    ws_url: str


def test_an_asgi_host_cut_from_redis_catches_up_and_loses_nothing(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device, netns: Namespace
) -> None:
    redis_port = free_port()
    argv = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", netns.redis_ip]
    argv += ["--save", "", "--appendonly", "no", "--protected-mode", "no"]  # a private veth
    argv += ["--dir", str(procs.workdir)]
    procs.start("redis", argv, ready_text="Ready to accept").wait_ready(timeout=20)
    host_env = procs.django_env(f"redis://127.0.0.1:{redis_port}/0")
    db = host_env["DATABASE_URL"]
    relay = Relay((netns.host_ip, 5432), ("127.0.0.1", int(db.rsplit(":", 1)[1].split("/")[0])))
    try:
        inner_env = dict(
            host_env,
            DATABASE_URL=db.replace("@127.0.0.1:", f"@{netns.host_ip}:", 1),
            REDIS_URL=f"redis://{netns.redis_ip}:{redis_port}/0",
            ALLOWED_HOSTS=f"{netns.inner_ip},127.0.0.1",
            GRIDLINE_PYTHON=PYTHON,
        )
        port = free_port()
        cmd = ["ip", "netns", "exec", netns.name, ENTRYPOINT, "asgi"]
        cmd += ["--host", netns.inner_ip, "--port", str(port), "--timeout-graceful-shutdown", "2"]
        cut_off = procs.start("asgi-netns", cmd, inner_env, "Application startup complete")
        cut_off.wait_ready(timeout=60)
        inner = Inner(
            "asgi-netns", f"http://{netns.inner_ip}:{port}", f"ws://{netns.inner_ip}:{port}"
        )
        other = procs.server("asgi-host", env=host_env)
        procs.django_env = lambda redis_url: host_env
        procs.dispatcher("dispatcher", redis_url="")

        manager = phones(inner, world.worker_a.phone)
        manager.open([inner])
        answers: list[httpx.Response] = []
        stop = threading.Event()

        def press_stream() -> None:
            targets = (inner, other)
            while not stop.is_set():
                answers.append(device.press(targets[len(answers) % 2], timeout=40))
                time.sleep(1.0)

        presser = threading.Thread(target=press_stream)
        presser.start()
        try:
            wait_until(lambda: len(answers) >= 3, timeout=30, what="the first presses")
            netns.redis_link(up=False)
            time.sleep(CUT)
            netns.redis_link(up=True)
            time.sleep(3)
        finally:
            stop.set()
            presser.join(timeout=60)
        assert len(answers) > 20
        assert [r.status_code for r in answers] == [201] * len(answers), [r.text for r in answers]
        pressed = {r.json()["alert_id"] for r in answers}
        manager.wait(lambda p: pressed <= set(p.alert_ids()), 60, "every alert after the cut")
        manager.assert_no_duplicates()
        log = cut_off.output()
        assert "channel layer unavailable" in log  # the cut was real: its doorbells failed
        assert "uvicorn.access" not in log  # no access log on the hot path
    finally:
        relay.close()
