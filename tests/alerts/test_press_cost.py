"""What the hot paths cost, pinned: statements per press, heartbeat, accept and escalation, and
Redis commands per press. A change that adds a query to one of them fails here; if it is worth
its cost, change the number and say why in the commit.

These run with real commits (transaction=True), so the statements after commit (ringing the
sockets, marking the events rung) are counted too; BEGIN and COMMIT are counted as statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from backend.accounts.models import Role, User
from backend.alerts import selectors
from backend.alerts.models import Alert, AlertKind
from backend.core import clock
from backend.core.models import StreamEvent
from backend.notify.ladder import ladder_for
from harness.processes import RedisServer, free_port
from tests.alerts.conftest import Rosters, SignedDevice, alert_of
from tests.conftest import PASSWORD, World

pytestmark = pytest.mark.django_db(transaction=True)

# A press: the device's row (signature check); then one transaction: BEGIN, the nonce, the
# device heard, its open technical alarms, the idempotency claim, the resident's press lock
# (two devices at once: one alert), the resident's open or recent alert (the fold: issue 13),
# tier 1's members, the alert, the watchers, the recipients,
# the escalation timer, the contacts' SMS job, the timeline, the idempotency answer, the stream
# cursors (one statement for every recipient), the events, every rung of every recipient's
# delivery ladder (one outbox INSERT: issue 12), COMMIT; then marking the events rung.
PRESS_STATEMENTS = 21  # + the resident's press lock (issue 13)
HEARTBEAT_STATEMENTS = 2  # the device row; nonce, device heard and its open alarms in one


@pytest.fixture
def warm(world: World, device_a: SignedDevice, settings: Any) -> SignedDevice:
    """A device whose community's escalation policies this process has read (and keeps, for
    as long as the test takes on a loaded machine)."""
    settings.POLICY_CACHE_S = 600.0
    for kind in (AlertKind.EMERGENCY, AlertKind.DEVICE_OFFLINE):
        selectors.policy_for(world.c1.pk, kind)
        ladder_for(world.c1.pk, kind)
    return device_a


def test_a_press_costs_a_fixed_number_of_statements_whoever_hears_it(
    world: World,
    warm: SignedDevice,
    rosters: Rosters,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(PRESS_STATEMENTS):
        pressed = warm.press()
    first = alert_of(pressed)
    # (Ended long ago, so the next press is a new alert rather than "pressed again".)
    Alert.objects.filter(pk=first.pk).update(
        state=Alert.State.RESOLVED, created_at=timezone.now() - timedelta(minutes=10)
    )
    # Twenty more supervisors watching change nothing: the stream is written in one pass.
    for i in range(20):
        User.objects.create_user(
            f"1330000{i:04d}", PASSWORD, name="值班", role=Role.SUPERVISOR, community=world.c1
        )
    with django_assert_num_queries(PRESS_STATEMENTS):
        response = warm.press()
    assert alert_of(response).recipients.count() == 1


# Pressed again while the alert is open: the device's row; BEGIN, the nonce, the device heard,
# its technical alarms, the claim, the fold look-up, the alert locked, its count, the step,
# the audience (recipients, watchers), the stream cursors, the events, the answer, COMMIT;
# marking the events rung.
PRESSED_AGAIN_STATEMENTS = 18  # + the resident's press lock


def test_a_press_again_joins_the_open_alert_at_a_fixed_cost(
    warm: SignedDevice, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    first = alert_of(warm.press())
    with django_assert_num_queries(PRESSED_AGAIN_STATEMENTS):
        pressed = warm.press()
    again = alert_of(pressed)
    assert again.pk == first.pk and again.presses == 2


def test_a_retried_press_costs_less_and_creates_nothing(
    warm: SignedDevice, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    body = {"client_alert_id": "6f1c1e7e-4a1f-4b8e-9f3e-0d5f1c2b3a4d", "kind": "emergency"}
    assert warm.post("/api/v1/device/alerts", body).status_code == 201
    before = Alert.objects.count()
    # device; BEGIN, nonce, device heard, alarms, claim (taken), the first answer, COMMIT
    with django_assert_num_queries(8):
        again = warm.post("/api/v1/device/alerts", body)
    assert again.status_code == 201 and Alert.objects.count() == before


def test_a_heartbeat_is_one_short_transaction(
    warm: SignedDevice, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(HEARTBEAT_STATEMENTS):
        assert warm.post("/api/v1/device/heartbeat", {"battery": 90}).status_code == 200


def test_an_accept_and_an_escalation(
    world: World,
    warm: SignedDevice,
    rosters: Rosters,
    client_for: Callable[[User], Any],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    alert = alert_of(warm.press())
    clock.fire_due()  # the contacts' SMS jobs, due at once
    # The timer round: the due ids; BEGIN, the timer locked, SAVEPOINT; the alert locked, its
    # recipients, tier 2's on-duty workers by distance, the watchers, the alert's new tier, the
    # recipients, the timer moved, the timeline, the stream cursors, the events, the new
    # recipients' ladders (one outbox INSERT); RELEASE, the timer marked, COMMIT; then marking
    # the events rung.
    with django_assert_num_queries(19):
        assert clock.fire_due(now=timezone.now() + timedelta(seconds=61)) == 1
    alert.refresh_from_db()
    assert alert.tier == 2
    worker = client_for(world.worker_a)
    # The token's session with its user; the caller's posts (their Scope); the scope check;
    # BEGIN, the alert locked, may they respond, the alert accepted, the timer cancelled,
    # acknowledged, the timeline, the audience (recipients, watchers), every ladder stopped
    # (one UPDATE), the call back to the resident (one outbox INSERT), the stream cursors, the
    # events, COMMIT; marking the events rung; the audit row of the write (MLPS 2.0).
    with django_assert_num_queries(19):
        assert worker.post(f"/api/v1/alerts/{alert.pk}/accept").status_code == 200


@pytest.fixture
def private_redis(tmp_path: Path, settings: Any) -> Iterator[redis.Redis]:
    """The channel layer on a redis-server of this test's own, so its counters are ours."""
    server = RedisServer(free_port(), tmp_path / "redis.log").start()
    layers = dict(settings.CHANNEL_LAYERS)
    layers["default"] = {
        **layers["default"],
        "CONFIG": {**layers["default"]["CONFIG"], "hosts": [server.url]},
    }
    settings.CHANNEL_LAYERS = layers  # channels drops its layer when this setting changes
    try:
        yield redis.Redis.from_url(server.url)
    finally:
        server.kill()


def _commands(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def test_a_press_rings_each_recipient_with_one_publish(
    world: World, warm: SignedDevice, private_redis: redis.Redis
) -> None:
    private_redis.config_resetstat()
    alert = alert_of(warm.press())
    told = StreamEvent.objects.filter(data__alert_id=alert.pk).count()  # tier 1 and watchers
    assert told >= 3
    stats = private_redis.info("commandstats")
    assert stats["cmdstat_publish"]["calls"] == told
    assert _commands(private_redis) <= 2 * told + 3
