"""Fault-test fixtures: real processes (harness/processes.py), devices and phones over the wire.

Tests here use `django_db(transaction=True)`: what the test writes is committed, so the server
processes see it. Process and phone fixtures depend on the database fixture, so they are torn
down first and nothing holds a connection when pytest-django flushes the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
import redis

from backend.alerts.devices import do_register_device
from backend.alerts.models import AlertKind, EscalationPolicy
from harness.processes import Processes, RedisServer, free_port
from tests.alerts.conftest import Rosters, rosters  # noqa: F401  (a shared fixture)
from tests.children import django_env
from tests.conftest import World

from .clients import Device, Endpoint, Phone


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)  # read by `procs` to print logs on failure
    return report


@pytest.fixture
def procs(
    transactional_db: None, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Processes]:
    with Processes(tmp_path, django_env) as processes:
        yield processes
        call = getattr(request.node, "rep_call", None)
        if call is not None and call.failed:
            print(processes.report())  # shown with the failure


@pytest.fixture(scope="session")
def _session_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis") / "redis.log")
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture
def shared_redis(_session_redis: RedisServer) -> str:
    """The Redis that all processes of one test share, for tests that do not stop it: a
    private redis-server for the session (not REDIS_URL, which other runs may use with the
    same user ids and so the same groups), emptied before each test."""
    client = redis.Redis.from_url(_session_redis.url)
    try:
        client.flushall()
    finally:
        client.close()
    return _session_redis.url


@pytest.fixture
def phones(procs: Processes) -> Iterator[Callable[..., Phone]]:
    opened: list[Phone] = []

    def make(server: Endpoint, phone: str) -> Phone:
        p = Phone(server, phone)
        opened.append(p)
        return p

    yield make
    for p in opened:
        p.close()


@pytest.fixture
def device(world: World) -> Device:
    registered, secret = do_register_device(
        device_id="PENDANT-FAULT", kind="pendant", resident=world.resident_a
    )
    return Device(registered.device_id, secret)


@pytest.fixture
def slow_escalation(world: World) -> EscalationPolicy:
    """Ten minutes per tier in community 1, so no escalation fires while a test that runs a
    dispatcher counts frames (the default first tier is 60 s)."""
    return EscalationPolicy.objects.create(
        community=world.c1, kind=AlertKind.EMERGENCY, tier_timeouts=[600, 600, 600, 600]
    )
