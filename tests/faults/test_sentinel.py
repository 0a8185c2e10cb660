"""Redis Sentinel (REDIS_SENTINELS): a master, a replica and a sentinel on this box (started by
infra/sentinel.sh through the harness); the master is killed (kill -9) and the sentinel promotes
the replica.

- During a stream of presses: every press commits, and the manager's socket gets every alert
  once (live, or read from the database when its process's channel layer comes back through the
  new master).
- Between log-ins: the rate-limit counters (the Django cache, django-redis through the
  sentinels) live on in the promoted replica, so the limit still holds, across two processes;
  while no master answers, a log-in is refused with 503 `service_busy`, never let through
  uncounted and never a 500.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
import redis

from harness.processes import Processes, RedisServer, Sentinel, Server, wait_until
from tests.conftest import World

from .clients import Device, Phone

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MASTER = "gridline"


def _group(procs: Processes) -> tuple[RedisServer, RedisServer, Sentinel]:
    master = procs.redis("redis-master")
    replica = procs.redis_replica(master)
    sentinel = procs.sentinel(master, master_name=MASTER)
    wait_until(sentinel.knows_replicas, timeout=30, what="the sentinel to see the replica")
    return master, replica, sentinel


def _sentinel_env(procs: Processes, sentinel: Sentinel, **extra: str) -> dict[str, str]:
    env = procs.django_env("")
    env.update(REDIS_URL="", REDIS_SENTINELS=sentinel.address, REDIS_SENTINEL_MASTER=MASTER)
    env.update(extra)
    return env


def _fail_over(master: RedisServer, replica: RedisServer, sentinel: Sentinel) -> None:
    master.kill()  # kill -9
    wait_until(
        lambda: sentinel.master_port() == replica.port,
        timeout=30,
        what="the sentinel to promote the replica",
    )


def test_a_sentinel_failover_during_presses_loses_nothing(
    procs: Processes, phones: Callable[..., Phone], world: World, device: Device
) -> None:
    master, replica, sentinel = _group(procs)
    env = _sentinel_env(procs, sentinel)
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
    _fail_over(master, replica, sentinel)  # mid-stream
    presser.join(timeout=120)

    assert [r.status_code for r in answers] == [201] * 30, [r.text for r in answers]
    pressed = {r.json()["alert_id"] for r in answers}
    manager.wait(lambda p: pressed <= set(p.alert_ids()), 60, "every alert on the socket")
    manager.assert_no_duplicates()


LIMIT = 10


def _in_sync(master: RedisServer, replica: RedisServer) -> bool:
    """The replica has applied everything the master has (replication is asynchronous: what
    the master acknowledged in its last moment may be lost in a failover, docs/operations.md)."""
    clients = [redis.Redis(port=p, socket_timeout=2) for p in (master.port, replica.port)]
    try:
        written = clients[0].info("replication")["master_repl_offset"]
        applied = clients[1].info("replication")["slave_repl_offset"]
        return bool(applied >= written)
    finally:
        for client in clients:
            client.close()


def _log_in(server: Server, n: int) -> httpx.Response:
    # A new unknown phone each time: the per-account lock-out (in the database) never trips,
    # only the per-address rate limit (in the cache) counts.
    return httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"phone": f"1390000{n:04d}", "password": "wrong-password-1"},
        headers={"Accept-Language": "en"},
        timeout=30,
        trust_env=False,
    )


def test_the_rate_limit_holds_across_a_sentinel_failover(procs: Processes) -> None:
    master, replica, sentinel = _group(procs)
    # Per day, so that the fixed window cannot turn over during the test.
    env = _sentinel_env(procs, sentinel, RATE_LOGIN_PER_IP=f"{LIMIT}/d")
    (a,) = procs.servers("asgi-a", env=env)
    # The other process names the sentinels in one URL instead (REDIS_SENTINEL_URL).
    url = f"redis+sentinel://{sentinel.address}/{MASTER}/0"
    (b,) = procs.servers("asgi-b", env={**env, "REDIS_SENTINELS": "", "REDIS_SENTINEL_URL": url})
    attempts = iter(range(10_000))

    before = [_log_in((a, b)[i % 2], next(attempts)) for i in range(6)]
    assert [r.status_code for r in before] == [401] * 6, [r.text for r in before]
    assert replica.port != sentinel.master_port()
    wait_until(lambda: _in_sync(master, replica), timeout=10, what="the replica to catch up")

    master.kill()  # kill -9; the sentinel notices after 1 s without an answer
    during = _log_in(a, next(attempts))
    # Nobody is master until the sentinel promotes the replica: refused, not let through.
    assert during.status_code == 503, during.text
    assert during.json()["error"]["code"] == "service_busy"
    assert during.headers["Retry-After"]
    answers: list[httpx.Response] = []
    while sentinel.master_port() != replica.port:  # log-ins go on during the failover
        answers.append(_log_in((a, b)[len(answers) % 2], next(attempts)))
        time.sleep(0.2)
        assert len(answers) < 150, "the sentinel did not promote the replica in 30 s"
    for i in range(12):
        answers.append(_log_in((a, b)[i % 2], next(attempts)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {401, 429, 503}, [r.text for r in answers]
    # 503 (no master yet, or a process still reconnecting) counted nothing; the 6 counted before
    # the failover are still counted: 4 more, then refused, by both processes.
    counted = [r for r in answers if r.status_code != 503]
    assert [r.status_code for r in counted][:6] == [401] * (LIMIT - 6) + [429] * 2, codes
    assert {r.status_code for r in counted[LIMIT - 6 :]} == {429}, codes
    assert counted[-1].json()["error"]["code"] == "rate_limited"
    assert {r.url.port for r in counted if r.status_code == 429} == {a.port, b.port}
