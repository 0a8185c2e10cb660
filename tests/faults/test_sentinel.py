"""Redis Sentinel (REDIS_SENTINELS): a master, a replica and a sentinel on this box; the
master is killed (kill -9) during a stream of presses and the sentinel promotes the replica.
Every press commits, and the manager's socket gets every alert once (live, or read from the
database when its process's channel layer comes back through the new master)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from harness.processes import Process, Processes, RedisServer, free_port, wait_until
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MASTER = "gridline"


def _replica(procs: Processes, master: RedisServer) -> Process:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--replicaof", "127.0.0.1", str(master.port)]
    argv += ["--dir", str(procs.workdir)]  # a replica writes the synced RDB there
    replica = procs.start("redis-replica", argv, ready_text="MASTER <-> REPLICA sync: Finished")
    replica.wait_ready(timeout=20)
    replica.port = port  # type: ignore[attr-defined]
    return replica


def _sentinel(procs: Processes, master: RedisServer, workdir: Path) -> int:
    port = free_port()
    conf = workdir / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 5000\n"
    )
    procs.start("sentinel", ["redis-server", str(conf), "--sentinel"], ready_text="+monitor")
    procs.started[-1].wait_ready(timeout=20)
    return port


def _master_port(sentinel_port: int) -> int:
    client = redis.Redis(port=sentinel_port, socket_timeout=2)
    try:
        address = client.sentinel_get_master_addr_by_name(MASTER)
        assert isinstance(address, tuple)
        return int(address[1])
    finally:
        client.close()


def _replicas_known(sentinel_port: int) -> bool:
    client = redis.Redis(port=sentinel_port, socket_timeout=2)
    try:
        return bool(client.sentinel_slaves(MASTER))
    finally:
        client.close()


def test_a_sentinel_failover_during_presses_loses_nothing(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device, tmp_path: Path
) -> None:
    master = procs.redis("redis-master")
    replica = _replica(procs, master)
    sentinel = _sentinel(procs, master, tmp_path)
    wait_until(
        lambda: _replicas_known(sentinel), timeout=30, what="the sentinel to see the replica"
    )

    env = procs.django_env("")
    env.update(REDIS_URL="", REDIS_SENTINELS=f"127.0.0.1:{sentinel}", REDIS_SENTINEL_MASTER=MASTER)
    server = procs.server("asgi", env=env)
    procs.django_env = lambda redis_url: env
    procs.dispatcher("dispatcher", redis_url="")
    manager = phones(server, world.worker_a.phone)
    manager.open([server])

    answers: list[httpx.Response] = []

    def press_stream() -> None:
        for _ in range(30):
            answers.append(device.press(server, timeout=30))
            time.sleep(0.3)

    presser = threading.Thread(target=press_stream)
    presser.start()
    wait_until(lambda: len(answers) >= 8, timeout=30, what="the first presses")
    master.kill()  # kill -9 the master mid-stream
    wait_until(
        lambda: _master_port(sentinel) == replica.port,  # type: ignore[attr-defined]
        timeout=30,
        what="the sentinel to promote the replica",
    )
    presser.join(timeout=120)

    assert [r.status_code for r in answers] == [201] * 30, [r.text for r in answers]
    pressed = {r.json()["alert_id"] for r in answers}
    manager.wait(lambda p: pressed <= set(p.alert_ids()), 60, "every alert on the socket")
    manager.assert_no_duplicates()
